// AdaLoraLinear.swift — PEFT's `SVDLinear`: a frozen linear layer plus an update in SVD form.
//
//   h = W₀·x + s · B·(A⊙E)·dropout(x),   A [r, in] (P),  E [r, 1] (Λ),  B [out, r] (Q),
//   s = lora_alpha / (ranknum + 1e-5),   ranknum = init_r
//
// A triplet i is (row i of A, E_i, column i of B). The rank allocator prunes a triplet by setting
// E_i = 0; A and B keep training, so a pruned triplet can come back until the ranks are fixed.
// ranknum stays init_r even when a layer is loaded with fewer triplets, so the scale never moves.
// W₀ can be any `BaseLinear`: the layer only asks it for its products.

import Llama
import TensorKit

public final class AdaLoraLinear: MergeableAdapterLayer {
    public let base: any BaseLinear
    /// lora_A [r, in], lora_E [r, 1] and lora_B [out, r].
    public let loraA: Tensor, loraE: Tensor, loraB: Tensor
    /// Which of the `init_r` triplets this layer holds, in order: all of 0..<init_r, unless it was
    /// loaded from an adapter saved after allocation (then those its rank pattern kept).
    public let triplets: [Int]
    /// s = lora_alpha / (init_r + 1e-5).
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

    /// The number of triplets held, r.
    public var r: Int { triplets.count }

    /// Wraps `base` with the triplets `triplets` of an `init_r`-triplet adapter. `initialization`
    /// true: E = 0 and A, B ~ N(0, 0.02²) (PEFT's start; the output equals the base's); false:
    /// A, E, B ~ N(0, 1).
    public init(base: any BaseLinear, triplets: [Int], config: AdaLoraConfig, initialization: Bool,
                generator: Generator) {
        self.base = base
        self.triplets = triplets
        self.scaling = config.scaling
        self.dropout = config.loraDropout
        self.generator = generator
        let (r, out, inF) = (triplets.count, base.outFeatures, base.inFeatures)
        let std: Float = initialization ? 0.02 : 1
        loraA = .randn([r, inF], std: std, generator: generator, requiresGrad: true)
        loraE = initialization ? Tensor(zeros: [r, 1], requiresGrad: true)
            : .randn([r, 1], generator: generator, requiresGrad: true)
        loraB = .randn([out, r], std: std, generator: generator, requiresGrad: true)
        for (_, t) in base.namedTensors { t.requiresGrad = false }
    }

    /// A, E and B, with the adapter-file suffixes.
    public var namedTensors: [(suffix: String, tensor: Tensor)] {
        [("lora_A", loraA), ("lora_E", loraE), ("lora_B", loraB)]
    }

    /// ΔW = s · B·(A⊙E), [out, in].
    public func delta() -> Tensor {
        withoutGrad { matmul(loraB, loraA * loraE) * scaling }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isEnabled && !isMerged else { return base(x) }
        let dropping = isTraining && dropout > 0
        guard dropping else { return adaLoraLinear(x, base: base, a: loraA, e: loraE, b: loraB, scaling: scaling) }
        let h = TensorKit.dropout(x, p: dropout, generator: generator, training: true)            // [..., in]
        return base(x) + linear(linear(h, weight: loraA * loraE), weight: loraB) * scaling         // [..., out]
    }

    /// Sets E_i = 0 for every held triplet i with `keep[i]` false (the allocator's pruning).
    public func zeroSingularValues(keeping keep: [Bool]) {
        precondition(keep.count == r, "zeroSingularValues: \(keep.count) flags for \(r) triplets")
        for i in 0..<r where !keep[i] { loraE.data[i] = 0 }
    }

    /// Copies of A, E and B holding only the triplets with `keep[i]` true: A [r', in], E [r', 1],
    /// B [out, r'] (r' may be 0), with the adapter-file suffixes — what PEFT saves after allocation.
    public func tensors(keeping keep: [Bool]) -> [(suffix: String, tensor: Tensor)] {
        precondition(keep.count == r, "tensors(keeping:): \(keep.count) flags for \(r) triplets")
        let rows = keep.indices.filter { keep[$0] }, n = rows.count
        let (inF, outF) = (base.inFeatures, base.outFeatures)
        let a = Tensor(zeros: [n, inF]), e = Tensor(zeros: [n, 1]), b = Tensor(zeros: [outF, n])
        for (k, i) in rows.enumerated() {
            for j in 0..<inF { a.data[k * inF + j] = loraA.data[i * inF + j] }                   // A[k, :] = A[i, :]
            e.data[k] = loraE.data[i]                                                           // E[k] = E[i]
            for o in 0..<outF { b.data[o * n + k] = loraB.data[o * r + i] }                     // B[:, k] = B[:, i]
        }
        return [("lora_A", a), ("lora_E", e), ("lora_B", b)]
    }

    /// Folds the update into the base weight: W ← W₀ + s·B·(A⊙E).
    public func merge() {
        guard !isMerged else { return }
        let d = delta()
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
