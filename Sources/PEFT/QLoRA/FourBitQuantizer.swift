// FourBitQuantizer.swift — bitsandbytes' `quantize_4bit` / `dequantize_4bit` on the CPU, bit
// for bit: blockwise absmax scaling, nearest code, two codes a byte.
//
//   flat x (row-major), blocks of B consecutive elements (they run across rows; the last may be
//   shorter):  absmax_b = max |x| over block b
//   v = clamp(x · (1/absmax_b), −1, 1)   (a full block: float32 reciprocal, then the product)
//   v = clamp(x / absmax_b, −1, 1)       (the short last block: true division)
//   q = nibble of v (FourBitType.nibble),  byte j = q[2j] << 4 | q[2j+1]
//   dequantized x̂ = code[q] · absmax_b   (float32 product)
//
// Packed layout, [(n+1)/2] bytes: element 2j in the high nibble of byte j, element 2j+1 in the
// low nibble; for odd n the last low nibble encodes a padding value 0 (nibble 7 for NF4, 0 for
// FP4). absmax is clamped to ≥ 1e-38 for the division only, so an all-zero block stores absmax 0
// and the codes of 0.

import TensorKit

/// Blockwise 4-bit quantization as `bitsandbytes.functional.quantize_4bit` computes it on the CPU.
public enum FourBitQuantizer {
    /// The block sizes bitsandbytes accepts (`quantize_4bit` rejects every other).
    public static let blockSizes = [32, 64, 128, 256, 512, 1024, 2048, 4096]

    /// Quantizes `x` (row-major, any shape) in blocks of `blockSize`.
    /// - Returns: the packed codes, [(n+1)/2] bytes, and one float32 absmax per block, [⌈n/B⌉].
    public static func quantize(_ x: UnsafeBufferPointer<Float>, blockSize: Int, type: FourBitType)
        -> (packed: [UInt8], absmax: [Float]) {
        precondition(blockSize > 0 && blockSize % 2 == 0, "a 4-bit block size is even, got \(blockSize)")
        let n = x.count, blocks = (n + blockSize - 1) / blockSize
        var absmax = [Float](repeating: 0, count: blocks)
        var packed = [UInt8](repeating: 0, count: (n + 1) / 2)
        guard let source = x.baseAddress else { return (packed, absmax) }
        let midpoints = type.midpoints, nibbles = type.nibbleOfRank
        let padding = midpoints.withUnsafeBufferPointer { m in
            nibbles.withUnsafeBufferPointer { type.nibble(for: 0, midpoints: m.baseAddress!, nibbles: $0.baseAddress!) }
        }
        absmax.withUnsafeMutableBufferPointer { absmaxOut in
            packed.withUnsafeMutableBufferPointer { out in
                midpoints.withUnsafeBufferPointer { m in
                    nibbles.withUnsafeBufferPointer { order in
                        let (am, bytes) = (absmaxOut.baseAddress!, out.baseAddress!)
                        let (mid, ord) = (m.baseAddress!, order.baseAddress!)
                        parallelRanges(blocks, grain: 4096) { range in
                            for b in range {
                                let start = b * blockSize, end = min(start + blockSize, n)
                                var maximum: Float = 0
                                for i in start..<end { maximum = max(maximum, abs(source[i])) }
                                am[b] = maximum
                                let safe = max(maximum, 1e-38)
                                let inverse = 1 / safe, isFull = end - start == blockSize
                                var i = start
                                while i < end {
                                    // a block starts at an even index (B is even): pairs never straddle blocks
                                    let v0 = isFull ? source[i] * inverse : source[i] / safe
                                    let hi = type.nibble(for: min(max(v0, -1), 1), midpoints: mid, nibbles: ord)
                                    var lo = padding
                                    if i + 1 < end {
                                        let v1 = isFull ? source[i + 1] * inverse : source[i + 1] / safe
                                        lo = type.nibble(for: min(max(v1, -1), 1), midpoints: mid, nibbles: ord)
                                    }
                                    bytes[i / 2] = hi << 4 | lo
                                    i += 2
                                }
                            }
                        }
                    }
                }
            }
        }
        return (packed, absmax)
    }

    /// x̂[i] = code[nibble i] · absmax[i / B] for i in 0..<count, written to `out`.
    ///
    /// Per block, the 16 products code[k] · absmax are formed once (the same float32 products as
    /// per element) and each byte then costs two table lookups.
    public static func dequantize(packed: UnsafePointer<UInt8>, count: Int, blockSize: Int, type: FourBitType,
                                  absmax: (Int) -> Float, into out: UnsafeMutablePointer<Float>) {
        let code = type.decodeValues
        let blocks = (count + blockSize - 1) / blockSize
        code.withUnsafeBufferPointer { c in
            let table = c.baseAddress!
            parallelRanges(blocks, grain: 1024) { range in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { lookup in
                    let values = lookup.baseAddress!
                    for b in range {
                        let s = absmax(b)
                        for k in 0..<16 { values[k] = table[k] * s }
                        let start = b * blockSize, end = min(start + blockSize, count)
                        var i = start
                        while i + 1 < end {
                            let byte = Int(packed[i >> 1])
                            out[i] = values[byte >> 4]
                            out[i + 1] = values[byte & 15]
                            i += 2
                        }
                        if i < end { out[i] = values[Int(packed[i >> 1]) >> 4] }
                    }
                }
            }
        }
    }
}
