// DoubleQuantization.swift — QLoRA's double quantization: the float32 absmax of every 4-bit
// block is itself quantized to 8 bits (`compress_statistics=True`, `bnb_4bit_use_double_quant`).
//
//   offset = mean(absmax)                               (float32, PyTorch's summation order)
//   c = absmax − offset,  quantized by DynamicCode in blocks of 256 → 8-bit codes + nested absmax
//   âbsmax_b = (code[q_b] · nested_absmax[b / 256]) + offset   (float32 product, then sum)
//
// Storage per 4-bit block of 64 weights: 8 bits instead of 32, plus one float32 per 256 blocks:
// 4 + 8/64 + 32/(64·256) = 4.127 bits a weight, against 4 + 32/64 = 4.5 without it.

/// The 8-bit representation of a weight's block absmax values.
public struct DoubleQuantizedAbsmax: Equatable, Sendable {
    /// One 8-bit code per 4-bit block (`<m>.weight.absmax`, uint8 [blocks]).
    public var codes: [UInt8]
    /// One float32 scale per `nestedBlockSize` codes (`<m>.weight.nested_absmax`).
    public var nestedAbsmax: [Float]
    /// The mean that was subtracted before quantizing (`nested_offset` in the quant_state JSON).
    public var offset: Float
    /// Codes per nested block (`nested_blocksize`, 256).
    public var nestedBlockSize: Int
    /// The 8-bit code table (`<m>.weight.nested_quant_map`, normally `DynamicCode.code`).
    public var code: [Float]

    public init(codes: [UInt8], nestedAbsmax: [Float], offset: Float, nestedBlockSize: Int = 256,
                code: [Float] = DynamicCode.code) {
        self.codes = codes; self.nestedAbsmax = nestedAbsmax; self.offset = offset
        self.nestedBlockSize = nestedBlockSize; self.code = code
    }

    /// Quantizes float32 absmax values as `quantize_4bit(..., compress_statistics=True)` does.
    public init(quantizing absmax: [Float], nestedBlockSize: Int = 256) {
        let offset = torchMean(absmax)
        let (codes, nested) = DynamicCode.quantize(absmax.map { $0 - offset }, blockSize: nestedBlockSize)
        self.init(codes: codes, nestedAbsmax: nested, offset: offset, nestedBlockSize: nestedBlockSize)
    }

    /// The absmax of block `b` as the 4-bit decoder sees it: code[q_b] · nested_absmax + offset.
    @inline(__always)
    public func absmax(ofBlock b: Int) -> Float {
        code[Int(codes[b])] * nestedAbsmax[b / nestedBlockSize] + offset
    }

    /// Every block's reconstructed absmax.
    public var dequantized: [Float] { (0..<codes.count).map(absmax(ofBlock:)) }

    /// Bytes held per weight: the codes, the nested scales and the offset (the code table is
    /// shared by every layer and not counted).
    public var storageBytes: Int { codes.count + 4 * nestedAbsmax.count + 4 }
}
