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
    /// LoRA on the base quantized to 4 bits (NF4 + double quantization) on the fly.
    case qlora
    case adalora
    case promptTuning = "prompt-tuning"
    case prefixTuning = "prefix-tuning"
    case pTuning = "p-tuning"
    /// Deep prompts: prefix tuning without the projection, saved as PEFT's PREFIX_TUNING.
    case pTuningV2 = "p-tuning-v2"
}

/// The optimizers `peft train` offers.
enum OptimizerName: String, ExpressibleByArgument, CaseIterable {
    /// AdamW, no weight decay.
    case adamw
    /// Plain SGD: no momentum, no weight decay (the golden AdaLoRA trace's).
    case sgd
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

    /// --target-regex, or --target-modules.
    var targets: TargetModules { targetRegex.map { .regex($0) } ?? TargetModules(commaSeparated: targetModules) }

    func config() throws -> LoraConfig {
        guard let initialization = LoraInit(name: initLoraWeights) else {
            throw ValidationError("--init-lora-weights must be true, false, gaussian or pissa")
        }
        return LoraConfig(r: r, loraAlpha: alpha, loraDropout: dropout, targetModules: targets,
                          useRslora: useRslora, initLoraWeights: initialization, useDora: useDora)
    }
}

/// The flags every prompt method shares, and prompt tuning's own (PEFT's `PromptTuningConfig`).
struct PromptOptions: ParsableArguments {
    @Option(help: "Prompt methods: num_virtual_tokens.") var numVirtualTokens = 20
    @Option(help: "Prefix tuning (with --prefix-projection) and P-tuning: encoder_hidden_size (default: token_dim).")
    var encoderHiddenSize: Int?
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
        --method chooses the PEFT method (lora, qlora, adalora, prompt-tuning, prefix-tuning, p-tuning, p-tuning-v2 \
        = prefix tuning without the projection); each method's options carry PEFT's field \
        names (AdaLoRA takes total_step from --steps and shares the LoRA options; qlora is LoRA with its options on \
        the base quantized to 4 bits, NF4 + double quantization by default). --model may be a float or a 4-bit \
        folder (from `peft quantize`, or transformers + bitsandbytes). --init-adapter starts from a \
        saved adapter instead: its adapter_config.json sets the method and its settings. --data is an Alpaca-style \
        .json/.jsonl file (instruction, input, output), the name of an embedded task (sentiment, topic, qa, \
        data-to-text), or a pre-tokenised batch {"input_ids": [[…]], "labels": [[…]]} trained whole at every step \
        with a constant learning rate and no clipping. For text data the model folder needs a tokenizer.json: the \
        lessons' cached base models have one (.cache/base-models/<preset>-corpus<N>/), and so does any Hugging Face \
        LLaMA-architecture folder with a byte-level BPE (GPT-2, LLaMA 3, SmolLM style) or a BPE with byte fallback \
        (LLaMA 2, TinyLlama style); its end and pad tokens come from config.json and generation_config.json. A \
        tokenizer this project cannot reproduce exactly is refused with an error naming the part.
        """)

    @Option(help: "The base model folder: any LLaMA-architecture Hugging Face folder (config.json, model.safetensors or "
            + "shards, tokenizer.json).")
    var model: String
    @Option(help: "Training data: a .json/.jsonl Alpaca file, an embedded task name, or a pre-tokenised batch .json.")
    var data: String
    @Option(help: "Where to save the adapter.") var out: String
    @Option(help: "The method: \(MethodName.allCases.map(\.rawValue).joined(separator: ", ")).") var method = MethodName.lora
    @OptionGroup(title: "LoRA") var lora: LoraOptions
    @OptionGroup(title: "QLoRA") var qlora: QLoRAOptions
    @OptionGroup(title: "AdaLoRA") var adalora: AdaLoraOptions
    @OptionGroup(title: "Prompt methods") var prompt: PromptOptions
    @OptionGroup(title: "Prefix tuning") var prefix: PrefixOptions
    @OptionGroup(title: "P-tuning") var pTuning: PTuningOptions
    @Option(help: "Start from this adapter folder (any method; trained on): its config replaces --method and options.")
    var initAdapter: String?
    @Option(help: "The optimizer: adamw or sgd (plain, no momentum).") var optimizer = OptimizerName.adamw
    @Option(help: "Optimizer steps.") var steps = 300
    @Option(help: "Peak learning rate (text: warm-up over a tenth of the steps, then cosine decay; a batch: constant).")
    var lr: Float = 2e-3
    @Option(help: "Examples per batch.") var batchSize = 16
    @Option(help: "Seed of the initialisation and the data order.") var seed: UInt64 = 0

    func run() throws {
        let folder = URL(fileURLWithPath: model)
        let base = try loadModel(from: folder)
        let dataURL = URL(fileURLWithPath: data)
        let tokenizerURL = folder.appendingPathComponent("tokenizer.json")
        let batch = isTokenBatchFile(dataURL)
            ? try TokenBatch.load(contentsOf: dataURL, vocabSize: base.config.vocabSize) : nil
        let tokenizer = batch != nil && !FileManager.default.fileExists(atPath: tokenizerURL.path) ? nil
            : try Tokenizer.load(modelFolder: folder)
        if let tokenizer, batch == nil { try BaseModel.checkCompatible(tokenizer, base.config, folder: folder) }
        // Prompt tuning's TEXT init reads its text as PEFT does: tokenizer(text)["input_ids"], special tokens added.
        let tokenize = tokenizer.map { t in { (text: String) in t.encode(text, addingSpecialTokens: true) } }
        let tuner = try makeTuner(wrapping: base, tokenize: tokenize)
        print(tuner.trainableReport)
        (tuner as? AdaLoraModel)?.printAllocation(over: steps)
        let groups = (tuner as? LoraModel)?.parameterGroups(loraPlusRatio: lora.loraplusRatio) ?? tuner.parameterGroups(weightDecay: 0)
        let memory = ResidentMemoryTrace()
        let optimizer: any Optimizer = switch self.optimizer {
        case .adamw: memory.recording(try qlora.optimizer(groups, learningRate: lr))
        case .sgd: memory.recording(SGD(groups, learningRate: lr))
        }
        defer {
            if memory.peak > 0 {
                print("resident memory (VmRSS after each optimizer step): peak \(formatBytes(memory.peak)), last "
                      + formatBytes(memory.samples.last ?? 0))
            }
        }
        let label = initAdapter == nil ? method.rawValue
            : tuner.peftConfig.map { type(of: $0).peftType.rawValue.lowercased() } ?? "adapter"
        if let batch {
            let log = try train(tuner, on: batch, optimizer: optimizer, steps: steps, learningRate: lr, label: label)
            try tuner.save(to: URL(fileURLWithPath: out))
            print(String(format: "trained %d steps on %d rows in %@; loss %.4f → %.4f; adapter → %@",
                         steps, batch.batchSize, formatDuration(log.seconds), log.losses.first ?? 0, log.losses.last ?? 0, out))
            return
        }
        guard let tokenizer else { throw ValidationError("\(model) has no tokenizer.json; text data needs one") }
        let task: TaskData
        if data.hasSuffix(".json") || data.hasSuffix(".jsonl") {
            let examples = try loadAlpaca(contentsOf: dataURL)
            task = userTask(name: dataURL.lastPathComponent, examples: examples, seed: seed)
        } else {
            task = try World().task(data, seed: seed)
        }
        let encoded = task.train.map { tokenizer.encode($0) }
        let log = try fineTune(tuner, label: label, optimizer: optimizer, data: encoded, padId: tokenizer.padId,
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
    }

    /// The adapter of --init-adapter, loaded trainable (its config sets the method), or a fresh one
    /// of --method with its options.
    func makeTuner(wrapping base: LlamaModel, tokenize: ((String) -> [Int])?) throws -> any Tuner {
        if let initAdapter {
            let tuner = try AdapterFolder.load(from: URL(fileURLWithPath: initAdapter), onto: base)
            for t in tuner.trainableParameters { t.requiresGrad = true }
            let method = tuner.peftConfig.map { type(of: $0).peftType.rawValue } ?? "adapter"
            print("starting from the \(method) adapter in \(initAdapter); "
                + "its adapter_config.json sets the method and its settings")
            if let adalora = tuner as? AdaLoraModel, let total = adalora.config.totalStep, total != steps {
                printToStandardError("note: the adapter's total_step is \(total) and --steps is \(steps); "
                    + "the budget schedule follows total_step")
            }
            return tuner
        }
        var config: any PeftConfig
        switch method {
        case .lora: config = try lora.config()
        case .qlora:
            try qlora.prepare(base)
            config = try lora.config()
        case .adalora: config = try adalora.config(lora: lora, totalStep: steps)
        case .promptTuning: config = try prompt.promptTuningConfig()
        case .prefixTuning:
            config = prefix.config(numVirtualTokens: prompt.numVirtualTokens, encoderHiddenSize: prompt.encoderHiddenSize)
        case .pTuning:
            config = try pTuning.config(numVirtualTokens: prompt.numVirtualTokens, encoderHiddenSize: prompt.encoderHiddenSize)
        case .pTuningV2: config = try prefix.pTuningV2Config(numVirtualTokens: prompt.numVirtualTokens)
        }
        config.baseModelNameOrPath = model
        let context = TunerContext(generator: Generator(seed: seed), tokenize: tokenize)
        return try config.makeTuner(wrapping: base, context: context)
    }
}
