// Int4Quantizer.swift — symmetric absmax INT4, the plain 4-bit baseline NF4 is compared with.
//
//   per block of B elements: absmax = max |x|,  k = round(7 · x / absmax) ∈ {−7, …, 7}
//   x̂ = (k / 7) · absmax
// Fifteen evenly spaced levels (one of the 16 codes unused), against NF4's levels placed at
// normal quantiles: for normally distributed weights, most values sit near zero where evenly
// spaced levels are too coarse.

/// Blockwise symmetric absmax INT4 quantization (levels k/7, k = −7…7).
public enum Int4Quantizer {
    /// The integer levels k and the absmax of every block of `blockSize`.
    public static func quantize(_ x: [Float], blockSize: Int) -> (levels: [Int8], absmax: [Float]) {
        precondition(blockSize > 0, "block size must be positive")
        let blocks = (x.count + blockSize - 1) / blockSize
        var levels = [Int8](repeating: 0, count: x.count), absmax = [Float](repeating: 0, count: blocks)
        for b in 0..<blocks {
            let range = b * blockSize ..< min((b + 1) * blockSize, x.count)
            let maximum = x[range].reduce(Float(0)) { max($0, abs($1)) }
            absmax[b] = maximum
            guard maximum > 0 else { continue }
            for i in range { levels[i] = Int8(min(max((7 * x[i] / maximum).rounded(), -7), 7)) }
        }
        return (levels, absmax)
    }

    /// x̂ = (k / 7) · absmax of the element's block.
    public static func dequantize(levels: [Int8], absmax: [Float], blockSize: Int) -> [Float] {
        levels.indices.map { Float(levels[$0]) / 7 * absmax[$0 / blockSize] }
    }
}
