// ReconstructionError.swift — how much a quantizer loses: quantize, dequantize, and measure
// the mean squared error against the original weights.
//
//   MSE = (1/n) Σ (x̂ᵢ − xᵢ)²   (accumulated in double precision)

/// A 4-bit weight quantizer to compare: bitsandbytes' NF4/FP4 (with or without double
/// quantization) or the symmetric INT4 baseline.
public enum WeightQuantizer: Hashable, Sendable {
    case fourBit(QuantizationSettings)
    case int4(blockSize: Int)

    /// NF4, FP4 or INT4 in blocks of `blockSize`.
    public static func nf4(blockSize: Int = 64, doubleQuantization: Bool = false) -> WeightQuantizer {
        .fourBit(QuantizationSettings(type: .nf4, blockSize: blockSize, doubleQuantization: doubleQuantization))
    }
    public static func fp4(blockSize: Int = 64) -> WeightQuantizer {
        .fourBit(QuantizationSettings(type: .fp4, blockSize: blockSize))
    }

    /// A short label: "NF4", "NF4 + DQ", "FP4", "INT4".
    public var name: String {
        switch self {
        case .fourBit(let s): s.type.rawValue.uppercased() + (s.doubleQuantization ? " + DQ" : "")
        case .int4: "INT4"
        }
    }

    public var blockSize: Int {
        switch self {
        case .fourBit(let s): s.blockSize
        case .int4(let b): b
        }
    }

    /// `x` quantized and dequantized again.
    public func roundTrip(_ x: [Float]) -> [Float] {
        switch self {
        case .fourBit(let settings):
            return QuantizedWeight(quantizing: x, shape: [x.count], settings: settings).dequantized()
        case .int4(let blockSize):
            let (levels, absmax) = Int4Quantizer.quantize(x, blockSize: blockSize)
            return Int4Quantizer.dequantize(levels: levels, absmax: absmax, blockSize: blockSize)
        }
    }

    /// Bits a weight in this storage, for `count` weights (INT4 keeps one float32 per block).
    public func bitsPerWeight(count: Int) -> Double {
        switch self {
        case .fourBit(let s): s.bitsPerWeight(count: count)
        case .int4(let b): 4 + 32 * Double((count + b - 1) / b) / Double(count)
        }
    }
}

/// Mean squared error between `x` and `reconstruction`, in double precision.
public func meanSquaredError(_ x: [Float], _ reconstruction: [Float]) -> Double {
    precondition(x.count == reconstruction.count, "\(x.count) vs \(reconstruction.count) values")
    var sum: Double = 0
    for i in x.indices { let d = Double(reconstruction[i]) - Double(x[i]); sum += d * d }
    return sum / Double(max(x.count, 1))
}

/// The mean squared error `quantizer` makes on `x`.
public func reconstructionError(of x: [Float], with quantizer: WeightQuantizer) -> Double {
    meanSquaredError(x, quantizer.roundTrip(x))
}
