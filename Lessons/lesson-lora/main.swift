// lesson-lora — LoRA, the flagship PEFT method: what it computes, what it costs, how it compares
// with full fine-tuning when both get a fair learning rate, why a low rank can be enough, and
// how the adapter is merged away for inference.
//
//   swift run lesson-lora            (0:38 measured with the base cached; the first run
//                                     pretrains the base, about 2 more)
//   swift run lesson-lora --quick    (seconds; what the tests run)
//   swift run lesson-lora --tune     (sweeps the learning rates again and rewrites tuning.json)

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

@main
struct LessonLoRA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lesson-lora",
        abstract: "LoRA against full fine-tuning: parameters, memory, scores with intervals, forgetting, "
            + "the rank of the update, merging.",
        discussion: """
        Wraps q_proj and v_proj of a small pretrained LLaMA with rank-8 adapters (h = W₀x + (alpha/r)·B·A·x), trains \
        them and full fine-tuning on the same task, each at the learning rate chosen on the validation split \
        (Lessons/lesson-lora/tuning.json), five seeds each, and measures trainable parameters, memory, test score with \
        95% intervals, forgetting, the singular values of the full update, merging and the adapter's size. About a \
        minute once the base model is cached. The report and figures go to Figures/lesson-lora (or --out).
        """)

    @OptionGroup var options: LessonOptions
    @Option(help: "Task: qa, sentiment, topic or data-to-text.") var task = "qa"
    @Option(help: "LoRA rank.") var r = 8
    @Option(help: "LoRA alpha (the update is scaled by alpha / r).") var alpha: Double = 16
    @Option(help: "Target modules, comma-separated (or all-linear).") var targetModules = "q_proj,v_proj"
    @Option(help: "LoRA's learning rate (default: the one chosen on the validation split).") var lr: Float?

    func run() throws {
        let lesson = "lesson-lora"
        let nb = Notebook(lesson: lesson, title: "LoRA: low-rank adaptation", folder: options.folder(for: lesson),
                          introduction: """
            LoRA (Hu et al., ICLR 2022) freezes every pretrained weight W₀ and learns, beside some of them, an update \
            of low rank: ΔW = B·A with A of shape [r, in] and B of shape [out, r], r much smaller than the layer. The \
            model computes h = W₀·x + (alpha/r)·B·A·x. Only A and B are trained, so gradients and optimizer state \
            shrink, and after training B·A can be added into W₀ so that inference costs nothing extra. The source \
            tutorial's picture: an experienced chef (the pretrained model) learning sushi needs only a few new tricks \
            (two small matrices A and B), not a new training in cooking. This notebook measures each of those claims \
            on a small LLaMA.
            """)

        // 1. Base and task
        nb.section("The base model and the task", """
            Every lesson starts from the same cached base. The task (\(task)) asks about facts the pretraining text \
            holds: its test questions are about people the task's training set never mentions, so a method scores \
            only by reaching knowledge the base already has.
            """)
        let experiment = try Experiment.start(lesson, options: options, task: task, trainLimit: 256, steps: (250, 40))
        let base = experiment.base
        experiment.describeSetup(in: nb)
        let config = LoraConfig(r: r, loraAlpha: alpha, targetModules: TargetModules(commaSeparated: targetModules))

        // 2. The formula, with this model's shapes
        nb.section("What LoRA computes", """
            PEFT's LoraLinear wraps each targeted linear layer; the model code is untouched. The rank r of a matrix is \
            the number of independent directions its columns span; B·A has rank at most r. With this model's first \
            targeted layer:
            """)
        let probe = try LoraModel(wrapping: base.copy(), config: config, generator: Generator(seed: options.seed))
        nb.code(formulaText(probe))
        nb.say("Adapted modules: " + probe.adapters.map(\.name).joined(separator: ", ") + ".")
        nb.say("PEFT's report for this model: `\(probe.trainableReport)`. The total grows (LoRA adds parameters); "
            + "what shrinks is what trains.")
        let sample = experiment.probeBatch
        let startDifference = withoutGrad {
            maxDifference(probe.forward(sample), base.model(sample.inputIds, batch: sample.batchSize))
        }
        nb.say("Because B starts at zero, the adapted model starts as the base model exactly: the largest difference "
            + "between their logits on 16 training examples is \(startDifference) (measured).")

        // 3. Cost
        nb.section("What it costs", """
            Memory of one training step on the same 16 examples, measured: the weights, a gradient and AdamW's two \
            moments for every trainable value, and the activations backward needs.
            """)
        nb.table(memoryTable([("full fine-tuning", SelectiveFineTuning.full(base.copy())),
                              ("LoRA r=\(r) (\(targetModules))", probe)], batch: sample).table)
        nb.say("The weights stay (LoRA keeps the whole base in memory); gradients and optimizer state exist only for A "
            + "and B. Activations are still needed to carry gradients down through the frozen layers.")

        // 4. Training both, each at its own learning rate
        nb.section("Training both, fairly", """
            A comparison is fair only if each method gets the learning rate that suits it: LoRA's update starts \
            at zero and is scaled by alpha/r, full fine-tuning moves weights that are already good. So each method's \
            learning rate was chosen on the validation split (never the test split) by a sweep of two seeds; the \
            choices are committed in Lessons/lesson-lora/tuning.json (`--tune` redoes the sweep). Then \
            \(experiment.seeds.count) seed(s) of \(experiment.steps) steps each, batch 16, AdamW with warm-up and \
            cosine decay.
            """)
        let both = try experiment.run([.selective("full fine-tuning", base) { .full($0) },
                                       Method.lora("LoRA r=\(r)", base, config,
                                                   key: "lora \(r) \(alpha) \(targetModules)").fixed(at: lr)])
        let (full, lora) = (both[0], both[1])
        experiment.reportTuning(in: nb)
        let frozen = experiment.frozenBase()
        nb.table(experiment.scoreTable([full, lora, frozen], against: full))
        nb.figure(experiment.scoreFigure(name: "scores", title: "Test \(experiment.task.metricName) (\(task))",
                                         [full, lora, frozen]))
        var lossFigure = Figure(name: "loss-curves", title: "Training loss, first seed (\(task))", xLabel: "step",
                                yLabel: "loss on the answer tokens (log scale)",
                                kind: .lines([full, lora].map { $0.lossSeries(steps: experiment.steps) }))
        lossFigure.logY = true
        nb.figure(lossFigure)
        nb.say(verdict(experiment, lora: lora, full: full))

        // 5. Forgetting
        nb.section("Forgetting", """
            Fine-tuning on a narrow task can damage what pretraining taught (catastrophic forgetting). Measured: the \
            language-model loss on held-out pretraining text after training, minus the base's. A method that moves \
            fewer weights may forget less simply because it learned less (Biderman et al., 2024, "LoRA Learns Less and \
            Forgets Less"), so the fair comparison is at matched task score: each learning rate of the sweeps is one \
            point below, validation score against forgetting.
            """)
        let forgot = experiment.compareForgetting(lora, full)
        let who = forgot.verdict == .better ? "LoRA forgot less than full fine-tuning"
            : forgot.verdict == .worse ? "LoRA forgot more than full fine-tuning"
            : "their forgetting cannot be told apart"
        nb.say("Forgetting at the chosen learning rates (held-out loss after training minus the base's): full "
            + "fine-tuning \(experiment.forgetting(full).text(signed: true)), "
            + "LoRA \(experiment.forgetting(lora).text(signed: true)). "
            + "Paired, LoRA − full = \(forgot.difference.text(signed: true)): \(who), at these learning rates. The "
            + "tutorial's claim that PEFT forgets less is a claim at equal learning, which the figure below tests.")
        if let figure = experiment.forgettingFigure(
            name: "forgetting-vs-score",
            title: "Validation score against forgetting, one point per learning rate") {
            nb.figure(figure)
            nb.say("Read the figure along a horizontal line: at the same validation score, the method further left "
                + "forgot less. Where the curves do not reach the same scores, the data cannot separate \"forgets "
                + "less\" from \"learns less\".")
        }

        // 6. Why a low rank can be enough
        nb.section("Why a low rank can be enough", """
            LoRA bets that the change fine-tuning needs has a low "intrinsic rank". Test it on the change full \
            fine-tuning actually made: ΔW = W_fine-tuned − W₀ for every projection, split by SVD into singular values \
            σ₁ ≥ σ₂ ≥ …. The energy of ΔW is Σσ²; if the first few σ carry most of it, a rank-r update can express \
            most of the change. A random Gaussian matrix of the same shape is the baseline.
            """)
        guard let fullModel = full.tuners.first?.model else { throw LessonError("full fine-tuning kept no model") }
        let updates = weightUpdates(fullModel, from: base.model)
        nb.table(spectrumTable(updates, r: r))
        nb.figure(spectrumFigure(updates))
        let need = Dictionary(grouping: updates, by: \.kind).mapValues { list in
            list.map { Double(directions(for: 0.9, $0.svd.s)) }.reduce(0, +) / Double(list.count)
        }
        let width = updates.map { min($0.rows, $0.columns) }.max() ?? 0
        nb.say(String(format: "The update is concentrated but not low-rank: depending on the matrix, %.0f to %.0f of "
                      + "up to %d directions carry 90%% of its energy, fewer than a random matrix needs, far more "
                      + "than r = %d.",
                      need.values.min() ?? 0, need.values.max() ?? 0, width, r))
        let truncation = try truncatedScores(experiment, updates, ranks: [1, 2, 4, 8, 16, 32].filter { $0 <= width })
        nb.table(truncation.table)
        nb.say("""
            Keeping only the top r directions of full fine-tuning's own update (on every projection; embeddings, norms \
            and head left at the base) scores \(truncation.summary). That is how much of what full fine-tuning \
            learned a rank-r update could carry; LoRA on \(targetModules) at r = \(r) scored \
            \(experiment.interval(lora).text()) by learning its own update.
            """)

        // 7. Merging
        nb.section("Merging for inference", """
            After training, W₀ + (alpha/r)·B·A is one matrix of the original shape. Merging folds it in: the outputs \
            stay the same, the extra products disappear, and inference runs exactly the base's operations.
            """)
        guard let trained = lora.tuners.first else { throw LessonError("LoRA kept no tuner") }
        try merging(nb, trained, experiment)

        nb.section("Exercises", """
            Basic. (1) `swift run lesson-lora --r 1` and `--r 32`: expect the score to change less than the trainable \
            parameters do (lesson-rank measures it properly). (2) `--alpha 64`: with the learning rate fixed \
            (`--lr 2e-3`), a larger scale learns faster at first and can overshoot; compare the loss curves. \
            Intermediate. (3) `--target-modules all-linear --r 2` has about as many parameters as q_proj,v_proj at \
            r 8: expect a score at least as good (lesson-targets measures why). (4) Train an adapter with `swift run \
            peft train --model .cache/base-models/small-corpus\(World.corpusVersion) --data qa --out my-adapter`, then \
            load it in Python with `PeftModel.from_pretrained` (scripts/check_adapter_interop.py): expect the same \
            logits to 1e-5. Open. (5) In the spectrum figure, which matrix type's update is the most concentrated, \
            and is it one LoRA targets by default? (6) `--task sentiment`: a skill rather than knowledge — does the \
            truncated update still carry the score at r = 1?
            """)
        nb.finish()
    }

    /// The formula with the first adapted layer's shapes.
    func formulaText(_ lora: LoraModel) -> String {
        let (name, layer) = lora.adapters[0]
        let (out, inF) = (layer.outFeatures, layer.inFeatures)
        let share = 100 * Double(r * (inF + out)) / Double(out * inF)
        return """
            h = W₀·x + (alpha/r)·B·(A·x)          (\(name))
            x  [tokens, \(inF)]      W₀ [\(out), \(inF)] frozen: \(formatCount(out * inF)) weights
            A  [\(r), \(inF)]  B [\(out), \(r)]    trainable: \(formatCount(r * (inF + out))) weights, \
            \(String(format: "%.1f%%", share)) of W₀
            alpha/r = \(alpha)/\(r) = \(String(format: "%.3g", Double(layer.scaling)))
            A ~ U(−1/√in, 1/√in),  B = 0   →   B·A = 0 at the start
            """
    }

    /// The sentence the score table supports.
    func verdict(_ experiment: Experiment, lora: MethodResult, full: MethodResult) -> String {
        let c = experiment.compare(lora, full)
        let share = String(format: "%.2f%%", 100 * lora.trainableShare)
        let outcome: String
        switch c.verdict {
        case .better: outcome = "LoRA scored higher than full fine-tuning"
        case .worse: outcome = "LoRA scored lower than full fine-tuning"
        case .withinNoise: outcome = "the two cannot be told apart"
        }
        return "Training \(share) of the parameters, at this scale, budget and learning rate \(outcome): LoRA − full = "
            + "\(c.difference.text(signed: true)) (paired over the same test items and seeds). It processed "
            + "\(formatCount(Int(lora.tokensPerSecond))) tokens/s against full fine-tuning's "
            + "\(formatCount(Int(full.tokensPerSecond))) (debug build, this machine)."
    }
}

