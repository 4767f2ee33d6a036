// LoRA against Hugging Face peft: the golden adapters (plain, rsLoRA, DoRA) reproduce logits,
// loss, every adapter gradient and the merged logits; plus PEFT's behaviour around them.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit

enum Golden {
    static let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/golden/llama-tiny")
    static func base() throws -> LlamaModel { try LlamaModel.load(from: tiny.appendingPathComponent("base")) }
    static func batch() throws -> TokenBatch { try TokenBatch.load(contentsOf: tiny.appendingPathComponent("batch.json"), vocabSize: 97) }
}

func maxAbs(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) } }
func maxRel(_ a: [Float], _ b: [Float]) -> Float { maxAbs(a, b) / max(b.map(abs).max() ?? 0, 1e-12) }

@Suite struct LoraGoldenTests {
    @Test(arguments: ["lora", "rslora", "dora"])
    func adapterMatchesPeft(variant: String) throws {
        let model = try Golden.base()
        let lora = try LoraModel.load(from: Golden.tiny.appendingPathComponent(variant), onto: model)
        let expected = try SafeTensorsFile.read(contentsOf: Golden.tiny.appendingPathComponent("expected_\(variant).safetensors"))
        let batch = try Golden.batch()
        let logits = lora(batch.inputIds, batch: batch.batchSize)
        let loss = causalLanguageModelLoss(logits, labels: batch.labels)
        #expect(maxAbs(logits.array, expected["logits"]!.values) < 1e-4)
        #expect(abs(loss.item - expected["loss"]!.values[0]) < 1e-4)
        loss.backward()
        var checked = 0
        for (key, tensor) in lora.namedAdapterParameters {
            let reference = try #require(expected["grad.\(key)"], "no reference gradient for \(key)")
            #expect(maxRel(tensor.gradArray!, reference.values) < 1e-4, "\(key)")
            checked += 1
        }
        #expect(checked == expected.tensors.keys.filter { $0.hasPrefix("grad.") }.count)
        for (name, p) in model.namedParameters { #expect(p.grad == nil, "frozen \(name) got a gradient") }
        lora.merge()
        let merged = withoutGrad { lora(batch.inputIds, batch: batch.batchSize) }
        #expect(maxAbs(merged.array, expected["merged_logits"]!.values) < 1e-4)
        lora.unmerge()
        let again = withoutGrad { lora(batch.inputIds, batch: batch.batchSize) }
        #expect(maxAbs(again.array, expected["logits"]!.values) < 1e-4)
    }
}

@Suite struct LoraBehaviourTests {
    func tinyModel() -> LlamaModel {
        LlamaModel(config: LlamaConfig(vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 2), generator: Generator(seed: 1))
    }
    let ids = [1, 5, 9, 3, 7, 2, 8, 4]

    @Test func startsEqualToTheBaseAndDisablesExactly() throws {
        let model = tinyModel()
        let before = withoutGrad { model(ids, batch: 2) }.array
        let lora = try LoraModel(wrapping: model, config: LoraConfig(), generator: Generator(seed: 2))
        #expect(withoutGrad { lora(ids, batch: 2) }.array == before)  // B = 0: exactly the base
        for (_, l) in lora.adapters { for i in 0..<l.loraB.count { l.loraB.data[i] = 0.1 } }
        #expect(withoutGrad { lora(ids, batch: 2) }.array != before)
        #expect(lora.withAdaptersDisabled { withoutGrad { lora(ids, batch: 2) }.array } == before)
    }

    @Test func reportUsesPeftFormat() throws {
        let model = tinyModel()
        let lora = try LoraModel(wrapping: model, config: LoraConfig(r: 4), generator: Generator(seed: 2))
        // 2 layers × 2 modules (q, v) × (A 4×16 + B 16×4) = 512
        #expect(lora.trainableCount == 512)
        #expect(lora.trainableReport == "trainable params: 512 || all params: \(commas(model.parameterCount + 512)) || trainable%: \(String(format: "%.4f", 51200.0 / Double(model.parameterCount + 512)))")
    }

    @Test func targetMatchingFollowsPeft() throws {
        func names(_ c: LoraConfig) throws -> [String] { try LoraModel.targets(in: tinyModel(), config: c).map(\.name) }
        #expect(try names(LoraConfig(targetModules: .names(["q_proj"]))) == ["model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj"])
        #expect(try names(LoraConfig(targetModules: .names(["model.layers.1.mlp.up_proj"]))) == ["model.layers.1.mlp.up_proj"])
        #expect(try names(LoraConfig(targetModules: .regex(#".*\.1\.self_attn\.(k|o)_proj"#))) == ["model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.o_proj"])
        #expect(try names(LoraConfig(targetModules: .allLinear)).count == 14)  // 7 per layer, lm_head excluded
        #expect(try names(LoraConfig(targetModules: .names(["v_proj"]), layersToTransform: [1])) == ["model.layers.1.self_attn.v_proj"])
        // an entry matches a whole name part: "proj" is not a suffix after a dot
        #expect(throws: PEFTError.self) { try names(LoraConfig(targetModules: .names(["proj"]))) }
    }

