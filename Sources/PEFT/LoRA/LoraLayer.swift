// LoraLayer.swift — the LoRA layer: a frozen linear layer plus a trainable low-rank update.
//
//   h = W₀·x + s · B·A·dropout(x),   A [r, in],  B [out, r],  s = alpha/r  (rsLoRA: alpha/√r)
//
// Only A and B train. W₀ is frozen, so backward through it computes dx but never dW₀. W₀ can be
// any `BaseLinear` — the float `Linear` or a quantized layer — since LoRA only asks it for its
// products. DoRA (weight-decomposed LoRA) learns a magnitude m per output row on top:
//   W' = m ⊙ (W₀ + s·B·A) / ‖W₀ + s·B·A‖_row,   the norm treated as a constant in backward.

import Llama
import TensorKit

public final class LoraLinear: MergeableAdapterLayer {
    public let base: any BaseLinear
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
    /// Dropout is applied only while training.
    public var isTraining = true
    /// The update folded into the base weight by `merge()`, kept to take it out again.
    private var mergedDelta: Tensor?
    /// Whether the update has been folded into the base weight.
    public var isMerged: Bool { mergedDelta != nil }

    /// Wraps `base` with a rank-`r` adapter initialised as `config.initLoraWeights` says.
    public init(base: any BaseLinear, r: Int, alpha: Double, config: LoraConfig, generator: Generator) {
        self.base = base
        self.r = r
        self.scaling = config.scaling(r: r, alpha: alpha)
        self.dropout = config.loraDropout
        self.generator = generator
        let (out, inF) = (base.outFeatures, base.inFeatures)
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
            let svd = SVD(base.denseWeight().array, rows: out, columns: inF)
            let a = Tensor(zeros: [r, inF], requiresGrad: true), b = Tensor(zeros: [out, r], requiresGrad: true)
            for c in 0..<min(r, svd.k) {
                let root = (svd.s[c] / Double(scaling)).squareRoot()
                for j in 0..<inF { a.data[c * inF + j] = Float(root * svd.vt[c * inF + j]) }
                for i in 0..<out { b.data[i * r + c] = Float(svd.u[i * svd.k + c] * root) }
            }
            loraA = a; loraB = b
        }
        magnitude = config.useDora ? LoraLinear.rowNorms(base.denseWeight(), plus: nil) : nil
        magnitude?.requiresGrad = true
        if config.initLoraWeights == .pissa { base.addToWeight(delta() * -1) }
        for (_, t) in base.namedTensors { t.requiresGrad = false }
    }

    /// ΔW = s · B·A, [out, in].
    public func delta() -> Tensor {
        withoutGrad { matmul(loraB, loraA) * scaling }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isEnabled && !isMerged else { return base(x) }
        let dropping = isTraining && dropout > 0
        if magnitude == nil && !dropping {
            return loraLinear(x, base: base, a: loraA, b: loraB, scaling: scaling)   // W₀·x + s·B·A·x in one op
        }
        let h = TensorKit.dropout(x, p: dropout, generator: generator, training: dropping)         // [..., in]
        let update = linear(linear(h, weight: loraA), weight: loraB) * scaling                    // [..., out]
        let y0 = base(x)                                                                           // [..., out]
        guard let magnitude else { return y0 + update }
        // DoRA: m/‖W₀ + ΔW‖ scales the rows; the norm is a constant for backward (as in PEFT).
        let norm = LoraLinear.rowNorms(base.denseWeight(), plus: delta())                         // [out]
        let scale = magnitude / norm                                                               // [out]
        let baseOut: Tensor                                                                        // W₀·h, no bias
        if !dropping {
            baseOut = base.bias.map { y0 - $0 } ?? y0
        } else {
            baseOut = linear(h, weight: base.denseWeight())
        }
        return y0 + (scale - 1) * baseOut + scale * update
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

    /// Folds the update into the base weight: W ← W₀ + s·B·A (DoRA: W ← m ⊙ (W₀ + s·B·A)/‖·‖).
    /// Afterwards inference costs exactly what the base costs.
    public func merge() {
        guard !isMerged else { return }
        var d = delta()
        if let magnitude {
            let w0 = base.denseWeight()
            let norm = LoraLinear.rowNorms(w0, plus: d)                                            // ‖W₀ + ΔW‖ per row
            let (out, inF) = (w0.shape[0], w0.shape[1])
            let target = Tensor(zeros: w0.shape)
            for i in 0..<out {
                let f = magnitude.data[i] / norm.data[i]
                for j in 0..<inF { let k = i * inF + j; target.data[k] = (w0.data[k] + d.data[k]) * f - w0.data[k] }
            }
            d = target
        }
        base.addToWeight(d)
        mergedDelta = d
    }

    /// Undoes `merge()`.
    public func unmerge() {
        guard let d = mergedDelta else { return }
        base.addToWeight(d * -1)
        mergedDelta = nil
    }
}
