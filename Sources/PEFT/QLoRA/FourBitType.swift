// FourBitType.swift — the two 4-bit data types of bitsandbytes, NF4 and FP4: their 16 code
// values and the rule that maps a normalised value to a code.
//
// A 4-bit code (a "nibble", 0…15) stands for one value c[nibble] in [−1, 1]; a weight is
// stored as the nibble whose value is nearest to weight / absmax of its block.

/// bitsandbytes' 4-bit data types (`bnb_4bit_quant_type`).
public enum FourBitType: String, Sendable, CaseIterable, Codable {
    /// NormalFloat4 (QLoRA): 16 values at quantiles of N(0, 1), rescaled to [−1, 1], with an
    /// exact zero (nibble 7). Ascending: nibble i holds the i-th smallest value.
    case nf4
    /// A 4-bit float: bit 3 = sign, bits 2…1 = exponent, bit 0 = mantissa. Magnitudes of the
    /// patterns 0…7 are 0, 0.0625, 8, 12, 4, 6, 2, 3, divided by 12 (so that the largest is 1).
    case fp4

    /// The value of each nibble, indexed by the nibble (float32, as `get_4bit_type` makes them and
    /// checkpoints store them as `quant_map`).
    public var code: [Float] {
        switch self {
        case .nf4:
            // create_normal_map(offset=0.9677083, use_extra_value=True), as bitsandbytes lists it
            return [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0]
        case .fp4:
            // Python's list has an integer 0 for "-0", so nibble 8 holds +0 here
            let magnitudes: [Float] = [0, 0.0625, 8, 12, 4, 6, 2, 3]
            return (magnitudes + magnitudes.map { $0 == 0 ? 0 : -$0 }).map { $0 / 12 }
        }
    }

    /// The values the CPU dequantization kernel multiplies by absmax: `code`, except that its FP4
    /// table decodes nibble 8 (sign bit set, zero magnitude) as −0. Only the sign of a zero differs.
    public var decodeValues: [Float] {
        var values = code
        if self == .fp4 { values[8] = -0.0 }
        return values
    }

    /// The 15 decision thresholds between neighbouring code values, ascending:
    /// mᵢ = (cᵢ + cᵢ₊₁) / 2 in float32 over the code sorted ascending (`_get_4bit_quantize_bounds`).
    public var midpoints: [Float] { Self.tables[self]!.midpoints }

    /// The nibble at each position of the ascending order. NF4 is already ascending (identity);
    /// FP4's two zeros sort +0 (0b0000) before −0 (0b1000), as `torch.argsort` leaves them.
    public var nibbleOfRank: [UInt8] { Self.tables[self]!.nibbles }

    private static let tables: [FourBitType: (midpoints: [Float], nibbles: [UInt8])] = {
        var out: [FourBitType: (midpoints: [Float], nibbles: [UInt8])] = [:]
        for type in FourBitType.allCases {
            let c = type.code
            // Stable sort by value: among equal values (the two FP4 zeros) the lower nibble first.
            let order = (0..<16).sorted { c[$0] != c[$1] ? c[$0] < c[$1] : $0 < $1 }
            let midpoints = (0..<15).map { (c[order[$0]] + c[order[$0 + 1]]) / 2 }
            out[type] = (midpoints, order.map { UInt8($0) })
        }
        return out
    }()

    /// The nibble of a normalised value v ∈ [−1, 1]: the sorted position is the number of
    /// midpoints strictly below v (`torch.bucketize`, so a v exactly on a midpoint takes the lower
    /// value), mapped back to its nibble.
    @inline(__always)
    public func nibble(for v: Float, midpoints m: UnsafePointer<Float>, nibbles: UnsafePointer<UInt8>) -> UInt8 {
        var rank = 0
        for i in 0..<15 where v > m[i] { rank += 1 }
        return nibbles[rank]
    }
}
