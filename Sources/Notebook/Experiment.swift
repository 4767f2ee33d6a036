// Experiment.swift — one method run on one task over several seeds: train, score the test set,
// measure forgetting. Every lesson compares methods this way.

import Corpus
import Foundation
import Llama
import PEFT
import TensorKit
import Training

/// A way to fine-tune, ready to run over seeds: how to build its tuner for a seed, its learning
/// rate and its optimizer.
public struct Method {
    public var name: String
    /// The peak learning rate.
    public var learningRate: Float
    /// Builds the tuner for one seed (typically a fresh copy of the base, wrapped by the method).
    public var prepare: (_ seed: UInt64) throws -> any Tuner
    /// The optimizer for a tuner at a learning rate (default: AdamW over the tuner's groups, no
    /// weight decay).
    public var optimizer: (_ tuner: any Tuner, _ learningRate: Float) -> any Optimizer

    public init(_ name: String, learningRate: Float,
                optimizer: @escaping (any Tuner, Float) -> any Optimizer = { AdamW($0.parameterGroups(weightDecay: 0), learningRate: $1) },
                prepare: @escaping (_ seed: UInt64) throws -> any Tuner) {
        self.name = name; self.learningRate = learningRate; self.prepare = prepare; self.optimizer = optimizer
    }

    /// LoRA with `config` on a fresh copy of the base, initialised from the seed; B at
    /// `loraPlusRatio` times the learning rate (LoRA+).
    public static func lora(_ name: String, _ base: BaseModel, _ config: LoraConfig, learningRate: Float,
                            loraPlusRatio: Float = 1) -> Method {
        Method(name, learningRate: learningRate, optimizer: { tuner, lr in
            let groups = (tuner as? LoraModel)?.parameterGroups(loraPlusRatio: loraPlusRatio) ?? tuner.parameterGroups(weightDecay: 0)
            return AdamW(groups, learningRate: lr)
        }) { seed in
            try LoraModel(wrapping: base.copy(), config: config, generator: Generator(seed: seed))
        }
    }

    /// Any PEFT method's config on a fresh copy of the base, initialised from the seed.
    public static func peft(_ name: String, _ base: BaseModel, _ config: any PeftConfig, learningRate: Float) -> Method {
        var config = config
        config.baseModelNameOrPath = base.folder.path
        return Method(name, learningRate: learningRate) { [config] seed in
            try config.makeTuner(wrapping: base.copy(), context: TunerContext(generator: Generator(seed: seed),
                                                                               tokenize: base.tokenizer.encode))
        }
    }

    /// Training a subset of the base's own parameters (full fine-tuning, freeze-tuning, head only)
    /// on a fresh copy of the base.
    public static func selective(_ name: String, _ base: BaseModel, learningRate: Float,
                                 _ pick: @escaping (LlamaModel) -> SelectiveFineTuning) -> Method {
        Method(name, learningRate: learningRate) { _ in pick(base.copy()) }
    }
}

/// One seed's run.
public struct Run {
    public var seed: UInt64
    public var score: Double
    /// Held-out pretraining loss after training.
    public var heldOutLoss: Double
    public var log: TrainingLog
}

/// What a method achieved, over seeds.
public struct MethodResult {
    public var name: String
    public var runs: [Run] = []
    /// The trained tuners of the first seeds (as many as asked to keep).
    public var tuners: [any Tuner] = []
    /// Smoothed training loss of the first seed.
    public var curve: [Double] = []
    public var curveStep: Double = 1
    public var trainableParameters = 0
    /// PEFT's share: trainable / all parameters (the adapter's included).
    public var trainableShare = 0.0

    public init(name: String) { self.name = name }

    /// Test score per seed.
    public var scores: [Double] { runs.map(\.score) }
    /// Held-out pretraining loss after training, per seed.
    public var heldOutLosses: [Double] { runs.map(\.heldOutLoss) }
    /// Mean training time of a run.
    public var seconds: Double { runs.map(\.log.seconds).reduce(0, +) / Double(max(runs.count, 1)) }
    /// Mean training throughput.
    public var tokensPerSecond: Double { runs.map(\.log.tokensPerSecond).reduce(0, +) / Double(max(runs.count, 1)) }

