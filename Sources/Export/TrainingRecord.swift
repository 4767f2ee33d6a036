// TrainingRecord.swift — what `peft train` did besides the adapter's configuration: the training
// settings, written beside the adapter as training_args.json under transformers' TrainingArguments
// names, so that `peft export` (or a reader) can repeat the run in another framework.

import Foundation
import PEFT
import SafeTensors

/// The settings of one `peft train` run (training_args.json).
///
/// The schedule is `peft train`'s: the learning rate at optimizer step s (counted from 1) is
/// `learning_rate · m(s)` with m(s) = s / warmup for s < warmup, then ½(1 + cos(π (s − warmup) / (steps − warmup))),
/// or m = 1 for the constant schedule; gradients are clipped to a global norm of `max_grad_norm` (none when nil).
public struct TrainingRecord: Codable, Equatable, Sendable {
    /// The file beside adapter_config.json.
    public static let fileName = "training_args.json"

    /// What `--data` named.
    public enum DataFormat: String, Codable, Sendable {
        /// An Alpaca-style .json/.jsonl file: a tenth held out for validation, the rest trained on.
        case alpaca
        /// One of the embedded tasks (sentiment, topic, qa, data-to-text).
        case task
        /// A pre-tokenised batch, trained whole at every step.
        case tokenBatch = "token_batch"
    }

    /// 4-bit quantization of the base (QLoRA), bitsandbytes' settings.
    public struct Quantization: Codable, Equatable, Sendable {
        /// `bnb_4bit_quant_type`: "nf4" or "fp4".
        public var quantType: String
        /// `bnb_4bit_use_double_quant`.
        public var doubleQuant: Bool
        /// Weights per absmax block (bitsandbytes: 64).
        public var blockSize: Int

        public init(quantType: String, doubleQuant: Bool, blockSize: Int) {
            self.quantType = quantType; self.doubleQuant = doubleQuant; self.blockSize = blockSize
        }

        enum CodingKeys: String, CodingKey {
            case quantType = "quant_type", doubleQuant = "double_quant", blockSize = "block_size"
        }
    }

    /// `peft train --method` (lora, qlora, adalora, prompt-tuning, prefix-tuning, p-tuning, p-tuning-v2, mpt).
    public var method: String
    /// `model_name_or_path`: the base model folder (--model).
    public var modelNameOrPath: String?
    /// The --data value: a file path or an embedded task's name.
    public var data: String?
    /// What kind of data `data` is.
    public var dataFormat: DataFormat?
    /// `max_steps`: optimizer steps.
    public var maxSteps: Int
    /// `per_device_train_batch_size`: examples per step (no gradient accumulation).
    public var perDeviceTrainBatchSize: Int
    /// `learning_rate`: the peak learning rate.
    public var learningRate: Double
    /// `lr_scheduler_type`: "cosine" (with linear warm-up) or "constant".
    public var lrSchedulerType: String
    /// `warmup_steps`: steps of linear warm-up (0 for the constant schedule).
    public var warmupSteps: Int
    /// `max_grad_norm`: the global gradient norm is clipped to this; nil: no clipping.
    public var maxGradNorm: Double?
    /// `optim`: transformers' optimizer name: "adamw_torch", "paged_adamw_32bit" or "sgd".
    public var optim: String
    /// `adam_beta1`, `adam_beta2`, `adam_epsilon`: AdamW's constants.
    public var adamBeta1 = 0.9, adamBeta2 = 0.999, adamEpsilon = 1e-8
    /// `weight_decay`: 0, as `peft train` trains.
    public var weightDecay = 0.0
    /// LoRA+: the learning rate of B is this many times A's (nil: plain LoRA).
    public var loraplusLrRatio: Double?
    /// `seed`: of the initialisation, the validation split and the data order.
    public var seed: UInt64
    /// The longest sequence the base takes: max_position_embeddings minus the virtual tokens.
    public var cutoffLen: Int?
    /// The base's 4-bit quantization (QLoRA), nil for a float base.
    public var quantization: Quantization?

