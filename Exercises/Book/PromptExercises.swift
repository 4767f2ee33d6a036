// PromptExercises.swift — the lesson-soft-prompts exercises: where prompt tuning puts its virtual
// tokens in the input, and the labels that go with them.

extension Exercise {
    /// [B·T, C] embeddings → [B·(n+T), C] with the prompt in front of every row.
    static let promptInput = Exercise(
        name: "prompt-input", title: "Prompt tuning's input: the virtual tokens before every row",
        lesson: "lesson-soft-prompts", function: "promptTuningInput(prompt:embeddings:batchSize:)",
        hint: "Every batch row becomes n + T rows of the result: the n prompt rows (the same for every batch row), "
            + "then that row's T token embeddings. lesson-soft-prompts, section \"The base, the two tasks and what "
            + "each method trains\".",
        makeCases: { seed in
            let inputs = Inputs(seed: seed, stream: 6)
            return promptShapes.map { s in
                let prompt = inputs.matrix(s.n, s.c), embeddings = inputs.matrix(s.batch * s.t, s.c)
                let expected = ReferenceSolutions.promptTuningInput(prompt: prompt, embeddings: embeddings,
                                                                    batchSize: s.batch)
                return ExerciseCase(
                    "n \(s.n), B \(s.batch), T \(s.t), C \(s.c) — \(s.note)",
                    inputs: ["prompt = \(prompt)", "embeddings = \(embeddings)", "batchSize = \(s.batch)"]
                ) { answers in
                    let got = answers.promptTuningInput(prompt: prompt, embeddings: embeddings, batchSize: s.batch)
                    return Judge.matrix(got, expected: expected, shape: "B·(n+T) × C",
                                        rowNote: { " (" + position($0, n: s.n, t: s.t) + ")" })
                }
            }
        })

    /// n × −100 in front of each row's labels.
    static let promptLabels = Exercise(
        name: "prompt-labels", title: "Prompt tuning's labels: −100 at the virtual positions",
        lesson: "lesson-soft-prompts", function: "promptTuningLabels(_:batchSize:virtualTokens:)",
        hint: "The labels must line up with the input of prompt-input: each row gets n values of −100 (no loss at a "
            + "virtual position) in front of its own T labels. lesson-soft-prompts, section \"The base, the two "
            + "tasks and what each method trains\".",
        makeCases: { seed in
            let inputs = Inputs(seed: seed, stream: 7)
            return promptShapes.map { s in
                var drawn = (0..<s.batch * s.t).map { _ in inputs.int(0...96) }
                if drawn.count > 2 { drawn[drawn.count - 1] = -100 }                      // a padded position
                let labels = drawn
                let expected = ReferenceSolutions.promptTuningLabels(labels, batchSize: s.batch,
                                                                     virtualTokens: s.n)
                return ExerciseCase(
                    "n \(s.n), B \(s.batch), T \(s.t) — \(s.note)",
                    inputs: ["labels = \(labels)", "batchSize = \(s.batch)", "virtualTokens = \(s.n)"]
                ) { answers in
                    Judge.exactly(answers.promptTuningLabels(labels, batchSize: s.batch, virtualTokens: s.n),
                                  expected: expected, name: "labels", length: "B·(n+T)",
                                  element: { "\($0) (" + position($0, n: s.n, t: s.t) + ")" })
                }
            }
        })

    /// The batch shapes both prompt exercises run on.
    private static let promptShapes: [(n: Int, batch: Int, t: Int, c: Int, note: String)] = [
        (2, 2, 3, 2, "two rows, two virtual tokens"),
        (0, 2, 2, 3, "n = 0 virtual tokens: nothing changes"),
        (3, 1, 1, 2, "one row of one token"),
        (1, 3, 2, 1, "three rows, C = 1"),
    ]

    /// "batch row 1, position 3 of n + T = 5: token 1" for flat row k of a [B, n+T] layout.
    private static func position(_ k: Int, n: Int, t: Int) -> String {
        let (row, p) = k.quotientAndRemainder(dividingBy: n + t)
        return "batch row \(row), position \(p) of n + T = \(n + t): "
            + (p < n ? "virtual token \(p)" : "real token \(p - n)")
    }
}
