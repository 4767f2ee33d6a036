// QLoRA against transformers + bitsandbytes + peft: the 4-bit base transformers saved loads to
// the same dequantized weights and logits, quantizing the float base here writes the same bytes,
// and a LoRA adapter on it reproduces PEFT's logits, loss, gradients and merged logits.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

@Suite struct QLoRAGoldenTests {
    let expected: SafeTensorsFile
    init() throws { expected = try Golden.expected("expected_qlora.safetensors") }

    func fourBitBase() throws -> LlamaModel { try QuantizedCheckpoint.load(from: Golden.folder("qlora-base-4bit")) }

    @Test func transformersFourBitFolderLoadsToTheSameWeightsAndLogits() throws {
        let model = try fourBitBase()
        #expect(model.quantizedLayers.count == 14 && model.lmHead.layer is Linear)
        for (name, layer) in model.quantizedLayers {
            let reference = expected["dequant.\(name).weight"]!
            #expect(layer.denseWeight().array.map(\.bitPattern) == reference.values.map(\.bitPattern),
                    "dequant.\(name)")
            #expect(layer.weight.settings == .qlora)
        }
        let report = model.forwardReport(try Golden.batch(), gradients: true)
        #expect(maxAbsDiff(report["logits"]!.values, expected["base_logits"]!.values) < 1e-4)
        #expect(abs(report["loss"]!.values[0] - expected["base_loss"]!.values[0]) < 1e-4)
        // the float parameters (embeddings, norms, lm_head) get gradients through the 4-bit layers
        #expect(report["grad.model.embed_tokens.weight"]!.values.contains { $0 != 0 })
        #expect(report.tensors.keys.filter { $0.hasPrefix("grad.") }.count == 7)
    }

    @Test func quantizingTheFloatBaseWritesTransformersBytes() throws {
        let model = try Golden.base()
        try model.quantizeLinearLayers(.qlora)
        let folder = temporaryFolder()
        let config = try QuantizedCheckpoint.configObject(in: Golden.folder("base"))
        try QuantizedCheckpoint.save(model, to: folder, base: config)
        for name in ["model.safetensors", "config.json"] {
            let ours = try Data(contentsOf: folder.appendingPathComponent(name))
            let theirs = try Data(contentsOf: Golden.folder("qlora-base-4bit").appendingPathComponent(name))
            #expect(ours == theirs, "\(name) differs from transformers' save_pretrained")
        }
        // and it loads back to the same model
        let reloaded = try loadModel(from: folder)
        #expect(reloaded.quantizedLayers.map(\.layer.weight) == model.quantizedLayers.map(\.layer.weight))
    }

    @Test func loraOnTheFourBitBaseMatchesPeft() throws {
        let lora = try AdapterFolder.load(from: Golden.folder("qlora"), onto: try fourBitBase())
        let report = try lora.forwardReport(try Golden.batch())
        expectMatches(report, expected)
        #expect(report.tensors.keys.filter { $0.hasPrefix("grad.") }.count == 28)
        // merging re-quantized W + 2·B·A: the merged logits differ from the unmerged ones, as PEFT's do
        #expect(maxAbsDiff(report["merged_logits"]!.values, report["logits"]!.values) > 0.01)
        let gradients = expected.tensors.keys.filter { $0.hasPrefix("grad.") }
        let worst = gradients.map { maxRelDiff(report[$0]!.values, expected[$0]!.values) }.max() ?? 0
        let logits = maxAbsDiff(report["logits"]!.values, expected["logits"]!.values)
        let merged = maxAbsDiff(report["merged_logits"]!.values, expected["merged_logits"]!.values)
        print("QLoRA parity: logits \(logits), merged logits \(merged), worst gradient \(worst)")
    }

    @Test func mergingIntoADequantizedCopyKeepsTheAdaptedLogits() throws {
        let base = try fourBitBase()
        try base.dequantizeLinearLayers()
        #expect(base.quantizedLayers.isEmpty)
        let lora = try AdapterFolder.load(from: Golden.folder("qlora"), onto: base)
        let merged = try lora.mergeAndUnload()
        let batch = try Golden.batch()
        let logits = withoutGrad { merged(batch.inputIds, batch: batch.batchSize) }
        #expect(maxAbsDiff(logits.array, expected["logits"]!.values) < 1e-4)
    }
}
