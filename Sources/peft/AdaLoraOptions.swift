// AdaLoraOptions.swift — `peft train --method adalora`: AdaLoRA's flags (PEFT's `AdaLoraConfig`
// fields; the LoRA flags it shares come from LoraOptions, `total_step` from --steps), and the
// progress lines that show the budget and the ranks kept per module as training goes.

import ArgumentParser
import Foundation
import PEFT
import TensorKit

/// AdaLoRA's own flags.
struct AdaLoraOptions: ParsableArguments {
    @Option(help: "AdaLoRA: init_r, the singular triplets every adapted matrix starts with.") var initR = 12
    @Option(help: "AdaLoRA: target_r, the average triplets per matrix left at the end.") var targetR = 8
    @Option(help: "AdaLoRA: tinit, warm-up steps before any pruning.") var tinit = 0
    @Option(help: "AdaLoRA: tfinal, final steps that train with the ranks fixed.") var tfinal = 0
    @Option(name: .customLong("delta-t"), help: "AdaLoRA: deltaT, prune every deltaT steps while budgeting.")
    var deltaT = 1
    @Option(help: "AdaLoRA: beta1, the EMA factor of the sensitivity.") var beta1: Double = 0.85
    @Option(help: "AdaLoRA: beta2, the EMA factor of the uncertainty.") var beta2: Double = 0.85
    @Option(help: "AdaLoRA: orth_reg_weight, the weight of the orthogonality penalty in the loss.")
    var orthRegWeight: Double = 0.5

    /// The config, with the shared LoRA flags and `total_step` = the run's steps.
    func config(lora: LoraOptions, totalStep: Int) throws -> AdaLoraConfig {
        if lora.useDora { throw ValidationError("--use-dora: ADALORA does not support DoRA; drop the flag") }
        if lora.useRslora {
            throw ValidationError("--use-rslora is LoRA's: AdaLoRA always scales by lora_alpha / (init_r + 1e-5)")
        }
        if lora.loraplusRatio != 1 {
            throw ValidationError("--loraplus-ratio is LoRA+'s; AdaLoRA trains A, E and B alike")
        }
        guard let initialization = ["true": true, "false": false][lora.initLoraWeights.lowercased()] else {
            throw ValidationError("--init-lora-weights for AdaLoRA must be true (E = 0, A and B ~ N(0, 0.02²)) "
                + "or false")
        }
        if lora.r != 8 {
            printToStandardError("note: --r is not used by AdaLoRA and is ignored; --init-r sets the rank")
        }
        return AdaLoraConfig(initR: initR, targetR: targetR, tinit: tinit, tfinal: tfinal, deltaT: deltaT, beta1: beta1,
                             beta2: beta2, orthRegWeight: orthRegWeight, totalStep: totalStep, loraAlpha: lora.alpha,
                             loraDropout: lora.dropout, targetModules: lora.targets, initLoraWeights: initialization)
    }
}

extension AdaLoraModel {
    /// Prints the budget and the ranks kept per module about ten times over `steps`, and at the
    /// step that fixes the ranks.
    func printAllocation(over steps: Int) {
        let every = max(1, steps / 10)
        let prefix = isatty(1) != 0 ? "\r" : ""  // over a terminal's progress line
        onAllocation = { event in
            let shown = (event.step + 1) % every == 0 || event.phase == .finalAllocation || event.step + 1 == steps
            guard shown else { return }
            let ranks = event.ranks.map { "\(shortName($0.module)) \($0.rank)" }.joined(separator: ", ")
            let kept = event.ranks.reduce(0) { $0 + $1.rank }
            print(prefix + "  adalora step \(event.step + 1)/\(steps) (\(event.phase.rawValue)): "
                  + "budget \(event.budget), "
                  + "kept \(kept) of \(self.schedule.initialBudget) triplets; ranks \(ranks)")
        }
    }
}

/// "model.layers.3.self_attn.q_proj" → "3.q_proj".
private func shortName(_ module: String) -> String {
    let parts = module.split(separator: ".")
    guard let i = parts.firstIndex(of: "layers"), i + 1 < parts.count, let last = parts.last else { return module }
    return "\(parts[i + 1]).\(last)"
}
