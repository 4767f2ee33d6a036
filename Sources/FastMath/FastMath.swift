// FastMath.swift — an exp that the compiler can vectorise, and the row kernels built on it.
//
// A module of its own so that every caller can inline these: the debug configuration that
// `swift run` uses compiles a module file by file, and a function from another file of the same
// module is then a call (15% of a training step went to calling fastExp from silu). Across a
// module boundary, `@inlinable` bodies are always available to the optimiser.
//
// expf is a library call, so a loop over it runs one element at a time. This is Cephes'
// single-precision exp, written with arithmetic and bit operations only:
//   x = n·ln2 + r, |r| ≤ ln2/2  (n = round(x·log₂e), ln2 split in two for exactness),
//   e^r ≈ 1 + r + r²·P(r)  (degree-5 minimax P),   e^x = 2ⁿ·e^r  (n added to the exponent bits).
// Relative error about 1 ulp on [−87.3, 88.7]; inputs below are clamped (e^−87.3 ≈ 1e−38 ≈ 0).

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

@inlinable @inline(__always)
public func fastExp(_ x: Float) -> Float {
    let x = min(max(x, -87.3), 88.7)
    // round to nearest even by adding and removing 1.5·2²³ (exact for |v| < 2²²): the same n
    // as rintf, without a library call that would stop the loop from being vectorised
    let n = (x * 1.44269504088896341 + 12582912) - 12582912
    let r = x - n * 0.693359375 + n * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let er = p * r * r + r + 1
    return er * Float(bitPattern: UInt32(bitPattern: (Int32(n) + 127) << 23))
}

/// y = softmax(x) over one row of n values (y may be x): the max is subtracted before exp, so
/// no value overflows (softmax(x) = softmax(x − max x)).
@inlinable @inline(__always)
public func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var m = -Float.infinity
    for i in 0..<n { m = max(m, x[i]) }
    var s: Float = 0
    for i in 0..<n { let e = fastExp(x[i] - m); y[i] = e; s += e }
    let inv = 1 / s
    for i in 0..<n { y[i] *= inv }
}

/// log Σ_i e^(x_i) over one row of n values, as m + log Σ_i e^(x_i − m) with m = max x.
@inlinable @inline(__always)
public func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = -Float.infinity
    for i in 0..<n { m = max(m, x[i]) }
    var s: Float = 0
    for i in 0..<n { s += fastExp(x[i] - m) }
    return m + logf(s)
}
