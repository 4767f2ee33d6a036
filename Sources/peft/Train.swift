// Train.swift — `peft train`: any method's adapter trained on Alpaca data or an embedded task,
// saved in PEFT's format. Each method's options carry PEFT's field names as flags.

import ArgumentParser
import Corpus
import Export
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
    /// Multitask prompt tuning (MULTITASK_PROMPT_TUNING): a shared prompt, rescaled per task.
    case mpt
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
    @Option(help: "LoRA: a regular expression for the target modules (instead of --target-modules).")
    var targetRegex: String?
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
    @Option(help: ArgumentHelp("Prompt tuning and MPT: the initialisation, random, sample-vocab (prompt tuning) or "
        + "text; MPT also average-source-tasks, exact-source-task or only-source-shared."))
    var promptTuningInit = "random"
    @Option(help: ArgumentHelp("Prompt tuning and MPT: the text whose token embeddings start the prompt (with "
        + "--prompt-tuning-init text)."))
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
        = prefix tuning without the projection, mpt = multitask prompt tuning); each method's options carry \
        PEFT's field \
        names (AdaLoRA takes total_step from --steps and shares the LoRA options; qlora is LoRA with its options on \
        the base quantized to 4 bits, NF4 + double quantization by default). --model may be a float or a 4-bit \
        folder (from `peft quantize`, or transformers + bitsandbytes). --init-adapter starts from a \
        saved adapter instead: its adapter_config.json sets the method and its settings. --data is an Alpaca-style \
        .json/.jsonl file (instruction, input, output, optional task_id), the name of an embedded task (sentiment, \
        topic, qa, data-to-text, qa-city, qa-job, qa-color, qa-pet), several of these separated by commas (the \
        i-th is task i, unless its records carry a task_id), or a pre-tokenised batch {"input_ids": [[…]], \
        "labels": [[…]], "task_ids": […]} trained whole at every step with a constant learning rate and no \
        clipping. For text data the model folder needs a tokenizer.json: the lessons' cached base models have one \
        (.cache/base-models/<preset>-corpus<N>/), and so does any Hugging Face LLaMA-architecture folder with a \
        byte-level BPE (GPT-2, LLaMA 3, SmolLM style) or a BPE with byte fallback (LLaMA 2, TinyLlama style); its \
        end and pad tokens come from config.json and generation_config.json. A tokenizer this project cannot \
        reproduce exactly is refused with an error naming the part.
        """)

    @Option(help: ArgumentHelp("The base model folder: any LLaMA-architecture Hugging Face folder (config.json, "
                               + "model.safetensors or shards, tokenizer.json)."))
    var model: String
    @Option(help: "Training data: a .json/.jsonl Alpaca file, an embedded task name, or a pre-tokenised batch .json.")
    var data: String
    @Option(help: "Where to save the adapter.") var out: String
    @Option(help: "The method: \(MethodName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var method = MethodName.lora
    @OptionGroup(title: "LoRA") var lora: LoraOptions
    @OptionGroup(title: "QLoRA") var qlora: QLoRAOptions
    @OptionGroup(title: "AdaLoRA") var adalora: AdaLoraOptions
    @OptionGroup(title: "Prompt methods") var prompt: PromptOptions
    @OptionGroup(title: "Prefix tuning") var prefix: PrefixOptions
    @OptionGroup(title: "P-tuning") var pTuning: PTuningOptions
    @OptionGroup(title: "Multitask prompt tuning") var mpt: MPTOptions
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
        let tasks = batch == nil ? try trainingTasks() : []
        let taskIds = batch?.taskIds ?? tasks.flatMap { $0.train.compactMap(\.taskId) }
        // Prompt tuning's TEXT init reads its text as PEFT does: tokenizer(text)["input_ids"], special tokens added.
        let tokenize = tokenizer.map { t in { (text: String) in t.encode(text, addingSpecialTokens: true) } }
        let tuner = try makeTuner(wrapping: base, tokenize: tokenize, tasksInData: (taskIds.max() ?? 0) + 1)
        print(tuner.trainableReport)
        (tuner as? AdaLoraModel)?.printAllocation(over: steps)
        let groups = (tuner as? LoraModel)?.parameterGroups(loraPlusRatio: lora.loraplusRatio)
            ?? tuner.parameterGroups(weightDecay: 0)
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
            try record(of: tuner, base: base, batch: batch).write(to: URL(fileURLWithPath: out))
            print(String(format: "trained %d steps on %d rows in %@; loss %.4f → %.4f; adapter → %@",
                         steps, batch.batchSize, formatDuration(log.seconds), log.losses.first ?? 0,
                         log.losses.last ?? 0, out))
            return
        }
        guard let tokenizer else { throw ValidationError("\(model) has no tokenizer.json; text data needs one") }
        let encoded = tasks.flatMap { $0.train.map { tokenizer.encode($0) } }
        let log = try fineTune(tuner, label: label, optimizer: optimizer, data: encoded, padId: tokenizer.padId,
                               settings: TrainingSettings(steps: steps, batchSize: batchSize, learningRate: lr,
                                                          seed: seed))
        let scores = tasks.map { evaluate($0, on: $0.validation, tokenizer: tokenizer, model: tuner) }
        try tuner.save(to: URL(fileURLWithPath: out))
        try record(of: tuner, base: base, batch: nil).write(to: URL(fileURLWithPath: out))
        for sample in scores[0].samples.prefix(3) {
            print("  \(sample.prompt.replacingOccurrences(of: "\n", with: " ⏎ "))\n"
                  + "    → \(sample.prediction.trimmingCharacters(in: .whitespaces))"
                  + "   (expected: \(sample.answer.trimmingCharacters(in: .whitespaces)))")
        }
        let validation = zip(tasks, scores).map { task, score in
            String(format: "%@%@ %.3f%@", tasks.count > 1 ? task.name + " " : "", task.metricName, score.value,
                   score.slotCoverage.map { String(format: ", slot coverage %.3f", $0) } ?? "")
        }.joined(separator: "; ")
        print(String(format: "trained %d steps in %@ (%@ tokens/s); validation %@; adapter → %@",
                     steps, formatDuration(log.seconds), formatCount(Int(log.tokensPerSecond)), validation, out))
    }

    /// What this run did besides the adapter's configuration, saved as training_args.json beside it for
    /// `peft export`: the schedule, optimizer, data and 4-bit base under transformers' names.
    func record(of tuner: any Tuner, base: LlamaModel, batch: TokenBatch?) -> TrainingRecord {
        let name = initAdapter == nil ? method.rawValue
            : tuner.peftConfig.map { ExportedRun.methodName(type(of: $0).peftType) } ?? method.rawValue
        let isFile = data.hasSuffix(".json") || data.hasSuffix(".jsonl")
        let optim = switch optimizer {
        case .sgd: "sgd"
        case .adamw: qlora.pagedOptimizer ? "paged_adamw_32bit" : "adamw_torch"
        }
        let ratio = tuner is LoraModel && lora.loraplusRatio != 1 ? Double(lora.loraplusRatio.description) : nil
        let quantization = base.quantizedLayers.first.map {
            let settings = $0.layer.weight.settings
            return TrainingRecord.Quantization(quantType: settings.type.rawValue,
                                               doubleQuant: settings.doubleQuantization, blockSize: settings.blockSize)
        }
        let prepended = (tuner as? PromptLearningModel)?.prependedPositions ?? 0
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        var record = TrainingRecord(
            method: name, modelNameOrPath: absolute(model), data: batch != nil || isFile ? absolute(data) : data,
            dataFormat: batch != nil ? .tokenBatch : isFile ? .alpaca : .task, maxSteps: steps,
            perDeviceTrainBatchSize: batch?.batchSize ?? batchSize, learningRate: Double(lr.description) ?? Double(lr),
            warmupSteps: batch != nil ? 0 : TrainingRecord.warmupSteps(forSteps: steps), optim: optim,
            loraplusLrRatio: ratio, seed: seed, cutoffLen: base.config.maxPositionEmbeddings - prepended,
            quantization: quantization)
        if batch != nil {  // the whole batch at every step, a constant learning rate, no clipping
            record.lrSchedulerType = "constant"
            record.maxGradNorm = nil
        }
        return record
    }

    /// The tasks of --data: one, or several separated by commas. Each example's task id is its
    /// record's `task_id`, else the position of its task in the list (0 for a single task).
    func trainingTasks() throws -> [TaskData] {
        let names = FileManager.default.fileExists(atPath: data) ? [data]
            : data.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return try names.enumerated().map { index, name in
            let task: TaskData
            if name.hasSuffix(".json") || name.hasSuffix(".jsonl") {
                let url = URL(fileURLWithPath: name)
                task = userTask(name: url.lastPathComponent, examples: try loadAlpaca(contentsOf: url), seed: seed)
            } else {
                task = try World().task(name, seed: seed)
            }
            func tagged(_ examples: [Example]) -> [Example] {
                examples.map { var e = $0; e.taskId = e.taskId ?? index; return e }
            }
            return TaskData(name: task.name, summary: task.summary, metric: task.metric, train: tagged(task.train),
                            validation: tagged(task.validation), test: tagged(task.test))
        }
    }

    /// The adapter of --init-adapter, loaded trainable (its config sets the method), or a fresh one
    /// of --method with its options.
    func makeTuner(wrapping base: LlamaModel, tokenize: ((String) -> [Int])?, tasksInData: Int) throws -> any Tuner {
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
            config = prefix.config(numVirtualTokens: prompt.numVirtualTokens,
                                   encoderHiddenSize: prompt.encoderHiddenSize)
        case .pTuning:
            config = try pTuning.config(numVirtualTokens: prompt.numVirtualTokens,
                                        encoderHiddenSize: prompt.encoderHiddenSize)
        case .pTuningV2: config = try prefix.pTuningV2Config(numVirtualTokens: prompt.numVirtualTokens)
        case .mpt: config = try mpt.config(prompt: prompt, tasksInData: tasksInData)
        }
        config.baseModelNameOrPath = model
        let context = TunerContext(generator: Generator(seed: seed), tokenize: tokenize)
        return try config.makeTuner(wrapping: base, context: context)
    }
}
