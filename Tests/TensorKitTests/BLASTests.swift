// The built-in matrix product against the system BLAS, for every transpose combination.

import Testing
import TestSupport
import TensorKit
import Foundation

@Suite struct BLASTests {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func fallbackMatchesSystemBLAS(transpose: (Bool, Bool)) {
        let gen = Generator(seed: 21)
        let (m, n, k) = (37, 29, 53)
        let a = randn(transpose.0 ? [k, m] : [m, k], gen), b = randn(transpose.1 ? [n, k] : [k, n], gen)
        let c0 = randn([m, n], gen)
        let c1 = c0.detached(), c2 = c0.detached()
        let lda = a.shape[1], ldb = b.shape[1]
        BLAS.shared.sgemm(transA: transpose.0, transB: transpose.1, m: m, n: n, k: k, alpha: 0.7,
                          a: a.data, lda: lda, b: b.data, ldb: ldb, beta: 0.5, c: c1.data, ldc: n)
        BLAS.fallbackSgemm(transA: transpose.0, transB: transpose.1, m: m, n: n, k: k, alpha: 0.7,
                           a: a.data, lda: lda, b: b.data, ldb: ldb, beta: 0.5, c: c2.data, ldc: n)
        // and a naive triple loop in Double as the judge of both
        var worst: Double = 0, worstFallback: Double = 0
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transpose.0 ? a.array[p * m + i] : a.array[i * k + p]
                    let bv = transpose.1 ? b.array[j * k + p] : b.array[p * n + j]
                    s += Double(av) * Double(bv)
                }
                let expected = 0.7 * s + 0.5 * Double(c0.array[i * n + j])
                worst = max(worst, abs(Double(c1.array[i * n + j]) - expected))
                worstFallback = max(worstFallback, abs(Double(c2.array[i * n + j]) - expected))
            }
        }
        #expect(worst < 1e-4, "system BLAS (\(BLAS.shared.name)) off by \(worst)")
        #expect(worstFallback < 1e-4, "built-in sgemm off by \(worstFallback)")
    }

    /// Same seed, same numbers on another CPU: with the kernels the loader pins (`BLAS.pinnedCoreType`),
    /// a product whose k = 2048 OpenBLAS cuts into blocks has the bits it has on the Zen 3 the reports
    /// were made on (the hash is Debian 12's OpenBLAS 0.3.21's; other versions are not checked). Without
    /// the pin, a Zen 4 (AVX-512) machine picks OpenBLAS's Cooperlake kernels, which give other bits
    /// here, and lesson-lora's full fine-tuning scored 0.775 instead of 0.830. (That the whole report
    /// then repeats was checked by running the lesson; this guards one product.)
    @Test(.enabled(if: BLAS.shared.name.hasPrefix("OpenBLAS 0.3.21 ") && BLAS.shared.name.contains(" Zen ")))
    func pinnedKernelsGiveTheReportsBits() {
        let gen = Generator(seed: 5)
        let (m, n, k) = (8, 16, 2048)
        let a = randn([m, k], gen), b = randn([n, k], gen), c = Tensor(zeros: [m, n])
        BLAS.shared.sgemm(transA: false, transB: true, m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: k,
                          c: c.data, ldc: n)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325                                    // FNV-1a over the bit patterns
        for v in c.array { hash = (hash ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3 }
        #expect(hash == 0x9d94_7339_43c6_a715, "\(BLAS.shared.name): the product's bits differ from the Zen kernels'")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["CI"] != nil))
    func ciLoadsOpenBLAS() {
        // .ci/run installs libopenblas-dev, so CI must find it; elsewhere the fallback is allowed.
        #expect(BLAS.shared.isAccelerated, "CI runs with \(BLAS.shared.name)")
    }
}
