// DynamicCode.swift — bitsandbytes' 8-bit quantizer of the block absmax values (double
// quantization): the signed dynamic code, and the CPU kernel's rounding through a
// 65536-entry lookup table.
//
//   nested_absmax_b = max |c| over block b (blocks of 256 by default; the last may be shorter)
//   v = clamp(c · (1/nested_absmax_b), −1, 1)
//   j = UInt16(((v + 1) · 0.5) · 65535 + 0.5)        (float32 arithmetic, truncation)
//   q = lut[j],  lut[j] = #{ midpoints (codeᵢ + codeᵢ₊₁)/2 strictly below −1 + 2j/65535 }
//   ĉ = code[q] · nested_absmax_b                     (float32 product)
//
// The table rounds to the nearest code except within 1/65535 of a midpoint (about 0.4% of
// values differ from exact nearest rounding); an all-zero block gets index 0.

/// The 8-bit signed dynamic data type and the blockwise 8-bit quantizer of bitsandbytes' CPU
/// backend (`quantize_blockwise` / `dequantize_blockwise`).
public enum DynamicCode {
    /// `create_dynamic_map(signed=True)`, ascending: 256 float32 values from −0.99297 to 1, zero
    /// at index 127. For each decade exponent e = 0…6 it holds ±10^(e−6) times the means of
    /// 2^e + 1 evenly spaced points in [0.1, 1] (so larger values get more fraction bits), plus 0
    /// and 1. Listed by bit pattern: torch builds the points with its own float32 `linspace`, whose
    /// rounding is easier to copy than to re-derive.
    public static let code: [Float] = bitPatterns.map { Float(bitPattern: $0) }

    private static let bitPatterns: [UInt32] = [
        0xBF7E3333, 0xBF7A999A, 0xBF770000, 0xBF736666, 0xBF6FCCCD, 0xBF6C3333, 0xBF68999A, 0xBF650000,
        0xBF616666, 0xBF5DCCCD, 0xBF5A3333, 0xBF56999A, 0xBF530000, 0xBF4F6666, 0xBF4BCCCD, 0xBF483333,
        0xBF44999A, 0xBF410000, 0xBF3D6666, 0xBF39CCCD, 0xBF363334, 0xBF32999A, 0xBF2F0000, 0xBF2B6666,
        0xBF27CCCD, 0xBF243334, 0xBF20999A, 0xBF1D0000, 0xBF196666, 0xBF15CCCD, 0xBF123334, 0xBF0E999A,
        0xBF0B0000, 0xBF076666, 0xBF03CCCC, 0xBF003333, 0xBEF93332, 0xBEF20000, 0xBEEACCCC, 0xBEE3999A,
        0xBEDC6666, 0xBED53333, 0xBECE0000, 0xBEC6CCCC, 0xBEBF999A, 0xBEB86666, 0xBEB13333, 0xBEAA0000,
        0xBEA2CCCC, 0xBE9B999A, 0xBE946666, 0xBE8D3334, 0xBE860000, 0xBE7D9999, 0xBE6F3333, 0xBE60CCCD,
        0xBE526666, 0xBE440000, 0xBE35999A, 0xBE273333, 0xBE18CCCD, 0xBE0A6666, 0xBDF80000, 0xBDDB3334,
        0xBDC9EB85, 0xBDC428F7, 0xBDBE6667, 0xBDB8A3D7, 0xBDB2E148, 0xBDAD1EB8, 0xBDA75C2A, 0xBDA1999A,
        0xBD9BD70A, 0xBD96147B, 0xBD9051EB, 0xBD8A8F5D, 0xBD84CCCD, 0xBD7E147B, 0xBD728F5D, 0xBD670A3D,
        0xBD5B851F, 0xBD500000, 0xBD447AE1, 0xBD38F5C3, 0xBD2D70A3, 0xBD21EB85, 0xBD166667, 0xBD0AE148,
        0xBCFEB852, 0xBCE7AE15, 0xBCD0A3D7, 0xBCB9999A, 0xBCA28F5D, 0xBC8B851F, 0xBC68F5C3, 0xBC3AE148,
        0xBC1F3B64, 0xBC160418, 0xBC0CCCCD, 0xBC039581, 0xBBF4BC6A, 0xBBE24DD3, 0xBBCFDF3B, 0xBBBD70A4,
        0xBBAB020D, 0xBB989374, 0xBB8624DD, 0xBB676C8A, 0xBB428F5C, 0xBB1DB22D, 0xBAF1A9FC, 0xBAA7EF9D,
        0xBA7765FF, 0xBA59E83E, 0xBA3C6A80, 0xBA1EECC1, 0xBA016F01, 0xB9C7E283, 0xB98CE705, 0xB923D70B,
        0xB8BA1F4B, 0xB88AEFB3, 0xB8378034, 0xB7B24206, 0xB70205FF, 0xB65A1A94, 0xB513A3B7, 0x00000000,
        0x3513A3B7, 0x365A1A94, 0x370205FF, 0x37B24206, 0x38378034, 0x388AEFB3, 0x38BA1F4B, 0x3923D70B,
        0x398CE705, 0x39C7E283, 0x3A016F01, 0x3A1EECC1, 0x3A3C6A80, 0x3A59E83E, 0x3A7765FF, 0x3AA7EF9D,
        0x3AF1A9FC, 0x3B1DB22D, 0x3B428F5C, 0x3B676C8A, 0x3B8624DD, 0x3B989374, 0x3BAB020D, 0x3BBD70A4,
        0x3BCFDF3B, 0x3BE24DD3, 0x3BF4BC6A, 0x3C039581, 0x3C0CCCCD, 0x3C160418, 0x3C1F3B64, 0x3C3AE148,
        0x3C68F5C3, 0x3C8B851F, 0x3CA28F5D, 0x3CB9999A, 0x3CD0A3D7, 0x3CE7AE15, 0x3CFEB852, 0x3D0AE148,
        0x3D166667, 0x3D21EB85, 0x3D2D70A3, 0x3D38F5C3, 0x3D447AE1, 0x3D500000, 0x3D5B851F, 0x3D670A3D,
        0x3D728F5D, 0x3D7E147B, 0x3D84CCCD, 0x3D8A8F5D, 0x3D9051EB, 0x3D96147B, 0x3D9BD70A, 0x3DA1999A,
        0x3DA75C2A, 0x3DAD1EB8, 0x3DB2E148, 0x3DB8A3D7, 0x3DBE6667, 0x3DC428F7, 0x3DC9EB85, 0x3DDB3334,
        0x3DF80000, 0x3E0A6666, 0x3E18CCCD, 0x3E273333, 0x3E35999A, 0x3E440000, 0x3E526666, 0x3E60CCCD,
        0x3E6F3333, 0x3E7D9999, 0x3E860000, 0x3E8D3334, 0x3E946666, 0x3E9B999A, 0x3EA2CCCC, 0x3EAA0000,
        0x3EB13333, 0x3EB86666, 0x3EBF999A, 0x3EC6CCCC, 0x3ECE0000, 0x3ED53333, 0x3EDC6666, 0x3EE3999A,
        0x3EEACCCC, 0x3EF20000, 0x3EF93332, 0x3F003333, 0x3F03CCCC, 0x3F076666, 0x3F0B0000, 0x3F0E999A,
        0x3F123334, 0x3F15CCCD, 0x3F196666, 0x3F1D0000, 0x3F20999A, 0x3F243334, 0x3F27CCCD, 0x3F2B6666,
        0x3F2F0000, 0x3F32999A, 0x3F363334, 0x3F39CCCD, 0x3F3D6666, 0x3F410000, 0x3F44999A, 0x3F483333,
        0x3F4BCCCD, 0x3F4F6666, 0x3F530000, 0x3F56999A, 0x3F5A3333, 0x3F5DCCCD, 0x3F616666, 0x3F650000,
        0x3F68999A, 0x3F6C3333, 0x3F6FCCCD, 0x3F736666, 0x3F770000, 0x3F7A999A, 0x3F7E3333, 0x3F800000,    ]

