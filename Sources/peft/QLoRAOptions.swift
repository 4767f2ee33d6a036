// QLoRAOptions.swift — `peft train --method qlora`: LoRA (with LoRA's flags) on a base whose
// linear layers are quantized to 4 bits on the fly (NF4 + double quantization unless told
// otherwise), optionally with the optimizer state paged out of RAM. A base folder that is
// already 4-bit is used as it is.

import ArgumentParser
import Foundation
import Llama
import PEFT
import Training

/// QLoRA's flags: how the base is quantized, and the paged optimizer.
struct QLoRAOptions: ParsableArguments {
    @Option(help: "QLoRA: bnb_4bit_quant_type of the base, nf4 or fp4.") var quantType = FourBitType.nf4
    @Flag(inversion: .prefixedNo, help: "QLoRA: double quantization of the absmax values (bnb_4bit_use_double_quant).")
    var doubleQuant = true
    @Option(help: "QLoRA: weights per absmax block.") var quantBlockSize = 64
    @Flag(help: "Keep AdamW's state in a memory-mapped file that may be paged out (QLoRA's paged optimizer).")
    var pagedOptimizer = false
    @Option(help: "With --paged-optimizer: megabytes of optimizer state allowed in RAM (default: no limit).")
    var optimizerResidentMb: Int?

    var settings: QuantizationSettings {
        QuantizationSettings(type: quantType, blockSize: quantBlockSize, doubleQuantization: doubleQuant)
    }

    /// Quantizes `model`'s linear layers unless it is 4-bit already; says what it did.
    func prepare(_ model: LlamaModel) throws {
        guard model.quantizedLayers.isEmpty else {
            print("the base is already 4-bit: \(model.quantizedLayers.count) quantized layers used as they are")
            return
        }
        do {
            try model.quantizeLinearLayers(settings)
        } catch let error as PEFTError {
            throw ValidationError(error.description)
        }
        let layers = model.quantizedLayers
        let bytes = layers.reduce(0) { $0 + $1.layer.storageBytes }
        let count = layers.reduce(0) { $0 + $1.layer.weight.count }
        print(String(format: "quantized %d linear layers to %@%@ (blocks of %d, %.3f bits a weight)", layers.count,
                     quantType.rawValue.uppercased(), doubleQuant ? " + double quantization" : "", quantBlockSize,
                     8 * Double(bytes) / Double(count)))
    }

    /// AdamW over `groups`, paged when asked.
    func optimizer(_ groups: [ParameterGroup], learningRate: Float) throws -> AdamW {
        guard pagedOptimizer else { return AdamW(groups, learningRate: learningRate) }
        return try AdamW.paged(groups, learningRate: learningRate, residentBudget: optimizerResidentMb.map { $0 << 20 })
    }
}
