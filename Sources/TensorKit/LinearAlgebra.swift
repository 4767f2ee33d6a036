// LinearAlgebra.swift — the singular value decomposition, for PiSSA's initialisation and for
// the lessons' spectra and subspace similarities.
//
// One-sided Jacobi (Hestenes): rotate pairs of columns of A until all are orthogonal; then the
// column norms are the singular values, the normalised columns are U, and the accumulated
// rotations are V. Computed in Double; accurate to working precision for these sizes.

/// A = U · diag(S) · Vᵀ for a row-major [m, n] matrix, k = min(m, n) triplets, S descending.
public struct SVD {
    /// [m, k] row-major.
    public var u: [Double]
    /// k singular values, largest first.
    public var s: [Double]
    /// [k, n] row-major (the rows are the right singular vectors).
    public var vt: [Double]
    public var m: Int, n: Int, k: Int

    public init(_ a: [Float], rows m: Int, columns n: Int) {
        if n > m {  // decompose Aᵀ = V S Uᵀ and swap
            var t = [Float](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { t[j * m + i] = a[i * n + j] } }
            let d = SVD(t, rows: n, columns: m)
            self.m = m; self.n = n; self.k = d.k; self.s = d.s
            var u = [Double](repeating: 0, count: m * d.k), vt = [Double](repeating: 0, count: d.k * n)
            for i in 0..<m { for c in 0..<d.k { u[i * d.k + c] = d.vt[c * m + i] } }
            for c in 0..<d.k { for j in 0..<n { vt[c * n + j] = d.u[j * d.k + c] } }
            self.u = u; self.vt = vt
            return
        }
        self.m = m; self.n = n; self.k = n
        // columns of A as contiguous vectors, and V = I
        var cols = [[Double]](repeating: [Double](repeating: 0, count: m), count: n)
        for i in 0..<m { for j in 0..<n { cols[j][i] = Double(a[i * n + j]) } }
        var v = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for j in 0..<n { v[j][j] = 1 }
        for _ in 0..<60 {
            var rotated = false
            for p in 0..<n {
                for q in (p + 1)..<max(p + 1, n) {
                    var alpha = 0.0, beta = 0.0, gamma = 0.0
                    for i in 0..<m {
                        alpha += cols[p][i] * cols[p][i]; beta += cols[q][i] * cols[q][i]
                        gamma += cols[p][i] * cols[q][i]
                    }
                    if abs(gamma) <= 1e-15 * (alpha * beta).squareRoot() || gamma == 0 { continue }
                    rotated = true
                    let zeta = (beta - alpha) / (2 * gamma)
                    let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
                    let c = 1 / (1 + t * t).squareRoot(), s = c * t
                    for i in 0..<m {
                        let x = cols[p][i], y = cols[q][i]; cols[p][i] = c * x - s * y; cols[q][i] = s * x + c * y
                    }
                    for i in 0..<n { let x = v[p][i], y = v[q][i]; v[p][i] = c * x - s * y; v[q][i] = s * x + c * y }
                }
            }
            if !rotated { break }
        }
        let norms = cols.map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let order = (0..<n).sorted { norms[$0] > norms[$1] }
        s = order.map { norms[$0] }
        var u = [Double](repeating: 0, count: m * n), vt = [Double](repeating: 0, count: n * n)
        for (c, j) in order.enumerated() {
            for i in 0..<m { u[i * n + c] = norms[j] > 1e-300 ? cols[j][i] / norms[j] : 0 }
            for i in 0..<n { vt[c * n + i] = v[j][i] }
        }
        self.u = u; self.vt = vt
    }
}
