// MatMul.swift — matrix products through sgemm, and the linear layer's y = x·Wᵀ + b.
//
// Forward  C = op(A)·op(B).
// Backward dA = dC·op(B)ᵀ (transposed back if A was), dB = op(A)ᵀ·dC (likewise).
// Nothing is computed for an input that needs no gradient: a frozen weight costs only the
// product for its input's gradient, which is what makes PEFT cheap.

extension Tensor {
    @inline(__always) var matrixRows: Int { shape[rank - 2] }
    @inline(__always) var matrixCols: Int { shape[rank - 1] }
}

/// Matrix product of the last two axes. `a` is [..., M, K] (or [..., K, M] with `transposeA`),
/// `b` is [K, N] (or [N, K] with `transposeB`), or batched [..., K, N] with the same leading
/// axes as `a`. A 2-D `b` is shared by every matrix of `a`, which then becomes one sgemm.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
    let m = transposeA ? a.matrixCols : a.matrixRows
    let k = transposeA ? a.matrixRows : a.matrixCols
    let kb = transposeB ? b.matrixCols : b.matrixRows
    let n = transposeB ? b.matrixRows : b.matrixCols
    precondition(k == kb, "matmul: inner extents differ, "
                 + "\(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
    let batchA = Array(a.shape.dropLast(2))
    let sharedB = b.rank == 2
    precondition(sharedB || Array(b.shape.dropLast(2)) == batchA, "matmul: batch axes \(a.shape) and \(b.shape) differ")
    let batch = batchA.reduce(1, *)
    // A shared B and an untransposed A: all batches are rows of one [batch·M, K] matrix.
    let (groups, rows) = sharedB && !transposeA ? (1, batch * m) : (batch, m)
    let strideA = m * k, strideB = sharedB ? 0 : k * n, strideC = m * n
    let out = Tensor(uninitialized: batchA + [m, n])
    let blas = BLAS.shared
    let lda = a.matrixCols, ldb = b.matrixCols
    for g in 0..<groups {
        blas.sgemm(transA: transposeA, transB: transposeB, m: rows, n: n, k: k,
                   a: a.data + g * strideA, lda: lda, b: b.data + g * strideB, ldb: ldb,
                   c: out.data + g * strideC, ldc: n)
    }
    out.record([a, b]) { dc in
        if a.requiresGrad {
            let ga = a.gradBuffer()
            for g in 0..<groups {
                if !transposeA {  // dA[M,K] += dC[M,N] · op(B)ᵀ
                    blas.sgemm(transA: false, transB: !transposeB, m: rows, n: k, k: n,
                               a: dc + g * strideC, lda: n, b: b.data + g * strideB, ldb: ldb,
                               beta: 1, c: ga + g * strideA, ldc: lda)
                } else {  // dA[K,M] += op(B) · dCᵀ
                    blas.sgemm(transA: transposeB, transB: true, m: k, n: m, k: n,
                               a: b.data + g * strideB, lda: ldb, b: dc + g * strideC, ldb: n,
                               beta: 1, c: ga + g * strideA, ldc: lda)
                }
            }
        }
        if b.requiresGrad {
            let gb = b.gradBuffer()
            for g in 0..<groups {
                // a shared B sums the contributions of every batch (beta = 1 accumulates)
                if !transposeB {  // dB[K,N] += op(A)ᵀ · dC
                    blas.sgemm(transA: !transposeA, transB: false, m: k, n: n, k: rows,
                               a: a.data + g * strideA, lda: lda, b: dc + g * strideC, ldb: n,
                               beta: 1, c: gb + g * strideB, ldc: ldb)
                } else {  // dB[N,K] += dCᵀ · op(A)
                    blas.sgemm(transA: true, transB: transposeA, m: n, n: k, k: rows,
                               a: dc + g * strideC, lda: n, b: a.data + g * strideA, ldb: lda,
                               beta: 1, c: gb + g * strideB, ldc: ldb)
                }
            }
        }
    }
    return out
}

/// The linear layer of PyTorch: y = x·Wᵀ + b, with `weight` [out, in] (Hugging Face layout),
/// `x` [..., in] and the optional `bias` [out]. Returns [..., out].
///   dx = dy·W,   dW = dyᵀ·x (summed over every leading position),   db = Σ dy.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    precondition(weight.rank == 2 && x.shape.last == weight.shape[1],
                 "linear: input \(x.shape) does not fit weight \(weight.shape) ([out, in])")
    let inF = weight.shape[1], outF = weight.shape[0]
    let rows = x.count / max(inF, 1)
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outF])
    let blas = BLAS.shared
    blas.sgemm(transA: false, transB: true, m: rows, n: outF, k: inF,
               a: x.data, lda: inF, b: weight.data, ldb: inF, c: out.data, ldc: outF)  // [rows, out]
    if let bias {
        precondition(bias.count == outF, "linear: bias \(bias.shape) for \(outF) outputs")
        for r in 0..<rows { let y = out.data + r * outF; for j in 0..<outF { y[j] += bias.data[j] } }
    }
    out.record(bias.map { [x, weight, $0] } ?? [x, weight]) { dy in
        if x.requiresGrad {  // dx[rows, in] += dy[rows, out] · W[out, in]
            blas.sgemm(transA: false, transB: false, m: rows, n: inF, k: outF,
                       a: dy, lda: outF, b: weight.data, ldb: inF, beta: 1, c: x.gradBuffer(), ldc: inF)
        }
        if weight.requiresGrad {  // dW[out, in] += dyᵀ[out, rows] · x[rows, in]
            blas.sgemm(transA: true, transB: false, m: outF, n: inF, k: rows,
                       a: dy, lda: outF, b: x.data, ldb: inF, beta: 1, c: weight.gradBuffer(), ldc: inF)
        }
        if let bias, bias.requiresGrad {
            let gb = bias.gradBuffer()
            for r in 0..<rows { let d = dy + r * outF; for j in 0..<outF { gb[j] += d[j] } }
        }
    }
    return out
}
