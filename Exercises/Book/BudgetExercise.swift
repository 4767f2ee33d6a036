// BudgetExercise.swift — the lesson-adalora exercise: the cubic budget schedule, checked at every
// step of a run (warm-up, the cubic phase, the boundary step T − tfinal and the final phase).

extension Exercise {
    /// b₀ until tinit, a cubic down to b₁ until T − tfinal, then b₁.
    static let adaLoraBudget = Exercise(
        name: "adalora-budget", title: "AdaLoRA's budget schedule, step by step", lesson: "lesson-adalora",
        function: "adaLoraBudget(step:schedule:)",
        hint: "Three phases: the initial budget while step ≤ tinit, a cubic from it to the target while "
            + "step ≤ T − tfinal (truncated to an Int; prune only when step % deltaT == 0), then the target with "
            + "pruning. lesson-adalora, section \"Importance and the budget schedule\".",
        makeCases: { seed in
            let inputs = Inputs(seed: seed, stream: 5)
            let initialR = inputs.int(6...12), targetR = inputs.int(1...4), matrices = inputs.int(2...8)
            let cases: [(BudgetSettings, String)] = [
                (BudgetSettings(initialBudget: 24, targetBudget: 8, tinit: 2, tfinal: 3, totalSteps: 12, deltaT: 2),
                 "the golden trace's settings (budgets 24 24 24 18 13 10 9 8 8 8 8 8)"),
                (BudgetSettings(initialBudget: 12, targetBudget: 4, tinit: 0, tfinal: 2, totalSteps: 10, deltaT: 1),
                 "tinit = 0 and deltaT = 1: prune at every step"),
                (BudgetSettings(initialBudget: 16, targetBudget: 6, tinit: 3, tfinal: 0, totalSteps: 11, deltaT: 3),
                 "tfinal = 0: the final phase starts after the last step"),
                (BudgetSettings(initialBudget: initialR * matrices, targetBudget: targetR * matrices,
                                tinit: inputs.int(0...10), tfinal: inputs.int(0...10), totalSteps: 60,
                                deltaT: inputs.int(1...5)),
                 "random: init_r \(initialR), target_r \(targetR) on \(matrices) matrices, 60 steps"),
            ]
            return cases.map { settings, note in
                let steps = Array(0...settings.totalSteps)
                let expected = steps.map { ReferenceSolutions.adaLoraBudget(step: $0, schedule: settings) }
                return ExerciseCase("steps 0…\(settings.totalSteps), \(settings) — \(note)",
                                    inputs: ["schedule = \(settings)", "step = 0…\(settings.totalSteps)"]
                ) { answers in
                    for step in steps {
                        let got = answers.adaLoraBudget(step: step, schedule: settings)
                        if got != expected[step] {
                            return "step \(step) (\(phase(step, settings))): expected \(expected[step]); got \(got)"
                        }
                    }
                    return nil
                }
            }
        })

    /// Which phase of the schedule `step` is in, as the documentation names it.
    private static func phase(_ step: Int, _ s: BudgetSettings) -> String {
        let end = s.totalSteps - s.tfinal
        if step <= s.tinit { return "step ≤ tinit = \(s.tinit)" }
        if step <= end { return "tinit < step ≤ T − tfinal = \(end)" + (step == end ? ", the last cubic step" : "") }
        return "step > T − tfinal = \(end)"
    }
}
