// lesson-qlora — QLoRA: LoRA on a base whose weights are stored in 4 bits. The NF4 code and why
// its values are normal quantiles, reconstruction error against FP4 and INT4, the quantized base
// before training, double quantization's saving, memory at this size and at 7B/13B/65B, scores
// against 32-bit LoRA and full fine-tuning, the time of a step, and the paged optimizer.
//
//   swift run lesson-qlora            (0:50 measured alone with the base cached)
//   swift run lesson-qlora --quick    (seconds; what the tests run)
//   swift run lesson-qlora --tune     (sweeps the learning rates again and rewrites tuning.json)

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit
import Training

// The helpers live beside this file (Quantization.swift, Costs.swift, Results.swift), so the
// command is started here rather than by @main.
LessonQLoRA.main()

struct LessonQLoRA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lesson-qlora",
        abstract: "QLoRA: NF4, double quantization, memory, scores against 32-bit LoRA, speed and the paged optimizer.",
        discussion: """
        Rebuilds NF4's sixteen values from normal quantiles and compares NF4, FP4 and INT4 on this model's weights and \
        on N(0, 1) (blocks of 32 to 256), measures the quantized base's held-out loss, double quantization's bits per \
        weight, the memory of a training step (and computes it for 7B, 13B and 65B), trains full fine-tuning, 32-bit \
        LoRA, QLoRA on q_proj,v_proj and QLoRA on all linear layers at the learning rates chosen on the validation \
        split (Lessons/lesson-qlora/tuning.json), five seeds each, times a QLoRA step against a LoRA step and runs the \
        paged optimizer under a resident budget. About a minute once the base is cached. The report and figures \
        go to Figures/lesson-qlora (or --out).
        """)

    @OptionGroup var options: LessonOptions
    @Option(help: "Task: qa, sentiment, topic or data-to-text.") var task = "qa"
    @Option(help: "LoRA rank of the adapters (LoRA and QLoRA alike).") var r = 8
    @Option(help: "LoRA alpha (the update is scaled by alpha / r).") var alpha: Double = 16
    @Option(help: "4-bit type of the QLoRA base: nf4 or fp4.") var quantType = "nf4"
    @Flag(inversion: .prefixedNo, help: "Double quantization of the QLoRA base's absmax values.") var doubleQuant = true
    @Option(help: "Weights per absmax block of the QLoRA base: 32, 64, 128, 256, ….") var blockSize = 64
    @Option(help: "Resident budget of the paged optimizer, as a fraction of its state.") var pagedBudget = 0.125

    func run() throws {
        let lesson = "lesson-qlora"
        guard let type = FourBitType(rawValue: quantType) else {
            throw LessonError("--quant-type '\(quantType)' is unknown; choose nf4 or fp4")
        }
        let settings = QuantizationSettings(type: type, blockSize: blockSize, doubleQuantization: doubleQuant)
        do { try settings.validate() } catch { throw LessonError("\(error)") }
        guard pagedBudget > 0 && pagedBudget <= 1 else { throw LessonError("--paged-budget must be in (0, 1]") }
        let quantName = WeightQuantizer.fourBit(settings).name
        let nb = Notebook(lesson: lesson, title: "QLoRA: LoRA on a 4-bit base", folder: options.folder(for: lesson),
                          introduction: """
            QLoRA (Dettmers et al., "QLoRA: Efficient Finetuning of Quantized LLMs", NeurIPS 2023) stores the frozen \
            base in 4 bits — the NormalFloat4 (NF4) data type in blocks of 64 weights, with the blocks' scales \
            quantized again (double quantization) — and trains 16-bit LoRA adapters on top; every product \
            dequantizes the weight first, so the computation itself is in 16 (here 32) bits. A paged optimizer keeps \
            AdamW's state where memory spikes cannot kill the run. The paper fine-tuned a 65B model on one 48 GB GPU \
            with the scores of 16-bit fine-tuning. The source tutorial's picture: 「你有一本厚厚的百科全书」 — a thick \
            encyclopedia (the pretrained model) that is too costly to reprint (full fine-tuning); instead its colour \
            photos become small black-and-white ones (4-bit quantization) and a few sticky notes (LoRA adapters) \
            hold what is new. (The sticky notes are LoRA, not QLoRA's own idea; the photos are.) This notebook \
            measures each part on a small LLaMA, with the tutorial's claims beside the measurements.
            """)

        // Setup
        nb.section("The base model and the task", """
            Every lesson starts from the same cached base. The task (\(task)) asks about facts the pretraining text \
            holds; a method scores only by reaching knowledge the base already has — or, after quantization, still has.
            """)
        let experiment = try Experiment.start(lesson, options: options, task: task, trainLimit: 256, steps: (150, 30))
        let base = experiment.base
        experiment.describeSetup(in: nb)
        let weights = decoderWeights(base.model)
        let sampleSize = options.quick ? 1 << 16 : 1 << 20
        let normal = Tensor.randn([sampleSize], generator: Generator(seed: options.seed &+ 77)).array

        try normalFloatSection(nb, weights: weights, normal: normal)
        let errors = reconstructionSection(nb, weights: weights, normal: normal)
        try quantizedBaseSection(nb, experiment, errors: errors)
        let storedBits = doubleQuantizationSection(nb, base: base, errors: errors)
        let loraConfig = LoraConfig(r: r, loraAlpha: alpha, targetModules: .names(["q_proj", "v_proj"]))
        var allLinear = loraConfig
        allLinear.targetModules = .allLinear
        let methods = (full: Method.selective("full fine-tuning", base) { .full($0) },
                       lora: Method.lora("LoRA q,v (32-bit)", base, loraConfig,
                                         key: "lora \(r) \(alpha) q_proj,v_proj"),
                       qlora: Method.qlora("QLoRA q,v (\(quantName))", base, loraConfig, settings: settings,
                                           key: "qlora \(settings.key) \(r) \(alpha) q_proj,v_proj"),
                       qloraAll: Method.qlora("QLoRA all-linear (\(quantName))", base, allLinear, settings: settings,
                                              key: "qlora \(settings.key) \(r) \(alpha) all-linear"))
        try memorySection(nb, experiment, methods: [methods.full, methods.lora, methods.qlora, methods.qloraAll])
        let scores = try trainingSection(nb, experiment, methods, settings: settings)
        let speed = try speedSection(nb, experiment, lora: methods.lora, qlora: methods.qlora)
        let paging = try pagedSection(nb, experiment, settings: settings)
        claimsSection(nb, experiment, errors: errors, storedBits: storedBits, scores: scores, speed: speed,
                      paging: paging)

        nb.section("Exercises", """
            A setting that Lessons/lesson-qlora/tuning.json does not hold has its learning rates swept first (several \
            minutes). Basic. (1) `swift run lesson-qlora --quant-type fp4`: QLoRA on an FP4 base (section 4 shows \
            what FP4 does to the base before training); expect scores within the noise of NF4's or a little below. \
            (2) `--block-size 256`: about 4.03 bits a weight with double quantization and the larger error of section \
            3's last rows; expect QLoRA's score within the noise of blocks of 64. (3) `--no-double-quant`: 4.5 bits a \
            weight; expect the same scores within noise, as section 3's error barely moves. Intermediate. (4) \
            `--paged-budget 0.02`: a budget far below the state; expect more page-outs, a slower step and the same \
            adapter weights bit for bit. (5) `--r 64`, the QLoRA paper's rank: on this small base the all-linear \
            adapters then hold more than half as many values as the base; expect the memory table's gradient and \
            optimizer columns to grow with them while the weights column barely moves. (6) `swift run lesson-lora \
            --target-modules all-linear`: all-linear LoRA over the float base, to set beside this lesson's QLoRA \
            all-linear; expect the two within noise, like the q_proj,v_proj pair here. Open. (7) `--task sentiment`: \
            a skill rather than knowledge — does the quantization's effect on the held-out loss (section 4) show in \
            the score? (8) Section 8 timed steps of a small model. For a 4096 × 4096 layer and a batch of 16 × 512 \
            tokens, count the values dequantized against the multiply-adds of the products that use them; expect a \
            share near one over the number of tokens, far below what the one-example batch showed here.
            """)
        nb.finish()
    }

    // MARK: 1. NF4

    func normalFloatSection(_ nb: Notebook, weights: [(name: String, values: [Float])], normal: [Float]) throws {
        nb.section("NF4: sixteen values at the quantiles of N(0, 1)", """
            A 4-bit code has 2⁴ = 16 values. Blockwise quantization divides each block of 64 weights by its largest \
            magnitude (absmax), so every value falls in [−1, 1], and stores the index of the nearest of the 16 code \
            values; the weight comes back as code · absmax. Which 16 values? Pretrained weights are roughly normally \
            distributed, so QLoRA places them at quantiles of N(0, 1): each value then stands for about the same \
            share of the weights, and no code is wasted on the rare large values. bitsandbytes builds NF4 from eight \
            probabilities evenly spaced from δ = 0.9677083 down to 0.5 (positive side), seven for the negative side, \
            and an exact zero (so that zero padding and zero weights stay exact), then divides by Φ⁻¹(δ) so that the \
            extremes are ±1. δ is the mean of 1 − 1/(2·15) and 1 − 1/(2·16): Φ⁻¹(1) would be infinite. Recomputed \
            here in double precision against the table bitsandbytes ships:
            """)
        let recomputed = normalFloatCode()
        let table = FourBitType.nf4.code
        var codeTable = Table(["nibble", "NF4 value (bitsandbytes)", "probability p", "±Φ⁻¹(p) / Φ⁻¹(δ)",
                               "|difference|"])
        var largest = 0.0
        for (nibble, entry) in recomputed.enumerated() {
            let difference = abs(entry.value - Double(table[nibble]))
            largest = max(largest, difference)
            codeTable.add(["\(nibble)", String(format: "%+.7f", table[nibble]),
                           entry.p.map { String(format: "%.5f", $0) } ?? "— (zero)",
                           String(format: "%+.7f", entry.value),
                           String(format: "%.1e", difference)])
        }
        nb.table(codeTable)
        nb.say(String(format: "The largest difference is %.1e: float32 rounding (bitsandbytes spaces the probabilities "
                      + "in float32). The other two 4-bit codes compared below:", largest))
        let fp4 = Set(FourBitType.fp4.code.map { abs($0) }).sorted().map { String(format: "%.4g", $0) }
        nb.code("""
            INT4 (symmetric absmax): k / 7 for k = −7 … 7 — 15 evenly spaced levels, one of the 16 codes unused
            FP4 (E2M1, bitsandbytes): ± {\(fp4.joined(separator: ", "))} — sign, 2 exponent bits, 1 mantissa bit
            NF4: the table above — dense near 0, sparse near ±1, like the normal density
            """)

        let normalised = weights.flatMap { blockNormalised($0.values, blockSize: 64) }
        let normalSample = blockNormalised(Array(normal.prefix(normalised.count)), blockSize: 64)
        let codePoints = table.map { (x: Double($0), y: 0.0) }
        let intLevels = (-7...7).map { (x: Double($0) / 7, y: 0.1) }
        var figure = Figure(name: "nf4-histogram",
                            title: "Weights / absmax of their block (blocks of 64), NF4's values, INT4's levels",
                            xLabel: "weight / absmax of its block", yLabel: "density",
                            kind: .lines([.init("this model's decoder weights", density(normalised, bins: 64)),
                                          .init("N(0, 1) samples, same blocks", density(normalSample, bins: 64)),
                                          .init("the 16 NF4 values (at 0)", codePoints),
                                          .init("the 15 INT4 levels (at 0.1)", intLevels)]))
        figure.legend = .below
        nb.figure(figure)
        var usage = Table(["code", "values in use", "largest share of one value", "entropy (bits of 4)",
                           "same on N(0, 1)"])
        for quantizer in [WeightQuantizer.nf4(), .fp4(), .int4(blockSize: 64)] {
            let shares = pooledShares(weights, quantizer)
            let normalShares = codeShares(normal, with: quantizer)
            usage.add([quantizer.name, "\(shares.filter { $0 > 0 }.count)",
                       String(format: "%.1f%%", 100 * (shares.max() ?? 0)), String(format: "%.2f", entropyBits(shares)),
                       String(format: "%.2f bits, largest share %.1f%%", entropyBits(normalShares),
                              100 * (normalShares.max() ?? 0))])
        }
        nb.say("""
            The curve of this model's weights has the normal sample's bell shape, with the same two spikes at ±1 (each \
            block's absmax lands exactly there: one weight in 64). How the three codes use their 16 values on this \
            model's \(formatCount(normalised.count)) decoder weights — the entropy of the code usage is the \
            information a 4-bit index actually carries (4 bits at most, when all 16 values are used equally):
            """)
        nb.table(usage)
        let kurtosis = weights.map { excessKurtosis($0.values) }
        let reference = excessKurtosis(Array(normal.prefix(weights.map(\.values.count).max() ?? 0)))
        nb.say(String(format: """
            The usage on this model's weights matches that on N(0, 1) samples closely, and the excess kurtosis of its \
            %d matrices (0 for a normal distribution, above 0 when the tails are heavier) lies between %.2f and \
            %.2f, against %.2f for as many N(0, 1) samples as the largest matrix: %@.
            """, kurtosis.count, kurtosis.min() ?? 0, kurtosis.max() ?? 0, reference,
            kurtosis.allSatisfy { abs($0) < 1 } ? "this model's weights are close to normal, the case NF4 is built for"
                : "some of this model's matrices have heavier tails than normal, where NF4's placement fits less well"))
    }

    /// The share of each code value over every decoder weight matrix (each quantized on its own).
    func pooledShares(_ weights: [(name: String, values: [Float])], _ quantizer: WeightQuantizer) -> [Double] {
        var total: [Double] = []
        var count = 0
        for (_, values) in weights {
            let shares = codeShares(values, with: quantizer)
            if total.count < shares.count { total += [Double](repeating: 0, count: shares.count - total.count) }
            for (i, s) in shares.enumerated() { total[i] += s * Double(values.count) }
            count += values.count
        }
        return total.map { $0 / Double(max(count, 1)) }
    }

    // MARK: 2. Reconstruction error

    func reconstructionSection(_ nb: Notebook, weights: [(name: String, values: [Float])], normal: [Float])
        -> ReconstructionResults {
        nb.section("Reconstruction error: NF4, FP4 and INT4", """
            Quantize, dequantize, and measure the mean squared error (MSE) against the original values, for block \
            sizes 32 to 256, on three data sets: \(formatCount(normal.count)) samples of N(0, 1) (the setting of the \
            reference measurement with bitsandbytes: NF4 0.00846, NF4 + double quantization 0.00847, INT4 0.01159, \
            FP4 0.01487 in blocks of 64), this model's decoder weights (each matrix quantized on its own, as a layer \
            would be), and uniform samples on [−1, 1], where the normal assumption behind NF4 is false. The error is \
            given relative to the data's mean square (for N(0, 1) that is the MSE itself), with a 95% interval over \
            the elements. The QLoRA paper (Table 2, perplexity of quantized models) ranks NF4 < FP4 < INT4; the \
            tutorial says NF4 「特别适合表示正态分布的数据，并且可以比传统的4位整数或浮点数提供更好的量化效果」 — suits \
            normally distributed data and quantizes better than 4-bit integers or floats.
            """)
        let generator = Generator(seed: 0x5EED)
        let uniformSample = (0..<normal.count).map { _ in generator.uniform(-1, 1) }
        let sets = [QuantizationData(name: "N(0, 1)", parts: [normal]),
                    QuantizationData(name: "this model's weights", parts: weights.map(\.values)),
                    QuantizationData(name: "U(−1, 1)", parts: [uniformSample])]
        let blocks = [32, 64, 128, 256]
        func quantizers(_ b: Int) -> [WeightQuantizer] {
            [.nf4(blockSize: b), .nf4(blockSize: b, doubleQuantization: true), .fp4(blockSize: b), .int4(blockSize: b)]
        }
        var results = ReconstructionResults(sets: sets.map(\.name))
        var table = Table(["quantizer", "block", "bits a weight"] + sets.map { "\($0.name): MSE / mean x² [95% CI]" })
        var curves: [String: [Figure.Series]] = [:]
        for b in blocks {
            for q in quantizers(b) {
                var row = [q.name, "\(b)", String(format: "%.3f", q.bitsPerWeight(count: 1 << 20))]
                for data in sets {
                    let squared = squaredErrors(data, q)
                    let ms = data.meanSquare
                    let i = meanInterval(squared)
                    let relative = Interval(estimate: i.estimate / ms, low: i.low / ms, high: i.high / ms)
                    row.append(relative.text(5))
                    results.relative[ReconstructionResults.Key(set: data.name, quantizer: q.name, block: b)] = relative
                    if b == 64 {
                        results.squared[.init(set: data.name, quantizer: q.name, block: b)] = squared
                    }
                }
                table.add(row)
            }
        }
        nb.table(table)
        for data in sets {
            curves[data.name] = quantizers(64).map { q in
                Figure.Series(q.name, blocks.map { b in
                    (Double(b), results.relative[.init(set: data.name, quantizer: q.name, block: b)]?.estimate ?? .nan)
                })
            }
        }
        var figure = Figure(name: "reconstruction-error", title: "Reconstruction error against block size",
                            xLabel: "block size (log scale)", yLabel: "MSE / mean x²",
                            kind: .panels(sets.map { ($0.name, curves[$0.name] ?? []) }))
        figure.logX = true
        nb.figure(figure)
        var pairs = Table(["data, blocks of 64", "NF4 − FP4", "FP4 − INT4", "NF4 − INT4", "NF4 + DQ − NF4"])
        for data in sets {
            let compare = [("NF4", "FP4"), ("FP4", "INT4"), ("NF4", "INT4"), ("NF4 + DQ", "NF4")]
            pairs.add([data.name] + compare.map { a, b in
                let d = scaled(results.pair(data.name, a, b), data)
                return "\(d.text(5, signed: true)): \(a) \(compared(d, to: b))"
            })
        }
        nb.say("The differences, paired over the same elements (MSE / mean x², 95% intervals):")
        nb.table(pairs)
        nb.say(sets.map { results.orderSentence(for: $0.name) }.joined(separator: " ") + " Where the data are not "
            + "bell-shaped (the uniform samples), evenly spaced INT4 levels win: NF4's advantage is its fit to the "
            + "normal shape, not a property of 4 bits.")
        return results
    }

    /// An interval of squared errors relative to the data's mean square.
    func scaled(_ d: Interval, _ data: QuantizationData) -> Interval {
        let ms = data.meanSquare
        return Interval(estimate: d.estimate / ms, low: d.low / ms, high: d.high / ms)
    }

    // MARK: 3. The quantized base before training

    func quantizedBaseSection(_ nb: Notebook, _ experiment: Experiment, errors: ReconstructionResults) throws {
        let base = experiment.base
        nb.section("The quantized base, before any training", """
            What a smaller weight error is worth shows in what the model still knows. The language-model loss on the \
            held-out pretraining text (\(base.heldOut.count) windows of \(base.heldOut.first?.count ?? 0) tokens) of \
            the base whose seven projections went through each quantizer — embeddings, norms and the output head \
            stay float32, as in bitsandbytes — against the float base, paired window by window (95% bootstrap \
            interval over the windows). The tutorial: 「尽管你只更新了一小部分内容，但这本书仍然非常有用，因为大部分知识都还在」 \
            — the book stays useful because most of the knowledge is still there.
            """)
        let windows = Array(0..<base.heldOut.count)
        func losses(_ model: LlamaModel) -> ItemScores {
            ItemScores(seeds: [windowLosses({ model($0.inputIds, batch: $0.batchSize) }, stream: base.heldOut)],
                       entities: windows)
        }
        let float = losses(base.model)
        let quantizers: [WeightQuantizer] = [.nf4(doubleQuantization: true), .nf4(), .fp4(), .int4(blockSize: 64)]
        var held: [String: ItemScores] = [:]
        var table = Table(["base", "bits a weight", "weights: MSE / mean w²", "held-out loss [95% CI]",
                           "perplexity", "− float base [95% CI]"])
        table.add(["float32", "32", "0", experiment.bootstrap.interval(float).text(),
                   String(format: "%.3f", exp(float.mean)), "—"])
        for q in quantizers {
            let scores = losses(roundTripped(base, q))
            held[q.name] = scores
            let key = ReconstructionResults.Key(set: "this model's weights", quantizer: q.name, block: 64)
            let mse = errors.relative[key]?.estimate ?? .nan
            table.add([q.name, String(format: "%.3f", q.bitsPerWeight(count: 1 << 20)), String(format: "%.5f", mse),
                       experiment.bootstrap.interval(scores).text(), String(format: "%.3f", exp(scores.mean)),
                       experiment.bootstrap.difference(scores, float).text(signed: true)])
        }
        nb.table(table)
        // block sizes
        var series: [Figure.Series] = []
        let makers: [(Int) -> WeightQuantizer] = [{ .nf4(blockSize: $0) }, { .fp4(blockSize: $0) },
                                                  { .int4(blockSize: $0) }]
        for make in makers {
            let blocks = [32, 64, 128, 256]
            let differences = blocks.map {
                experiment.bootstrap.difference(losses(roundTripped(base, make($0))), float)
            }
            series.append(.init(make(64).name, zip(blocks, differences).map { (Double($0), $1.estimate) },
                                intervals: differences.map { ($0.low, $0.high) }))
        }
        var figure = Figure(name: "held-out-after-quantization",
                            title: "Held-out loss of the quantized base minus the float base's (95% CI over windows)",
                            xLabel: "block size (log scale)", yLabel: "Δ held-out loss", kind: .lines(series))
        figure.logX = true
        figure.references = [.init("float base", y: 0)]
        nb.figure(figure)
        func order(_ a: String, _ b: String) -> String {
            guard let x = held[a], let y = held[b] else { return "not measured" }
            let d = experiment.bootstrap.difference(x, y)
            return "\(compared(d, to: b + "'s")) (\(d.text(signed: true)))"
        }
        nb.say("""
            Paired over the same windows, blocks of 64: NF4's held-out loss is \(order("NF4", "FP4")), FP4's is \
            \(order("FP4", "INT4")), NF4's is \(order("NF4", "INT4")), and with double quantization it is \
            \(order("NF4 + DQ", "NF4")). This is the model-level measure, the \
            paper's kind (perplexity); the weights' error in section 3 is another, and the two need not rank the \
            codes alike: the MSE weighs every weight's error the same, the loss weighs each by how much the model's \
            output depends on that weight.
            """)
    }

    // MARK: 4. Double quantization

    func doubleQuantizationSection(_ nb: Notebook, base: BaseModel, errors: ReconstructionResults)
        -> (plain: Double, doubleQuantized: Double) {
        nb.section("Double quantization: bits per weight", """
            Each block of 64 weights keeps its absmax as a float32: 32 bits for 64 weights, 0.5 bits a weight on top \
            of the 4. Double quantization quantizes those absmax values again, to 8 bits in blocks of 256, after \
            subtracting their mean (absmax values are all positive; centring them uses the signed 8-bit code fully). \
            Computed: 4 + 32/64 = 4.5 bits a weight without it, 4 + 8/64 + 32/(64·256) ≈ 4.127 with it, a saving of \
            0.373 bits a weight — about 3 GB for a 65B model (65·10⁹ · 0.373 / 8 bytes). Measured from the storage \
            bytes of this model's quantized layers (the mean and the partly filled last block of 256 are counted too):
            """)
        var table = Table(["matrix (every layer)", "weights", "blocks of 64", "bytes, NF4", "bits/weight, NF4",
                           "bytes, NF4 + DQ",
                           "bits/weight, NF4 + DQ", "bits/weight saved"])
        var totals = (n: 0, blocks: 0, plain: 0, dq: 0)
        var byKind: [(kind: String, n: Int, blocks: Int, plain: Int, dq: Int)] = []
        for slot in base.model.layers.flatMap(\.slots) {
            let w = slot.layer.base.denseWeight()
            let plain = QuantizedWeight(quantizing: w.array, shape: w.shape, settings: QuantizationSettings())
            let dq = QuantizedWeight(quantizing: w.array, shape: w.shape, settings: .qlora)
            let kind = String(slot.name.split(separator: ".").last ?? "")
            if let i = byKind.firstIndex(where: { $0.kind == kind }) {
                byKind[i].n += w.count; byKind[i].plain += plain.storageBytes; byKind[i].dq += dq.storageBytes
                byKind[i].blocks += plain.absmax.count
            } else {
                byKind.append((kind, w.count, plain.absmax.count, plain.storageBytes, dq.storageBytes))
            }
            totals.n += w.count; totals.blocks += plain.absmax.count
            totals.plain += plain.storageBytes; totals.dq += dq.storageBytes
        }
        func bits(_ bytes: Int, _ n: Int) -> String { String(format: "%.4f", 8 * Double(bytes) / Double(max(n, 1))) }
        let layers = base.model.layers.count
        for k in byKind + [("all seven", totals.n, totals.blocks, totals.plain, totals.dq)] {
            table.add(["\(k.0) × \(layers)", formatCount(k.1), formatCount(k.2), formatCount(k.3), bits(k.3, k.1),
                       formatCount(k.4),
                       bits(k.4, k.1), bits(k.3 - k.4, k.1)])
        }
        nb.table(table)
        let example = base.model.layers[0].slots[0]
        let w = example.layer.base.denseWeight()
        let quantized = QuantizedWeight(quantizing: w.array, shape: w.shape, settings: .qlora)
        if case .doubleQuantized(let d) = quantized.absmax {
            let absmax = d.dequantized
            nb.say(String(format: """
                For %@ the %d absmax values range from %.4f to %.4f; their mean, %.4f, is subtracted before the \
                8-bit quantization and stored once (the quant_state's nested_offset). The tutorial says double \
                quantization quantizes again 「缩放因子（scale factor）和偏移量（offset）」 — the scale factors and offsets. \
                Half wrong: the first level has no offset at all (symmetric absmax, code · absmax, no zero point); \
                the only offset is this mean, introduced by the second level itself (Dettmers et al. 2023, §3, \
                "Double Quantization").
                """, example.name, absmax.count, absmax.min() ?? 0, absmax.max() ?? 0, d.offset))
        }
        let key = { (q: String) in ReconstructionResults.Key(set: "N(0, 1)", quantizer: q, block: 64) }
        nb.say(String(format: """
            What it costs in accuracy: on N(0, 1) in blocks of 64 the MSE is %.5f without and %.5f with double \
            quantization (section 3). The tutorial's 「把彩色照片换成黑白的，并且缩小尺寸」 — colour photos replaced by \
            smaller black-and-white ones — fits: 32 bits become about 4.13, and the detail lost is the nonzero error \
            above, which the second, smaller shrinking barely adds to.
            """, errors.relative[key("NF4")]?.estimate ?? .nan, errors.relative[key("NF4 + DQ")]?.estimate ?? .nan))
        let n = Double(max(totals.n, 1))
        return (8 * Double(totals.plain) / n, 8 * Double(totals.dq) / n)
    }

    // MARK: 5. Memory

    func memorySection(_ nb: Notebook, _ experiment: Experiment, methods: [Method]) throws {
        let base = experiment.base
        nb.section("Memory of a training step", """
            Measured on the same 16 training examples: the weights (counted from their storage bytes, so the 4-bit \
            base shows as 4-bit), a gradient and AdamW's two moments for every trainable value, and the activations \
            a real forward and backward pass kept alive. All in 32 bits here except the quantized projections. The \
            tutorial: 「由于便利贴很小，你不需要为整本书找到额外的空间」 — the notes are small, so no room for a whole \
            second book is needed.
            """)
        let tuners = try methods.map { ($0.name, try $0.prepare(experiment.options.seed)) }
        let memory = memoryTable(tuners, batch: experiment.probeBatch)
        nb.table(memory.table)
        let floatBytes = base.model.weightBytes
        let quantized = tuners[2].1.model
        let linear4 = quantized.quantizedLayers.reduce(0) { $0 + $1.layer.storageBytes }
        let other = quantized.weightBytes - linear4
        nb.say("""
            The 4-bit base holds \(formatBytes(quantized.weightBytes)) of weights against \(formatBytes(floatBytes)) \
            in float32 (\(String(format: "%.1f", Double(floatBytes) / Double(max(quantized.weightBytes, 1))))× \
            smaller, not 32/4.13 = 7.75×): the projections shrink to \(formatBytes(linear4)), but the embeddings, \
            norms and output head stay float32 (\(formatBytes(other))), and in a model this small they are a large \
            share. At 7B they are \(String(format: "%.1f%%", 100 * Double(ModelShape.llama[0].otherWeights)
                / Double(ModelShape.llama[0].parameters))) of the parameters. Besides the table, a 4-bit layer \
            borrows one float buffer for the dequantized weight during each product: \
            \(formatBytes(DequantizationScratch.shared.idleBytes)) here, the size of the largest layer, shared by \
            all. Activations barely change (\(formatBytes(memory.rows[2].activations)) for \(tuners[2].0) against \
            \(formatBytes(memory.rows[0].activations)) for \(tuners[0].0)): every method here carries gradients back \
            through every layer, down to the adapters of the first one.
            """)
        nb.say("""
            The QLoRA paper's arithmetic at real sizes, computed (activations left out: they depend on batch and \
            sequence length, and the paper keeps them small with gradient checkpointing). Full fine-tuning in 16 \
            bits: weights 2 + gradients 2 + AdamW's two 32-bit moments 8 = 12 bytes a parameter (the paper's \
            "more than 780 GB" for 65B). LoRA: the 16-bit base plus adapters with 16-bit weights and gradients and \
            32-bit moments. QLoRA: the same adapters on projections stored at 4.127 bits a weight (embeddings and \
            head in 16 bits). Adapters as in the paper: r = 64 on every linear layer.
            """)
        var scaled = Table(["model", "parameters", "LoRA r=64, all linear", "16-bit full fine-tuning", "16-bit LoRA",
                            "QLoRA: 4-bit weights", "QLoRA: total", "fits 48 GB?"])
        for s in ModelShape.llama {
            let adapters = s.loraParameters(r: 64, allLinear: true)
            let bits = QuantizationSettings.qlora.bitsPerWeight(count: 1 << 24)
            let b = stepBytes(s, loraParameters: adapters, bits: bits)
            scaled.add([s.name, String(format: "%.2fB", Double(s.parameters) / 1e9),
                        String(format: "%.0fM (%.2f%%)", Double(adapters) / 1e6,
                               100 * Double(adapters) / Double(s.parameters)),
                        gigabytes(b.full), gigabytes(b.lora), gigabytes(b.qloraWeights), gigabytes(b.qlora),
                        b.qlora < 48e9 ? "yes, \(gigabytes(48e9 - b.qlora)) left for activations" : "no"])
        }
        nb.table(scaled)
        nb.say("""
            The tutorial's claim that QLoRA 「使得在单个48GB GPU上微调650亿个参数的模型成为可能」 (a 65B model on one 48 GB \
            GPU) checks out in this arithmetic; 16-bit LoRA would need the whole 16-bit base, \
            \(gigabytes(2 * Double(ModelShape.llama[2].parameters))) for 65B before any adapter. Its other \
            claim, that quantization lets large models be 「训练和部署」 (trained and deployed) on constrained devices, \
            overstates QLoRA's part in deployment: serving a 4-bit model is ordinary weight quantization; QLoRA is \
            about fine-tuning.
            """)
    }

    // MARK: 6. Scores

    func trainingSection(_ nb: Notebook, _ experiment: Experiment,
                         _ m: (full: Method, lora: Method, qlora: Method, qloraAll: Method),
                         settings: QuantizationSettings) throws -> TrainingResults {
        nb.section("Scores: QLoRA against 32-bit LoRA and full fine-tuning", """
            The paper's two findings to test: LoRA on an NF4 base with double quantization matches 16-bit LoRA, and \
            LoRA must adapt every linear layer to match full fine-tuning (with only the attention projections it \
            fell short). Four methods: full fine-tuning, LoRA on q_proj and v_proj over the float base, the same \
            LoRA over the 4-bit base, and QLoRA on all linear layers at the same r = \(r) and alpha = \
            \(alpha.formatted()) (the paper compares at equal rank, so all-linear trains more parameters). Each \
            learning rate was chosen on the validation split (Lessons/lesson-qlora/tuning.json; `--tune` redoes the \
            sweep); then \(experiment.seeds.count) seed(s) of \(experiment.steps) steps each, batch 16. LoRA and \
            QLoRA on the same seed start from the same A.
            """)
        let four = try experiment.run([m.full, m.lora, m.qlora, m.qloraAll], keep: [0, 0, 1, 0])
        let (full, lora, qlora, qloraAll) = (four[0], four[1], four[2], four[3])
        experiment.reportTuning(in: nb)
        let frozen = experiment.frozenBase()
        nb.table(experiment.scoreTable([full, lora, qlora, qloraAll, frozen], against: lora))
        nb.figure(experiment.scoreFigure(name: "scores", title: "Test \(experiment.task.metricName) (\(task))",
                                         [full, lora, qlora, qloraAll, frozen]))
        var lossFigure = Figure(name: "loss-curves", title: "Training loss, first seed (\(task))", xLabel: "step",
                                yLabel: "loss on the answer tokens (log scale)",
                                kind: .lines([full, lora, qlora, qloraAll].map {
                                    $0.lossSeries(steps: experiment.steps)
                                }))
        lossFigure.logY = true
        nb.figure(lossFigure)
        let results = TrainingResults(qloraVsLora: experiment.compare(qlora, lora),
                                      allVsQV: experiment.compare(qloraAll, qlora),
                                      allVsFull: experiment.compare(qloraAll, full),
                                      qvVsFull: experiment.compare(qlora, full),
                                      loraVsFull: experiment.compare(lora, full))
        nb.say("""
            At this scale and budget: QLoRA on q_proj,v_proj against 32-bit LoRA is \(results.qloraVsLora.text) — \
            \(matchSentence(results.qloraVsLora)). QLoRA on all linear layers against QLoRA on q_proj,v_proj is \
            \(results.allVsQV.text); against full fine-tuning it is \(results.allVsFull.text), where QLoRA on \
            q_proj,v_proj is \(results.qvVsFull.text) (32-bit LoRA on q_proj,v_proj: \(results.loraVsFull.text)). \
            The forgetting column includes what quantization itself costs: QLoRA's held-out loss is measured through \
            its 4-bit base. The tokens/s column comes from runs made at different moments on a shared machine; section \
            8 times the two side by side.
            """)
        if let trained = qlora.tuners.first {
            let fresh = experiment.base.copy()
            try fresh.quantizeLinearLayers(settings)
            let same = zip(trained.model.quantizedLayers, fresh.quantizedLayers).allSatisfy {
                $0.layer.weight == $1.layer.weight
            }
            nb.say("After \(experiment.steps) steps of QLoRA, the packed 4-bit bytes and absmax codes of all "
                + "\(fresh.quantizedLayers.count) quantized layers are \(same ? "identical to" : "DIFFERENT from") a "
                + "fresh quantization of the base: only the adapters trained (the tutorial's 「模型的原始参数保持不变」).")
        }
        return results
    }

    /// What a paired interval says about "QLoRA matches LoRA".
    func matchSentence(_ c: Comparison) -> String {
        switch c.verdict {
        case .withinNoise:
            return "within the noise, so the 4-bit base costs no score that this experiment can detect (the interval "
                + "bounds how large a cost could hide in it)"
        case .worse: return "worse: here the 4-bit base costs score"
        case .better: return "better; quantization noise can act as a regulariser, but read the interval's width"
        }
    }

    // MARK: 7. Speed

    func speedSection(_ nb: Notebook, _ experiment: Experiment, lora: Method, qlora: Method) throws -> SpeedResults {
        nb.section("Is QLoRA faster?", """
            The tutorial says QLoRA 「提高了速度」 (raises speed) and pictures it as finding things fast by reading only \
            the sticky notes (「只需要看看那些便利贴，就可以快速找到你需要的信息」). The paper makes no such claim: the \
            weights are stored in 4 bits but every product, forward and backward, first dequantizes the whole weight \
            to the compute type, and the forward pass still reads the whole book. Expect a QLoRA step to be a little \
            slower than a LoRA step. Measured: one LoRA and one QLoRA tuner (q_proj, v_proj, same seed), AdamW, on \
            the same 16 training examples and on one alone; blocks of steps alternate between the two tuners so \
            that the machine's load falls on both alike.
            """)
        let a = try lora.prepare(experiment.options.seed), b = try qlora.prepare(experiment.options.seed)
        let pairs = experiment.options.quick ? 3 : 8
        let single = TokenBatch(padding: [experiment.base.tokenizer.encode(experiment.task.train[0])],
                                padId: experiment.base.tokenizer.padId)
        var rows: [SpeedResults.Row] = []
        for (label, batch, steps) in [("16 examples", experiment.probeBatch, experiment.options.quick ? 2 : 8),
                                      ("1 example", single, experiment.options.quick ? 4 : 32)] {
            var loraTimes: [Double] = [], qloraTimes: [Double] = []
            for i in 0..<pairs {
                if i % 2 == 0 {
                    loraTimes.append(secondsPerStep(a, batch: batch, steps: steps))
                    qloraTimes.append(secondsPerStep(b, batch: batch, steps: steps))
                } else {
                    qloraTimes.append(secondsPerStep(b, batch: batch, steps: steps))
                    loraTimes.append(secondsPerStep(a, batch: batch, steps: steps))
                }
            }
            rows.append(.init(label: label, tokens: batch.inputIds.count, lora: loraTimes, qlora: qloraTimes,
                              dequantizationShare: dequantizationShare(b, batch: batch, steps: steps)))
        }
        func ms(_ t: [Double]) -> String {
            String(format: "%.1f ms (%.1f–%.1f)", 1000 * median(t), 1000 * (t.min() ?? 0), 1000 * (t.max() ?? 0))
        }
        var table = Table(["batch", "tokens", "LoRA q,v: time a step", "QLoRA q,v: time a step",
                           "QLoRA / LoRA per pair: median (range)", "dequantization's share of a QLoRA step"])
        for row in rows {
            table.add([row.label, "\(row.tokens)", ms(row.lora), ms(row.qlora),
                       String(format: "%.3f (%.3f–%.3f)", median(row.ratios), row.ratios.first ?? 0,
                              row.ratios.last ?? 0),
                       String(format: "%.1f%%", 100 * row.dequantizationShare)])
        }
        nb.say("Each block's time is the median of its steps (a step the scheduler interrupted counts no more than "
            + "another); shown are the median and (min–max) of \(pairs) blocks per tuner, \(pairs) pairs. The share "
            + "comes from the profiler over one more block.")
        nb.table(table)
        let result = SpeedResults(rows: rows)
        nb.say("""
            \(result.verdict) The extra work of a QLoRA step is the dequantization, so the slowdown to expect is about \
            its share: \(String(format: "%.1f%%", 100 * rows[0].dequantizationShare)) with 16 examples, \
            \(String(format: "%.1f%%", 100 * rows[1].dequantizationShare)) with one — a dequantized weight is used by \
            every token of the batch, so the fewer the tokens, the larger its share. \(result.resolution) Memory is \
            what QLoRA buys; time is what it pays, a little. The tutorial's 「提高了速度」 does not hold per step; \
            QLoRA is "faster" only in that a model that does not fit without it cannot be trained at all.
            """)
        return result
    }

    // MARK: 8. Paged optimizer

    func pagedSection(_ nb: Notebook, _ experiment: Experiment, settings: QuantizationSettings) throws
        -> PagingResults {
        let base = experiment.base
        let pagedRank = min(64, base.model.config.hiddenSize / 2)
        nb.section("The paged optimizer", """
            The tutorial: 「利用NVIDIA的统一内存进行分页优化」 — paged optimization with NVIDIA unified memory, against \
            memory spikes with long sequences. Correct. On a GPU, bitsandbytes' paged AdamW allocates its two moments \
            with cudaMallocManaged: unified memory, addressable from both GPU and CPU. The driver migrates those pages \
            on demand: when a long batch's activations (or gradient checkpointing's recomputation) need the room, \
            pages of optimizer state are evicted to CPU RAM, and they fault back when the optimizer step touches \
            them. Nothing is freed: the state only moves, so a spike costs a transfer instead of an out-of-memory \
            crash. Here the analogue is the process's RAM against a file: `AdamW.paged` maps the moments from a \
            temporary file (mmap), and before each parameter's update it pages the least recently used other moments \
            out (madvise) until the resident state fits a budget; the kernel reads them back on the next touch. \
            Measured: QLoRA with the paper's adapter setting (r = 64 on all linear layers\(pagedRank < 64
                ? ", here r = \(pagedRank): the base is only \(base.model.config.hiddenSize) wide" : "")), AdamW on \
            the heap against paged AdamW with a resident budget of \(String(format: "%.1f%%", 100 * pagedBudget)) of \
            its state.
            """)
        let config = LoraConfig(r: pagedRank, loraAlpha: 16, targetModules: .allLinear)
        let method = Method.qlora("QLoRA r=\(pagedRank) all-linear", base, config, settings: settings)
        let steps = experiment.options.quick ? 6 : 30
        let data = experiment.task.train.map { base.tokenizer.encode($0) }
        let trainingSettings = TrainingSettings(steps: steps, batchSize: 16, learningRate: 1e-3,
                                                seed: experiment.options.seed)
        func train(paged: Bool) throws -> (tuner: any Tuner, recorder: StateRecorder, seconds: Double) {
            let tuner = try method.prepare(experiment.options.seed)
            let groups = tuner.parameterGroups(weightDecay: 0)
            let stateBytes = 8 * groups.reduce(0) { $0 + $1.parameters.reduce(0) { $0 + $1.count } }
            let storage = paged ? RecordingPagedState(try PagedOptimizerState(
                residentBudget: Int(pagedBudget * Double(stateBytes)))) : nil
            let recorder = StateRecorder(AdamW(groups, learningRate: 1e-3, storage: storage), paged: storage)
            let log = try fineTune(tuner, label: paged ? "paged AdamW" : "AdamW", optimizer: recorder.optimizer,
                                   data: data, padId: base.tokenizer.padId, settings: trainingSettings)
            return (tuner, recorder, log.seconds / Double(steps))
        }
        let heap = try train(paged: false)
        let paged = try train(paged: true)
        let state = paged.recorder.paged?.inner
        let stateBytes = 8 * heap.recorder.adamW.parameterCount
        let budget = state?.residentBudget ?? 0
        let identical = zip(heap.tuner.trainableParameters, paged.tuner.trainableParameters).allSatisfy {
            $0.array == $1.array
        }
        // the state's resident bytes after every parameter's update, over the first steps
        let updates = paged.recorder.paged?.trace ?? []
        let perStep = heap.recorder.adamW.groups.reduce(0) { $0 + $1.parameters.count }
        let shown = min(updates.count, 3 * perStep)
        let sizes = heap.recorder.adamW.groups.flatMap(\.parameters).map { 8 * $0.count }
        let heapTrace = (0..<shown).map { sizes.prefix($0 + 1).reduce(0, +) }
        let mb = { (b: Int) in Double(b) / 1_048_576 }
        let x = { (k: Int) in Double(k + 1) / Double(max(perStep, 1)) }
        var figure = Figure(name: "paged-optimizer",
                            title: "Optimizer state in RAM after each parameter's update, first 3 steps",
                            xLabel: "optimizer step", yLabel: "resident optimizer state (MB)",
                            kind: .lines([.init("AdamW on the heap (moments allocated at the first step)",
                                                heapTrace.enumerated().map { (x($0), mb($1)) }),
                                          .init("paged AdamW (its bookkeeping)",
                                                updates.prefix(shown).enumerated().map { (x($0), mb($1)) }),
                                          .init("paged AdamW after each step (/proc/self/smaps)",
                                                paged.recorder.stateBytes.prefix(3).enumerated().map {
                                                    (Double($0 + 1), mb($1))
                                                }),
                                          .init("resident budget", [(x(0), mb(budget)), (x(shown - 1), mb(budget))])]))
        figure.legend = .below
        nb.figure(figure)
        let tuner = paged.tuner
        let normal = MemoryBreakdown.measure(tuner, on: experiment.probeBatch)
        let longRows = longBatch(base, rows: 16, length: base.model.config.maxPositionEmbeddings)
        let long = MemoryBreakdown.measure(tuner, on: longRows)
        let result = PagingResults(stateBytes: stateBytes, budget: budget,
                                   peakPagedState: paged.recorder.stateBytes.max() ?? 0,
                                   pageOuts: state?.pageOuts ?? 0, identical: identical,
                                   heapStep: heap.seconds, pagedStep: paged.seconds)
        nb.table(Table(["", "AdamW (heap)", "paged AdamW"], rows: [
            ["optimizer state", formatBytes(stateBytes), formatBytes(state?.allocatedBytes ?? 0) + " (page-aligned)"],
            ["resident budget", "—", formatBytes(budget)],
            ["state in RAM after a step, largest", formatBytes(heap.recorder.stateBytes.max() ?? 0),
             formatBytes(result.peakPagedState)],
            ["page-outs in \(steps) steps", "—", "\(result.pageOuts)"],
            ["process resident memory, largest (VmRSS)", formatBytes(heap.recorder.process.peak),
             formatBytes(paged.recorder.process.peak)],
            ["seconds a step", String(format: "%.3f", heap.seconds), String(format: "%.3f", paged.seconds)],
            ["final adapter weights", "—", identical ? "identical to AdamW's, bit for bit" : "DIFFERENT"],
        ]))
        nb.say("""
            \(result.sentence) In the figure, the heap state fills up during the first step as AdamW allocates each \
            parameter's moments and stays; the paged state climbs until paging starts and then stays level, the least \
            recently used moments going out as the next parameter's come in — every step reads all of them once, so \
            every step pages them all out and in again, which is the time it costs. The process's resident memory \
            (VmRSS) mixes everything the process holds (the heap run came first, and freed memory is not always \
            returned to the system; mapped file pages count too), so the state's own mappings, read from \
            /proc/self/smaps, are the measure to trust. Why there are spikes at all: the activations of one step on \
            the usual 16 examples take \(formatBytes(normal.activations)); 16 windows of \
            \(base.model.config.maxPositionEmbeddings) tokens take \(formatBytes(long.activations)), \
            \(String(format: "%.1f", Double(long.activations) / Double(max(normal.activations, 1))))× as much, with \
            the same weights, gradients and state. On a GPU sized for the usual batch, such a batch is what would \
            crash the run; with paged state the driver moves \(formatBytes(stateBytes))-worth of moments out instead.
            """)
        return result
    }

    // MARK: 9. The claims, measured

    func claimsSection(_ nb: Notebook, _ experiment: Experiment, errors: ReconstructionResults,
                       storedBits: (plain: Double, doubleQuantized: Double), scores: TrainingResults,
                       speed: SpeedResults, paging: PagingResults) {
        nb.section("The claims, measured", """
            The QLoRA claims of the paper and the tutorial, each beside what this run measured (at this scale; the \
            sections above give the numbers and intervals).
            """)
        var table = Table(["claim", "source", "measured here"], rightAligned: [])
        table.add(["NF4 has a smaller error than FP4 and INT4 (weights' MSE, N(0, 1))", "paper, tutorial",
                   errors.orderSentence(for: "N(0, 1)")])
        table.add(["the same on this model's weights", "paper, tutorial",
                   errors.orderSentence(for: "this model's weights")])
        table.add(["double quantization saves 0.373 bits a weight (4.5 → 4.127)", "paper",
                   String(format: "%.4f → %.4f bits a weight, saving %.4f, measured from this model's storage bytes",
                          storedBits.plain, storedBits.doubleQuantized, storedBits.plain - storedBits.doubleQuantized)])
        table.add(["NF4 + LoRA matches 16-bit LoRA", "paper", scores.qloraVsLora.text])
        table.add(["LoRA on all linear layers is needed to match full fine-tuning", "paper",
                   "all-linear − q,v: \(scores.allVsQV.text); all-linear − full: \(scores.allVsFull.text)"])
        table.add(["QLoRA 「提高了速度」 (is faster)", "tutorial", speed.verdict])
        table.add(["paged optimizer: state under a budget, same result", "paper, tutorial", paging.sentence])
        nb.table(table)
    }
}

extension QuantizationSettings {
    /// "nf4-dq-64" style, for tuning keys.
    var key: String { "\(type.rawValue)\(doubleQuantization ? "-dq" : "")-\(blockSize)" }
}
