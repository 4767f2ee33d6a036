// Quantize.swift — `peft quantize`: a float model folder saved in bitsandbytes' 4-bit layout, the
// folder transformers writes after `from_pretrained(..., quantization_config=BitsAndBytesConfig(
// load_in_4bit=True, ...))` and `save_pretrained`, byte for byte.

import ArgumentParser
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

extension FourBitType: ExpressibleByArgument {}

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a model's linear layers to 4 bits (NF4 or FP4), saved as transformers + bitsandbytes do.",
        discussion: """
        The q, k, v, o, gate, up and down projections are quantized in blocks of --block-size weights with one \
        absmax each (double quantization stores those absmax values in 8 bits); embeddings, norms and lm_head stay \
        float32. The folder loads in transformers with bitsandbytes (on the CPU too) and in `peft forward`, \
        `peft train` and `peft info`.
        """)

    @Option(help: "The float model folder to quantize.") var model: String
    @Option(help: "The folder to write (config.json with quantization_config, model.safetensors).") var out: String
    @Option(help: "bnb_4bit_quant_type: nf4 (QLoRA) or fp4.") var quantType = FourBitType.nf4
    @Flag(help: "bnb_4bit_use_double_quant: quantize the block absmax values to 8 bits too.") var doubleQuant = false
    @Option(help: "Weights per absmax block: 32, 64, 128, … 4096 (transformers always uses 64).") var blockSize = 64

    func validate() throws {
        guard FourBitQuantizer.blockSizes.contains(blockSize) else {
            let sizes = FourBitQuantizer.blockSizes.map(String.init).joined(separator: ", ")
            throw ValidationError("--block-size must be one of \(sizes)")
        }
    }

    func run() throws {
        let source = URL(fileURLWithPath: model), destination = URL(fileURLWithPath: out)
        let m = try loadModel(from: source)
        guard m.quantizedLayers.isEmpty else {
            throw ValidationError("\(model) is already a 4-bit model; quantize the float model it came from")
        }
        let floatBytes = m.weightBytes
        let settings = QuantizationSettings(type: quantType, blockSize: blockSize, doubleQuantization: doubleQuant)
        try m.quantizeLinearLayers(settings)
        try QuantizedCheckpoint.save(m, to: destination, base: try QuantizedCheckpoint.configObject(in: source))
        try copyModelExtras(from: source, to: destination)
        let layers = m.quantizedLayers
        let count = layers.reduce(0) { $0 + $1.layer.weight.count }
        let bytes = layers.reduce(0) { $0 + $1.layer.storageBytes }
        print(String(format: "quantized %d linear layers (%@ weights) to %@%@, blocks of %d: %.3f bits a weight; "
                     + "weights %@ → %@ → %@", layers.count, formatCount(count), quantType.rawValue.uppercased(),
                     doubleQuant ? " + double quantization" : "", blockSize, 8 * Double(bytes) / Double(count),
                     formatBytes(floatBytes), formatBytes(m.weightBytes), out))
    }
}
