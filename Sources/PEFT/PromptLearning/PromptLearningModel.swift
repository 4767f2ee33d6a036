// PromptLearningModel.swift — one tuner for every prompt-learning method: a prompt encoder
// produces n virtual tokens, and the frozen model reads them before the real tokens, either as
// embeddings in front of the input (prompt tuning, P-tuning, multitask prompt tuning) or as a
// key/value prefix inside every layer's attention (prefix tuning, P-tuning v2).
//
// PEFT's conventions, kept exactly: prepended tokens take positions 0..<n and the logits cover
// them ([B, n+T, V]); the labels are padded with n × −100, so the last virtual position
// predicts labels[:, 0]. A key/value prefix is not rotated, the real tokens take positions
// n..<n+T, and the logits cover the real tokens only.

import Foundation
import Llama
import SafeTensors
import TensorKit

/// Where a method's virtual tokens go.
public enum PromptPlacement: Sendable {
    /// In front of the token embeddings.
    case prepended
    /// As keys and values in front of every layer's attention; the prompt's columns are laid out
    /// as PEFT's: [n, layers · 2 · kvWidth], layer-major, key before value.
    case keyValuePrefix
}

/// What turns the virtual-token indices 0..<n into a prompt: an embedding table, or an
/// embedding followed by a network (an MLP or LSTM) that PEFT throws away when it saves.
public protocol PromptEncoder: AnyObject {
    var placement: PromptPlacement { get }
    /// n.
    var numVirtualTokens: Int { get }
    /// The prompt for `batch`: [n, W] shared by every row, or [B, n, W] when rows differ
    /// (multitask prompt tuning). W is the hidden size, or layers·2·kvWidth for a prefix.
    func prompt(for batch: TokenBatch) -> Tensor
    /// Throws if `batch` lacks what the encoder needs (a task id per row), naming the fix.
    func check(_ batch: TokenBatch) throws
    /// The trainable tensors under PEFT's names (`prompt_encoder.embedding.weight`, …).
    var namedParameters: [(name: String, tensor: Tensor)] { get }
    /// What `save_pretrained` writes to adapter_model.safetensors (`prompt_embeddings`, …).
    func savedTensors() throws -> [String: Tensor]
    /// Training-only behaviour (an encoder's dropout) on or off.
    var isTraining: Bool { get set }
    /// Files written beside the adapter (an encoder's own weights, so training can resume).
    func saveExtras(to folder: URL) throws
}

extension PromptEncoder {
    public func check(_ batch: TokenBatch) throws {}
    public var isTraining: Bool { get { false } set {} }
    public func saveExtras(to folder: URL) throws {}
}

public final class PromptLearningModel: Tuner {
    public let model: LlamaModel
    public let config: any PeftConfig
    public let encoder: any PromptEncoder

    public var peftConfig: (any PeftConfig)? { config }

    /// Freezes `model` and feeds it `encoder`'s prompt.
    public init(model: LlamaModel, config: any PeftConfig, encoder: any PromptEncoder) {
        self.model = model
        self.config = config
        self.encoder = encoder
        model.setTrainable(false)
    }

    public var namedTrainableParameters: [(name: String, tensor: Tensor)] { encoder.namedParameters }

    public var prependedPositions: Int { encoder.placement == .prepended ? encoder.numVirtualTokens : 0 }
    public var virtualTokenCount: Int { encoder.numVirtualTokens }

    /// The prompt for `batch`, placed as the encoder says: embeddings in front of the tokens, or
    /// one key/value prefix per layer. The forward and the cached decoder both read it.
    public func virtualTokens(for batch: TokenBatch) -> VirtualTokens? {
        let prompt = encoder.prompt(for: batch)                                            // [(B,) n, W]
        switch encoder.placement {
        case .prepended: return .prepended(prompt)
        case .keyValuePrefix: return .keyValuePrefixes(prefixes(prompt))
        }
    }

    public func check(_ batch: TokenBatch) throws {
        try checkLength(of: batch)
        try encoder.check(batch)
    }

    /// PEFT's column layout [.., n, layers·2·kvWidth] split into one key and one value per layer.
    func prefixes(_ prompt: Tensor) -> [KeyValuePrefix] {
        let layers = model.layers.count
        let width = prompt.shape[prompt.rank - 1] / (2 * layers)                          // kvHeads·D
        return (0..<layers).map { l in
            KeyValuePrefix(key: prompt.slice(axis: -1, (2 * l) * width..<(2 * l + 1) * width),       // [.., n, kv]
                           value: prompt.slice(axis: -1, (2 * l + 1) * width..<(2 * l + 2) * width))
        }
    }

    public var isTraining: Bool {
        get { encoder.isTraining }
        set { encoder.isTraining = newValue }
    }

    public func save(to folder: URL) throws {
        try AdapterFolder.write(config, tensors: try encoder.savedTensors(), to: folder)
        try encoder.saveExtras(to: folder)
    }
}