    @Test func impossibleSettingsAreClearErrors() {
        func message(_ c: LoraConfig) -> String {
            do { _ = try LoraModel(wrapping: tinyModel(), config: c, generator: Generator(seed: 1)); return "" } catch { return "\(error)" }
        }
        let missing = message(LoraConfig(targetModules: .names(["query", "value"])))
        #expect(missing.hasPrefix("Target modules {'query', 'value'} not found in the base model. Please check the target modules and try again."))
        #expect(missing.contains("q_proj") && missing.contains("model.layers.0.self_attn.q_proj"))
        #expect(message(LoraConfig(r: 0)).contains("r must be a positive integer"))
        #expect(message(LoraConfig(r: 17)).contains("r = 17 is larger than model.layers.0.self_attn.q_proj allows"))
        #expect(message(LoraConfig(loraDropout: 1)).contains("lora_dropout"))
        #expect(message(LoraConfig(layersToTransform: [5])).contains("layers_to_transform [5] is out of range"))
        #expect(message(LoraConfig(targetModules: .names([]))).contains("target_modules is empty"))
    }

    @Test(arguments: [false, true])
    func mergeGivesTheSameOutputsAndUnloadRestoresPlainLayers(dora: Bool) throws {
        let model = tinyModel()
        let lora = try LoraModel(wrapping: model, config: LoraConfig(r: 4, targetModules: .allLinear, initLoraWeights: .random, useDora: dora), generator: Generator(seed: 3))
        let unmerged = withoutGrad { lora(ids, batch: 2) }.array
        lora.merge()
        #expect(maxAbs(withoutGrad { lora(ids, batch: 2) }.array, unmerged) < 1e-5)
        lora.unmerge()
        #expect(maxAbs(withoutGrad { lora(ids, batch: 2) }.array, unmerged) < 1e-5)
        let plain = lora.mergeAndUnload()
        #expect(plain.linearSlots.allSatisfy { $0.layer is Linear })
        #expect(maxAbs(withoutGrad { plain(ids, batch: 2) }.array, unmerged) < 1e-5)
    }

    @Test func pissaKeepsTheOutputAndTheResidual() throws {
        let model = tinyModel()
        let before = withoutGrad { model(ids, batch: 2) }.array
        let lora = try LoraModel(wrapping: model, config: LoraConfig(r: 4, targetModules: .allLinear, initLoraWeights: .pissa), generator: Generator(seed: 3))
        #expect(maxAbs(withoutGrad { lora(ids, batch: 2) }.array, before) < 1e-4)  // W_res + s·B·A = W
        #expect(lora.adapters.allSatisfy { $0.layer.loraB.array.contains { $0 != 0 } })
    }

    @Test func saveAndLoadRoundTripInPeftLayout() throws {
        let model = tinyModel()
        var config = LoraConfig(r: 2, loraAlpha: 16, targetModules: .names(["k_proj", "down_proj"]), rankPattern: ["down_proj": 3], initLoraWeights: .random)
        config.useRslora = true
        let lora = try LoraModel(wrapping: model, config: config, generator: Generator(seed: 4))
        let out = withoutGrad { lora(ids, batch: 2) }.array
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lora-\(UUID().uuidString)")
        try lora.save(to: folder)
        let json = try String(contentsOf: folder.appendingPathComponent("adapter_config.json"), encoding: .utf8)
        #expect(json.contains("\"peft_type\": \"LORA\"") && json.contains("\"use_rslora\": true") && json.contains("\"down_proj\": 3"))
        let file = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        #expect(file["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"]?.shape == [3, 24])
        let reloaded = try LoraModel.load(from: folder, onto: tinyModelWithWeights(of: model))
        #expect(maxAbs(withoutGrad { reloaded(ids, batch: 2) }.array, out) == 0)
    }

    /// A fresh model with `model`'s base weights (the adapter is loaded onto an unadapted base).
    func tinyModelWithWeights(of model: LlamaModel) -> LlamaModel {
        let m = tinyModel()
        for ((_, a), (_, b)) in zip(m.namedParameters, model.namedParameters) { a.copyValues(from: b) }
        return m
    }

    @Test func loadErrorsNameTheProblem() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lora-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func message() -> String { do { _ = try LoraModel.load(from: folder, onto: tinyModel()); return "" } catch { return "\(error)" } }
        #expect(message().contains("adapter_config.json: no such file"))
        try #"{"peft_type": "PROMPT_TUNING"}"#.write(to: folder.appendingPathComponent("adapter_config.json"), atomically: true, encoding: .utf8)
        #expect(message().contains("peft_type is PROMPT_TUNING"))
        try #"{"peft_type": "LORA", "r": 2}"#.write(to: folder.appendingPathComponent("adapter_config.json"), atomically: true, encoding: .utf8)
        #expect(message().contains("adapter_model.safetensors: no such file"))
        var file = SafeTensorsFile()
        file["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = StoredTensor(shape: [2, 16], values: Array(repeating: 0, count: 32))
        try file.write(to: folder.appendingPathComponent("adapter_model.safetensors"))
        #expect(message().contains("q_proj.lora_B.weight': missing from the adapter"))
    }

    @Test func loraPlusGivesBItsOwnLearningRate() throws {
        let lora = try LoraModel(wrapping: tinyModel(), config: LoraConfig(), generator: Generator(seed: 5))
        let groups = lora.parameterGroups(loraPlusRatio: 16)
        #expect(groups.count == 2 && groups[1].learningRateScale == 16)
        #expect(groups[1].parameters.allSatisfy { $0.shape[1] == 8 } && groups[0].parameters.allSatisfy { $0.shape[0] == 8 })
    }
}

func commas(_ n: Int) -> String {
    let d = String(n); var o = ""
    for (i, c) in d.enumerated() { if i > 0 && (d.count - i) % 3 == 0 { o += "," }; o.append(c) }
    return o
}
