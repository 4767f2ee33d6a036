// TrainingLoop.swift — the one training loop. Pretraining and every fine-tuning method run
// through it; what differs (where batches come from, the loss, a method's hook) is passed in.
//
// Each step, in the order PEFT documents for AdaLoRA:
//   loss = lossOfStep(step);  loss.backward();  clip the gradients' global norm;
//   set the scheduled learning rate;  optimizer.step();  afterStep(step);  optimizer.zeroGrad()

import Foundation
import TensorKit

/// What a run produced: the loss of every step and its speed.
public struct TrainingLog: Sendable {
    public var losses: [Float]
    public var seconds: Double
    public var tokens: Int
    /// The part of `seconds` spent in the method's hook after each optimizer step (`afterStep`:
    /// AdaLoRA's rank allocator, for example).
    public var afterStepSeconds: Double
    public var tokensPerSecond: Double { Double(tokens) / max(seconds, 1e-9) }

    public init(losses: [Float], seconds: Double, tokens: Int, afterStepSeconds: Double = 0) {
        self.losses = losses; self.seconds = seconds; self.tokens = tokens; self.afterStepSeconds = afterStepSeconds
    }

    /// Losses averaged over windows of `window` steps, for curves.
    public func smoothed(_ window: Int = 10) -> [Double] {
        stride(from: 0, to: losses.count, by: window).map { i in
            let w = losses[i..<min(i + window, losses.count)]
            return Double(w.reduce(0, +)) / Double(w.count)
        }
    }
}

/// Runs `steps` optimizer steps.
/// - Parameters:
///   - learningRate: the learning rate of step `i` (0-based), schedule included.
///   - maxGradientNorm: clip the global gradient norm to this (nil: no clipping).
///   - lossOfStep: builds step `i`'s batch and returns its loss (a scalar with history) and the
///     number of tokens it covered.
///   - afterStep: runs after the optimizer step, while the gradients are still there (its time
///     is in the log's `afterStepSeconds`).
///   - progress: told (step, loss, tokens so far) after every step.
public func runTraining(steps: Int, optimizer: any Optimizer, learningRate: (Int) -> Float, maxGradientNorm: Float?,
                        lossOfStep: (Int) throws -> (loss: Tensor, tokens: Int), afterStep: (Int) -> Void = { _ in },
                        progress: (_ step: Int, _ loss: Float, _ tokens: Int) -> Void = { _, _, _ in }) rethrows
    -> TrainingLog {
    let trainable = optimizer.groups.flatMap(\.parameters)
    var losses: [Float] = [], tokens = 0, hookSeconds = 0.0
    let start = Date()
    for step in 0..<steps {
        let (loss, batchTokens) = try lossOfStep(step)
        loss.backward()
        if let maxGradientNorm { clipGradientNorm(trainable, maxNorm: maxGradientNorm) }
        optimizer.learningRate = learningRate(step)
        optimizer.step()
        let hookStart = Date()
        afterStep(step)
        hookSeconds += Date().timeIntervalSince(hookStart)
        optimizer.zeroGrad()
        losses.append(loss.item)
        tokens += batchTokens
        progress(step + 1, loss.item, tokens)
    }
    return TrainingLog(losses: losses, seconds: Date().timeIntervalSince(start), tokens: tokens,
                       afterStepSeconds: hookSeconds)
}
