// BLAS.swift — the one matrix product everything else uses.
//
// sgemm computes C = alpha * op(A) · op(B) + beta * C for row-major matrices, where op(X) is X
// or Xᵀ. OpenBLAS (Linux) or Accelerate (macOS) is loaded at run time with dlopen, so the
// package builds and runs without it; then a built-in Swift product takes over and one plain
// line says how to get the fast one.
//
// OpenBLAS picks its kernels for the CPU it finds, and kernels differ in the order they add
// products, so the same seed would give other last bits, and through training other scores, on
// another CPU. On x86-64 with AVX2 and FMA the loader therefore asks for one kernel set, Zen's
// (`OPENBLAS_CORETYPE=Zen`, the one the committed reports were made with): with the same OpenBLAS
// (Debian 12's 0.3.21, built to pick kernels at run time), every such CPU, Intel or AMD, with or
// without AVX-512, then repeats them bit for bit. It gives up the AVX-512 kernels, which on the
// Zen 4 measured made no difference at these sizes. A user's own `OPENBLAS_CORETYPE` wins.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif
import Dispatch

/// The BLAS backend in use: a dynamically loaded `cblas_sgemm`, or the built-in fallback.
public final class BLAS: @unchecked Sendable {
    typealias SgemmFn = @convention(c) (
        Int32, Int32, Int32, Int32, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
    ) -> Void
    typealias GetIntFn = @convention(c) () -> Int32
    typealias SetIntFn = @convention(c) (Int32) -> Void
    typealias GetStringFn = @convention(c) () -> UnsafePointer<CChar>?

    /// The process-wide backend. Set `PEFT_BLAS=none` to force the built-in product, or
    /// `PEFT_BLAS=/path/to/libblas.so` to load a specific library.
    public static let shared = BLAS()

    private let sgemmFn: SgemmFn?
    private let getThreads: GetIntFn?
    private let setThreads: SetIntFn?
    /// A short description such as `OpenBLAS 0.3.21 (Haswell)` or `built-in Swift sgemm`.
    public let name: String
    /// `OPENBLAS_CORETYPE` as OpenBLAS found it when it was loaded (the user's, or `pinnedCoreType`),
    /// nil if unset.
    public let coreTypeRequest: String?
    /// True when a system BLAS was found.
    public var isAccelerated: Bool { sgemmFn != nil }

