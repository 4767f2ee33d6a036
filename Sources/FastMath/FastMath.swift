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

/// σ(x) = 1 / (1 + e^(−x)), with `fastExp`: the logistic sigmoid of SiLU, SwiGLU's backward and the
/// LSTM's gates, written once so that all of them compute it with the same operations.
@inlinable @inline(__always)
public func fastSigmoid(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }

/// The largest of n values (−∞ for none; NaNs are passed over), eight running maxima at a time so
/// the loop is not one long chain of compares. The order of comparisons cannot change the value:
/// only which of +0 and −0 comes back when both are the largest. The kernels below use the max as
/// e^(x − m) and m + log s, where the two zeros give the same bits: x − m may then be +0 or −0,
/// but `fastExp` takes both to 1, and s ≥ 1, so m + log s is +0 + log s either way.
@inlinable @inline(__always)
public func maxElement(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: -.infinity)
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        lanes = lanes.replacing(with: v, where: v .> lanes)
        i += 8
    }
    var m = lanes.max()
    while i < n { m = max(m, x[i]); i += 1 }
    return m
}

/// Σ_i e^(x_i − m) over n values, added strictly left to right (the order a plain loop uses, so
/// the bits do not depend on the vector width). A loop that computes e^(…) and adds it in one go
/// runs one element at a time, since the ordered sum cannot be vectorised; here the exps of a
/// block go to a stack buffer of 256 first (a vectorised loop), then the block is added in order.
/// If `keep` is given (it may be x), the exps are written there instead (n values) and left.
@inlinable @inline(__always)
public func sumExp(_ x: UnsafePointer<Float>, _ n: Int, minus m: Float, keep: UnsafeMutablePointer<Float>?) -> Float {
    var s: Float = 0
    if let keep {
        if UnsafePointer(keep) == x {  // in place: one pointer, so no overlap check sends it to the scalar loop
            for i in 0..<n { keep[i] = fastExp(keep[i] - m) }
        } else {
            for i in 0..<n { keep[i] = fastExp(x[i] - m) }
        }
        for i in 0..<n { s += keep[i] }
        return s
    }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { buffer in
        let e = buffer.baseAddress!
        var start = 0
        while start < n {
            let count = min(256, n - start), xs = x + start
            for i in 0..<count { e[i] = fastExp(xs[i] - m) }
            for i in 0..<count { s += e[i] }
            start += count
        }
    }
    return s
}

/// y = softmax(x) over one row of n values (y may be x): the max is subtracted before exp, so
/// no value overflows (softmax(x) = softmax(x − max x)).
@inlinable @inline(__always)
public func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    let m = maxElement(x, n)
    let s = sumExp(x, n, minus: m, keep: y)
    let inv = 1 / s
    for i in 0..<n { y[i] *= inv }
}

/// log Σ_i e^(x_i) over one row of n values, as m + log Σ_i e^(x_i − m) with m = max x.
@inlinable @inline(__always)
public func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let m = maxElement(x, n)
    return m + logf(sumExp(x, n, minus: m, keep: nil))
}
