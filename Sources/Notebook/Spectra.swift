// Spectra.swift — the linear algebra the LoRA lessons look at: the singular values of a weight
// update, its energy profile, a rank-r truncation of it, and the subspace similarity φ of the
// LoRA paper.

import Llama
import TensorKit

/// What fine-tuning changed in one projection: ΔW = W_after − W_before, with its SVD.
public struct WeightUpdate {
    /// The module name (model.layers.0.self_attn.q_proj).
    public var name: String
    /// ΔW, row-major [out, in].
    public var delta: [Float]
    public var rows: Int, columns: Int
    public let svd: SVD

    /// The short kind of the module ("q_proj").
    public var kind: String { String(name.split(separator: ".").last ?? "") }

    /// The best rank-`r` approximation of ΔW (its top r singular triplets), row-major.
    public func truncated(to r: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows * columns)
        for c in 0..<min(r, svd.k) {
            let s = svd.s[c]
            for i in 0..<rows {
                let u = svd.u[i * svd.k + c] * s
                for j in 0..<columns { out[i * columns + j] += Float(u * svd.vt[c * columns + j]) }
            }
        }
        return out
    }
}

/// ΔW of every linear projection in the decoder layers (not the output head): `tuned` against
/// `base`, matched by module name.
public func weightUpdates(_ tuned: LlamaModel, from base: LlamaModel) -> [WeightUpdate] {
    zip(tuned.layers.flatMap(\.slots), base.layers.flatMap(\.slots)).map { after, before in
        let w = after.layer.base.denseWeight(), w0 = before.layer.base.denseWeight()
        let delta = zip(w.array, w0.array).map { $0 - $1 }
        return WeightUpdate(name: after.name, delta: delta, rows: w.shape[0], columns: w.shape[1],
                            svd: SVD(delta, rows: w.shape[0], columns: w.shape[1]))
    }
}

/// The cumulative share of the energy Σσ² carried by the first i singular values.
public func energyProfile(_ s: [Double]) -> [Double] {
    let total = s.reduce(0) { $0 + $1 * $1 }
    var acc = 0.0
    return s.map { acc += $0 * $0; return acc / max(total, 1e-300) }
}

/// How many directions carry `share` of the energy.
public func directions(for share: Double, _ s: [Double]) -> Int {
    (energyProfile(s).firstIndex { $0 >= share } ?? (s.count - 1)) + 1
}

/// The LoRA paper's subspace similarity between the row spaces of two A matrices ([r, in]):
/// φ(i, j) = ‖Uᵢᵀ Uⱼ‖²_F / min(i, j), with Uᵢ the top-i right singular vectors. 1 when one
/// subspace contains the other, 0 when they are orthogonal; two random subspaces of ℝᵈ give
/// about max(i, j)/d.
public func subspaceSimilarity(_ a: Tensor, _ b: Tensor) -> [[Double]] {
    let (ra, d) = (a.shape[0], a.shape[1]), rb = b.shape[0]
    let ua = SVD(a.array, rows: ra, columns: d).vt, ub = SVD(b.array, rows: rb, columns: d).vt  // rows: directions
    var squared = [[Double]](repeating: [Double](repeating: 0, count: rb), count: ra)
    for i in 0..<ra {
        for j in 0..<rb {
            var s = 0.0
            for k in 0..<d { s += ua[i * d + k] * ub[j * d + k] }
            squared[i][j] = s * s
        }
    }
    // prefix sums: Σ_{i' < i, j' < j} (uᵢ'·uⱼ')²
    var cumulative = [[Double]](repeating: [Double](repeating: 0, count: rb + 1), count: ra + 1)
    for i in 1...ra {
        for j in 1...rb {
            cumulative[i][j] = squared[i - 1][j - 1] + cumulative[i - 1][j] + cumulative[i][j - 1]
                - cumulative[i - 1][j - 1]
        }
    }
    return (1...ra).map { i in (1...rb).map { j in cumulative[i][j] / Double(min(i, j)) } }
}

/// φ's expected value for random subspaces of ℝᵈ: max(i, j)/d (capped at 1).
public func randomSubspaceSimilarity(rows: Int, columns: Int, dimension d: Int) -> [[Double]] {
    (1...rows).map { i in (1...columns).map { j in min(1, Double(max(i, j)) / Double(d)) } }
}