    /// The untrained base on `task`: its test score and its own held-out loss.
    public static func frozenBase(_ base: BaseModel, _ task: TaskData) -> MethodResult {
        var r = MethodResult(name: "frozen base")
        let logits: LogitsFunction = { base.model($0.inputIds, batch: $0.batchSize) }
        let score = evaluate(task, on: task.test, tokenizer: base.tokenizer, logits: logits).value
        r.runs = [Run(seed: 0, score: score, heldOutLoss: Double(base.heldOutLoss), log: TrainingLog(losses: [], seconds: 0, tokens: 0))]
        return r
    }

    public var score: (mean: Double, std: Double) { meanStd(scores) }
    public var heldOut: (mean: Double, std: Double) { meanStd(heldOutLosses) }
    /// "0.812 ± 0.013" (or "0.812" for one seed).
    public var scoreText: String {
        scores.count > 1 ? String(format: "%.3f ± %.3f", score.mean, score.std) : String(format: "%.3f", score.mean)
    }
}

/// Trains and evaluates `method` for each seed, keeping the first `keep` trained tuners.
public func runMethod(_ method: Method, base: BaseModel, task: TaskData, steps: Int, seeds: [UInt64], batchSize: Int = 16,
                keep: Int = 1) throws -> MethodResult {
    let encoded = task.train.map { base.tokenizer.encode($0) }
    var result = MethodResult(name: method.name)
    for (i, seed) in seeds.enumerated() {
        let tuner = try method.prepare(seed)
        let settings = TrainingSettings(steps: steps, batchSize: batchSize, learningRate: method.learningRate, seed: seed)
        let label = "\(method.name)\(seeds.count > 1 ? " · seed \(seed)" : "")"
        let log = try fineTune(tuner, label: label, optimizer: method.optimizer(tuner, method.learningRate), data: encoded,
                               padId: base.tokenizer.padId, settings: settings)
        let score = evaluate(task, on: task.test, tokenizer: base.tokenizer, logits: tuner.logits).value
        let heldOut = Double(languageModelLoss(tuner.logits, stream: base.heldOut))
        result.runs.append(Run(seed: seed, score: score, heldOutLoss: heldOut, log: log))
        if i == 0 {
            let window = max(1, steps / 30)
            result.curve = log.smoothed(window)
            result.curveStep = Double(window)
            result.trainableParameters = tuner.trainableCount
            result.trainableShare = tuner.trainableShare
        }
        if i < keep { result.tuners.append(tuner) }
    }
    return result
}

/// Mean and sample standard deviation (0 for one value).
public func meanStd(_ xs: [Double]) -> (mean: Double, std: Double) {
    let m = xs.reduce(0, +) / Double(max(xs.count, 1))
    let v = xs.count > 1 ? xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count - 1) : 0
    return (m, v.squareRoot())
}

extension TaskData {
    /// "accuracy" or "exact match".
    public var metricName: String {
        switch metric { case .choice: "accuracy"; case .exactMatch, .slotCoverage: "exact match" }
    }
}

/// Inference throughput: tokens per second of `logits` over `repeats` forward passes of the
/// same batch (no gradients), after one warm-up pass.
public func inferenceTokensPerSecond(_ logits: LogitsFunction, batch: TokenBatch, repeats: Int = 5) -> Double {
    withoutGrad {
        _ = logits(batch)
        let start = Date()
        for _ in 0..<repeats { _ = logits(batch) }
        return Double(batch.inputIds.count * repeats) / Date().timeIntervalSince(start)
    }
}

/// Total bytes of the regular files in a folder.
public func folderSize(_ url: URL) -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
    return names.reduce(0) { total, name in
        total + (((try? FileManager.default.attributesOfItem(atPath: url.appendingPathComponent(name).path))?[.size] as? Int) ?? 0)
    }
}

/// A fresh temporary folder.
public func temporaryFolder(_ prefix: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
