// Tuner.swift — the one protocol every fine-tuning method implements, so that the command
// line, the training loop and the lessons never ask which method they hold.
//
// A tuner wraps a `LlamaModel`: LoRA puts adapters into its linear slots, prompt methods feed
// it virtual tokens, full fine-tuning trains its own weights. What the rest of the code needs
// is here: the trainable tensors by name, logits, the loss PEFT computes, the optimizer groups,
// a regulariser and a hook after each optimizer step, train/eval mode, saving, merging.

import Foundation
import Llama
import SafeTensors
import TensorKit
import Training

public protocol Tuner: CausalLanguageModel {
    /// The model underneath.
    var model: LlamaModel { get }
    /// The method's PEFT configuration; nil for a method PEFT does not have (full fine-tuning).
    var peftConfig: (any PeftConfig)? { get }
    /// The trainable tensors under the names PEFT gives them: adapter-file keys for LoRA
    /// (`base_model.model.….lora_A.weight`), `prompt_encoder.…` for prompt methods, the model's
    /// own names for full fine-tuning.
    var namedTrainableParameters: [(name: String, tensor: Tensor)] { get }
    /// Logits as PEFT's model returns them: [B, n+T, V] with the n virtual positions first for
    /// methods that prepend them, [B, T, V] otherwise. By default the model's forward with
    /// `virtualTokens(for:)`; a tuner that overrides it must still compute exactly that, since
    /// generation runs the same computation over a key/value cache, and `loss` and
    /// `logits(_:at:)` call the model with the same inputs directly (to compute only the
    /// positions they read). A method changes the forward through its virtual tokens and the
    /// layers in the model's slots.
    func forward(_ batch: TokenBatch) -> Tensor
    /// What the model reads before `batch`'s tokens: a prompt method's virtual tokens (nil for
    /// methods that change weights). Generation puts them in the cache's prefill.
    func virtualTokens(for batch: TokenBatch) -> VirtualTokens?
    /// The leading virtual positions in `forward`'s logits (0 unless the method prepends).
    var prependedPositions: Int { get }
    /// Virtual tokens the model sees before the real ones (prepended or as a key/value prefix):
    /// they take positions too.
    var virtualTokenCount: Int { get }
    /// Optimizer parameter groups (one by default; LoRA+ gives B its own learning rate).
    func parameterGroups(weightDecay: Float) -> [ParameterGroup]
    /// A term added to the loss while training (AdaLoRA's orthogonality), or nil.
    func regularizer() -> Tensor?
    /// Runs after each optimizer step, before the gradients are cleared (AdaLoRA's rank
    /// allocation reads them). `step` counts from 0.
    func afterOptimizerStep(_ step: Int)
    /// Throws if `batch` cannot be run, naming the problem and the fix (a sequence longer than
    /// the model allows once the virtual tokens are counted, a missing task id).
    func check(_ batch: TokenBatch) throws
    /// Training-only behaviour (dropout) on or off.
    var isTraining: Bool { get set }
    /// Writes the method's files into `folder` (PEFT's `save_pretrained` layout for PEFT methods).
    func save(to folder: URL) throws
    /// Whether the adapter can be folded into the base weights.
    var canMerge: Bool { get }
    /// Folds the adapter into the base weights (inference then costs what the base costs).
    func merge() throws
    /// Undoes `merge()`.
    func unmerge() throws
    /// Merges and puts the base layers back: an ordinary model that costs what the base costs.
    func mergeAndUnload() throws -> LlamaModel
}

extension Tuner {
    public var peftConfig: (any PeftConfig)? { nil }
    public func virtualTokens(for batch: TokenBatch) -> VirtualTokens? { nil }
    public func forward(_ batch: TokenBatch) -> Tensor {
        model(batch.inputIds, batch: batch.batchSize, virtualTokens: virtualTokens(for: batch))
    }
    public var prependedPositions: Int { 0 }
    public var virtualTokenCount: Int { 0 }
    public func parameterGroups(weightDecay: Float) -> [ParameterGroup] {
        [ParameterGroup(trainableParameters, weightDecay: weightDecay)]
    }
    public func regularizer() -> Tensor? { nil }
    public func afterOptimizerStep(_ step: Int) {}
    public func check(_ batch: TokenBatch) throws { try checkLength(of: batch) }
    public var canMerge: Bool { false }
    public func merge() throws { throw PEFTError(mergeRefusal) }
    public func unmerge() throws { throw PEFTError(mergeRefusal) }
    public func mergeAndUnload() throws -> LlamaModel { throw PEFTError(mergeRefusal) }

