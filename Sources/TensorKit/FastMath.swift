// FastMath.swift — an exp that the compiler can vectorise.
//
// expf is a library call, so a loop over it runs one element at a time. This is Cephes'
// single-precision exp, written with arithmetic and bit operations only:
//   x = n·ln2 + r, |r| ≤ ln2/2  (n = round(x·log₂e), ln2 split in two for exactness),
//   e^r ≈ 1 + r + r²·P(r)  (degree-5 minimax P),   e^x = 2ⁿ·e^r  (n added to the exponent bits).
// Relative error about 1 ulp on [−87.3, 88.7]; inputs below are clamped (e^−87.3 ≈ 1e−38 ≈ 0).

@inline(__always)
public func fastExp(_ x: Float) -> Float {
    let x = min(max(x, -87.3), 88.7)
    let n = (x * 1.44269504088896341).rounded(.toNearestOrEven)
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