    /// The CPU kernel's table: for each j in 0…65535, the number of midpoints between
    /// consecutive codes that lie strictly below −1 + 2j/65535.
    static let lookupTable: [UInt8] = {
        let c = code
        let midpoints = (0..<255).map { (c[$0] + c[$0 + 1]) / 2 }
        var table = [UInt8](repeating: 0, count: 65536)
        var rank = 0
        for j in 0..<65536 {
            let x = -1 + Float(2 * j) / 65535
            while rank < 255 && midpoints[rank] < x { rank += 1 }
            table[j] = UInt8(rank)
        }
        return table
    }()

    /// Quantizes `values` in blocks of `blockSize` to 8-bit indices into `code`.
    /// - Returns: one index per value and one float32 absmax per block.
    public static func quantize(_ values: [Float], blockSize: Int) -> (indices: [UInt8], absmax: [Float]) {
        precondition(blockSize > 0, "block size must be positive")
        let n = values.count, blocks = (n + blockSize - 1) / blockSize
        var indices = [UInt8](repeating: 0, count: n), absmax = [Float](repeating: 0, count: blocks)
        lookupTable.withUnsafeBufferPointer { lut in
            for b in 0..<blocks {
                let range = b * blockSize ..< min((b + 1) * blockSize, n)
                let maximum = values[range].reduce(Float(0)) { max($0, abs($1)) }
                absmax[b] = maximum
                guard maximum > 0 else { continue }  // an all-zero block keeps index 0
                let inverse = 1 / maximum
                for i in range {
                    let v = min(max(values[i] * inverse, -1), 1)
                    let j = ((v + 1) * 0.5) * 65535 + 0.5
                    indices[i] = lut[Int(UInt16(j))]
                }
            }
        }
        return (indices, absmax)
    }
}
