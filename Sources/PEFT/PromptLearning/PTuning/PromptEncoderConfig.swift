// PromptEncoderConfig.swift — P-tuning's settings with PEFT's names and defaults
// (`peft.PromptEncoderConfig`, peft_type P_TUNING), Liu et al. 2021.

import Foundation
import Llama
import SafeTensors
import TensorKit

/// PEFT's `encoder_reparameterization_type`: the network between the virtual-token embeddings
/// and the prompt.
public enum PromptEncoderReparameterizationType: String, Codable, Sendable, CaseIterable {
    /// Linear(d, h) ReLU Linear(h, h) ReLU Linear(h, d). PEFT's default.
    case mlp = "MLP"
    /// A bidirectional LSTM of width h, then Linear(2h, 2h) ReLU Linear(2h, d).
    case lstm = "LSTM"

    /// From a command-line word: mlp or lstm (any case).
    public init?(name: String) { self.init(rawValue: name.uppercased()) }
}

/// PEFT's `PromptEncoderConfig`: P-tuning, n virtual tokens produced by an MLP or LSTM encoder
/// and put in front of the input.
public struct PromptEncoderConfig: PeftConfig, Equatable {
    public static let peftType = PeftType.pTuning

    /// The virtual-token fields every prompt method shares (`num_virtual_tokens`, …).
    public var virtualTokens: PromptLearningSettings
    /// `encoder_reparameterization_type`: MLP (default) or LSTM.
    public var encoderReparameterizationType = PromptEncoderReparameterizationType.mlp
    /// `encoder_hidden_size`: h. Default: `token_dim` (the model's hidden size).
    public var encoderHiddenSize: Int? = nil
    /// `encoder_num_layers`: the LSTM's layers. Default 2; the MLP ignores it (PEFT warns).
    public var encoderNumLayers = 2
    /// `encoder_dropout`: dropout between the LSTM's layers while training. Default 0.0.
    public var encoderDropout = 0.0
    /// `base_model_name_or_path`, written to the adapter file for the reader's information.
    public var baseModelNameOrPath: String? = nil

    public init(numVirtualTokens: Int, encoderReparameterizationType: PromptEncoderReparameterizationType = .mlp,
                encoderHiddenSize: Int? = nil, encoderNumLayers: Int = 2, encoderDropout: Double = 0) {
        virtualTokens = PromptLearningSettings(numVirtualTokens: numVirtualTokens)
        self.encoderReparameterizationType = encoderReparameterizationType
        self.encoderHiddenSize = encoderHiddenSize
        self.encoderNumLayers = encoderNumLayers
        self.encoderDropout = encoderDropout
    }

    /// n, the number of virtual tokens.
    public var numVirtualTokens: Int { virtualTokens.numVirtualTokens }

    public func validate() throws {
        try virtualTokens.validate()
        if let h = encoderHiddenSize, h <= 0 {
            throw PEFTError("encoder_hidden_size must be a positive width, got \(h); leave it out to use token_dim "
                + "(the model's hidden size)")
        }
        if encoderReparameterizationType == .lstm && encoderNumLayers <= 0 {
            throw PEFTError("encoder_num_layers must be at least 1 for the LSTM encoder, got \(encoderNumLayers); "
                + "try 2 (PEFT's default)")
        }
        if !(0..<1).contains(encoderDropout) {
            throw PEFTError("encoder_dropout must be a probability in [0, 1), got \(encoderDropout); "
                + "try 0.0 (PEFT's default)")
        }
    }

    /// The config with the model's sizes filled in (`token_dim` = hidden size) and
    /// `encoder_hidden_size` = `token_dim` when not given, as `get_peft_model` does.
    func completed(for model: LlamaModel) throws -> PromptEncoderConfig {
        var config = self
        config.virtualTokens = try virtualTokens.completed(for: model, tokenDim: model.config.hiddenSize,
                                                           heads: model.config.numAttentionHeads)
        config.encoderHiddenSize = encoderHiddenSize ?? config.virtualTokens.tokenDim
        return config
    }

    public func makeTuner(wrapping model: LlamaModel, context: TunerContext) throws -> any Tuner {
        try validate()
        if encoderReparameterizationType == .mlp && encoderNumLayers != 2 {
            printToStandardError("warning: for MLP, encoder_num_layers (\(encoderNumLayers)) is ignored: "
                + "exactly 2 MLP layers are used (as in PEFT)")
        }
        let config = try completed(for: model)
        return PromptLearningModel(model: model, config: config,
                                   encoder: PTuningEncoder(config: config, generator: context.generator))
    }

    /// With prompt_encoder.safetensors (written here) the MLP or LSTM encoder comes back trainable;
    /// without it, `prompt_embeddings` is the prompt, as PEFT reloads it.
    public func loadTuner(onto model: LlamaModel, weights: SafeTensorsFile, folder: URL) throws -> any Tuner {
        try validate()
        let config = try completed(for: model)
        let implied = "num_virtual_tokens \(numVirtualTokens) and the model's hidden size \(model.config.hiddenSize)"
        let encoder = try PromptEncoderFile.encoder(
            in: folder, weights: weights, shape: [numVirtualTokens, model.config.hiddenSize], implied: implied,
            placement: .prepended) { PTuningEncoder(config: config, generator: Generator(seed: 0)) }
        return PromptLearningModel(model: model, config: config, encoder: encoder)
    }

    // MARK: adapter_config.json

    enum CodingKeys: String, CodingKey, CaseIterable {
        case encoderReparameterizationType = "encoder_reparameterization_type"
        case encoderHiddenSize = "encoder_hidden_size", encoderNumLayers = "encoder_num_layers"
        case encoderDropout = "encoder_dropout"
    }

    public static let fileKeys = Set(CodingKeys.allCases.map(\.rawValue)).union(PromptLearningSettings.fileKeys)

    public init(from decoder: Decoder) throws {
        virtualTokens = try PromptLearningSettings(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.update(&encoderReparameterizationType, .encoderReparameterizationType)
        try c.update(&encoderHiddenSize, .encoderHiddenSize)
        try c.update(&encoderNumLayers, .encoderNumLayers)
        try c.update(&encoderDropout, .encoderDropout)
    }

    public func encode(to encoder: Encoder) throws {
        try virtualTokens.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(encoderReparameterizationType, forKey: .encoderReparameterizationType)
        try c.encode(encoderHiddenSize, forKey: .encoderHiddenSize)
        try c.encode(encoderNumLayers, forKey: .encoderNumLayers)
        try c.encode(encoderDropout, forKey: .encoderDropout)
    }
}