    private var mergeRefusal: String {
        let method = peftConfig.map { type(of: $0).peftType.rawValue } ?? "this method"
        return "\(method) cannot be merged into the base weights: it adds virtual tokens, not a weight update; "
            + "use the adapter unmerged (only LoRA-family adapters merge)"
    }

    /// Throws when the virtual tokens and the batch's rows together exceed the model's
    /// `max_position_embeddings`.
    public func checkLength(of batch: TokenBatch) throws {
        let length = batch.sequenceLength + virtualTokenCount, limit = model.config.maxPositionEmbeddings
        guard length <= limit else {
            throw PEFTError("a row of \(batch.sequenceLength) tokens"
                + (virtualTokenCount > 0 ? " plus \(virtualTokenCount) virtual tokens" : "")
                + " makes \(length) positions, more than the model's max_position_embeddings (\(limit)); "
                + "use shorter examples" + (virtualTokenCount > 0 ? " or fewer virtual tokens" : ""))
        }
    }

    /// The trainable tensors.
    public var trainableParameters: [Tensor] { namedTrainableParameters.map(\.tensor) }

    /// Logits of the real tokens only, [B, T, V] (virtual positions stripped): what evaluation and
    /// generation read.
    public func logits(_ batch: TokenBatch) -> Tensor {
        let z = forward(batch)                                                           // [B, n+T, V]
        let n = prependedPositions
        return n == 0 ? z : z.slice(axis: 1, n..<z.shape[1])                              // [B, T, V]
    }

    /// The loss PEFT's model returns with labels: the causal-LM cross-entropy — with the labels
    /// padded in front by one −100 per prepended virtual token, so the last virtual position
    /// predicts `labels[:, 0]` — plus the method's regulariser.
    ///
    /// The logits are computed only at the positions that have a target (`logitsAt`: the answer
    /// tokens of a fine-tuning batch), and the padding of right-padded rows is skipped
    /// (`lengths`): the same loss and gradients up to rounding, without the vocabulary-wide
    /// product at every prompt position or any work at padding positions outside attention.
    public func loss(_ batch: TokenBatch) -> (total: Tensor, crossEntropy: Tensor) {
        let labels = paddedLabels(batch.labels, rows: batch.batchSize, virtualTokens: prependedPositions)
        let targets = nextTokenTargets(labels, rows: batch.batchSize)                    // [B·(n+T)]
        let rows = targets.indices.filter { targets[$0] != -100 }
        let logits = model(batch.inputIds, batch: batch.batchSize, virtualTokens: virtualTokens(for: batch),
                           lengths: batch.lengths, logitsAt: rows)                       // [S, V]
        let crossEntropy = TensorKit.crossEntropy(logits, targets: rows.map { targets[$0] })
        guard let extra = regularizer() else { return (crossEntropy, crossEntropy) }
        return (crossEntropy + extra, crossEntropy)
    }

    /// Number of trainable parameters.
    public var trainableCount: Int { trainableParameters.reduce(0) { $0 + $1.count } }

    /// PEFT's "all params": the base model's parameters plus every tensor the method adds.
    public var totalCount: Int {
        let base = Set(model.namedParameters.map { ObjectIdentifier($0.tensor) })
        let added = trainableParameters.filter { !base.contains(ObjectIdentifier($0)) }
        return model.parameterCount + added.reduce(0) { $0 + $1.count }
    }

    /// trainable / all, as PEFT reports it (a fraction in [0, 1]).
    public var trainableShare: Double { Double(trainableCount) / Double(max(totalCount, 1)) }

    /// PEFT's `print_trainable_parameters()` line:
    /// `trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622`.
    public var trainableReport: String {
        "trainable params: \(formatCount(trainableCount)) || all params: \(formatCount(totalCount)) || trainable%: "
            + String(format: "%.4f", 100 * trainableShare)
    }
}

/// PEFT's label rule for methods that prepend n virtual tokens: each row's labels get n values
/// of −100 in front (the virtual positions carry no label). [B, T] → [B, n+T].
public func paddedLabels(_ labels: [Int], rows: Int, virtualTokens n: Int) -> [Int] {
    guard n > 0 else { return labels }
    let t = labels.count / max(rows, 1)
    var out: [Int] = []
    out.reserveCapacity(rows * (n + t))
    for r in 0..<rows { out += [Int](repeating: -100, count: n) + labels[(r * t)..<((r + 1) * t)] }
    return out
}
