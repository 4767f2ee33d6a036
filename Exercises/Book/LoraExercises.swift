// LoraExercises.swift — the lesson-lora exercises: the forward pass, merging, and counting the
// trainable parameters of a configuration.

extension Exercise {
    /// y = x·W₀ᵀ + (alpha/r)·(x·Aᵀ)·Bᵀ.
    static let loraForward = Exercise(
        name: "lora-forward", title: "LoRA's forward pass: y = x·W₀ᵀ + (alpha/r)·(x·Aᵀ)·Bᵀ", lesson: "lesson-lora",
        function: "loraForward(x:base:a:b:alpha:)",
        hint: "Each output row is W₀ times the input row plus the scaled update: first u = x·Aᵀ ([n, r]), then "
            + "u·Bᵀ ([n, out]), times alpha / r with r = a.rows. lesson-lora, section \"What LoRA computes\".",
        makeCases: { seed in
            let inputs = Inputs(seed: seed, stream: 1)
            return loraShapes.map { s in
                let (x, w) = (inputs.matrix(s.n, s.inF), inputs.matrix(s.out, s.inF))
                let a = inputs.matrix(s.r, s.inF)
                let b = s.freshB ? Matrix(rows: s.out, columns: s.r) : inputs.matrix(s.out, s.r)
                let expected = ReferenceSolutions.loraForward(x: x, base: w, a: a, b: b, alpha: s.alpha)
                return ExerciseCase(
                    "x \(x.shape), W₀ \(w.shape), A \(a.shape), B \(b.shape), alpha \(s.alpha) — \(s.note)",
                    inputs: ["x = \(x)", "base = \(w)", "a = \(a)", "b = \(b)", "alpha = \(s.alpha)"]
                ) { answers in
                    Judge.matrix(answers.loraForward(x: x, base: w, a: a, b: b, alpha: s.alpha), expected: expected,
                                 shape: "x.rows × base.rows: one output row per input row")
                }
            }
        })

    /// W = W₀ + (alpha/r)·B·A.
    static let loraMerge = Exercise(
        name: "lora-merge", title: "Merging for inference: W = W₀ + (alpha/r)·B·A", lesson: "lesson-lora",
        function: "loraMerge(base:a:b:alpha:)",
        hint: "B·A has W₀'s shape [out, in]: its element (i, j) is Σₖ B[i, k]·A[k, j]; add alpha / r times it to "
            + "W₀. lesson-lora, section \"Merging for inference\".",
        makeCases: { seed in
            let inputs = Inputs(seed: seed, stream: 2)
            return loraShapes.map { s in
                let w = inputs.matrix(s.out, s.inF), a = inputs.matrix(s.r, s.inF)
                let b = s.freshB ? Matrix(rows: s.out, columns: s.r) : inputs.matrix(s.out, s.r)
                let expected = ReferenceSolutions.loraMerge(base: w, a: a, b: b, alpha: s.alpha)
                return ExerciseCase(
                    "W₀ \(w.shape), A \(a.shape), B \(b.shape), alpha \(s.alpha) — \(s.note)",
                    inputs: ["base = \(w)", "a = \(a)", "b = \(b)", "alpha = \(s.alpha)"]
                ) { answers in
                    Judge.matrix(answers.loraMerge(base: w, a: a, b: b, alpha: s.alpha), expected: expected,
                                 shape: "the shape of W₀, [out, in]")
                }
            }
        })

    /// Σ over layers and targeted modules of r·(in + out).
    static let loraParameterCount = Exercise(
        name: "lora-parameter-count", title: "Trainable parameters of a LoRA configuration", lesson: "lesson-lora",
        function: "loraParameterCount(model:r:targetModules:)",
        hint: "An adapted [out, in] layer trains A [r, in] and B [out, r], r·(in + out) values; with fewer key/value "
            + "heads k_proj and v_proj are narrower than q_proj. lesson-lora, section \"What LoRA computes\" "
            + "(PEFT's trainable-parameters line).",
        makeCases: { _ in
            let cases: [(ModelShape, Int, [String], String)] = [
                (ModelShape(layers: 2, hiddenSize: 32, intermediateSize: 64, attentionHeads: 4, keyValueHeads: 4),
                 8, ["q_proj", "v_proj"], "PEFT's default targets for LLaMA"),
                (ModelShape(layers: 3, hiddenSize: 32, intermediateSize: 88, attentionHeads: 4, keyValueHeads: 2),
                 4, ["k_proj", "v_proj"], "grouped-query attention: k and v are half as wide as q"),
                (ModelShape(layers: 2, hiddenSize: 24, intermediateSize: 40, attentionHeads: 3, keyValueHeads: 1),
                 2, ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
                 "all seven linear layers"),
                (ModelShape(layers: 1, hiddenSize: 16, intermediateSize: 48, attentionHeads: 2, keyValueHeads: 2),
                 1, ["down_proj"], "one layer, one module, r = 1"),
                (ModelShape(layers: 4, hiddenSize: 48, intermediateSize: 128, attentionHeads: 6, keyValueHeads: 3),
                 16, ["o_proj", "up_proj"], "o_proj and the MLP's up_proj"),
            ]
            return cases.map { model, r, targets, note in
                let expected = ReferenceSolutions.loraParameterCount(model: model, r: r, targetModules: targets)
                return ExerciseCase(
                    "layers \(model.layers), hidden \(model.hiddenSize), r \(r), \(targets.joined(separator: ", ")) "
                        + "— \(note)",
                    inputs: ["model = \(model)", "r = \(r)", "targetModules = \(targets)"]
                ) { answers in
                    let got = answers.loraParameterCount(model: model, r: r, targetModules: targets)
                    return got == expected ? nil : "trainable parameters: expected \(expected), got \(got)"
                }
            }
        })

    /// The shapes both LoRA exercises run on, each with what it catches.
    private static let loraShapes: [(n: Int, inF: Int, out: Int, r: Int, alpha: Double, freshB: Bool, note: String)] = [
        (2, 3, 4, 2, 4, false, "alpha/r = 2"),
        (1, 4, 2, 1, 1, false, "r = 1, one input row"),
        (3, 2, 3, 3, 8, false, "r larger than in, alpha/r = 8/3"),
        (2, 3, 2, 4, 6, false, "alpha/r = 1.5"),
        (2, 3, 2, 2, 16, true, "a fresh adapter: B = 0, so the result is the base alone"),
    ]
}