/// Largest |a − b| over two tensors of the same shape.
func maxDifference(_ a: Tensor, _ b: Tensor) -> Float { zip(a.array, b.array).reduce(0) { max($0, abs($1.0 - $1.1)) } }

/// The updates grouped by matrix type, in the model's order (q, k, v, o, gate, up, down).
func groupedByKind(_ updates: [WeightUpdate]) -> [(kind: String, list: [WeightUpdate])] {
    var order: [String] = []
    for u in updates where !order.contains(u.kind) { order.append(u.kind) }
    return order.map { kind in (kind, updates.filter { $0.kind == kind }) }
}

/// Per matrix type: σ₁/σ₈, directions for 90% of the energy (ΔW and a random matrix), energy in the top r.
func spectrumTable(_ updates: [WeightUpdate], r: Int) -> Table {
    var table = Table(["matrix", "shape", "σ₁/σ₈", "directions for 90% of ΔW", "same for a random matrix",
                       "energy in the top \(r)"])
    for (kind, list) in groupedByKind(updates) {
        let n = Double(list.count), (rows, columns) = (list[0].rows, list[0].columns)
        let random = SVD(Tensor.randn([rows, columns], generator: Generator(seed: 7)).array, rows: rows,
                         columns: columns).s
        let ratio = list.map { $0.svd.s[0] / max($0.svd.s[min(7, $0.svd.k - 1)], 1e-12) }.reduce(0, +) / n
        let need = list.map { Double(directions(for: 0.9, $0.svd.s)) }.reduce(0, +) / n
        let top = list.map { energyProfile($0.svd.s)[min(r, $0.svd.k) - 1] }.reduce(0, +) / n
        table.add([kind, "\(rows)×\(columns)", String(format: "%.1f", ratio),
                   String(format: "%.1f of %d", need, min(rows, columns)),
                   "\(directions(for: 0.9, random))", String(format: "%.0f%%", 100 * top)])
    }
    return table
}

