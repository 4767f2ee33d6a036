// lesson-lora — LoRA, the flagship PEFT method: what it computes, what it costs, why it works,
// and how it is merged away for inference.
//
//   swift run lesson-lora            (about 3 minutes once the base model is cached)
//   swift run lesson-lora --quick    (seconds; what the tests run)

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit
import Training

@main
struct LessonLoRA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lesson-lora",
        abstract: "LoRA against full fine-tuning: parameters, memory, speed, scores, forgetting, the low rank of the update, merging.",
        discussion: """
        Wraps q_proj and v_proj of a small pretrained LLaMA with rank-8 adapters (h = W₀x + (alpha/r)·B·A·x), \
        trains them and full fine-tuning on the same task, and measures trainable parameters, memory, speed, \
        test score, forgetting, the singular-value spectrum of the full update, merging and the adapter's size. \
        About a minute once the base model is cached (the first run pretrains it, about 3 minutes). The report \
        and figures go to Figures/lesson-lora (or --out).
        """)

    @OptionGroup var options: LessonOptions
    @Option(help: "Task: qa, sentiment, topic or data-to-text.") var task = "qa"
    @Option(help: "LoRA rank.") var r = 8
    @Option(help: "LoRA alpha (the update is scaled by alpha / r).") var alpha: Double = 16
    @Option(help: "Target modules, comma-separated (or all-linear).") var targetModules = "q_proj,v_proj"
    @Option(help: "Seeds per run (mean ± std); default 3, 1 with --quick.") var seeds: Int?

    func run() throws {
        let lesson = "lesson-lora"
        let nb = Notebook(lesson: lesson, title: "LoRA: low-rank adaptation", folder: options.folder(for: lesson), introduction: """
            LoRA (Hu et al., 2021) freezes every pretrained weight W₀ and learns, beside some of them, an update of \
            low rank: ΔW = B·A with A of shape [r, in] and B of shape [out, r], r much smaller than the layer. The \
            model computes h = W₀·x + (alpha/r)·B·A·x. Only A and B are trained, so the gradients and optimizer \
            state shrink by orders of magnitude, and after training B·A can be added into W₀ so that inference \
            costs nothing extra. This notebook measures each of those claims on a small LLaMA.
            """)

        // 1. Base and task
        nb.section("The base model and the task", "The same cached base as every lesson, and a task whose test answers the pretraining text holds but the training set does not (\(task)).")
        let base = try BaseModel.load(try options.basePreset(), rebuild: options.rebuildBase)
        let sizes = options.splitSizes(trainLimit: 256)
        let data = try base.world.task(task, sizes: sizes, seed: options.seed)
        nb.say("Base: \(formatCount(base.model.parameterCount)) parameters, \(base.model.config.numHiddenLayers) layers of width \(base.model.config.hiddenSize). Task: \(data.summary); \(data.train.count) training and \(data.test.count) test examples.")
        let config = LoraConfig(r: r, loraAlpha: alpha, targetModules: TargetModules(commaSeparated: targetModules))

        // 2. The formula, with this model's shapes
        nb.section("What LoRA computes", "For each targeted linear layer, PEFT's LoraLinear wraps the frozen layer; the model code is untouched. With this model's q_proj:")
        let probe = base.copy()
        let lora = try LoraModel(wrapping: probe, config: config, generator: Generator(seed: options.seed))
        let (name0, layer0) = lora.adapters[0]
        let (out0, in0) = (layer0.outFeatures, layer0.inFeatures)
        nb.code("""
            h = W₀·x + (alpha/r)·B·(A·x)          (\(name0))
            x  [tokens, \(in0)]      W₀ [\(out0), \(in0)] frozen: \(formatCount(out0 * in0)) weights
            A  [\(r), \(in0)]  B [\(out0), \(r)]    trainable: \(formatCount(r * (in0 + out0))) weights, \(String(format: "%.1f%%", 100 * Double(r * (in0 + out0)) / Double(out0 * in0))) of W₀
            alpha/r = \(numberText(alpha))/\(r) = \(String(format: "%.3g", Double(layer0.scaling)))
            A ~ U(−1/√in, 1/√in),  B = 0   →   B·A = 0 at the start
            """)
        nb.say("Adapted modules: " + lora.adapters.map(\.name).joined(separator: ", ") + ".")
        nb.say("PEFT's report for this model: `\(lora.trainableReport)`")
        let sample = TokenBatch(padding: Array(data.test.prefix(16)).map { base.tokenizer.encode($0) }, padId: base.tokenizer.padId)
        let startDiff = withoutGrad { maxDifference(lora.forward(sample), base.model(sample.inputIds, batch: sample.batchSize)) }
        nb.say("Because B starts at zero, the adapted model starts as the base model exactly: the largest difference between their logits on 16 test examples is \(startDiff) (measured).")

        // 3. Cost
        nb.section("What it costs", "Memory of one training step on a batch of 16, measured for full fine-tuning and for LoRA:")
        let costs = memoryTable([("full fine-tuning", SelectiveFineTuning.full(base.copy())), ("LoRA r=\(r) (\(targetModules))", lora)],
                                batch: sample)
        nb.table(costs.table)
        nb.say("The weights are the same (LoRA keeps the whole base in memory); gradients and AdamW's two moments exist only for A and B. Activations are still needed to carry gradients down through the frozen layers.")

        // 4. Training
        let steps = options.steps(full: 250, quick: 40)
        let seedList = options.seedList(seeds, default: 3)
        nb.section("Training both", "\(steps) steps, batch 16, AdamW with warm-up and cosine decay, \(seedList.count) seed(s). LoRA uses a larger learning rate (2e-3 against 1e-3), as is usual: its update starts from zero and is scaled by alpha/r.")
        let full = try runMethod(.selective("full fine-tuning", base, learningRate: 1e-3) { .full($0) }, base: base, task: data,
                           steps: steps, seeds: seedList)
        let loraResult = try runMethod(.lora("LoRA r=\(r)", base, config, learningRate: 2e-3), base: base, task: data, steps: steps, seeds: seedList)
        let results = [full, loraResult, MethodResult.frozenBase(base, data)]
        var lossFigure = Figure(name: "loss-curves", title: "Training loss: LoRA against full fine-tuning (\(data.name))", xLabel: "step", yLabel: "loss on the answer tokens (log scale)",
                                kind: .lines([full, loraResult].map { .init($0.name, y: $0.curve, xStart: $0.curveStep, xStep: $0.curveStep) }))
        lossFigure.logY = true
        nb.figure(lossFigure)
        var scores = Table(["method", "trainable", "test \(data.metricName)", "held-out pretraining loss", "train time", "tokens/s"])
        for res in results {
            scores.add([res.name, res.trainableParameters > 0 ? formatCount(res.trainableParameters) : "0", res.scoreText,
                        String(format: "%.3f (%+.3f)", res.heldOut.mean, res.heldOut.mean - Double(base.heldOutLoss)),
                        res.seconds > 0 ? formatDuration(res.seconds) : "—", res.tokensPerSecond > 0 ? formatCount(Int(res.tokensPerSecond)) : "—"])
        }
        nb.table(scores)
        nb.figure(Figure(name: "scores", title: "Test \(data.metricName) (\(data.name))", yLabel: data.metricName,
                         kind: .bars(categories: results.map(\.name), [.init(data.metricName, results.map(\.score.mean), errors: seedList.count > 1 ? results.map(\.score.std) : nil)])))
        let gap = loraResult.score.mean - full.score.mean
        nb.say(String(format: "LoRA trains %@ of the parameters (%.2f%%) and scores %.3f against full fine-tuning's %.3f (%+.3f). It %@ and forgot %@ of the pretraining text (held-out loss %+.3f against %+.3f).",
                      formatCount(loraResult.trainableParameters), 100 * Double(loraResult.trainableParameters) / Double(base.model.parameterCount),
                      loraResult.score.mean, full.score.mean, gap,
                      loraResult.tokensPerSecond > full.tokensPerSecond ? String(format: "trained %.1f× faster per token", loraResult.tokensPerSecond / full.tokensPerSecond) : "was not faster per token here",
                      loraResult.heldOut.mean < full.heldOut.mean ? "less" : "more",
                      loraResult.heldOut.mean - Double(base.heldOutLoss), full.heldOut.mean - Double(base.heldOutLoss)))

        // 5. Why it works: the update full fine-tuning made is nearly low-rank
        nb.section("Why a low rank is enough", """
            LoRA bets that the change fine-tuning needs has a low "intrinsic rank". Test it on the change that full \
            fine-tuning actually made: ΔW = W_fine-tuned − W₀ for every projection, decomposed by SVD. If a few \
            singular values carry most of ΔW's energy (Σσ²), a rank-r update can express most of it. A random \
            Gaussian matrix of the same shape is the baseline: its energy is spread over all directions.
            """)
        var spectrumSeries: [Figure.Series] = []
        var rankTable = Table(["matrix", "shape", "σ₁/σ₈", "directions for 90% of ΔW", "same for a random matrix", "energy in the top \(r)"])
        let fineTuned = full.tuners[0].model
        for kind in ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] {
            var normalized: [Double] = [], need90: [Double] = [], topR: [Double] = [], ratio: [Double] = []
            var shape = (0, 0)
            for (slotFT, slotBase) in zip(fineTuned.linearSlots, base.model.linearSlots) where slotFT.name.hasSuffix(kind) {
                let w = slotFT.layer.base.denseWeight(), w0 = slotBase.layer.base.denseWeight()
                shape = (w.shape[0], w.shape[1])
                let delta = zip(w.array, w0.array).map { $0 - $1 }
                let s = SVD(delta, rows: w.shape[0], columns: w.shape[1]).s
                let e = energyProfile(s)
                need90.append(Double(e.firstIndex { $0 >= 0.9 }! + 1))
                topR.append(e[min(r, e.count) - 1])
                ratio.append(s[0] / max(s[min(7, s.count - 1)], 1e-12))
                if normalized.isEmpty { normalized = s.map { $0 / s[0] } } else { for i in normalized.indices { normalized[i] += s[i] / s[0] } }
            }
            let layers = Double(need90.count)
            let random = SVD(Tensor.randn([shape.0, shape.1], generator: Generator(seed: 7)).array, rows: shape.0, columns: shape.1).s
            let randomNeed = energyProfile(random).firstIndex { $0 >= 0.9 }! + 1
            spectrumSeries.append(.init("ΔW \(kind)", y: normalized.prefix(32).map { $0 / layers }, xStart: 1))
            if kind == "q_proj" { spectrumSeries.append(.init("random \(shape.0)×\(shape.1)", y: random.prefix(32).map { $0 / random[0] }, xStart: 1)) }
            rankTable.add([kind, "\(shape.0)×\(shape.1)", String(format: "%.1f", ratio.reduce(0, +) / layers),
                           String(format: "%.1f of %d", need90.reduce(0, +) / layers, min(shape.0, shape.1)), "\(randomNeed)",
                           String(format: "%.0f%%", 100 * topR.reduce(0, +) / layers)])
        }
        nb.table(rankTable)
        nb.figure(Figure(name: "spectrum", title: "Singular values of the full fine-tuning update ΔW (σᵢ/σ₁, mean over layers)", xLabel: "index i", yLabel: "σᵢ / σ₁",
                         kind: .lines(spectrumSeries)))
        nb.say("Read the table from left to right: a handful of directions carry 90% of what full fine-tuning changed, where a random matrix needs most of its directions. The update is concentrated, so a rank-\(r) LoRA can follow most of it. (It is not exactly low-rank: the tail is why LoRA is an approximation, and why the rank lesson asks how much r matters.)")

        // 6. Merging
        nb.section("Merging for inference", "After training, W₀ + (alpha/r)·B·A is one matrix of the original shape. Merging folds it in: the outputs stay the same and the extra products disappear.")
        let trained = loraResult.tuners[0]
        trained.isTraining = false
        let unmergedLogits = withoutGrad { trained.forward(sample) }
        let speedIds = (0..<(16 * 64)).map { $0 % (base.model.config.vocabSize - 2) }
        let speedBatch = TokenBatch(ids: speedIds, labels: speedIds, rows: 16)
        let unmergedSpeed = inferenceTokensPerSecond(trained.logits, batch: speedBatch, repeats: 20)
        try trained.merge()
        let mergedLogits = withoutGrad { trained.forward(sample) }
        let mergedSpeed = inferenceTokensPerSecond(trained.logits, batch: speedBatch, repeats: 20)
        let baseSpeed = inferenceTokensPerSecond({ base.model($0.inputIds, batch: $0.batchSize) }, batch: speedBatch, repeats: 20)
        try trained.unmerge()
        let adapterFolder = temporaryFolder("lesson-lora-adapter")
        try trained.save(to: adapterFolder)
        let modelBytes = try FileManager.default.attributesOfItem(atPath: base.folder.appendingPathComponent("model.safetensors").path)[.size] as? Int ?? 0
        nb.table(Table(["", "inference tokens/s", "max |logits − unmerged|"], rows: [
            ["base model", formatCount(Int(baseSpeed)), "—"],
            ["LoRA, unmerged", formatCount(Int(unmergedSpeed)), "0"],
            ["LoRA, merged", formatCount(Int(mergedSpeed)), String(format: "%.2g", maxDifference(mergedLogits, unmergedLogits))],
        ]))
        nb.say(String(format: "Merged, the adapted model runs at %.2f× the base's inference speed (unmerged: %.2f×), with the same outputs to float rounding. What is shipped is only the adapter: %@ for adapter_model.safetensors + adapter_config.json against %@ for the base weights (%.1f%%), in PEFT's format, loadable with `PeftModel.from_pretrained`.",
                      mergedSpeed / baseSpeed, unmergedSpeed / baseSpeed, formatBytes(folderSize(adapterFolder)), formatBytes(modelBytes),
                      100 * Double(folderSize(adapterFolder)) / Double(max(modelBytes, 1))))

        nb.section("Exercises", """
            (1) --r 1 and --r 32: does the score move? (lesson-rank measures it properly). (2) --target-modules \
            all-linear at --r 2 has about as many parameters as q_proj,v_proj at r 8: which is better? \
            (lesson-targets). (3) Set --alpha to 8 and then 64 without changing r: what does the scale do to the \
            learning speed? (4) Train an adapter with `swift run peft train --model <base folder> --data qa --out \
            my-adapter`, then load it in Python with peft. (5) Look at the spectrum figure: which matrix type's \
            update is the most concentrated, and is it one LoRA targets by default?
            """)
        nb.finish()
    }
}

/// Largest |a − b| over two tensors of the same shape.
func maxDifference(_ a: Tensor, _ b: Tensor) -> Float { zip(a.array, b.array).reduce(0) { max($0, abs($1.0 - $1.1)) } }

/// Cumulative share of Σσ² carried by the first i singular values.
func energyProfile(_ s: [Double]) -> [Double] {
    let total = s.reduce(0) { $0 + $1 * $1 }
    var acc = 0.0
    return s.map { acc += $0 * $0; return acc / max(total, 1e-300) }
}

func numberText(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : "\(x)" }