    public init(method: String, modelNameOrPath: String? = nil, data: String? = nil, dataFormat: DataFormat? = nil,
                maxSteps: Int, perDeviceTrainBatchSize: Int, learningRate: Double, lrSchedulerType: String = "cosine",
                warmupSteps: Int, maxGradNorm: Double? = 1, optim: String = "adamw_torch",
                loraplusLrRatio: Double? = nil, seed: UInt64 = 0, cutoffLen: Int? = nil,
                quantization: Quantization? = nil) {
        self.method = method; self.modelNameOrPath = modelNameOrPath; self.data = data; self.dataFormat = dataFormat
        self.maxSteps = maxSteps; self.perDeviceTrainBatchSize = perDeviceTrainBatchSize
        self.learningRate = learningRate; self.lrSchedulerType = lrSchedulerType; self.warmupSteps = warmupSteps
        self.maxGradNorm = maxGradNorm; self.optim = optim; self.loraplusLrRatio = loraplusLrRatio; self.seed = seed
        self.cutoffLen = cutoffLen; self.quantization = quantization
    }

    // MARK: peft train's defaults

    /// `peft train`'s default optimizer steps, learning rate, batch size and seed.
    public static let defaultSteps = 300
    public static let defaultLearningRate: Float = 2e-3
    public static let defaultBatchSize = 16
    public static let defaultSeed: UInt64 = 0

    /// `peft train`'s warm-up on text data: a tenth of the steps, at least one.
    public static func warmupSteps(forSteps steps: Int) -> Int { max(1, steps / 10) }

    /// The run `peft train` makes with its defaults on text data, `steps` long.
    public static func peftTrainDefaults(method: String, steps: Int = defaultSteps) -> TrainingRecord {
        TrainingRecord(method: method, maxSteps: steps, perDeviceTrainBatchSize: defaultBatchSize,
                       learningRate: Double(defaultLearningRate.description) ?? 2e-3,
                       warmupSteps: warmupSteps(forSteps: steps), seed: defaultSeed)
    }

    /// The defaults in words, for the note an export prints when training_args.json is missing.
    public var describedDefaults: String {
        "\(maxSteps) steps, learning rate \(learningRate), batch \(perDeviceTrainBatchSize), seed \(seed), "
            + "warm-up over \(warmupSteps) steps then cosine decay, clipping at \(maxGradNorm ?? 0), AdamW without "
            + "weight decay, Alpaca data"
    }

    // MARK: training_args.json

    enum CodingKeys: String, CodingKey, CaseIterable {
        case method, modelNameOrPath = "model_name_or_path", data, dataFormat = "data_format"
        case maxSteps = "max_steps", perDeviceTrainBatchSize = "per_device_train_batch_size"
        case learningRate = "learning_rate", lrSchedulerType = "lr_scheduler_type", warmupSteps = "warmup_steps"
        case maxGradNorm = "max_grad_norm", optim, adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2"
        case adamEpsilon = "adam_epsilon", weightDecay = "weight_decay", loraplusLrRatio = "loraplus_lr_ratio"
        case seed, cutoffLen = "cutoff_len", quantization
    }

