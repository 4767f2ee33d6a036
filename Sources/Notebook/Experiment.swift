// Experiment.swift — one method run on one task over several seeds: train, score the test set,
// measure forgetting. Every lesson compares methods this way.

import Corpus
import Foundation
import Llama
import PEFT
import TensorKit
import Training

/// A method ready to train: the model it changes, how it computes logits, and its optimiser.
public struct PreparedRun {
    public var model: LlamaModel
    public var logits: LogitsFunction
    public var optimizer: any Optimizer
    public init(model: LlamaModel, logits: LogitsFunction? = nil, optimizer: any Optimizer) {
        self.model = model
        self.logits = logits ?? { ids, rows in model(ids, batch: rows) }
        self.optimizer = optimizer
    }
}

extension PreparedRun {
    /// A fresh copy of the base wrapped with LoRA (`config`, initialised from `seed`), trained by
    /// AdamW at `learningRate` (B at `loraPlusRatio` times that).
    public static func lora(_ base: BaseModel, _ config: LoraConfig, seed: UInt64, learningRate: Float, loraPlusRatio: Float = 1) throws -> (PreparedRun, LoraModel) {
        let m = base.copy()
        let l = try LoraModel(wrapping: m, config: config, generator: Generator(seed: seed))
        return (PreparedRun(model: m, optimizer: AdamW(l.parameterGroups(loraPlusRatio: loraPlusRatio), learningRate: learningRate)), l)
    }
}

/// What a method achieved, over seeds.
public struct MethodResult: Sendable {
    public var name: String
    /// Test score per seed.
    public var scores: [Double] = []
    /// Held-out pretraining loss after training, per seed.
    public var heldOutLosses: [Double] = []
    /// Smoothed training loss of the first seed.
    public var curve: [Double] = []
    public var curveStep: Double = 1
    public var seconds: Double = 0
    public var tokensPerSecond: Double = 0
    public var trainableParameters = 0

    public init(name: String) { self.name = name }

    /// The untrained base on `task`: its test score and its own held-out loss.
    public static func frozenBase(_ base: BaseModel, _ task: TaskData) -> MethodResult {
        var r = MethodResult(name: "frozen base")
        r.scores = [evaluate(task, on: task.test, tokenizer: base.tokenizer, logits: { base.model($0, batch: $1) }).value]
        r.heldOutLosses = [Double(base.heldOutLoss)]
        return r
    }

    public var score: (mean: Double, std: Double) { meanStd(scores) }
    public var heldOut: (mean: Double, std: Double) { meanStd(heldOutLosses) }
    /// "0.812 ± 0.013" (or "0.812" for one seed).
    public var scoreText: String { scores.count > 1 ? String(format: "%.3f ± %.3f", score.mean, score.std) : String(format: "%.3f", score.mean) }
}

/// Trains and evaluates `prepare(seed)` for each seed (options.seed, +1, …).
public func runMethod(_ name: String, base: BaseModel, task: TaskData, steps: Int, learningRate: Float, seeds: [UInt64],
                      batchSize: Int = 16, prepare: (UInt64) -> PreparedRun) -> MethodResult {
    let encoded = task.train.map { base.tokenizer.encode($0) }
    var result = MethodResult(name: name)
    for (i, seed) in seeds.enumerated() {
        let run = prepare(seed)
        let settings = TrainingSettings(steps: steps, batchSize: batchSize, learningRate: learningRate, seed: seed)
        let log = fineTune(label: "\(name)\(seeds.count > 1 ? " · seed \(seed)" : "")", logits: run.logits, optimizer: run.optimizer,
                           data: encoded, padId: base.tokenizer.padId, settings: settings)
        result.scores.append(evaluate(task, on: task.test, tokenizer: base.tokenizer, logits: run.logits).value)
        result.heldOutLosses.append(Double(languageModelLoss(model: run.model, stream: base.heldOut)))
        if i == 0 {
            let window = max(1, steps / 30)
            result.curve = log.smoothed(window)
            result.curveStep = Double(window)
            result.trainableParameters = run.optimizer.groups.reduce(0) { $0 + $1.parameters.reduce(0) { $0 + $1.count } }
        }
        result.seconds += log.seconds / Double(seeds.count)
        result.tokensPerSecond += log.tokensPerSecond / Double(seeds.count)
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

extension LlamaModel {
    /// Freezes every parameter, then makes `parameters` trainable; returns them.
    @discardableResult
    public func train(only parameters: [Tensor]) -> [Tensor] {
        setTrainable(false)
        for p in parameters { p.requiresGrad = true }
        return parameters
    }
}

/// Inference throughput: tokens per second of `logits` over `repeats` forward passes of the
/// same batch (no gradients), after one warm-up pass.
public func inferenceTokensPerSecond(_ logits: LogitsFunction, ids: [Int], rows: Int, repeats: Int = 5) -> Double {
    withoutGrad {
        _ = logits(ids, rows)
        let start = Date()
        for _ in 0..<repeats { _ = logits(ids, rows) }
        return Double(ids.count * repeats) / Date().timeIntervalSince(start)
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
