// MultitaskPromptTuningConfig.swift — multitask prompt tuning's settings with PEFT's names and
// defaults (`peft.MultitaskPromptTuningConfig`, peft_type MULTITASK_PROMPT_TUNING), Wang et al.,
// "Multitask Prompt Tuning Enables Parameter-Efficient Transfer Learning", ICLR 2023.

import Foundation
import Llama
import SafeTensors

/// How the shared prompt and the task factors start: PEFT's `MultitaskPromptTuningInit`.
public enum MultitaskPromptTuningInit: String, Codable, Sendable, CaseIterable {
    /// E from the embeddings of `prompt_tuning_init_text`'s tokens; the factors N(0, 0.02).
    case text = "TEXT"
    /// E ~ N(0, 1), the factors ~ N(0, 0.02) (PEFT's default): the prompt starts near zero.
    case random = "RANDOM"
    /// Target stage: E and the mean of the source tasks' factors, from the source checkpoint.
    case averageSourceTasks = "AVERAGE_SOURCE_TASKS"
    /// Target stage: E and the factors of source task `prompt_tuning_init_task`.
    case exactSourceTask = "EXACT_SOURCE_TASK"
    /// Target stage: E only; the factors start fresh, N(0, 0.02).
    case onlySourceShared = "ONLY_SOURCE_SHARED"

    /// From a command-line word: random, text, average-source-tasks, exact-source-task or
    /// only-source-shared (any case).
    public init?(name: String) {
        self.init(rawValue: name.uppercased().replacingOccurrences(of: "-", with: "_"))
    }

    /// Whether the option reads `prompt_tuning_init_state_dict_path`.
    public var readsSourceCheckpoint: Bool { ![.text, .random].contains(self) }
}

/// PEFT's `MultitaskPromptTuningConfig`: n virtual tokens put in front of the input, one shared
/// prompt rescaled per task by a rank-r matrix (`num_tasks` tasks, `num_ranks` = r).
public struct MultitaskPromptTuningConfig: PeftConfig, Equatable {
    public static let peftType = PeftType.multitaskPromptTuning

    /// The virtual-token fields every prompt method shares (`num_virtual_tokens`, …).
    public var virtualTokens: PromptLearningSettings
    /// `prompt_tuning_init`: how the prompt starts. Default RANDOM.
    public var promptTuningInit = MultitaskPromptTuningInit.random
    /// `prompt_tuning_init_text`: the text whose embeddings start E (with TEXT).
    public var promptTuningInitText: String? = nil
    /// `tokenizer_name_or_path`: which tokenizer encodes the init text (here always the base's).
    public var tokenizerNameOrPath: String? = nil
    /// `prompt_tuning_init_state_dict_path`: the source stage's adapter_model.safetensors (with the
    /// three source options).
    public var promptTuningInitStateDictPath: String? = nil
    /// `prompt_tuning_init_task`: the source task EXACT_SOURCE_TASK copies. Default 0.
    public var promptTuningInitTask = 0
    /// `num_ranks`: r, the rank of each task's matrix. Default 1.
    public var numRanks = 1
    /// `num_tasks`: K, how many tasks have factors (task ids 0..<K). Default 1.
    public var numTasks = 1
    /// `base_model_name_or_path`, written to the adapter file for the reader's information.
    public var baseModelNameOrPath: String? = nil

    public init(numVirtualTokens: Int, numTasks: Int = 1, numRanks: Int = 1,
                promptTuningInit: MultitaskPromptTuningInit = .random, promptTuningInitText: String? = nil,
                promptTuningInitStateDictPath: String? = nil, promptTuningInitTask: Int = 0) {
        virtualTokens = PromptLearningSettings(numVirtualTokens: numVirtualTokens)
        self.numTasks = numTasks
        self.numRanks = numRanks
        self.promptTuningInit = promptTuningInit
        self.promptTuningInitText = promptTuningInitText
        self.promptTuningInitStateDictPath = promptTuningInitStateDictPath
        self.promptTuningInitTask = promptTuningInitTask
    }

    /// n, the number of virtual tokens.
    public var numVirtualTokens: Int { virtualTokens.numVirtualTokens }

    public func validate() throws {
        try virtualTokens.validate()
        if numTasks < 1 {
            throw PEFTError("num_tasks must be at least 1 (task ids run over 0..<num_tasks), got \(numTasks)")
        }
        if numRanks < 1 { throw PEFTError("num_ranks must be at least 1, got \(numRanks); the paper uses 1") }
        if promptTuningInitTask < 0 {
            throw PEFTError("prompt_tuning_init_task must be a source task id ≥ 0, got \(promptTuningInitTask)")
        }
        if promptTuningInit == .text && (promptTuningInitText ?? "").isEmpty {
            throw PEFTError("prompt_tuning_init TEXT needs prompt_tuning_init_text; or choose RANDOM")
        }
        if promptTuningInit.readsSourceCheckpoint && (promptTuningInitStateDictPath ?? "").isEmpty {
            throw PEFTError("prompt_tuning_init_state_dict_path needs to be specified with "
                + "\(promptTuningInit.rawValue): the source stage's adapter_model.safetensors")
        }
    }

