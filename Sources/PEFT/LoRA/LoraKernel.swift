// LoraKernel.swift — the LoRA linear layer as one fused op, LoRA's own kernel.
//
//   y = base(x) + s·(x·Aᵀ)·Bᵀ,   x [rows, in], A [r, in], B [out, r], base W₀ [out, in] frozen
//
// Fusing saves the [rows, out] temporaries of the unfused form: only u = x·Aᵀ ([rows, r], thin)
// is kept for backward. The base is any `BaseLinear` (float or quantized): the op calls its
// products and never asks for its weight.
//   forward:  u = x·Aᵀ,   y = x·W₀ᵀ (+ b),   y += s·u·Bᵀ
//   backward: du = s·dy·B,   dB += s·dyᵀ·u,   dA += duᵀ·x,   dx += dy·W₀ + du·A

import Llama
import TensorKit

func loraLinear(_ x: Tensor, base: any BaseLinear, a: Tensor, b: Tensor, scaling: Float) -> Tensor {
    let inF = base.inFeatures, outF = base.outFeatures, r = a.shape[0]
    precondition(x.shape.last == inF && a.shape == [r, inF] && b.shape == [outF, r],
                 "loraLinear: x \(x.shape), W [\(outF), \(inF)], A \(a.shape), B \(b.shape)")
    let rows = x.count / max(inF, 1)
    let blas = BLAS.shared
    let u = Buffer(count: rows * r)
    blas.sgemm(transA: false, transB: true, m: rows, n: r, k: inF, a: x.data, lda: inF, b: a.data, ldb: inF,
               c: u.pointer, ldc: r)                                                           // u = x·Aᵀ [rows, r]
    return customOp(shape: Array(x.shape.dropLast()) + [outF], inputs: [x, a, b]) { y in
        base.multiply(x.data, rows: rows, into: y)                                             // y = x·W₀ᵀ (+ b)
        blas.sgemm(transA: false, transB: true, m: rows, n: outF, k: r, alpha: scaling, a: u.pointer, lda: r,
                   b: b.data, ldb: r, beta: 1, c: y, ldc: outF)                                // y += s·u·Bᵀ
    } backward: { dy in
        let du = Buffer(count: rows * r)
        blas.sgemm(transA: false, transB: false, m: rows, n: r, k: outF, alpha: scaling, a: dy, lda: outF,
                   b: b.data, ldb: r, c: du.pointer, ldc: r)                                   // du = s·dy·B [rows, r]
        if b.requiresGrad {  // dB[out, r] += s·dyᵀ·u
            blas.sgemm(transA: true, transB: false, m: outF, n: r, k: rows, alpha: scaling, a: dy, lda: outF,
                       b: u.pointer, ldb: r, beta: 1, c: b.gradBuffer(), ldc: r)
        }
        if a.requiresGrad {  // dA[r, in] += duᵀ·x
            blas.sgemm(transA: true, transB: false, m: r, n: inF, k: rows, a: du.pointer, lda: r, b: x.data, ldb: inF,
                       beta: 1, c: a.gradBuffer(), ldc: inF)
        }
        if x.requiresGrad {  // dx += dy·W₀ + du·A
            let gx = x.gradBuffer()
            base.multiplyTransposed(dy, rows: rows, accumulatingInto: gx)
            blas.sgemm(transA: false, transB: false, m: rows, n: inF, k: r, a: du.pointer, lda: r, b: a.data, ldb: inF,
                       beta: 1, c: gx, ldc: inF)
        }
    }
}
