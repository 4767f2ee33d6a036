// QuantizedWeight.swift — a weight matrix in bitsandbytes' 4-bit storage: packed codes plus the
// block absmax values, either float32 or double-quantized to 8 bits.
//
// Bit layout of a weight [out, in] with n = out·in elements and block size B (64):
//   packed   [(n+1)/2] bytes: byte j = nibble(2j) << 4 | nibble(2j+1), elements row-major
//   absmax   ⌈n/B⌉ float32                      (4 + 32/B bits a weight: 4.5 for B = 64)
//       or   ⌈n/B⌉ uint8 codes + ⌈n/(256B)⌉ float32 nested absmax + 1 float32 offset
//                                                (4 + 8/B + 32/(256B) bits a weight: 4.127)

import Foundation

/// How a weight is quantized: bitsandbytes' `quant_type`, `blocksize` and
/// `compress_statistics` (`bnb_4bit_use_double_quant`).
public struct QuantizationSettings: Hashable, Sendable, Codable {
    public var type: FourBitType
    /// Elements per absmax block: one of `FourBitQuantizer.blockSizes` (64 in QLoRA).
    public var blockSize: Int
    /// Whether the absmax values are themselves quantized to 8 bits.
    public var doubleQuantization: Bool
    /// Absmax codes per nested float32 scale (256 in bitsandbytes).
    public var nestedBlockSize: Int

    public init(type: FourBitType = .nf4, blockSize: Int = 64, doubleQuantization: Bool = false,
                nestedBlockSize: Int = 256) {
        self.type = type; self.blockSize = blockSize
        self.doubleQuantization = doubleQuantization; self.nestedBlockSize = nestedBlockSize
    }

    /// QLoRA's setting: NF4, blocks of 64, double quantization.
    public static let qlora = QuantizationSettings(type: .nf4, blockSize: 64, doubleQuantization: true)

    /// Throws for a block size bitsandbytes does not accept.
    public func validate() throws {
        guard FourBitQuantizer.blockSizes.contains(blockSize) else {
            throw PEFTError("block size \(blockSize) is not one bitsandbytes supports; choose one of "
                + FourBitQuantizer.blockSizes.map(String.init).joined(separator: ", "))
        }
        guard nestedBlockSize > 0 else { throw PEFTError("nested block size must be positive, got \(nestedBlockSize)") }
    }

    /// Bits a weight takes in this storage for a weight of `count` elements (codes, absmax,
    /// nested absmax and offset; the shared code tables not counted).
    public func bitsPerWeight(count: Int) -> Double {
        let blocks = (count + blockSize - 1) / blockSize
        var bytes = Double((count + 1) / 2)
        if doubleQuantization {
            bytes += Double(blocks) + 4 * Double((blocks + nestedBlockSize - 1) / nestedBlockSize) + 4
        } else {
            bytes += 4 * Double(blocks)
        }
        return 8 * bytes / Double(count)
    }
}

/// The block absmax values of a 4-bit weight.
public enum AbsmaxStorage: Equatable, Sendable {
    /// One float32 per block.
    case float32([Float])
    /// Quantized to 8 bits (double quantization).
    case doubleQuantized(DoubleQuantizedAbsmax)

    /// Number of blocks.
    public var count: Int {
        switch self {
        case .float32(let a): a.count
        case .doubleQuantized(let d): d.codes.count
        }
    }

    /// The absmax of every block as the decoder uses it.
    public var values: [Float] {
        switch self {
        case .float32(let a): a
        case .doubleQuantized(let d): d.dequantized
        }
    }

    /// Bytes it occupies.
    public var storageBytes: Int {
        switch self {
        case .float32(let a): 4 * a.count
        case .doubleQuantized(let d): d.storageBytes
        }
    }
}

