// CausalLanguageModel.swift — what generation and evaluation need from a model: the decoder
// underneath, and what it reads before a batch's tokens. A plain `LlamaModel` is one; so is every
// PEFT tuner (LoRA, AdaLoRA and 4-bit layers sit in the decoder's linear slots, a prompt method
// supplies virtual tokens), so one incremental decoder serves them all.

import TensorKit

/// A causal language model over a `LlamaModel`: its full forward is
/// `model(batch.inputIds, batch: batch.batchSize, virtualTokens: virtualTokens(for: batch))`,
/// so the same computation can also run incrementally over a `KeyValueCache`.
public protocol CausalLanguageModel: AnyObject {
    /// The decoder underneath (with any adapters in its linear slots).
    var model: LlamaModel { get }
    /// What the decoder reads before `batch`'s tokens: a prompt method's virtual tokens (per row when
    /// they depend on `batch.taskIds`), or nil.
    func virtualTokens(for batch: TokenBatch) -> VirtualTokens?
    /// Logits of the real tokens, [B, T, V] (virtual positions stripped), from the full forward.
    func logits(_ batch: TokenBatch) -> Tensor
}

extension LlamaModel: CausalLanguageModel {
    public var model: LlamaModel { self }
    public func virtualTokens(for batch: TokenBatch) -> VirtualTokens? { nil }
    public func logits(_ batch: TokenBatch) -> Tensor { self(batch.inputIds, batch: batch.batchSize) }
}

extension CausalLanguageModel {
    /// Logits at chosen real-token positions only, [S, V]: `positions` are flat indices r·T + t
    /// into the batch's [B, T] tokens, and row s holds what `logits(batch)` holds at
    /// `positions[s]`. The output layer runs at those positions alone (`logitsAt`), so scoring an
    /// answer token skips the vocabulary-wide product at every other position.
    public func logits(_ batch: TokenBatch, at positions: [Int]) -> Tensor {
        let virtual = virtualTokens(for: batch)
        var n = 0                                                      // prepended virtual positions
        if case .prepended(let prompt)? = virtual { n = prompt.shape[prompt.rank - 2] }
        let t = batch.sequenceLength
        let rows = positions.map { ($0 / t) * (n + t) + n + $0 % t }
        return model(batch.inputIds, batch: batch.batchSize, virtualTokens: virtual, lengths: batch.lengths,
                     logitsAt: rows)                                                     // [S, V]
    }
}
