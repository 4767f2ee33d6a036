// Optimizer.swift — AdamW and SGD over parameter groups, and global-norm gradient clipping.

import TensorKit
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// Parameters that share optimiser settings (LoRA+ gives B a larger learning rate than A).
public struct ParameterGroup {
    public var parameters: [Tensor]
    /// Multiplies the optimiser's (scheduled) learning rate for this group.
    public var learningRateScale: Float
    /// Decoupled weight decay for this group.
    public var weightDecay: Float

    public init(_ parameters: [Tensor], learningRateScale: Float = 1, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRateScale = learningRateScale
        self.weightDecay = weightDecay
    }
}

/// What every optimiser does: a step from the current gradients, then clearing them.
public protocol Optimizer: AnyObject {
    var groups: [ParameterGroup] { get }
    /// The base learning rate; schedules set it before each step.
    var learningRate: Float { get set }
    func step()
}

extension Optimizer {
    /// Forgets every parameter's gradient.
    public func zeroGrad() { for g in groups { for p in g.parameters { p.zeroGrad() } } }
    /// Number of parameters the optimiser updates.
    public var parameterCount: Int { groups.reduce(0) { $0 + $1.parameters.reduce(0) { $0 + $1.count } } }
}

/// AdamW (Loshchilov & Hutter), as `torch.optim.AdamW`:
///   m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²,
///   θ ← θ − lr·λ·θ  (decoupled decay),   θ ← θ − lr · (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε).
public final class AdamW: Optimizer {
    public let groups: [ParameterGroup]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float
    public private(set) var stepCount = 0
    /// Where the moments live: the heap by default, or pageable memory (`PagedOptimizerState`).
    public let storage: (any OptimizerStateStorage)?
    private var moments: [ObjectIdentifier: (m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>)] = [:]

    public init(_ groups: [ParameterGroup], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, storage: (any OptimizerStateStorage)? = nil) {
        self.groups = groups; self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.storage = storage
    }

    /// One group with PyTorch's default weight decay of 0.01.
    public convenience init(parameters: [Tensor], learningRate: Float = 1e-3, weightDecay: Float = 0.01) {
        self.init([ParameterGroup(parameters, weightDecay: weightDecay)], learningRate: learningRate)
    }

    deinit { if storage == nil { for (m, v) in moments.values { m.deallocate(); v.deallocate() } } }

    public func step() {
        stepCount += 1
        let c1 = 1 - powf(beta1, Float(stepCount)), c2 = 1 - powf(beta2, Float(stepCount))
        let (b1, b2, eps) = (beta1, beta2, eps)
        for group in groups {
            let lr = learningRate * group.learningRateScale
            let decay = 1 - lr * group.weightDecay
            let stepSize = lr / c1, rootC2 = c2.squareRoot()
            for p in group.parameters {
                guard let g = p.grad else { continue }
                let (m, v) = state(for: p)
                storage?.willAccess([(m, p.count), (v, p.count)])
                let w = p.data
                // Elementwise, so the same numbers on any number of threads. Paged state stays on the
                // calling thread: pages another CPU touched can wait in that CPU's batch of new pages,
                // where madvise(MADV_PAGEOUT) from this thread does not reach them (they stayed resident).
                parallelRanges(p.count, grain: storage == nil ? parallelGrain : .max) { range in
                    for i in range {
                        let gi = g[i]
                        m[i] = b1 * m[i] + (1 - b1) * gi
                        v[i] = b2 * v[i] + (1 - b2) * gi * gi
                        // torch: denom = √v / √(1−β₂ᵗ) + ε;  θ −= (lr/(1−β₁ᵗ)) · m / denom
                        w[i] = w[i] * decay - stepSize * m[i] / (v[i].squareRoot() / rootC2 + eps)
                    }
                }
            }
        }
    }

    private func state(for p: Tensor) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        if let s = moments[ObjectIdentifier(p)] { return s }
        if let storage {
            let (m, v) = (storage.allocate(count: p.count), storage.allocate(count: p.count))  // zeroed
            moments[ObjectIdentifier(p)] = (m, v)
            return (m, v)
        }
        let m = UnsafeMutablePointer<Float>.allocate(capacity: p.count),
            v = UnsafeMutablePointer<Float>.allocate(capacity: p.count)
        m.initialize(repeating: 0, count: p.count); v.initialize(repeating: 0, count: p.count)
        moments[ObjectIdentifier(p)] = (m, v)
        return (m, v)
    }
}

/// Stochastic gradient descent with optional momentum, as `torch.optim.SGD`:
///   b ← μb + g (b = g at the first step),   θ ← θ − lr·(b + λθ folded into g).
public final class SGD: Optimizer {
    public let groups: [ParameterGroup]
    public var learningRate: Float
    public let momentum: Float
    private var buffers: [ObjectIdentifier: UnsafeMutablePointer<Float>] = [:]

    public init(_ groups: [ParameterGroup], learningRate: Float, momentum: Float = 0) {
        self.groups = groups; self.learningRate = learningRate; self.momentum = momentum
    }

    deinit { for b in buffers.values { b.deallocate() } }

    public func step() {
        for group in groups {
            let lr = learningRate * group.learningRateScale
            for p in group.parameters {
                guard let g = p.grad else { continue }
                let w = p.data
                if momentum == 0 {
                    for i in 0..<p.count { w[i] -= lr * (g[i] + group.weightDecay * w[i]) }
                    continue
                }
                let b: UnsafeMutablePointer<Float>
                if let existing = buffers[ObjectIdentifier(p)] {
                    b = existing
                    for i in 0..<p.count { b[i] = momentum * b[i] + g[i] + group.weightDecay * w[i] }
                } else {
                    b = .allocate(capacity: p.count)
                    for i in 0..<p.count { b[i] = g[i] + group.weightDecay * w[i] }
                    buffers[ObjectIdentifier(p)] = b
                }
                for i in 0..<p.count { w[i] -= lr * b[i] }
            }
        }
    }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm`
/// (`torch.nn.utils.clip_grad_norm_`). Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters { if let g = p.grad { for i in 0..<p.count { total += Double(g[i]) * Double(g[i]) } } }
    let norm = Float(total.squareRoot())
    let scale = maxNorm / (norm + 1e-6)
    if scale < 1 { for p in parameters { if let g = p.grad { for i in 0..<p.count { g[i] *= scale } } } }
    return norm
}
