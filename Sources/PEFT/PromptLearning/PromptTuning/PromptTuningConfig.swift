// PromptTuningConfig.swift — prompt tuning's settings with PEFT's names and defaults
// (`peft.PromptTuningConfig`), Lester et al. 2021.

import Foundation
import Llama
import SafeTensors

/// How the prompt starts: PEFT's `prompt_tuning_init`.
public enum PromptTuningInit: String, Codable, Sendable, CaseIterable {
    /// Each entry N(0, 1), as `torch.nn.Embedding` starts.
    case random = "RANDOM"
    /// Rows of the model's own embedding matrix for random vocabulary ids.
    case sampleVocab = "SAMPLE_VOCAB"
    /// The embeddings of `prompt_tuning_init_text`'s tokens, repeated or cut to n.
    case text = "TEXT"

    /// From a command-line word: random, sample-vocab or text.
    public init?(name: String) {
        self.init(rawValue: name.uppercased().replacingOccurrences(of: "-", with: "_"))
    }
}

/// PEFT's `PromptTuningConfig`: n trainable embeddings put in front of the input.
public struct PromptTuningConfig: PeftConfig, Equatable {
    public static let peftType = PeftType.promptTuning

    /// The virtual-token fields every prompt method shares (`num_virtual_tokens`, …).
    public var virtualTokens: PromptLearningSettings
    /// `prompt_tuning_init`: how the prompt starts. Default RANDOM.
    public var promptTuningInit = PromptTuningInit.random
    /// `prompt_tuning_init_text`: the text whose embeddings start the prompt (with TEXT).
    public var promptTuningInitText: String? = nil
    /// `tokenizer_name_or_path`: which tokenizer encodes the init text (here always the base model's;
    /// PEFT requires the field with TEXT, so it defaults to `base_model_name_or_path`).
    public var tokenizerNameOrPath: String? = nil
    /// `base_model_name_or_path`, written to the adapter file for the reader's information.
    public var baseModelNameOrPath: String? = nil

    public init(numVirtualTokens: Int, promptTuningInit: PromptTuningInit = .random,
                promptTuningInitText: String? = nil) {
        virtualTokens = PromptLearningSettings(numVirtualTokens: numVirtualTokens)
        self.promptTuningInit = promptTuningInit
        self.promptTuningInitText = promptTuningInitText
    }

    /// n, the number of virtual tokens.
    public var numVirtualTokens: Int { virtualTokens.numVirtualTokens }

    public func validate() throws {
        try virtualTokens.validate()
        if promptTuningInit == .text && (promptTuningInitText ?? "").isEmpty {
            throw PEFTError("prompt_tuning_init TEXT needs prompt_tuning_init_text (for example the task's instruction "
                + "or its class labels); or choose RANDOM or SAMPLE_VOCAB")
        }
    }

    public func makeTuner(wrapping model: LlamaModel, context: TunerContext) throws -> any Tuner {
        try validate()
        var config = self
        config.virtualTokens = try virtualTokens.completed(for: model, tokenDim: model.config.hiddenSize,
                                                           heads: model.config.numAttentionHeads)
        if promptTuningInit == .text && tokenizerNameOrPath == nil {
            config.tokenizerNameOrPath = baseModelNameOrPath  // PEFT requires one with TEXT: the base's own tokenizer
        }
        let encoder = try PromptEmbedding(config: config, model: model, context: context)
        return PromptLearningModel(model: model, config: config, encoder: encoder)
    }

    public func loadTuner(onto model: LlamaModel, weights: SafeTensorsFile, folder: URL) throws -> any Tuner {
        var config = self
        config.virtualTokens = try virtualTokens.completed(for: model, tokenDim: model.config.hiddenSize,
                                                           heads: model.config.numAttentionHeads)
        let file = folder.appendingPathComponent(AdapterFolder.weightsName)
        try AdapterFolder.checkShape(weights[PromptEmbedding.savedKey], [numVirtualTokens, model.config.hiddenSize],
                                     key: PromptEmbedding.savedKey, file: file)
        let encoder = PromptEmbedding(numVirtualTokens: numVirtualTokens, width: model.config.hiddenSize)
        try AdapterFolder.copy(weights[PromptEmbedding.savedKey], into: encoder.embedding,
                               key: PromptEmbedding.savedKey, file: file)
        AdapterFolder.warnUnused(Set(weights.tensors.keys).subtracting([PromptEmbedding.savedKey]), file: file)
        return PromptLearningModel(model: model, config: config, encoder: encoder)
    }

    // MARK: adapter_config.json

    enum CodingKeys: String, CodingKey, CaseIterable {
        case promptTuningInit = "prompt_tuning_init", promptTuningInitText = "prompt_tuning_init_text"
        case tokenizerNameOrPath = "tokenizer_name_or_path", tokenizerKwargs = "tokenizer_kwargs"
    }

    public static let fileKeys = Set(CodingKeys.allCases.map(\.rawValue)).union(PromptLearningSettings.fileKeys)

    public init(from decoder: Decoder) throws {
        virtualTokens = try PromptLearningSettings(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.update(&promptTuningInit, .promptTuningInit)
        try c.update(&promptTuningInitText, .promptTuningInitText)
        try c.update(&tokenizerNameOrPath, .tokenizerNameOrPath)
    }

    public func encode(to encoder: Encoder) throws {
        try virtualTokens.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTuningInit, forKey: .promptTuningInit)
        try c.encode(promptTuningInitText, forKey: .promptTuningInitText)
        try c.encode(tokenizerNameOrPath, forKey: .tokenizerNameOrPath)
        try c.encodeNil(forKey: .tokenizerKwargs)
    }
}