    private init() {
        let env = getenv("PEFT_BLAS").map { String(cString: $0) }
        var candidates: [String]
        if let env, env != "none" { candidates = [env] } else { candidates = [] }
        if env == nil {
            #if canImport(Darwin)
            candidates = ["/System/Library/Frameworks/Accelerate.framework/Accelerate", "libopenblas.dylib"]
            #else
            candidates = ["libopenblas.so.0", "libopenblas.so", "libopenblas64_.so.0", "libblas.so.3"]
            #endif
        }
        if env != "none" { Self.pinKernels() }
        coreTypeRequest = getenv("OPENBLAS_CORETYPE").map { String(cString: $0) }
        var found: (UnsafeMutableRawPointer, String)? = nil
        for path in candidates {
            if let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL), dlsym(handle, "cblas_sgemm") != nil {
                found = (handle, path); break
            }
        }
        guard let (handle, path) = found else {
            sgemmFn = nil; getThreads = nil; setThreads = nil
            name = "built-in Swift sgemm"
            workers = Self.fallbackThreads
            if env != "none" {
                printToStandardError("note: OpenBLAS was not found, so matrix products use a slower built-in Swift "
                    + "loop; install it (apt-get install libopenblas-dev) to make training several times faster.")
            }
            return
        }
        sgemmFn = unsafeBitCast(dlsym(handle, "cblas_sgemm")!, to: SgemmFn.self)
        getThreads = dlsym(handle, "openblas_get_num_threads").map { unsafeBitCast($0, to: GetIntFn.self) }
        setThreads = dlsym(handle, "openblas_set_num_threads").map { unsafeBitCast($0, to: SetIntFn.self) }
        workers = getThreads.map { Int($0()) } ?? Self.fallbackThreads
        setThreads?(1)
        if let sym = dlsym(handle, "openblas_get_config") {
            let config = unsafeBitCast(sym, to: GetStringFn.self)().map { String(cString: $0) } ?? "OpenBLAS"
            name = config.trimmingSpaces
        } else if path.contains("Accelerate") {
            name = "Accelerate"
        } else {
            name = path
        }
    }

    /// The kernel set OpenBLAS is asked for on x86-64 CPUs with AVX2 and FMA (see the file comment).
    public static let pinnedCoreType = "Zen"

    /// Sets `OPENBLAS_CORETYPE` to `pinnedCoreType` before OpenBLAS is loaded (it reads the variable
    /// once, when the library initialises), unless the user set it or the CPU lacks AVX2 or FMA,
    /// whose instructions those kernels use. It runs once, in `shared`'s initialiser, before any
    /// parallel loop starts (the worker pool is sized from `shared`), but a test thread could read
    /// the environment meanwhile: glibc's `setenv` keeps the old array alive, so such a read sees
    /// the old or the new one. Child processes inherit the setting, which is what they should use.
    private static func pinKernels() {
        #if os(Linux) && arch(x86_64)
        guard getenv("OPENBLAS_CORETYPE") == nil, cpuFlags.contains("avx2"), cpuFlags.contains("fma") else { return }
        setenv("OPENBLAS_CORETYPE", pinnedCoreType, 0)
        #endif
    }

    /// The CPU's feature flags as Linux lists them in /proc/cpuinfo (empty elsewhere).
    static let cpuFlags: Set<String> = {
        let line = readProcFile("/proc/cpuinfo")?.split(separator: "\n").first { $0.hasPrefix("flags") }
        return Set((line ?? "").split(separator: " ").map(String.init))
    }()

    /// Threads a large product is split over. OpenBLAS itself runs single-threaded and we
    /// split C into row or column blocks on our own threads: then elementwise ops can share the
    /// same threads instead of competing with OpenBLAS's spinning workers.
    public var threads: Int {
        get { workers }
        set { workers = max(1, newValue) }
    }
    nonisolated(unsafe) private var workers = 1

    static var fallbackThreads: Int { max(1, min(2, sysconfThreads())) }

    /// C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C, all row-major.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored (before any transpose).
    @inline(__always)
    public func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        if Profiler.isEnabled {
            // by operand layout: "matmul NT" is x·Wᵀ (forward), NN dy·W (input gradient), TN dyᵀ·x (weight gradient)
            Profiler.measure(transA ? (transB ? "matmul TT" : "matmul TN") : (transB ? "matmul NT" : "matmul NN")) {
                self.sgemmUnprofiled(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                     b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }
        } else {
            sgemmUnprofiled(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                            ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    @inline(__always)
    private func sgemmUnprofiled(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if let f = sgemmFn {
            let (opA, opB) = (transA ? CBLAS.trans : CBLAS.noTrans, transB ? CBLAS.trans : CBLAS.noTrans)
            let parts = workers
            if parts > 1 && m * n * k >= 1 << 19 && max(m, n) >= 32 * parts {
                // Split C into blocks of rows (or of columns, if it is wider than tall).
                let byRows = m >= n
                let extent = byRows ? m : n
                parallelFor(parts) { part in
                    let lo = part * extent / parts, hi = (part + 1) * extent / parts
                    if byRows {
                        f(CBLAS.rowMajor, opA, opB, Int32(hi - lo), Int32(n), Int32(k), alpha,
                          transA ? a + lo : a + lo * lda, Int32(lda), b, Int32(ldb), beta, c + lo * ldc, Int32(ldc))
                    } else {
                        f(CBLAS.rowMajor, opA, opB, Int32(m), Int32(hi - lo), Int32(k), alpha,
                          a, Int32(lda), transB ? b + lo * ldb : b + lo, Int32(ldb), beta, c + lo, Int32(ldc))
                    }
                }
            } else {
                f(CBLAS.rowMajor, opA, opB, Int32(m), Int32(n), Int32(k), alpha,
                  a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            }
        } else {
            BLAS.fallbackSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                               a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    /// The built-in matrix product: row-parallel, with op(B) packed row-major so that the inner
    /// loop is a contiguous axpy that the compiler vectorises. Same contract as `sgemm`.
    public static func fallbackSgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // Pack op(B) as [K, N] contiguous.
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
        defer { packed.deallocate() }
        for p in 0..<k {
            for j in 0..<n { packed[p * n + j] = transB ? b[j * ldb + p] : b[p * ldb + j] }
        }
        let rows = { (i: Int) in
            let ci = c + i * ldc
            if beta == 0 { for j in 0..<n { ci[j] = 0 } } else if beta != 1 { for j in 0..<n { ci[j] *= beta } }
            for p in 0..<k {
                let av = alpha * (transA ? a[p * lda + i] : a[i * lda + p])
                if av == 0 { continue }
                let bp = packed + p * n
                for j in 0..<n { ci[j] += av * bp[j] }
            }
        }
        if m * n * k >= 1 << 18 && fallbackThreads > 1 {
            let chunks = fallbackThreads * 4
            parallelFor(chunks) { chunk in
                var i = chunk * m / chunks
                let end = (chunk + 1) * m / chunks
                while i < end { rows(i); i += 1 }
            }
        } else {
            for i in 0..<m { rows(i) }
        }
    }
}

/// The CBLAS enumeration values `cblas_sgemm` takes (cblas.h).
enum CBLAS {
    static let rowMajor: Int32 = 101  // CblasRowMajor
    static let noTrans: Int32 = 111   // CblasNoTrans
    static let trans: Int32 = 112     // CblasTrans
}

/// Runs `body(i)` for i in 0..<n on the available cores and waits for all of them.
/// With the profiler on, each iteration is charged to the category open where the loop began.
public func parallelFor(_ n: Int, _ body: (Int) -> Void) {
    if let category = Profiler.currentCategory {
        WorkerPool.shared.run(n) { i in Profiler.measure(category) { body(i) } }
    } else {
        WorkerPool.shared.run(n, body)
    }
}

/// The fewest elements per thread for which `parallelRanges` splits an elementwise loop.
public let parallelGrain = 1 << 15

/// Splits 0..<count into one contiguous range per thread and runs `body` on each in parallel;
/// runs serially when there are fewer than `grain` items per thread.
@inline(__always)
public func parallelRanges(_ count: Int, grain: Int = parallelGrain, _ body: (Range<Int>) -> Void) {
    let parts = min(BLAS.shared.threads, count / max(grain, 1))
    if parts <= 1 { body(0..<count); return }
    parallelFor(parts) { part in body(part * count / parts ..< (part + 1) * count / parts) }
}

/// Wraps a value that is shared across threads under the caller's guarantee.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

private func sysconfThreads() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
