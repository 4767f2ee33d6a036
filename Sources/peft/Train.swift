// Train.swift — `peft train`: a LoRA adapter on Alpaca data or an embedded task, saved in
// PEFT's format.

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a LoRA adapter and save it as PEFT does (adapter_config.json, adapter_model.safetensors).",
        discussion: """
        --data is an Alpaca-style .json/.jsonl file (instruction, input, output) or the name of an embedded task \
        (sentiment, topic, qa, data-to-text). The model folder needs a tokenizer.json, as the lessons' cached \
        base models have (.cache/base-models/<preset>-corpus<N>/).
        """)

    @Option(help: "The base model folder (config.json, model.safetensors, tokenizer.json).") var model: String
    @Option(help: "Training data: a .json/.jsonl Alpaca file or an embedded task name.") var data: String
    @Option(help: "Where to save the adapter.") var out: String
    @Option(help: "LoRA rank.") var r = 8
    @Option(help: "LoRA alpha (scale alpha/r).") var alpha: Double = 16
    @Option(help: "Target modules: comma-separated names, or all-linear.") var targetModules = "q_proj,v_proj"
    @Option(help: "A regular expression for target modules (instead of --target-modules).") var targetRegex: String?
    @Option(help: "Dropout on the adapter input.") var dropout: Float = 0
    @Option(help: "Initialisation: true, gaussian, pissa.") var initLoraWeights = "true"
    @Flag(help: "Scale by alpha/√r (rsLoRA).") var useRslora = false
    @Flag(help: "Weight-decomposed LoRA (DoRA).") var useDora = false
    @Option(help: "LoRA+: learning-rate ratio of B to A (1 = plain LoRA).") var loraplusRatio: Float = 1
    @Option var steps = 300
    @Option var lr: Float = 2e-3
    @Option var batchSize = 16
    @Option var seed: UInt64 = 0

    func run() throws {
        let folder = URL(fileURLWithPath: model)
        let base = try LlamaModel.load(from: folder)
        let tokenizer = try Tokenizer.load(contentsOf: folder.appendingPathComponent("tokenizer.json"))
        let task: TaskData
        if data.hasSuffix(".json") || data.hasSuffix(".jsonl") {
            task = userTask(name: URL(fileURLWithPath: data).lastPathComponent, examples: try loadAlpaca(contentsOf: URL(fileURLWithPath: data)), seed: seed)
        } else {
            task = try World().task(data, seed: seed)
        }
        guard let initialization = LoraInit(rawValue: initLoraWeights.lowercased()) else {
            throw ValidationError("--init-lora-weights must be true, false, gaussian or pissa")
        }
        var config = LoraConfig(r: r, loraAlpha: alpha, loraDropout: dropout,
                                targetModules: targetRegex.map { .regex($0) } ?? (targetModules == "all-linear" ? .allLinear : .names(targetModules.split(separator: ",").map(String.init))),
                                useRslora: useRslora, initLoraWeights: initialization, useDora: useDora)
        config.baseModelNameOrPath = model
        let lora = try LoraModel(wrapping: base, config: config, generator: Generator(seed: seed))
        print(lora.trainableReport)
        let optimizer = AdamW(lora.parameterGroups(loraPlusRatio: loraplusRatio), learningRate: lr)
        let encoded = task.train.map { tokenizer.encode($0) }
        for (i, e) in encoded.enumerated() where e.ids.count > base.config.maxPositionEmbeddings {
            throw ValidationError("example \(i + 1) is \(e.ids.count) tokens, longer than the model's \(base.config.maxPositionEmbeddings)")
        }
        let log = fineTune(label: "LoRA", logits: { lora($0, batch: $1) }, optimizer: optimizer, data: encoded, padId: tokenizer.padId,
                           settings: TrainingSettings(steps: steps, batchSize: batchSize, learningRate: lr, seed: seed))
        lora.setTraining(false)
        let score = evaluate(task, on: task.validation, tokenizer: tokenizer, logits: { lora($0, batch: $1) })
        try lora.save(to: URL(fileURLWithPath: out))
        for sample in score.samples.prefix(3) {
            print("  \(sample.prompt.replacingOccurrences(of: "\n", with: " ⏎ "))\n    → \(sample.prediction.trimmingCharacters(in: .whitespaces))   (expected: \(sample.answer.trimmingCharacters(in: .whitespaces)))")
        }
        print(String(format: "trained %d steps in %@ (%@ tokens/s); validation %@ %.3f%@; adapter → %@",
                     steps, formatDuration(log.seconds), formatCount(Int(log.tokensPerSecond)), task.metricName, score.value,
                     score.slotCoverage.map { String(format: ", slot coverage %.3f", $0) } ?? "", out))
    }
}
