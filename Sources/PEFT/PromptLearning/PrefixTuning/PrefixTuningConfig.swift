// PrefixTuningConfig.swift — prefix tuning's settings with PEFT's names and defaults
// (`peft.PrefixTuningConfig`), Li & Liang 2021. P-tuning v2 (Liu et al. 2022, "deep prompt
// tuning") is, in PEFT, this method without the projection: `PrefixTuningConfig.pTuningV2`.

import Foundation
import Llama
import SafeTensors
import TensorKit

/// PEFT's `init_weights` of prefix tuning: absent (random) or "zero".
public enum PrefixInitWeights: String, Codable, Sendable, CaseIterable {
    /// The prefix starts as zeros: E = 0, or, with the projection, its last linear layer is 0.
    case zero
}

/// PEFT's `PrefixTuningConfig`: n trainable keys and values in front of every layer's attention.
///
/// The prefix P [n, layers·2·kvWidth] is E itself, or, with `prefixProjection`,
/// `Linear(h → layers·2·kvWidth)(tanh(Linear(kvWidth → h)(E)))` with E [n, kvWidth]. kvWidth is
/// `num_key_value_heads · head_dim`: with grouped-query attention PEFT writes `token_dim` =
/// kvWidth and `num_attention_heads` = num_key_value_heads to adapter_config.json, as here.
public struct PrefixTuningConfig: PeftConfig, Equatable {
    public static let peftType = PeftType.prefixTuning

    /// The virtual-token fields every prompt method shares (`num_virtual_tokens`, …).
    public var virtualTokens: PromptLearningSettings
    /// `encoder_hidden_size`: h, the projection's hidden width. Default: `token_dim`.
    public var encoderHiddenSize: Int? = nil
    /// `prefix_projection`: whether a two-layer MLP produces the prefix. Default false.
    public var prefixProjection = false
    /// `init_weights`: nil (random, PEFT's default) or "zero".
    public var initWeights: PrefixInitWeights? = nil
    /// `base_model_name_or_path`, written to the adapter file for the reader's information.
    public var baseModelNameOrPath: String? = nil

    public init(numVirtualTokens: Int, prefixProjection: Bool = false, encoderHiddenSize: Int? = nil,
                initWeights: PrefixInitWeights? = nil) {
        virtualTokens = PromptLearningSettings(numVirtualTokens: numVirtualTokens)
        self.prefixProjection = prefixProjection
        self.encoderHiddenSize = encoderHiddenSize
        self.initWeights = initWeights
    }

    /// P-tuning v2 (deep prompts, Liu et al. 2022): trainable keys and values in every layer,
    /// no reparameterisation. In PEFT this is exactly prefix tuning with `prefix_projection`
    /// false, saved as PREFIX_TUNING.
    public static func pTuningV2(numVirtualTokens: Int) -> PrefixTuningConfig {
        PrefixTuningConfig(numVirtualTokens: numVirtualTokens, prefixProjection: false)
    }

    /// n, the number of virtual tokens.
    public var numVirtualTokens: Int { virtualTokens.numVirtualTokens }

    /// The prefix width, layers·2·`token_dim` (set once the config is completed for a model).
    var prefixWidth: Int { 2 * (virtualTokens.numLayers ?? 0) * (virtualTokens.tokenDim ?? 0) }

    public func validate() throws {
        try virtualTokens.validate()
        if let h = encoderHiddenSize, h <= 0 {
            throw PEFTError("encoder_hidden_size must be a positive width, got \(h); leave it out to use token_dim "
                + "(the model's key/value width)")
        }
    }

    /// The config with the model's sizes: `token_dim` = kvWidth, `num_attention_heads` =
    /// num_key_value_heads (PEFT's rule for grouped-query attention), `encoder_hidden_size` =
    /// `token_dim` when not given.
    func completed(for model: LlamaModel) throws -> PrefixTuningConfig {
        var config = self
        let c = model.config
        config.virtualTokens = try virtualTokens.completed(for: model, tokenDim: c.numKeyValueHeads * c.headDim,
                                                           heads: c.numKeyValueHeads)
        config.encoderHiddenSize = encoderHiddenSize ?? config.virtualTokens.tokenDim
        return config
    }

    public func makeTuner(wrapping model: LlamaModel, context: TunerContext) throws -> any Tuner {
        try validate()
        let config = try completed(for: model)
        return PromptLearningModel(model: model, config: config,
                                   encoder: PrefixEncoder(config: config, generator: context.generator))
    }

    /// With prompt_encoder.safetensors (written here) the encoder comes back trainable, projection
    /// included; without it, `prompt_embeddings` is the prefix, as PEFT reloads it.
    public func loadTuner(onto model: LlamaModel, weights: SafeTensorsFile, folder: URL) throws -> any Tuner {
        try validate()
        let config = try completed(for: model)
        let c = model.config
        let implied = "num_virtual_tokens \(numVirtualTokens) and the model's \(c.numHiddenLayers) layers × 2 × "
            + "key/value width \(c.numKeyValueHeads * c.headDim)"
        let encoder = try PromptEncoderFile.encoder(
            in: folder, weights: weights, shape: [numVirtualTokens, config.prefixWidth], implied: implied,
            placement: .keyValuePrefix) { PrefixEncoder(config: config, generator: Generator(seed: 0)) }
        return PromptLearningModel(model: model, config: config, encoder: encoder)
    }

    // MARK: adapter_config.json

    enum CodingKeys: String, CodingKey, CaseIterable {
        case encoderHiddenSize = "encoder_hidden_size", prefixProjection = "prefix_projection"
        case initWeights = "init_weights"
    }

    public static let fileKeys = Set(CodingKeys.allCases.map(\.rawValue)).union(PromptLearningSettings.fileKeys)

    public init(from decoder: Decoder) throws {
        virtualTokens = try PromptLearningSettings(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.update(&encoderHiddenSize, .encoderHiddenSize)
        try c.update(&prefixProjection, .prefixProjection)
        try c.update(&initWeights, .initWeights)
    }

    public func encode(to encoder: Encoder) throws {
        try virtualTokens.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(encoderHiddenSize, forKey: .encoderHiddenSize)
        try c.encode(prefixProjection, forKey: .prefixProjection)
        try c.encode(initWeights, forKey: .initWeights)
    }
}
