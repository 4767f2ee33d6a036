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
        // Columns of A as contiguous vectors (column j at j·m), and V = I (row j at j·n): flat
        // buffers, so the inner loops run on pointers (the rotations vectorise; the sums keep
        // their order, so the result does not depend on how the loops compile).
        var columns = [Double](repeating: 0, count: n * m), vRows = [Double](repeating: 0, count: n * n)
        for i in 0..<m { for j in 0..<n { columns[j * m + i] = Double(a[i * n + j]) } }
        for j in 0..<n { vRows[j * n + j] = 1 }
        columns.withUnsafeMutableBufferPointer { colsBuffer in vRows.withUnsafeMutableBufferPointer { vBuffer in
            let (cols, v) = (colsBuffer.baseAddress!, vBuffer.baseAddress!)
            for _ in 0..<60 {
                var rotated = false
                for p in 0..<n {
                    let cp = cols + p * m, vp = v + p * n
                    for q in (p + 1)..<max(p + 1, n) {
                        let cq = cols + q * m, vq = v + q * n
                        var alpha = 0.0, beta = 0.0, gamma = 0.0  // ‖a_p‖², ‖a_q‖², a_p·a_q
                        for i in 0..<m {
                            alpha += cp[i] * cp[i]; beta += cq[i] * cq[i]
                            gamma += cp[i] * cq[i]
                        }
                        if abs(gamma) <= 1e-15 * (alpha * beta).squareRoot() || gamma == 0 { continue }
                        rotated = true
                        // the rotation that makes columns p and q orthogonal: tan θ = t
                        let zeta = (beta - alpha) / (2 * gamma)
                        let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
                        let c = 1 / (1 + t * t).squareRoot(), s = c * t
                        for i in 0..<m { let x = cp[i], y = cq[i]; cp[i] = c * x - s * y; cq[i] = s * x + c * y }
                        for i in 0..<n { let x = vp[i], y = vq[i]; vp[i] = c * x - s * y; vq[i] = s * x + c * y }
                    }
                }
                if !rotated { break }
            }
        } }
        let norms = (0..<n).map { j in columns[(j * m)..<(j * m + m)].reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let order = (0..<n).sorted { norms[$0] > norms[$1] }
        s = order.map { norms[$0] }
        var u = [Double](repeating: 0, count: m * n), vt = [Double](repeating: 0, count: n * n)
        for (c, j) in order.enumerated() {
            for i in 0..<m { u[i * n + c] = norms[j] > 1e-300 ? columns[j * m + i] / norms[j] : 0 }
            for i in 0..<n { vt[c * n + i] = vRows[j * n + i] }
        }
        self.u = u; self.vt = vt
    }
}
