// OrthogonalRegularizer.swift — AdaLoRA's penalty that keeps P (lora_A) and Q (lora_B) close to
// orthogonal, so that A⊙E and B stay a singular value decomposition of the update.
//
//   R = Σ_A ‖A·Aᵀ − I‖_F + Σ_B ‖Bᵀ·B − I‖_F        (Frobenius norms, not squared; E takes no part)
//
// One op over all matrices. With D = A·Aᵀ − I (symmetric), d‖D‖_F = ⟨D, dA·Aᵀ + A·dAᵀ⟩ / ‖D‖_F, so
//   backward: dA += g · 2·D·A / ‖D‖_F,   and for D = Bᵀ·B − I:  dB += g · 2·B·D / ‖D‖_F.
// Where ‖D‖_F = 0 (an exactly orthonormal or an empty matrix) the gradient is 0, as torch.norm's.

import TensorKit

/// R above, a [1] tensor, for `rowOrthonormal` matrices A [r, in] (A·Aᵀ ≈ I) and
/// `columnOrthonormal` matrices B [out, r] (Bᵀ·B ≈ I).
func orthogonalityPenalty(rowOrthonormal: [Tensor], columnOrthonormal: [Tensor]) -> Tensor {
    let blas = BLAS.shared
    let matrices = rowOrthonormal.map { ($0, true) } + columnOrthonormal.map { ($0, false) }
    var deviations: [Buffer] = [], norms: [Float] = []
    var total: Double = 0
    for (m, isA) in matrices {
        precondition(m.rank == 2, "orthogonalityPenalty: a matrix, got \(m.shape)")
        let (rows, columns) = (m.shape[0], m.shape[1])
        let r = isA ? rows : columns, k = isA ? columns : rows
        let d = Buffer(count: r * r)
        if isA {   // D = A·Aᵀ [r, r]
            blas.sgemm(transA: false, transB: true, m: r, n: r, k: k, a: m.data, lda: columns, b: m.data, ldb: columns,
                       c: d.pointer, ldc: r)
        } else {   // D = Bᵀ·B [r, r]
            blas.sgemm(transA: true, transB: false, m: r, n: r, k: k, a: m.data, lda: columns, b: m.data, ldb: columns,
                       c: d.pointer, ldc: r)
        }
        var sum: Double = 0
        for i in 0..<r {
            d.pointer[i * r + i] -= 1                                                          // D −= I
            for j in 0..<r { let x = Double(d.pointer[i * r + j]); sum += x * x }
        }
        let norm = Float(sum.squareRoot())                                                     // ‖D‖_F
        deviations.append(d); norms.append(norm)
        total += Double(norm)
    }
    let value = Float(total)
    return customOp(shape: [1], inputs: matrices.map(\.0)) { y in
        y[0] = value                                                                           // R
    } backward: { g in
        for ((m, isA), (d, norm)) in zip(matrices, zip(deviations, norms)) where m.requiresGrad && norm > 0 {
            let (rows, columns) = (m.shape[0], m.shape[1])
            let r = isA ? rows : columns, alpha = 2 * g[0] / norm
            if isA {   // dA[r, in] += (2g/‖D‖)·D·A
                blas.sgemm(transA: false, transB: false, m: r, n: columns, k: r, alpha: alpha, a: d.pointer, lda: r,
                           b: m.data, ldb: columns, beta: 1, c: m.gradBuffer(), ldc: columns)
            } else {   // dB[out, r] += (2g/‖D‖)·B·D
                blas.sgemm(transA: false, transB: false, m: rows, n: r, k: r, alpha: alpha, a: m.data, lda: columns,
                           b: d.pointer, ldb: r, beta: 1, c: m.gradBuffer(), ldc: r)
            }
        }
    }
}
