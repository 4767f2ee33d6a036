// Bench.swift — `peft bench`: the training step of ../shared/bench/torch_ref_bench.py, timed,
// with the achieved GFLOP/s and, given a Python with torch, the ratio against PyTorch.

import ArgumentParser
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit
import Training

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time training steps on random tokens (AdamW, labels = inputs), as the PyTorch reference does.")

    @Option(help: """
        full (train everything), lora (r = --rank, alpha 2·r, q_proj and v_proj, the rest frozen), qlora (that \
        LoRA over a base quantized to NF4 with double quantization) or adalora (init_r 12, target_r 8, q_proj and \
        v_proj, pruning after every step; prints the rank allocator's share) or prompt-tuning (--virtual-tokens \
        embeddings in front of every row, random init; throughput counts the real tokens, as the reference does).
        """) var method = "full"
    @Option(help: "LoRA rank for --method lora.") var rank = 8
    @Option(help: "Virtual tokens for --method prompt-tuning.") var virtualTokens = 20
    @Option var vocab = 512
    @Option var hidden = 128
    @Option var intermediate = 512
    @Option var layers = 4
    @Option var heads = 4
    @Option(help: "Key/value heads (grouped-query attention; default: --heads).") var kvHeads: Int?
    @Flag(help: "Tie lm_head to the embedding matrix (as SmolLM does).") var tied = false
    @Option var seq = 64
    @Option var batch = 32
    @Option(help: "Timed steps (after 3 warm-up steps).") var steps = 30
    @Option(help: "BLAS threads (default: the BLAS's own choice).") var threads: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Flag(help: "Break the step time down by category (matmul, attention, optimizer, rest).") var profile = false
    @Option(help: "A Python with torch, transformers, peft (bitsandbytes for qlora): run the reference beside it.")
    var torch: String?

    func validate() throws {
        guard ["full", "lora", "qlora", "adalora", "prompt-tuning"].contains(method) else {
            throw ValidationError("unknown --method '\(method)'; choose: full, lora, qlora, adalora, prompt-tuning")
        }
        guard steps > 0, batch > 0, seq > 1, hidden % heads == 0, heads % (kvHeads ?? heads) == 0 else {
            throw ValidationError("impossible bench configuration")
        }
        if torch != nil && (kvHeads != nil || tied) {
            throw ValidationError("the PyTorch reference has no --kv-heads or --tied; compare without them")
        }
    }

    func run() throws {
        if let threads { BLAS.shared.threads = threads }
        let config = LlamaConfig(vocabSize: vocab, hiddenSize: hidden, intermediateSize: intermediate,
                                 numHiddenLayers: layers, numAttentionHeads: heads, numKeyValueHeads: kvHeads,
                                 maxPositionEmbeddings: seq + virtualTokens, tieWordEmbeddings: tied)
        let gen = Generator(seed: seed)
        let model = LlamaModel(config: config, generator: gen)
        var trainable = model.namedParameters.map(\.tensor)
        var adaLora: AdaLoraModel? = nil
        var promptTuner: (any Tuner)? = nil
        if method == "qlora" {
            let floatBytes = model.weightBytes
            try model.quantizeLinearLayers(.qlora)
            print("base quantized to NF4 + double quantization: weights \(formatBytes(floatBytes)) → "
                  + formatBytes(model.weightBytes))
        }
        if method == "lora" || method == "qlora" {
            let lora = try LoraModel(wrapping: model, config: LoraConfig(r: rank, loraAlpha: Double(2 * rank)),
                                     generator: gen)
            trainable = lora.trainableParameters
            print(lora.trainableReport)
        } else if method == "adalora" {
            // every step after the first prunes (tinit 0, deltaT 1): the allocator's most expensive schedule
            let config = AdaLoraConfig(initR: adaLoraInitR, targetR: 8, totalStep: 3 + steps,
                                       loraAlpha: Double(2 * adaLoraInitR))
            let tuner = try AdaLoraModel(wrapping: model, config: config, generator: gen)
            for (_, layer) in tuner.adapters { for i in 0..<layer.r { layer.loraE.data[i] = 0.1 } }  // a live update
            trainable = tuner.trainableParameters
            adaLora = tuner
            print(tuner.trainableReport)
        } else if method == "prompt-tuning" {
            let tuner = try PromptTuningConfig(numVirtualTokens: virtualTokens)
                .makeTuner(wrapping: model, context: TunerContext(generator: gen))
            trainable = tuner.trainableParameters
            promptTuner = tuner
            print(tuner.trainableReport)
        }
        let optimizer = AdamW(parameters: trainable, learningRate: 1e-3)
        let ids = (0..<batch * seq).map { _ in gen.int(below: vocab) }
        var lastLoss: Float = 0, globalStep = 0, allocatorSeconds = 0.0
        let tokenBatch = TokenBatch(ids: ids, labels: ids, rows: batch)
        func stepLoss() -> Tensor {
            if let promptTuner { return Profiler.measure("forward (rest)") { promptTuner.loss(tokenBatch).total } }
            let logits = Profiler.measure("forward (rest)") { model(ids, batch: batch) }
            return Profiler.measure("forward (rest)") {
                let crossEntropy = causalLanguageModelLoss(logits, labels: ids)
                return adaLora?.regularizer().map { crossEntropy + $0 } ?? crossEntropy
            }
        }
        func step() {
            let loss = stepLoss()
            Profiler.measure("backward (rest)") { loss.backward() }
            Profiler.measure("optimizer") { optimizer.step() }
            if let adaLora {
                let start = Profiler.now()
                Profiler.measure("rank allocator") { adaLora.afterOptimizerStep(globalStep) }
                allocatorSeconds += Profiler.now() - start
            }
            Profiler.measure("optimizer") { optimizer.zeroGrad() }
            globalStep += 1
            lastLoss = loss.item
        }
        for _ in 0..<3 { step() }
        // Which weights got a gradient in a step: a frozen weight must get none (no dW product at all).
        stepLoss().backward()
        let withGradient = model.namedParameters.filter { $0.tensor.grad != nil }
        let frozenCount = model.namedParameters.count - withGradient.count
        optimizer.zeroGrad()
        for (_, t) in model.namedParameters { t.zeroGrad() }
        Profiler.isEnabled = profile
        Profiler.reset()
        allocatorSeconds = 0
        let start = Profiler.now()
        for _ in 0..<steps { step() }
        let seconds = Profiler.now() - start
        Profiler.isEnabled = false
        let tokensPerSecond = Double(batch * seq * steps) / seconds
        let adapterRank = method == "lora" || method == "qlora" ? rank : method == "adalora" ? adaLoraInitR : nil
        let positions = seq + (promptTuner == nil ? 0 : virtualTokens)  // a prompt's rows are n + T long
        let flops = stepFlops(config: config, tokens: batch * positions, seq: positions,
                              adapterRank: promptTuner == nil ? adapterRank : 0) * Double(steps)
        print("swift \(method) tokens/s \(Int(tokensPerSecond.rounded()))")
        print(String(format: "  %.1f GFLOP/s achieved, %.1f ms/step, loss %.4f", flops / seconds / 1e9,
                     seconds / Double(steps) * 1e3, lastLoss))
        let trainsWeights = method == "full"
        let alone = sgemmThroughput(config: config, rows: batch * positions, weightGradients: trainsWeights)
        print(String(format: "  sgemm alone on this step's linear-layer products (forward, input%@ gradients): "
                        + "%.1f GFLOP/s; the step achieves %.0f%% of it", trainsWeights ? " and weight" : "",
                     alone / 1e9, 100 * flops / seconds / alone))
        print("  BLAS: \(BLAS.shared.name), \(BLAS.shared.threads) threads")
        print("  weight gradients: \(withGradient.count) base tensors get one, \(frozenCount) frozen get none "
              + "(no weight-gradient product is run for them)")
        if let adaLora {
            let values = adaLora.trainableCount
            print(String(format: "  rank allocator: %.3f ms/step, %.2f%% of a step "
                            + "(scores of %d values, pruning to budget %d of %d every step)",
                         allocatorSeconds / Double(steps) * 1e3, 100 * allocatorSeconds / seconds, values,
                         adaLora.schedule(globalStep - 1).budget, adaLora.schedule.initialBudget))
        }
        if profile {
            let cpu = Profiler.seconds, total = cpu.values.reduce(0, +)
            print(String(format: "  where the time goes (CPU time on every thread, exclusive; %.1f ms CPU a step "
                            + "on %.2f threads busy on average):", total / Double(steps) * 1e3, total / seconds))
            for (name, s) in cpu.sorted(by: { $0.value > $1.value }) {
                print("    " + name.padding(toLength: 24, withPad: " ", startingAt: 0)
                      + String(format: "%7.1f ms/step  %5.1f%%", s / Double(steps) * 1e3, 100 * s / total))
            }
        }
        if let torch { try compare(python: torch, swiftTokensPerSecond: tokensPerSecond) }
    }

    /// FLOPs of one training step as computed here: every linear layer 2·N·in·out forward and
    /// the same again for its input gradient; its weight gradient (another 2·N·in·out) only when
    /// it trains; LoRA (and AdaLoRA) adds its two thin products (×3); attention 4·B·H·T²·D forward, 8 backward.
    /// For a prompt method it is an upper estimate: the loss skips the output layer, and the last
    /// layer its queries and MLP, at the virtual positions (no label there).
    func stepFlops(config c: LlamaConfig, tokens: Int, seq: Int, adapterRank: Int?) -> Double {
        let kvWidth = c.numKeyValueHeads * c.headDim
        let perLayer = 2 * c.hiddenSize * c.hiddenSize + 2 * c.hiddenSize * kvWidth
            + 3 * c.hiddenSize * c.intermediateSize
        let linear = Double(c.numHiddenLayers * perLayer + c.vocabSize * c.hiddenSize)
        let attention = Double(c.numHiddenLayers) * Double(tokens) * Double(seq) * Double(c.hiddenSize)
        let n = Double(tokens)
        guard let adapterRank else { return 3 * 2 * n * linear + 12 * attention }
        let adapters = Double(c.numHiddenLayers * 2 * adapterRank * (c.hiddenSize + c.hiddenSize))
        return 2 * 2 * n * linear + 3 * 2 * n * adapters + 12 * attention
    }

    /// FLOP/s of sgemm alone on the products of a step's linear layers: for each layer's weight
    /// [out, in] and N = `rows` positions, y = x·Wᵀ (NT), dx = dy·W (NN) and, with
    /// `weightGradients`, dW = dyᵀ·x (TN), 2·N·in·out each, on random data; best of three rounds.
    /// The ceiling the step's own products could reach here, without anything around them.
    func sgemmThroughput(config c: LlamaConfig, rows n: Int, weightGradients: Bool) -> Double {
        let kv = c.numKeyValueHeads * c.headDim, h = c.hiddenSize, f = c.intermediateSize
        let layer = [(h, h), (kv, h), (kv, h), (h, h), (f, h), (f, h), (h, f)]  // q k v o gate up down: (out, in)
        let shapes = Array(repeating: layer, count: c.numHiddenLayers).flatMap { $0 } + [(c.vocabSize, h)]
        let gen = Generator(seed: 1)
        let widest = shapes.map { max($0.0, $0.1) }.max() ?? 1
        let x = Tensor.randn([n, widest], generator: gen), dy = Tensor.randn([n, widest], generator: gen)
        let outCount = shapes.map { max(n * $0.0, n * $0.1, $0.0 * $0.1) }.max() ?? 1  // the largest product's result
        let out = UnsafeMutablePointer<Float>.allocate(capacity: outCount)
        out.initialize(repeating: 0, count: outCount)
        defer { out.deallocate() }
        let weights = Dictionary(shapes.map { ("\($0.0)x\($0.1)", $0) }, uniquingKeysWith: { a, _ in a })
            .mapValues { Tensor.randn([$0.0, $0.1], generator: gen) }
        let blas = BLAS.shared
        var flops = 0.0, best = Double.infinity
        for round in 0..<4 {  // the first warms up
            let start = Profiler.now()
            flops = 0
            for (o, i) in shapes {
                let w = weights["\(o)x\(i)"]!.data
                blas.sgemm(transA: false, transB: true, m: n, n: o, k: i, a: x.data, lda: i, b: w, ldb: i,
                           c: out, ldc: o)
                blas.sgemm(transA: false, transB: false, m: n, n: i, k: o, a: dy.data, lda: o, b: w, ldb: i,
                           beta: 1, c: out, ldc: i)
                flops += 4 * Double(n * i * o)
                if weightGradients {
                    blas.sgemm(transA: true, transB: false, m: o, n: i, k: n, a: dy.data, lda: o, b: x.data, ldb: i,
                               beta: 1, c: out, ldc: i)
                    flops += 2 * Double(n * i * o)
                }
            }
            if round > 0 { best = min(best, Profiler.now() - start) }
        }
        return flops / best
    }

    /// AdaLoRA's init_r in the bench (target_r 8).
    var adaLoraInitR: Int { 12 }

    func compare(python: String, swiftTokensPerSecond: Double) throws {
        // full and LoRA: the shared reference; QLoRA, AdaLoRA and prompt tuning: this project's script beside it
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let shared = ["full", "lora"].contains(method)
        let script = shared
            ? root.deletingLastPathComponent().appendingPathComponent("shared/bench/torch_ref_bench.py")
            : root.appendingPathComponent("scripts/bench_reference.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path, "--method", method, "--vocab", "\(vocab)", "--d-model", "\(hidden)",
                             "--ffn", "\(intermediate)", "--layers", "\(layers)", "--heads", "\(heads)",
                             "--seq", "\(seq)", "--batch", "\(batch)", "--steps", "\(steps)", "--rank", "\(rank)"]
            + (shared ? [] : ["--virtual-tokens", "\(virtualTokens)"])
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("torch") }),
              let torchRate = Double(line.split(separator: " ").last ?? "") else {
            throw ValidationError("the reference printed no 'torch ... tokens/s N' line:\n\(text)")
        }
        print(line)
        print(String(format: "ratio swift/torch: %.2f×", swiftTokensPerSecond / torchRate))
    }
}