/// Small multiples: each matrix type's normalised spectrum (mean over layers) against a random matrix's.
func spectrumFigure(_ updates: [WeightUpdate]) -> Figure {
    let panels = groupedByKind(updates).map { kind, list -> (String, [Figure.Series]) in
        let count = min(32, list[0].svd.k)
        let mean = (0..<count).map { i in list.map { $0.svd.s[i] / $0.svd.s[0] }.reduce(0, +) / Double(list.count) }
        let (rows, columns) = (list[0].rows, list[0].columns)
        let random = SVD(Tensor.randn([rows, columns], generator: Generator(seed: 7)).array, rows: rows,
                         columns: columns).s
        return ("\(kind) \(rows)×\(columns)", [.init("ΔW (mean over layers)", y: mean, xStart: 1),
                                              .init("random matrix", y: random.prefix(count).map { $0 / random[0] },
                                                    xStart: 1)])
    }
    return Figure(name: "spectrum", title: "Singular values σᵢ/σ₁ of the full fine-tuning update, per matrix type",
                  xLabel: "index i", yLabel: "σᵢ / σ₁", kind: .panels(panels))
}

/// Test scores of the base plus full fine-tuning's update truncated to each rank.
func truncatedScores(_ experiment: Experiment, _ updates: [WeightUpdate], ranks: [Int]) throws
    -> (table: Table, summary: String) {
    let base = experiment.base
    func score(_ rank: Int?) -> Double {
        let model = base.copy()
        for (slot, update) in zip(model.layers.flatMap(\.slots), updates) {
            let delta = rank.map { update.truncated(to: $0) } ?? update.delta
            slot.layer.base.addToWeight(Tensor(shape: [update.rows, update.columns], values: delta))
        }
        return evaluate(experiment.task, on: experiment.task.test, tokenizer: base.tokenizer, model: model).value
    }
    var table = Table(["update kept", "test \(experiment.task.metricName) (first seed)"])
    var parts: [String] = []
    for r in ranks {
        let s = score(r)
        table.add(["top \(r) direction\(r == 1 ? "" : "s") of every ΔW", String(format: "%.3f", s)])
        parts.append(String(format: "%.3f at r = %d", s, r))
    }
    let whole = score(nil)
    table.add(["the whole ΔW of every projection", String(format: "%.3f", whole)])
    return (table, parts.joined(separator: ", ") + String(format: ", and %.3f with the whole update", whole))
}