    /// The JSON text: keys sorted, indent 2, nulls written (so every setting is visible).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(method, forKey: .method)
        try c.encode(modelNameOrPath, forKey: .modelNameOrPath)
        try c.encode(data, forKey: .data)
        try c.encode(dataFormat, forKey: .dataFormat)
        try c.encode(maxSteps, forKey: .maxSteps)
        try c.encode(perDeviceTrainBatchSize, forKey: .perDeviceTrainBatchSize)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(lrSchedulerType, forKey: .lrSchedulerType)
        try c.encode(warmupSteps, forKey: .warmupSteps)
        try c.encode(maxGradNorm, forKey: .maxGradNorm)
        try c.encode(optim, forKey: .optim)
        try c.encode(adamBeta1, forKey: .adamBeta1)
        try c.encode(adamBeta2, forKey: .adamBeta2)
        try c.encode(adamEpsilon, forKey: .adamEpsilon)
        try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(loraplusLrRatio, forKey: .loraplusLrRatio)
        try c.encode(seed, forKey: .seed)
        try c.encode(cutoffLen, forKey: .cutoffLen)
        try c.encode(quantization, forKey: .quantization)
    }

    /// `method`, `max_steps`, `per_device_train_batch_size`, `learning_rate` and `warmup_steps` are required; the
    /// others take `peft train`'s values when absent.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        method = try c.decode(String.self, forKey: .method)
        maxSteps = try c.decode(Int.self, forKey: .maxSteps)
        perDeviceTrainBatchSize = try c.decode(Int.self, forKey: .perDeviceTrainBatchSize)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        warmupSteps = try c.decode(Int.self, forKey: .warmupSteps)
        modelNameOrPath = try c.decodeIfPresent(String.self, forKey: .modelNameOrPath)
        data = try c.decodeIfPresent(String.self, forKey: .data)
        dataFormat = try c.decodeIfPresent(DataFormat.self, forKey: .dataFormat)
        lrSchedulerType = try c.decodeIfPresent(String.self, forKey: .lrSchedulerType) ?? "cosine"
        maxGradNorm = c.contains(.maxGradNorm) ? try c.decodeIfPresent(Double.self, forKey: .maxGradNorm) : 1
        optim = try c.decodeIfPresent(String.self, forKey: .optim) ?? "adamw_torch"
        adamBeta1 = try c.decodeIfPresent(Double.self, forKey: .adamBeta1) ?? 0.9
        adamBeta2 = try c.decodeIfPresent(Double.self, forKey: .adamBeta2) ?? 0.999
        adamEpsilon = try c.decodeIfPresent(Double.self, forKey: .adamEpsilon) ?? 1e-8
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? 0
        loraplusLrRatio = try c.decodeIfPresent(Double.self, forKey: .loraplusLrRatio)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 0
        cutoffLen = try c.decodeIfPresent(Int.self, forKey: .cutoffLen)
        quantization = try c.decodeIfPresent(Quantization.self, forKey: .quantization)
    }

    /// Throws for values no framework can run, naming the key.
    public func validate() throws {
        if maxSteps <= 0 { throw PEFTError("max_steps must be a positive number of steps, got \(maxSteps)") }
        if perDeviceTrainBatchSize <= 0 {
            throw PEFTError("per_device_train_batch_size must be positive, got \(perDeviceTrainBatchSize)")
        }
        if !(learningRate > 0) { throw PEFTError("learning_rate must be positive, got \(learningRate)") }
        if !["cosine", "constant"].contains(lrSchedulerType) {
            throw PEFTError("lr_scheduler_type must be \"cosine\" or \"constant\" (peft train's two schedules), "
                + "got \"\(lrSchedulerType)\"")
        }
        if warmupSteps < 0 || warmupSteps > maxSteps {
            throw PEFTError("warmup_steps must be between 0 and max_steps (\(maxSteps)), got \(warmupSteps)")
        }
        if !["adamw_torch", "paged_adamw_32bit", "sgd"].contains(optim) {
            throw PEFTError("optim must be adamw_torch, paged_adamw_32bit or sgd (what peft train uses), "
                + "got \"\(optim)\"")
        }
    }

    /// Reads training_args.json.
    public static func read(contentsOf url: URL) throws -> TrainingRecord {
        func fail(_ problem: String) -> FileFormatError { FileFormatError(file: url.path, problem: problem) }
        guard let data = try? Data(contentsOf: url) else { throw fail("cannot be read") }
        let record: TrainingRecord
        do { record = try JSONDecoder().decode(TrainingRecord.self, from: data) } catch let error as DecodingError {
            throw FileFormatError(file: url.path, decoding: error)
        } catch {
            throw fail("not valid JSON (\(jsonSyntaxProblem(error))); `peft train` writes it beside the adapter")
        }
        do { try record.validate() } catch let error as PEFTError { throw fail(error.description) }
        return record
    }

    /// Writes training_args.json into `folder`, atomically.
    public func write(to folder: URL) throws {
        try writeAtomically(try json(), to: folder.appendingPathComponent(TrainingRecord.fileName))
    }
}