    /// The settings with the model's sizes filled in, as `get_peft_model` does.
    func completed(for model: LlamaModel) throws -> MultitaskPromptTuningConfig {
        var config = self
        config.virtualTokens = try virtualTokens.completed(for: model, tokenDim: model.config.hiddenSize,
                                                           heads: model.config.numAttentionHeads)
        return config
    }

    public func makeTuner(wrapping model: LlamaModel, context: TunerContext) throws -> any Tuner {
        try validate()
        var config = try completed(for: model)
        if promptTuningInit == .text && tokenizerNameOrPath == nil {
            config.tokenizerNameOrPath = baseModelNameOrPath  // PEFT requires one with TEXT: the base's own tokenizer
        }
        if let path = promptTuningInitStateDictPath, promptTuningInit.readsSourceCheckpoint {
            // The file itself (a folder names its adapter_model.safetensors), as PEFT needs it.
            config.promptTuningInitStateDictPath = MultitaskSourceCheckpoint.file(path).standardizedFileURL.path
        }
        let encoder = try MultitaskPromptEmbedding(config: config, model: model, context: context)
        return PromptLearningModel(model: model, config: config, encoder: encoder)
    }

    /// The saved E and factors, their shapes checked before anything is allocated. The source
    /// checkpoint is not read again: the saved tensors already hold where training ended.
    public func loadTuner(onto model: LlamaModel, weights: SafeTensorsFile, folder: URL) throws -> any Tuner {
        try validate()
        let config = try completed(for: model)
        let file = folder.appendingPathComponent(AdapterFolder.weightsName)
        let (n, width) = (numVirtualTokens, model.config.hiddenSize)
        let shapes = [(PromptEmbedding.savedKey, [n, width]),
                      (MultitaskPromptEmbedding.colsKey, [numTasks, n, numRanks]),
                      (MultitaskPromptEmbedding.rowsKey, [numTasks, numRanks, width])]
        for (key, shape) in shapes { try AdapterFolder.checkShape(weights[key], shape, key: key, file: file) }
        let encoder = MultitaskPromptEmbedding(numVirtualTokens: n, width: width, tasks: numTasks, ranks: numRanks)
        for (key, tensor) in zip(shapes.map(\.0), [encoder.embedding, encoder.taskCols, encoder.taskRows]) {
            try AdapterFolder.copy(weights[key], into: tensor, key: key, file: file)
        }
        AdapterFolder.warnUnused(Set(weights.tensors.keys).subtracting(shapes.map(\.0)), file: file)
        return PromptLearningModel(model: model, config: config, encoder: encoder)
    }

    // MARK: adapter_config.json

    enum CodingKeys: String, CodingKey, CaseIterable {
        case promptTuningInit = "prompt_tuning_init", promptTuningInitText = "prompt_tuning_init_text"
        case tokenizerNameOrPath = "tokenizer_name_or_path", tokenizerKwargs = "tokenizer_kwargs"
        case promptTuningInitStateDictPath = "prompt_tuning_init_state_dict_path"
        case promptTuningInitTask = "prompt_tuning_init_task", numRanks = "num_ranks", numTasks = "num_tasks"
    }

    public static let fileKeys = Set(CodingKeys.allCases.map(\.rawValue)).union(PromptLearningSettings.fileKeys)

    public init(from decoder: Decoder) throws {
        virtualTokens = try PromptLearningSettings(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.update(&promptTuningInit, .promptTuningInit)
        try c.update(&promptTuningInitText, .promptTuningInitText)
        try c.update(&tokenizerNameOrPath, .tokenizerNameOrPath)
        try c.update(&promptTuningInitStateDictPath, .promptTuningInitStateDictPath)
        try c.update(&promptTuningInitTask, .promptTuningInitTask)
        try c.update(&numRanks, .numRanks)
        try c.update(&numTasks, .numTasks)
    }

    public func encode(to encoder: Encoder) throws {
        try virtualTokens.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTuningInit, forKey: .promptTuningInit)
        try c.encode(promptTuningInitText, forKey: .promptTuningInitText)
        try c.encode(tokenizerNameOrPath, forKey: .tokenizerNameOrPath)
        try c.encodeNil(forKey: .tokenizerKwargs)
        try c.encode(promptTuningInitStateDictPath, forKey: .promptTuningInitStateDictPath)
        try c.encode(promptTuningInitTask, forKey: .promptTuningInitTask)
        try c.encode(numRanks, forKey: .numRanks)
        try c.encode(numTasks, forKey: .numTasks)
    }
}
