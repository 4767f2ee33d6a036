// Train.swift — `peft train`: any method's adapter trained on Alpaca data or an embedded task,
// saved in PEFT's format. Each method's options carry PEFT's field names as flags.

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit
import Training

/// The methods `peft train` offers, by their command-line names.
enum MethodName: String, ExpressibleByArgument, CaseIterable {
    case lora
    case qlora
    case promptTuning = "prompt-tuning"
}

/// LoRA's flags (PEFT's `LoraConfig` fields).
struct LoraOptions: ParsableArguments {
    @Option(help: "LoRA: the rank r.") var r = 8
    @Option(help: "LoRA: lora_alpha (the update is scaled by alpha/r).") var alpha: Double = 16
    @Option(help: "LoRA: target modules, comma-separated names, or all-linear.") var targetModules = "q_proj,v_proj"
    @Option(help: "LoRA: a regular expression for the target modules (instead of --target-modules).") var targetRegex: String?
    @Option(help: "LoRA: dropout on the adapter input.") var dropout: Float = 0
    @Option(help: "LoRA: initialisation, true, gaussian or pissa.") var initLoraWeights = "true"
    @Flag(help: "LoRA: scale by alpha/√r (rsLoRA).") var useRslora = false
    @Flag(help: "LoRA: weight-decomposed LoRA (DoRA).") var useDora = false
    @Option(help: "LoRA+: the learning-rate ratio of B to A (1 = plain LoRA).") var loraplusRatio: Float = 1

    func config() throws -> LoraConfig {
        guard let initialization = LoraInit(name: initLoraWeights) else {
            throw ValidationError("--init-lora-weights must be true, false, gaussian or pissa")
        }
        return LoraConfig(r: r, loraAlpha: alpha, loraDropout: dropout,
                          targetModules: targetRegex.map { .regex($0) } ?? TargetModules(commaSeparated: targetModules),
                          useRslora: useRslora, initLoraWeights: initialization, useDora: useDora)
    }
}

/// The flags every prompt method shares, and prompt tuning's own (PEFT's `PromptTuningConfig`).
struct PromptOptions: ParsableArguments {
    @Option(help: "Prompt methods: num_virtual_tokens.") var numVirtualTokens = 20
    @Option(help: "Prompt tuning: the initialisation, random, sample-vocab or text.") var promptTuningInit = "random"
    @Option(help: "Prompt tuning: the text whose token embeddings start the prompt (with --prompt-tuning-init text).")
    var promptTuningInitText: String?

    func promptTuningConfig() throws -> PromptTuningConfig {
        guard let initialization = PromptTuningInit(name: promptTuningInit) else {
            throw ValidationError("--prompt-tuning-init must be random, sample-vocab or text")
        }
        return PromptTuningConfig(numVirtualTokens: numVirtualTokens, promptTuningInit: initialization,
                                  promptTuningInitText: promptTuningInitText)
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an adapter and save it as PEFT does (adapter_config.json, adapter_model.safetensors).",
        discussion: """
        --method chooses the PEFT method (lora, qlora, prompt-tuning); each method's options carry PEFT's field names; \
        qlora is LoRA on the base quantized to 4 bits (NF4 + double quantization by default). --model may also be a \
        4-bit folder (from `peft quantize` or transformers + bitsandbytes). \
        --data is an Alpaca-style .json/.jsonl file (instruction, input, output) or the name of an embedded task \
        (sentiment, topic, qa, data-to-text). The model folder needs a tokenizer.json, as the lessons' cached \
        base models have (.cache/base-models/<preset>-corpus<N>/).
        """)

    @Option(help: "The base model folder (config.json, model.safetensors, tokenizer.json).") var model: String
    @Option(help: "Training data: a .json/.jsonl Alpaca file or an embedded task name.") var data: String
    @Option(help: "Where to save the adapter.") var out: String
    @Option(help: "The method: \(MethodName.allCases.map(\.rawValue).joined(separator: ", ")).") var method = MethodName.lora
    @OptionGroup(title: "LoRA") var lora: LoraOptions
    @OptionGroup(title: "QLoRA") var qlora: QLoRAOptions
    @OptionGroup(title: "Prompt methods") var prompt: PromptOptions
    @Option(help: "Optimizer steps.") var steps = 300
    @Option(help: "Peak learning rate (warm-up over a tenth of the steps, then cosine decay).") var lr: Float = 2e-3
    @Option(help: "Examples per batch.") var batchSize = 16
    @Option(help: "Seed of the initialisation and the data order.") var seed: UInt64 = 0

    func run() throws {
        let folder = URL(fileURLWithPath: model)
        let base = try loadModel(from: folder)
        let tokenizer = try Tokenizer.load(contentsOf: folder.appendingPathComponent("tokenizer.json"))
        let task: TaskData
        if data.hasSuffix(".json") || data.hasSuffix(".jsonl") {
            let examples = try loadAlpaca(contentsOf: URL(fileURLWithPath: data))
            task = userTask(name: URL(fileURLWithPath: data).lastPathComponent, examples: examples, seed: seed)
        } else {
            task = try World().task(data, seed: seed)
        }
        var config: any PeftConfig
        switch method {
        case .lora: config = try lora.config()
        case .qlora:
            try qlora.prepare(base)
            config = try lora.config()
        case .promptTuning: config = try prompt.promptTuningConfig()
        }
        config.baseModelNameOrPath = model
        let tuner = try config.makeTuner(wrapping: base, context: TunerContext(generator: Generator(seed: seed), tokenize: tokenizer.encode))
        print(tuner.trainableReport)
        let groups = (tuner as? LoraModel)?.parameterGroups(loraPlusRatio: lora.loraplusRatio) ?? tuner.parameterGroups(weightDecay: 0)
        let memory = ResidentMemoryTrace()
        let optimizer = memory.recording(try qlora.optimizer(groups, learningRate: lr))
        let encoded = task.train.map { tokenizer.encode($0) }
        let log = try fineTune(tuner, label: method.rawValue, optimizer: optimizer, data: encoded, padId: tokenizer.padId,
                               settings: TrainingSettings(steps: steps, batchSize: batchSize, learningRate: lr, seed: seed))
        let score = evaluate(task, on: task.validation, tokenizer: tokenizer, logits: tuner.logits)
        try tuner.save(to: URL(fileURLWithPath: out))
        for sample in score.samples.prefix(3) {
            print("  \(sample.prompt.replacingOccurrences(of: "\n", with: " ⏎ "))\n    → \(sample.prediction.trimmingCharacters(in: .whitespaces))"
                  + "   (expected: \(sample.answer.trimmingCharacters(in: .whitespaces)))")
        }
        print(String(format: "trained %d steps in %@ (%@ tokens/s); validation %@ %.3f%@; adapter → %@",
                     steps, formatDuration(log.seconds), formatCount(Int(log.tokensPerSecond)), task.metricName, score.value,
                     score.slotCoverage.map { String(format: ", slot coverage %.3f", $0) } ?? "", out))
        if memory.peak > 0 {
            print("resident memory (VmRSS after each optimizer step): peak \(formatBytes(memory.peak)), last "
                  + formatBytes(memory.samples.last ?? 0))
        }
    }
}
