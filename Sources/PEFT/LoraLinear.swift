// LoraLinear.swift — the LoRA layer: a frozen linear layer plus a trainable low-rank update.
//
//   h = W₀·x + s · B·A·dropout(x),   A [r, in],  B [out, r],  s = alpha/r  (rsLoRA: alpha/√r)
//
// Only A and B train. W₀ is frozen, so backward through it computes dx but never dW₀.
// DoRA (weight-decomposed LoRA) learns a magnitude m per output row on top:
//   W' = m ⊙ (W₀ + s·B·A) / ‖W₀ + s·B·A‖_row,   the norm treated as a constant in backward.

import Llama
import TensorKit

public final class LoraLinear: LinearLayer {
    public let base: Linear
    /// lora_A [r, in] and lora_B [out, r].
    public let loraA: Tensor, loraB: Tensor
    /// DoRA's magnitude vector [out], or nil.
    public let magnitude: Tensor?
    public let r: Int
    public let scaling: Float
    public let dropout: Float
    let generator: Generator
    /// When false the layer computes the base layer only (PEFT's `disable_adapter()`).
    public var isEnabled = true
    /// Whether s·B·A has been folded into the base weight.
    public private(set) var isMerged = false
    /// Dropout is applied only while training.
    public var isTraining = true

    /// Wraps `base` with a rank-`r` adapter initialised as `config.initLoraWeights` says.
    public init(base: Linear, r: Int, alpha: Double, config: LoraConfig, generator: Generator) {
        self.base = base
        self.r = r
        self.scaling = config.scaling(r: r, alpha: alpha)
        self.dropout = config.loraDropout
        self.generator = generator
        let (out, inF) = (base.weight.shape[0], base.weight.shape[1])
        let bound = 1 / Float(inF).squareRoot()  // Kaiming-uniform with a = √5
        switch config.initLoraWeights {
        case .standard:
            loraA = .uniform([r, inF], low: -bound, high: bound, generator: generator, requiresGrad: true)
            loraB = Tensor(zeros: [out, r], requiresGrad: true)
        case .gaussian:
            loraA = .randn([r, inF], std: 1 / Float(r), generator: generator, requiresGrad: true)
            loraB = Tensor(zeros: [out, r], requiresGrad: true)
        case .random:
            loraA = .uniform([r, inF], low: -bound, high: bound, generator: generator, requiresGrad: true)
            let bb = 1 / Float(r).squareRoot()
            loraB = .uniform([out, r], low: -bb, high: bb, generator: generator, requiresGrad: true)
        case .pissa:
            // W = U S Vᵀ: A = √(S_r/s)·V_rᵀ, B = U_r·√(S_r/s), and W keeps W − s·B·A.
            let svd = SVD(base.weight.array, rows: out, columns: inF)
            let a = Tensor(zeros: [r, inF], requiresGrad: true), b = Tensor(zeros: [out, r], requiresGrad: true)
            for c in 0..<min(r, svd.k) {
                let root = (svd.s[c] / Double(scaling)).squareRoot()
                for j in 0..<inF { a.data[c * inF + j] = Float(root * svd.vt[c * inF + j]) }
                for i in 0..<out { b.data[i * r + c] = Float(svd.u[i * svd.k + c] * root) }
            }
            loraA = a; loraB = b
        }
        magnitude = config.useDora ? LoraLinear.rowNorms(base.weight, plus: nil) : nil
        magnitude?.requiresGrad = true
        if config.initLoraWeights == .pissa { addDelta(sign: -1) }
        base.weight.requiresGrad = false
    }

    /// The adapter's parameters (A, B and DoRA's magnitude).
    public var parameters: [Tensor] { [loraA, loraB] + (magnitude.map { [$0] } ?? []) }

    /// ΔW = s · B·A, [out, in].
    public func delta() -> Tensor {
        withoutGrad { matmul(loraB, loraA) * scaling }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isEnabled && !isMerged else { return base(x) }
        if magnitude == nil && base.bias == nil && !(isTraining && dropout > 0) {
            // the common case as one fused op: W₀·x + s·B·A·x
            return loraLinear(x, weight: base.weight, a: loraA, b: loraB, scaling: scaling)
        }
        let h = TensorKit.dropout(x, p: dropout, generator: generator, training: isTraining && dropout > 0)   // [..., in]
        let update = linear(linear(h, weight: loraA), weight: loraB) * scaling                     // [..., out]
        guard let magnitude else { return base(x) + update }
        // DoRA: m/‖W₀ + ΔW‖ scales the rows; the norm is a constant for backward (as in PEFT).
        let norm = LoraLinear.rowNorms(base.weight, plus: delta())                                // [out]
        let scale = magnitude / norm                                                               // [out]
        let baseOut = h === x ? base(x) : linear(h, weight: base.weight)                           // [..., out]
        return base(x) + (scale - 1) * baseOut + scale * update
    }

    /// ‖W + D‖ per row, [out], without history.
    static func rowNorms(_ w: Tensor, plus d: Tensor?) -> Tensor {
        let (out, inF) = (w.shape[0], w.shape[1])
        let n = Tensor(zeros: [out])
        for i in 0..<out {
            var s: Double = 0
            for j in 0..<inF { let v = Double(w.data[i * inF + j]) + Double(d?.data[i * inF + j] ?? 0); s += v * v }
            n.data[i] = Float(s.squareRoot())
        }
        return n
    }

    private func addDelta(sign: Float) {
        let d = delta()
        for i in 0..<base.weight.count { base.weight.data[i] += sign * d.data[i] }
    }

    /// Folds the update into the base weight: W ← W₀ + s·B·A (DoRA: W ← m ⊙ (W₀ + s·B·A)/‖·‖).
    /// Afterwards inference costs exactly what the base costs.
    public func merge() {
        guard !isMerged else { return }
        if let magnitude {
            let norm = LoraLinear.rowNorms(base.weight, plus: delta())     // ‖W₀ + ΔW‖ per row
            premergeNorms = norm.array
            addDelta(sign: 1)
            scaleRows { magnitude.data[$0] / norm.data[$0] }
        } else {
            addDelta(sign: 1)
        }
        isMerged = true
    }

    /// Undoes `merge()` (DoRA: with the row norms remembered at merge time).
    public func unmerge() {
        guard isMerged else { return }
        if let magnitude { scaleRows { self.premergeNorms[$0] / magnitude.data[$0] } }
        addDelta(sign: -1)
        isMerged = false
    }

    private var premergeNorms: [Float] = []

    private func scaleRows(by factor: (Int) -> Float) {
        let (out, inF) = (base.weight.shape[0], base.weight.shape[1])
        for i in 0..<out { let f = factor(i); for j in 0..<inF { base.weight.data[i * inF + j] *= f } }
    }
}
