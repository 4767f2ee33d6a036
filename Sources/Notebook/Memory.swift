// Memory.swift — what a training run holds in memory, by kind, and the process's measured peak.

import Foundation
import Llama
import PEFT
import TensorKit

/// The memory of one training setup. Weights, gradients and optimiser state are counted from
/// the storage bytes of the tensors (a quantized weight by its packed bytes); activations are
/// measured: the peak of live tensor bytes (`Buffer`s included: attention's probabilities, the
/// norms' inverse RMS) during a real forward and backward pass on the calling thread, less what was
/// live before it — the parameter gradients included, allocated first so that the peak never
/// counts them short (it may fall in the forward, before a backward would allocate them).
public struct MemoryBreakdown: Sendable {
    public var weights: Int
    public var gradients: Int
    public var optimizerState: Int
    public var activations: Int
    public var total: Int { weights + gradients + optimizerState + activations }

    public init(weights: Int, gradients: Int, optimizerState: Int, activations: Int) {
        self.weights = weights; self.gradients = gradients
        self.optimizerState = optimizerState; self.activations = activations
    }

    /// One AdamW training step of `tuner` on `batch`: the base's and the method's weights, a
    /// gradient for every trainable value, AdamW's two moments for each, and the activations a
    /// real forward and backward pass kept alive.
    public static func measure(_ tuner: any Tuner, on batch: TokenBatch) -> MemoryBreakdown {
        let trainable = tuner.trainableParameters
        let base = Set(tuner.model.namedParameters.map { ObjectIdentifier($0.tensor) })
        let added = trainable.filter { !base.contains(ObjectIdentifier($0)) }.reduce(0) { $0 + $1.storageBytes }
        let trainableBytes = trainable.reduce(0) { $0 + $1.storageBytes }
        for p in trainable { p.zeroGrad(); _ = p.gradBuffer() }                   // zero gradients, live
        let before = TensorMemory.liveBytes
        TensorMemory.resetPeak()
        tuner.loss(batch).total.backward()
        let peak = TensorMemory.peakBytes
        for p in trainable { p.zeroGrad() }
        return MemoryBreakdown(weights: tuner.model.weightBytes + added, gradients: trainableBytes,
                               optimizerState: 2 * trainableBytes, activations: max(0, peak - before))
    }
}

/// A table of the memory of one training step per method, measured on the same `batch`.
public func memoryTable(_ tuners: [(name: String, tuner: any Tuner)],
                        batch: TokenBatch) -> (table: Table, rows: [MemoryBreakdown]) {
    var table = Table(["method", "trainable", "share", "weights", "gradients", "optimizer", "activations", "total"])
    var rows: [MemoryBreakdown] = []
    for (name, tuner) in tuners {
        let m = MemoryBreakdown.measure(tuner, on: batch)
        rows.append(m)
        table.add([name, formatCount(tuner.trainableCount), String(format: "%.3f%%", 100 * tuner.trainableShare),
                   formatBytes(m.weights), formatBytes(m.gradients), formatBytes(m.optimizerState),
                   formatBytes(m.activations), formatBytes(m.total)])
    }
    return (table, rows)
}
