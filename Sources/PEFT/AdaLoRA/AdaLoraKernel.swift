// AdaLoraKernel.swift — the AdaLoRA (SVD-form) linear layer as one fused op, AdaLoRA's own kernel.
//
//   y = base(x) + s·(x·(A⊙E)ᵀ)·Bᵀ,   x [rows, in], A [r, in], E [r, 1], B [out, r], base W₀ [out, in] frozen
//
// E scales the rows of A; the same product is v·(B⊙Eᵀ)ᵀ with v = x·Aᵀ, so E is folded into a
// copy of B (BE [out, r], tiny) and only v ([rows, r], thin) is kept for backward. The base is
// any `BaseLinear`: the op calls its products and never asks for its weight. r may be 0.
//   forward:  v = x·Aᵀ,   BE = B⊙Eᵀ,   y = x·W₀ᵀ (+ b) + s·v·BEᵀ
//   backward: G = s·dyᵀ·v [out, r],   dB += G⊙Eᵀ,   dE_i += Σ_o G[o, i]·B[o, i],
//             dv = s·dy·BE,   dA += dvᵀ·x,   dx += dy·W₀ + dv·A

import Llama
import TensorKit

func adaLoraLinear(_ x: Tensor, base: any BaseLinear, a: Tensor, e: Tensor, b: Tensor, scaling: Float) -> Tensor {
    let inF = base.inFeatures, outF = base.outFeatures, r = a.shape[0]
    precondition(x.shape.last == inF && a.shape == [r, inF] && e.shape == [r, 1] && b.shape == [outF, r],
                 "adaLoraLinear: x \(x.shape), W [\(outF), \(inF)], A \(a.shape), E \(e.shape), B \(b.shape)")
    let rows = x.count / max(inF, 1)
    let blas = BLAS.shared
    let v = Buffer(count: rows * r), be = Buffer(count: outF * r)
    blas.sgemm(transA: false, transB: true, m: rows, n: r, k: inF, a: x.data, lda: inF, b: a.data, ldb: inF,
               c: v.pointer, ldc: r)                                                           // v = x·Aᵀ [rows, r]
    for o in 0..<outF { for i in 0..<r { be.pointer[o * r + i] = b.data[o * r + i] * e.data[i] } }  // BE = B⊙Eᵀ
    return customOp(shape: Array(x.shape.dropLast()) + [outF], inputs: [x, a, e, b]) { y in
        base.multiply(x.data, rows: rows, into: y)                                             // y = x·W₀ᵀ (+ b)
        blas.sgemm(transA: false, transB: true, m: rows, n: outF, k: r, alpha: scaling, a: v.pointer, lda: r,
                   b: be.pointer, ldb: r, beta: 1, c: y, ldc: outF)                            // y += s·v·BEᵀ
    } backward: { dy in
        if b.requiresGrad || e.requiresGrad {
            let g = Buffer(count: outF * r)
            blas.sgemm(transA: true, transB: false, m: outF, n: r, k: rows, alpha: scaling, a: dy, lda: outF,
                       b: v.pointer, ldb: r, c: g.pointer, ldc: r)                             // G = s·dyᵀ·v [out, r]
            if b.requiresGrad {  // dB[o, i] += G[o, i]·E[i]
                let gb = b.gradBuffer()
                for o in 0..<outF { for i in 0..<r { gb[o * r + i] += g.pointer[o * r + i] * e.data[i] } }
            }
            if e.requiresGrad {  // dE[i] += Σ_o G[o, i]·B[o, i]
                let ge = e.gradBuffer()
                for i in 0..<r {
                    var sum: Float = 0
                    for o in 0..<outF { sum += g.pointer[o * r + i] * b.data[o * r + i] }
                    ge[i] += sum
                }
            }
        }
        guard a.requiresGrad || x.requiresGrad else { return }
        let dv = Buffer(count: rows * r)
        blas.sgemm(transA: false, transB: false, m: rows, n: r, k: outF, alpha: scaling, a: dy, lda: outF,
                   b: be.pointer, ldb: r, c: dv.pointer, ldc: r)                               // dv = s·dy·BE [rows, r]
        if a.requiresGrad {  // dA[r, in] += dvᵀ·x
            blas.sgemm(transA: true, transB: false, m: r, n: inF, k: rows, a: dv.pointer, lda: r, b: x.data, ldb: inF,
                       beta: 1, c: a.gradBuffer(), ldc: inF)
        }
        if x.requiresGrad {  // dx += dy·W₀ + dv·A
            let gx = x.gradBuffer()
            base.multiplyTransposed(dy, rows: rows, accumulatingInto: gx)
            blas.sgemm(transA: false, transB: false, m: rows, n: inF, k: r, a: dv.pointer, lda: r, b: a.data, ldb: inF,
                       beta: 1, c: gx, ldc: inF)
        }
    }
}
