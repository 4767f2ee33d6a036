// Report.swift — what the checker prints: ✓ or ✗ per case, what is wrong and the inputs of the
// first failing case, then a summary. Plain text, read top to bottom.

/// The checker's text for a student.
public enum Report {
    /// The heading of an exercise: `lora-forward — LoRA's forward pass: … (lesson-lora)`.
    public static func heading(_ exercise: Exercise) -> String {
        "\(exercise.name) — \(exercise.title) (\(exercise.lesson))"
    }

    /// The line of one case: `  ✓ case 2 of 5: …`, and when it failed, the problem below it and, for
    /// the first failing case of the exercise (`showInputs`), its inputs.
    public static func lines(for result: CaseResult, of total: Int, showInputs: Bool) -> [String] {
        var lines = ["  \(result.passed ? "✓" : "✗") case \(result.number) of \(total): \(result.title)"]
        guard let problem = result.problem else { return lines }
        lines.append("      " + problem)
        if showInputs {
            lines.append("      inputs:")
            lines += result.inputs.map { "        " + $0 }
        }
        return lines
    }

    /// The closing line of an exercise: how many cases passed and, if not all, where the hint is.
    public static func footer(_ result: ExerciseResult) -> String {
        let count = "\(result.passedCount) of \(result.cases.count) cases pass"
        return result.passed ? "  \(count)." : "  \(count). Hint: swift run exercises hint \(result.exercise.name)"
    }

    /// Everything for one exercise: heading, cases (inputs shown for the first failure only), footer.
    public static func lines(for result: ExerciseResult) -> [String] {
        let firstFailure = result.cases.first { !$0.passed }?.number
        return [heading(result.exercise)]
            + result.cases.flatMap { lines(for: $0, of: result.cases.count, showInputs: $0.number == firstFailure) }
            + [footer(result)]
    }

    /// The summary after all checked exercises: `✓ lora-forward  ✗ lora-merge …` and the count.
    public static func summary(_ results: [ExerciseResult]) -> [String] {
        let passed = results.filter(\.passed).count
        let marks = results.map { "\($0.passed ? "✓" : "✗") \($0.exercise.name)" }
        return ["Summary: \(passed) of \(results.count) exercises pass."] + marks.map { "  " + $0 }
    }
}
