// The 4-bit quantizers against bitsandbytes 0.50.2 on the CPU (nf4.safetensors): packed bytes,
// absmax, 8-bit statistics and offset bit for bit, dequantized values exactly; plus the INT4
// baseline and the reconstruction errors the lesson compares.

import Foundation
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

@Suite struct QuantizerGoldenTests {
    static let matrices = ["normal", "down_proj", "outlier", "odd", "ties", "big"]
    let file: SafeTensorsFile

    init() throws { file = try Golden.expected("nf4.safetensors") }

    func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    @Test func codeTablesAreBitsandbytesTables() {
        #expect(bits(FourBitType.nf4.code) == bits(file["nf4_code"]!.values))
        #expect(bits(FourBitType.fp4.code) == bits(file["fp4_code"]!.values))
        #expect(bits(DynamicCode.code) == bits(file["dynamic_code"]!.values))
        #expect(file["blocksize"]!.values == [64] && file["nested_blocksize"]!.values == [256])
        // FP4's two zeros: +0 sorts before −0, so the nibble of a value just above 0 is 0b1000
        #expect(FourBitType.fp4.nibbleOfRank[7] == 0 && FourBitType.fp4.nibbleOfRank[8] == 8)
    }

    @Test(arguments: matrices, [FourBitType.nf4, .fp4])
    func quantize4bitIsBitExact(matrix: String, type: FourBitType) throws {
        let input = file["\(matrix).input"]!
        let settings = QuantizationSettings(type: type)
        let q = QuantizedWeight(quantizing: input.values, shape: input.shape, settings: settings)
        let key = "\(matrix).\(type.rawValue)"
        #expect(q.packed == file["\(key).packed"]!.bytes, "\(key).packed")
        #expect(bits(q.absmax.values) == bits(file["\(key).absmax"]!.values), "\(key).absmax")
        #expect(bits(q.dequantized()) == bits(file["\(key).dequant"]!.values), "\(key).dequant")
    }

    @Test(arguments: matrices)
    func doubleQuantizationIsBitExact(matrix: String) throws {
        let input = file["\(matrix).input"]!
        let q = QuantizedWeight(quantizing: input.values, shape: input.shape, settings: .qlora)
        guard case .doubleQuantized(let d) = q.absmax else { Issue.record("no double quantization"); return }
        let key = "\(matrix).nf4dq"
        #expect(q.packed == file["\(matrix).nf4.packed"]!.bytes, "the 4-bit codes do not change")
        #expect(d.codes == file["\(key).absmax_q"]!.bytes, "\(key).absmax_q")
        #expect(bits(d.nestedAbsmax) == bits(file["\(key).nested_absmax"]!.values), "\(key).nested_absmax")
        #expect(d.offset.bitPattern == file["\(key).offset"]!.values[0].bitPattern, "\(key).offset")
        #expect(bits(d.dequantized) == bits(file["\(key).absmax_dequant"]!.values), "\(key).absmax_dequant")
        #expect(bits(q.dequantized()) == bits(file["\(key).dequant"]!.values), "\(key).dequant")
        // decoding the stored bytes alone gives the same values
        let stored = DoubleQuantizedAbsmax(codes: file["\(key).absmax_q"]!.bytes!,
                                           nestedAbsmax: file["\(key).nested_absmax"]!.values,
                                           offset: file["\(key).offset"]!.values[0])
        #expect(bits(stored.dequantized) == bits(file["\(key).absmax_dequant"]!.values))
    }

    @Test func tiesAllZeroBlocksAndOddCountsFollowTheCPURules() throws {
        // ties: a value exactly on a midpoint takes the lower code (element 1…15 are the midpoints)
        let plain = QuantizationSettings(), fp4 = QuantizationSettings(type: .fp4)
        let ties = QuantizedWeight(quantizing: file["ties.input"]!.values, shape: [2, 32], settings: plain)
        let nibbles = ties.packed.flatMap { [$0 >> 4, $0 & 15] }
        #expect(Array(nibbles[1...15]) == (0..<15).map(UInt8.init))
        // outlier: block 2 is all zero → absmax 0, nibble 7 (NF4's zero); with DQ it still decodes to 0
        let outlier = file["outlier.input"]!
        let dq = QuantizedWeight(quantizing: outlier.values, shape: outlier.shape, settings: .qlora)
        let single = QuantizedWeight(quantizing: outlier.values, shape: outlier.shape, settings: plain)
        #expect(single.absmax.values[2] == 0)
        #expect(dq.packed[64..<96].allSatisfy { $0 == 0x77 })
        #expect(dq.dequantized()[128..<192].allSatisfy { $0 == 0 })
        // odd: 63 elements, the padding nibble is NF4's zero (7) and FP4's +0 (0)
        let odd = file["odd.input"]!.values
        #expect(QuantizedWeight(quantizing: odd, shape: [7, 9], settings: plain).packed.last! & 15 == 7)
        #expect(QuantizedWeight(quantizing: odd, shape: [7, 9], settings: fp4).packed.last! & 15 == 0)
    }

