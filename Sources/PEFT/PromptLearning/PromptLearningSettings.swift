// PromptLearningSettings.swift — the fields PEFT's `PromptLearningConfig` gives every prompt
// method (prompt tuning, prefix tuning, P-tuning, multitask prompt tuning), read and written
// in the same JSON object as the method's own fields.

import Foundation
import Llama

/// The virtual-token fields shared by every prompt-learning config.
public struct PromptLearningSettings: Codable, Equatable, Sendable {
    /// `num_virtual_tokens`: how many virtual tokens the method adds (required).
    public var numVirtualTokens: Int
    /// `token_dim`: the width of one virtual token — the model's hidden size (for prefix tuning
    /// with grouped-query attention, the key/value width). Filled in from the model.
    public var tokenDim: Int?
    /// `num_transformer_submodules`: 1 for a decoder-only model.
    public var numTransformerSubmodules: Int?
    /// `num_attention_heads`: the model's (key/value, for prefix tuning) heads. Filled in.
    public var numAttentionHeads: Int?
    /// `num_layers`: the model's decoder layers. Filled in.
    public var numLayers: Int?

    public init(numVirtualTokens: Int) { self.numVirtualTokens = numVirtualTokens }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case numVirtualTokens = "num_virtual_tokens", tokenDim = "token_dim"
        case numTransformerSubmodules = "num_transformer_submodules", numAttentionHeads = "num_attention_heads"
        case numLayers = "num_layers"
    }

    static let fileKeys = Set(CodingKeys.allCases.map(\.rawValue))

    /// `num_virtual_tokens` must be a positive count.
    func validate() throws {
        if numVirtualTokens <= 0 {
            throw PEFTError("num_virtual_tokens must be a positive number of virtual tokens, got \(numVirtualTokens); "
                + "try 20 (prompt tuning's usual length)")
        }
        if let s = numTransformerSubmodules, s != 1 {
            throw PEFTError("num_transformer_submodules is \(s); a decoder-only LLaMA has 1")
        }
    }

    /// The settings with the model's sizes filled in, as `get_peft_model` does; an error when a
    /// value read from a file disagrees with the model.
    func completed(for model: LlamaModel, tokenDim width: Int, heads: Int) throws -> PromptLearningSettings {
        var s = self
        let c = model.config
        if numVirtualTokens >= c.maxPositionEmbeddings {
            throw PEFTError("num_virtual_tokens is \(numVirtualTokens), but the model has only "
                + "\(c.maxPositionEmbeddings) positions (max_position_embeddings): the virtual tokens and at least one "
                + "real token must fit; use fewer virtual tokens")
        }
        for (name, stored, actual) in [("token_dim", tokenDim, width),
                                       ("num_attention_heads", numAttentionHeads, heads),
                                       ("num_layers", numLayers, c.numHiddenLayers)] {
            if let stored, stored != actual {
                throw PEFTError("\(name) is \(stored) in the adapter config but the model has \(actual): "
                    + "the adapter was made for another model")
            }
        }
        s.tokenDim = width
        s.numAttentionHeads = heads
        s.numLayers = c.numHiddenLayers
        s.numTransformerSubmodules = 1
        return s
    }
}
