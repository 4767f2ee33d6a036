// Memory.swift — what a training run holds in memory, by kind, and the process's measured peak.

import Foundation
import TensorKit

/// The memory of one training setup. Weights, gradients and optimiser state are counted from
/// the parameters; activations are measured: the peak of live tensor bytes during a real
/// forward and backward pass, less what was live before it and the parameter gradients.
public struct MemoryBreakdown: Sendable {
    public var weights: Int
    public var gradients: Int
    public var optimizerState: Int
    public var activations: Int
    public var total: Int { weights + gradients + optimizerState + activations }

    /// - Parameters: all parameters, the trainable ones, and a closure running one training
    ///   step's forward and backward (whose activations are measured).
    public static func measure(allParameters: [Tensor], trainable: [Tensor], step: () -> Void) -> MemoryBreakdown {
        let weights = 4 * allParameters.reduce(0) { $0 + $1.count }
        let trainableCount = trainable.reduce(0) { $0 + $1.count }
        for p in trainable { p.zeroGrad() }
        let before = TensorMemory.liveBytes
        TensorMemory.resetPeak()
        step()
        let peak = TensorMemory.peakBytes
        for p in trainable { p.zeroGrad() }
        return MemoryBreakdown(weights: weights, gradients: 4 * trainableCount, optimizerState: 8 * trainableCount,
                               activations: max(0, peak - before - 4 * trainableCount))
    }

    public init(weights: Int, gradients: Int, optimizerState: Int, activations: Int) {
        self.weights = weights; self.gradients = gradients; self.optimizerState = optimizerState; self.activations = activations
    }
}

/// The process's peak resident memory (VmHWM), if the system reports it.
public func processPeakMemory() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first
        return kb.map { $0 * 1024 }
    }
    return nil
}