/// A weight matrix stored as 4-bit codes and block absmax values, as bitsandbytes' `Params4bit`.
public struct QuantizedWeight: Equatable, Sendable {
    /// [out, in].
    public let shape: [Int]
    public let settings: QuantizationSettings
    /// The packed codes, [(n+1)/2] bytes (see the file comment for the layout).
    public let packed: [UInt8]
    public let absmax: AbsmaxStorage

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// A weight from its stored parts; throws when the sizes do not fit the shape.
    public init(shape: [Int], settings: QuantizationSettings, packed: [UInt8], absmax: AbsmaxStorage) throws {
        try settings.validate()
        let n = shape.reduce(1, *), blocks = (n + settings.blockSize - 1) / settings.blockSize
        guard packed.count == (n + 1) / 2 else {
            throw PEFTError("\(packed.count) packed bytes do not hold a \(shape) weight: "
                + "it needs (n+1)/2 = \((n + 1) / 2)")
        }
        guard absmax.count == blocks else {
            throw PEFTError("\(absmax.count) absmax values for a \(shape) weight in blocks of \(settings.blockSize): "
                + "it has \(blocks) blocks")
        }
        if case .doubleQuantized(let d) = absmax {
            let nested = (blocks + d.nestedBlockSize - 1) / d.nestedBlockSize
            guard d.nestedAbsmax.count == nested else {
                throw PEFTError("\(d.nestedAbsmax.count) nested absmax values for \(blocks) blocks in nested blocks of "
                    + "\(d.nestedBlockSize): it needs \(nested)")
            }
            guard d.code.count == 256 else {
                throw PEFTError("the 8-bit code table has \(d.code.count) values, not 256")
            }
        }
        self.shape = shape; self.settings = settings; self.packed = packed; self.absmax = absmax
    }

    /// Quantizes `values` (row-major, `shape`) as `quantize_4bit` does with these settings.
    public init(quantizing values: UnsafeBufferPointer<Float>, shape: [Int], settings: QuantizationSettings) {
        precondition(values.count == shape.reduce(1, *), "\(values.count) values for shape \(shape)")
        precondition(FourBitQuantizer.blockSizes.contains(settings.blockSize), "block size \(settings.blockSize)")
        let (packed, absmax) = FourBitQuantizer.quantize(values, blockSize: settings.blockSize, type: settings.type)
        self.shape = shape
        self.settings = settings
        self.packed = packed
        self.absmax = settings.doubleQuantization
            ? .doubleQuantized(DoubleQuantizedAbsmax(quantizing: absmax, nestedBlockSize: settings.nestedBlockSize))
            : .float32(absmax)
    }

    /// Quantizes an array.
    public init(quantizing values: [Float], shape: [Int], settings: QuantizationSettings) {
        self = values.withUnsafeBufferPointer { QuantizedWeight(quantizing: $0, shape: shape, settings: settings) }
    }

    /// Writes the dequantized weight, row-major, to `out` (count elements): code · absmax per
    /// element, the absmax decoded per block when it is double-quantized.
    public func dequantize(into out: UnsafeMutablePointer<Float>) {
        let (n, b, type) = (count, settings.blockSize, settings.type)
        packed.withUnsafeBufferPointer { bytes in
            guard let codes = bytes.baseAddress else { return }
            switch absmax {
            case .float32(let scales):
                scales.withUnsafeBufferPointer { s in
                    let s = s.baseAddress!
                    FourBitQuantizer.dequantize(packed: codes, count: n, blockSize: b, type: type,
                                                absmax: { s[$0] }, into: out)
                }
            case .doubleQuantized(let d):
                d.codes.withUnsafeBufferPointer { q in
                    d.nestedAbsmax.withUnsafeBufferPointer { nested in
                        d.code.withUnsafeBufferPointer { table in
                            let (q, nested, table, offset, group) =
                                (q.baseAddress!, nested.baseAddress!, table.baseAddress!, d.offset, d.nestedBlockSize)
                            FourBitQuantizer.dequantize(packed: codes, count: n, blockSize: b, type: type,
                                                        absmax: { table[Int(q[$0])] * nested[$0 / group] + offset },
                                                        into: out)
                        }
                    }
                }
            }
        }
    }

    /// The dequantized weight as an array, row-major.
    public func dequantized() -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let base = buffer.baseAddress { dequantize(into: base) }
            initialized = count
        }
    }

    /// Bytes the codes and the absmax values occupy.
    public var storageBytes: Int { packed.count + absmax.storageBytes }

    /// Bits a weight, measured from the storage.
    public var bitsPerWeight: Double { 8 * Double(storageBytes) / Double(max(count, 1)) }
}