/// Merged and unmerged outputs, repeated timings of the same operations, the adapter's size.
func merging(_ nb: Notebook, _ trained: any Tuner, _ experiment: Experiment) throws {
    let base = experiment.base, sample = experiment.probeBatch
    trained.isTraining = false
    let unmerged = withoutGrad { trained.forward(sample) }
    let speedIds = (0..<(16 * 64)).map { $0 % (base.model.config.vocabSize - 2) }
    let speedBatch = TokenBatch(ids: speedIds, labels: speedIds, rows: 16)
    let repeats = experiment.options.quick ? 3 : 15
    let unmergedTimes = inferenceTimings(trained.logits, batch: speedBatch, repeats: repeats)
    try trained.merge()
    let merged = withoutGrad { trained.forward(sample) }
    let mergedTimes = inferenceTimings(trained.logits, batch: speedBatch, repeats: repeats)
    let baseTimes = inferenceTimings({ base.model($0.inputIds, batch: $0.batchSize) }, batch: speedBatch,
                                     repeats: repeats)
    try trained.unmerge()
    func spread(_ t: [Double]) -> String {
        "\(formatCount(Int(median(t)))) (\(formatCount(Int(t.min() ?? 0)))–\(formatCount(Int(t.max() ?? 0))))"
    }
    nb.table(Table(["model", "inference tokens/s: median (min–max of \(repeats))", "max |logits − unmerged|"], rows: [
        ["base model", spread(baseTimes), "—"],
        ["LoRA, unmerged", spread(unmergedTimes), "0"],
        ["LoRA, merged", spread(mergedTimes), String(format: "%.2g", maxDifference(merged, unmerged))],
    ]))
    let folder = temporaryFolder("lesson-lora-adapter")
    try trained.save(to: folder)
    let modelBytes = (try? FileManager.default.attributesOfItem(
        atPath: base.folder.appendingPathComponent("model.safetensors").path))?[.size]
        as? Int ?? 0
    let adapterBytes = folderSize(folder)
    nb.say("""
        Merged, the model runs the very same matrix products as the base, so any difference between their timings is \
        the machine's noise (compare the ranges); unmerged, each adapted layer adds two thin products. The outputs \
        stay the same to float rounding. What is shipped is only the adapter: \(formatBytes(adapterBytes)) for \
        adapter_model.safetensors and adapter_config.json against \(formatBytes(modelBytes)) for the base weights \
        (\(String(format: "%.1f%%", 100 * Double(adapterBytes) / Double(max(modelBytes, 1))))), in PEFT's format.
        """)
}