    @Test func offsetIsTorchsFloat32Mean() {
        for m in Self.matrices {
            let absmax = file["\(m).nf4.absmax"]!.values
            #expect(torchMean(absmax).bitPattern == file["\(m).nf4dq.offset"]!.values[0].bitPattern, "\(m)")
        }
    }
}

@Suite struct QuantizerBehaviourTests {
    @Test(arguments: FourBitQuantizer.blockSizes)
    func everyBitsandbytesBlockSizeRoundTrips(blockSize: Int) throws {
        let x = randn([3, 1000], Generator(seed: 7)).array
        for settings in [QuantizationSettings(type: .nf4, blockSize: blockSize, doubleQuantization: true),
                         QuantizationSettings(type: .fp4, blockSize: blockSize)] {
            let q = QuantizedWeight(quantizing: x, shape: [3, 1000], settings: settings)
            #expect(q.absmax.count == (3000 + blockSize - 1) / blockSize)
            let back = q.dequantized()
            // every value lands within half the widest code gap (FP4: 1/3) of its block's absmax
            let largest = x.map(abs).max()!
            #expect(zip(x, back).allSatisfy { abs($0 - $1) <= largest / 6 + 1e-6 })
            #expect(meanSquaredError(x, back) < 0.05)
            let rebuilt = try QuantizedWeight(shape: [3, 1000], settings: settings, packed: q.packed, absmax: q.absmax)
            #expect(rebuilt.dequantized() == back)
        }
    }

    @Test func unsupportedBlockSizesAndMismatchedPartsAreErrors() throws {
        #expect(throws: PEFTError.self) { try QuantizationSettings(blockSize: 48).validate() }
        let plain = QuantizationSettings()
        let q = QuantizedWeight(quantizing: [Float](repeating: 0.5, count: 128), shape: [2, 64], settings: plain)
        do {
            _ = try QuantizedWeight(shape: [2, 64], settings: plain, packed: q.packed, absmax: .float32([1]))
            Issue.record("accepted 1 absmax value for 2 blocks")
        } catch let error as PEFTError {
            #expect(error.description.contains("1 absmax values for a [2, 64] weight in blocks of 64: it has 2 blocks"))
        }
    }

    @Test func storageIsFourPointOneTwoSevenBitsWithDoubleQuantization() {
        let n = 4096 * 4096
        #expect(abs(QuantizationSettings.qlora.bitsPerWeight(count: n) - 4.127) < 5e-4)
        #expect(QuantizationSettings(doubleQuantization: false).bitsPerWeight(count: n) == 4.5)
        let layer = Linear4bit(weight: QuantizedWeight(quantizing: randn([256, 1024], Generator(seed: 1)).array,
                                                       shape: [256, 1024], settings: .qlora))
        // 131072 code bytes + 4096 absmax codes + 16 nested scales + the offset
        #expect(layer.storageBytes == 131_072 + 4096 + 16 * 4 + 4)
        #expect(abs(layer.weight.bitsPerWeight - 4.127) < 1e-3)
    }

    @Test func reconstructionErrorsRankAsBitsandbytesMeasures() {
        // bitsandbytes on N(0,1) 4096×4096, blocks of 64: NF4 0.00846, NF4+DQ 0.00847, INT4 0.01159, FP4 0.01487
        let x = randn([512, 512], Generator(seed: 3)).array
        let errors = [WeightQuantizer.nf4(), .nf4(doubleQuantization: true), .int4(blockSize: 64), .fp4()]
            .map { reconstructionError(of: x, with: $0) }
        for (error, reference) in zip(errors, [0.00846, 0.00847, 0.01159, 0.01487]) {
            #expect(abs(error - reference) / reference < 0.03, "\(error) vs \(reference)")
        }
        #expect(errors[0] < errors[2] && errors[2] < errors[3])
        #expect(WeightQuantizer.nf4(doubleQuantization: true).name == "NF4 + DQ")
    }

    @Test func int4UsesFifteenEvenLevels() {
        let (levels, absmax) = Int4Quantizer.quantize([1, -0.5, 0.07, 0, 2, -2], blockSize: 4)
        #expect(absmax == [1, 2])
        #expect(levels == [7, -4, 0, 0, 7, -7])  // −0.5·7 = −3.5 rounds away from zero
        #expect(Int4Quantizer.dequantize(levels: levels, absmax: absmax, blockSize: 4)[1] == Float(-4) / 7)
    }
}
