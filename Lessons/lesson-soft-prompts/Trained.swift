// Trained.swift — lesson-soft-prompts: one task's results, found by method rather than by
// position, since the two tasks run different line-ups.

import Notebook

/// One task's trained methods, found by the line-up's names (a task may run only some of them).
struct Trained {
    let experiment: Experiment
    let lineup: PromptLineup
    /// In the order they ran.
    let results: [MethodResult]

    init(_ experiment: Experiment, _ lineup: PromptLineup, _ results: [MethodResult]) {
        self.experiment = experiment
        self.lineup = lineup
        self.results = results
    }

    private func find(_ method: Method) -> MethodResult? { results.first { $0.name == method.name } }
    var prompt: MethodResult? { find(lineup.promptTuning()) }
    var prefix: MethodResult? { find(lineup.prefixTuning) }
    var mlp: MethodResult? { find(lineup.pTuning(.mlp)) }
    var lstm: MethodResult? { find(lineup.pTuning(.lstm)) }
    var v2: MethodResult? { find(lineup.pTuningV2) }
    var lora: MethodResult? { find(lineup.lora) }
    var full: MethodResult? { find(lineup.full) }
    /// Every result but LoRA's and full fine-tuning's.
    var softPrompts: [MethodResult] { results.filter { $0.name != lineup.lora.name && $0.name != lineup.full.name } }
}
