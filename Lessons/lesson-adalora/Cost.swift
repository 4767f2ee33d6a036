// Cost.swift — section 8 of lesson-adalora: what AdaLoRA costs against LoRA. Tokens per second
// at each budget, the rank allocator's share of a step, memory, and what an exact SVD of every
// update at every step would cost instead.

import Foundation
import Notebook
import PEFT
import TensorKit

extension LessonAdaLoRA {
    func costSection(_ nb: Notebook, _ experiment: Experiment,
                     _ pairs: [(budget: Budget, ada: MethodResult, lora: MethodResult)], svd: SVDCost,
                     settings: Settings) {
        let steps = Double(experiment.steps)
        nb.section("What it costs", """
            AdaLoRA trains init_r-wide adapters (1.5 times LoRA's rank at the same final budget), adds the \
            orthogonality penalty to every loss, and runs the rank allocator after every optimizer step. Training \
            speed on this machine (all runs share it with other work, so take the ratios rather than the absolute \
            numbers; the time the lesson spent recording its traces is taken out):
            """)
        var table = Table(["t", "LoRA tokens/s", "AdaLoRA tokens/s", "AdaLoRA / LoRA (range over seeds)",
                           "trainable, AdaLoRA / LoRA", "allocator ms/step", "allocator share of a step"])
        var shares: [Double] = [], allocatorMs: [Double] = [], ratios: [Double] = []
        for (b, ada, lora) in pairs {
            // AdaLoRA's and LoRA's runs of the same seed (each on one thread beside another run): the pairs.
            let pairRatios = zip(ada.runs, lora.runs).map { $0.log.tokensPerSecond / max($1.log.tokensPerSecond, 1e-9) }
            ratios += pairRatios
            let hook = ada.runs.map { $0.log.afterStepSeconds }.reduce(0, +) / Double(max(ada.runs.count, 1))
            let total = ada.runs.map { $0.log.seconds }.reduce(0, +) / Double(max(ada.runs.count, 1))
            shares.append(hook / max(total, 1e-9))
            allocatorMs.append(1000 * hook / steps)
            let widths = Double(ada.trainableParameters) / Double(max(lora.trainableParameters, 1))
            table.add(["\(b.t)", formatCount(Int(lora.tokensPerSecond)), formatCount(Int(ada.tokensPerSecond)),
                       String(format: "%.2f (%.2f–%.2f)", ada.tokensPerSecond / max(lora.tokensPerSecond, 1e-9),
                              pairRatios.min() ?? .nan, pairRatios.max() ?? .nan),
                       String(format: "%.2f", widths), String(format: "%.2f", 1000 * hook / steps),
                       String(format: "%.2f%%", 100 * hook / max(total, 1e-9))])
        }
        nb.table(table)
        let meanMs = allocatorMs.reduce(0, +) / Double(max(allocatorMs.count, 1))
        let stepMs = pairs.first { $0.budget.t == main }.map { pair in
            1000 * pair.ada.runs.map(\.log.seconds).reduce(0, +) / Double(max(pair.ada.runs.count, 1)) / steps
        } ?? 0
        let n = pairs.first?.ada.tuners.first.flatMap { ($0 as? AdaLoraModel)?.adapters.count } ?? 0
        let timed = svd.measured.map { String(format: "%@ %.0f ms", $0.shape, 1000 * $0.seconds) }
            .joined(separator: ", ")
        let (fullMs, thinMs) = (1000 * svd.fullSecondsEstimate, 1000 * svd.thinSeconds)
        let meanRatio = ratios.reduce(0, +) / Double(max(ratios.count, 1))
        let speed = meanRatio < 0.95
            ? String(format: "AdaLoRA trained at %.2f of LoRA's speed (seed pairs %.2f to %.2f); the allocator is a "
                     + "small part of that, so most of the difference is the wider adapters and the penalty.",
                     meanRatio, ratios.min() ?? .nan, ratios.max() ?? .nan)
            : String(format: "AdaLoRA trained at about LoRA's speed (%.2f of it; seed pairs %.2f to %.2f): at this "
                     + "size the frozen base's products dominate a step, and the wider adapters, the penalty and the "
                     + "allocator add little.", meanRatio, ratios.min() ?? .nan, ratios.max() ?? .nan)
        nb.say(speed + String(format: """
             The allocator (scores of every entry of P, Λ and Q, the triplet scores, the threshold and the masks) \
            takes %.2f ms per step on average, %.1f%% to %.1f%% of a step. Finding the singular values by SVD \
            instead: one full \
            SVD of a trained ΔW (this project's one-sided Jacobi SVD in double precision) took %@, so all %d \
            matrices would take about %.0f ms — %.0f times the allocator's step, %.1f times a whole training step at \
            t = %d — at every pruning step. Even the economical way, SVDs of the thin factors B and (A⊙E)ᵀ and of \
            an r×r core (same values to %.0e relative), took %.1f ms for all %d: %.1f times the allocator. Making Λ \
            a parameter is what avoids both.
            """, meanMs, 100 * (shares.min() ?? 0), 100 * (shares.max() ?? 0), timed, n, fullMs,
            fullMs / max(meanMs, 1e-9), fullMs / max(stepMs, 1e-9), main, max(svd.largestDifference, 1e-12), thinMs, n,
            thinMs / max(meanMs, 1e-9)))
        let base = experiment.base
        let b = Budget(t: main)
        let seed = Generator(seed: options.seed)
        if let lora = try? LoraModel(wrapping: base.copy(), config: settings.lora(b), generator: seed),
           let ada = try? AdaLoraModel(wrapping: base.copy(), config: settings.adaLora(b), generator: seed) {
            nb.say("Memory of one training step on the same 16 examples, measured:")
            nb.table(memoryTable([("LoRA r = \(main)", lora), ("AdaLoRA \(b.initR) → \(main)", ada)],
                                 batch: experiment.probeBatch).table)
            nb.say("AdaLoRA's gradients and optimizer state are those of init_r-wide adapters for the whole run; the "
                + "weights and activations are those of any adapter on the same frozen base.")
        }
    }
}
