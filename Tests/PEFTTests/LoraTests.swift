// LoRA against Hugging Face peft: the golden adapters (plain, rsLoRA, DoRA) reproduce logits,
// loss, every adapter gradient and the merged logits; plus PEFT's behaviour around them.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

/// Every entry of a golden expected file that a forward report must reproduce.
func expectMatches(_ report: SafeTensorsFile, _ expected: SafeTensorsFile,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    for (key, reference) in expected.tensors where key == "logits" || key.hasPrefix("loss") || key == "ce_loss"
        || key == "merged_logits" || key.hasPrefix("grad.") {
        guard let ours = report[key] else {
            Issue.record("the report has no \(key)", sourceLocation: sourceLocation); continue
        }
        #expect(ours.shape == reference.shape, "\(key) shape", sourceLocation: sourceLocation)
        let error = key.hasPrefix("grad.") ? maxRelDiff(ours.values, reference.values)
                                           : maxAbsDiff(ours.values, reference.values)
        #expect(error < 1e-4, "\(key): \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct LoraGoldenTests {
    @Test(arguments: ["lora", "rslora", "dora"])
    func adapterMatchesPeft(variant: String) throws {
        let model = try Golden.base()
        let lora = try AdapterFolder.load(from: Golden.folder(variant), onto: model)
        #expect(lora is LoraModel)
        let report = try lora.forwardReport(try Golden.batch())
        let expected = try Golden.expected("expected_\(variant).safetensors")
        expectMatches(report, expected)
        #expect(report.tensors.keys.filter { $0.hasPrefix("grad.") }.count
                == expected.tensors.keys.filter { $0.hasPrefix("grad.") }.count)
        for (name, p) in model.namedParameters { #expect(p.grad == nil, "frozen \(name) got a gradient") }
        // merge and unmerge leave the adapted outputs as they were
        let batch = try Golden.batch()
        let again = withoutGrad { lora.forward(batch) }
        #expect(maxAbsDiff(again.array, expected["logits"]!.values) < 1e-4)
    }
}

@Suite struct LoraBehaviourTests {
    func tinyModel() -> LlamaModel {
        LlamaModel(config: LlamaConfig(vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
                                       numAttentionHeads: 2),
                   generator: Generator(seed: 1))
    }
    let batch = TokenBatch(inputIds: [[1, 5, 9, 3], [7, 2, 8, 4]])

    func outputs(_ tuner: any Tuner) -> [Float] { withoutGrad { tuner.forward(batch) }.array }

    @Test func startsEqualToTheBaseAndDisablesExactly() throws {
        let model = tinyModel()
        let before = withoutGrad { model(batch.inputIds, batch: 2) }.array
        let lora = try LoraModel(wrapping: model, config: LoraConfig(), generator: Generator(seed: 2))
        #expect(outputs(lora) == before)  // B = 0: exactly the base
        for (_, l) in lora.adapters { for i in 0..<l.loraB.count { l.loraB.data[i] = 0.1 } }
        #expect(outputs(lora) != before)
        #expect(lora.withAdaptersDisabled { outputs(lora) } == before)
    }

    @Test func reportUsesPeftFormat() throws {
        let model = tinyModel()
        let lora = try LoraModel(wrapping: model, config: LoraConfig(r: 4), generator: Generator(seed: 2))
        // 2 layers × 2 modules (q, v) × (A 4×16 + B 16×4) = 512
        #expect(lora.trainableCount == 512)
        let share = String(format: "%.4f", 51200.0 / Double(model.parameterCount + 512))
        #expect(lora.trainableReport == "trainable params: 512 || all params: "
                + "\(formatCount(model.parameterCount + 512)) || trainable%: \(share)")
    }

    @Test func targetMatchingFollowsPeft() throws {
        func names(_ c: LoraConfig) throws -> [String] { try LoraModel.targets(in: tinyModel(), config: c).map(\.name) }
        #expect(try names(LoraConfig(targetModules: .names(["q_proj"]))) == ["model.layers.0.self_attn.q_proj",
                                                                             "model.layers.1.self_attn.q_proj"])
        #expect(try names(LoraConfig(targetModules: .names(["model.layers.1.mlp.up_proj"])))
                == ["model.layers.1.mlp.up_proj"])
        #expect(try names(LoraConfig(targetModules: .regex(#".*\.1\.self_attn\.(k|o)_proj"#)))
                == ["model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.o_proj"])
        #expect(try names(LoraConfig(targetModules: .allLinear)).count == 14)  // 7 per layer, lm_head excluded
        #expect(try names(LoraConfig(targetModules: .names(["v_proj"]), layersToTransform: [1]))
                == ["model.layers.1.self_attn.v_proj"])
        // an entry matches a whole name part: "proj" is not a suffix after a dot
        #expect(throws: PEFTError.self) { try names(LoraConfig(targetModules: .names(["proj"]))) }
    }

    @Test func impossibleSettingsAreClearErrors() {
        func message(_ c: LoraConfig) -> String {
            do {
                _ = try LoraModel(wrapping: tinyModel(), config: c, generator: Generator(seed: 1)); return ""
            } catch { return "\(error)" }
        }
        let missing = message(LoraConfig(targetModules: .names(["query", "value"])))
        #expect(missing.hasPrefix("Target modules {'query', 'value'} not found in the base model. "
                                  + "Please check the target modules and try again."))
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
        let config = LoraConfig(r: 4, targetModules: .allLinear, initLoraWeights: .random, useDora: dora)
        let lora = try LoraModel(wrapping: model, config: config, generator: Generator(seed: 3))
        let unmerged = outputs(lora)
        lora.merge()
        #expect(maxAbsDiff(outputs(lora), unmerged) < 1e-5)
        lora.unmerge()
        #expect(maxAbsDiff(outputs(lora), unmerged) < 1e-5)
        let plain = lora.mergeAndUnload()
        #expect(plain.linearSlots.allSatisfy { $0.layer is Linear })
        #expect(maxAbsDiff(withoutGrad { plain(batch.inputIds, batch: 2) }.array, unmerged) < 1e-5)
    }

    @Test func pissaKeepsTheOutputAndTheResidual() throws {
        let model = tinyModel()
        let before = withoutGrad { model(batch.inputIds, batch: 2) }.array
        let lora = try LoraModel(wrapping: model,
                                 config: LoraConfig(r: 4, targetModules: .allLinear, initLoraWeights: .pissa),
                                 generator: Generator(seed: 3))
        #expect(maxAbsDiff(outputs(lora), before) < 1e-4)  // W_res + s·B·A = W
        #expect(lora.adapters.allSatisfy { $0.layer.loraB.array.contains { $0 != 0 } })
    }

    @Test func aTrainedPissaAdapterReloadsOntoTheOriginalBase() throws {
        // PEFT recomputes the residual from the base's SVD when it loads a PiSSA adapter; reloaded onto the
        // original weights, a trained adapter gives what it gave before it was saved.
        let config = LoraConfig(r: 4, targetModules: .allLinear, initLoraWeights: .pissa)
        let lora = try LoraModel(wrapping: tinyModel(), config: config, generator: Generator(seed: 3))
        for adapter in lora.adapters { adapter.layer.loraB.data[0] += 0.05 }  // as a training step would
        let trained = outputs(lora)
        let folder = temporaryFolder()
        try lora.save(to: folder)
        let reloaded = try AdapterFolder.load(from: folder, onto: tinyModel())
        #expect(maxAbsDiff(outputs(reloaded), trained) < 1e-5)
        #expect(maxAbsDiff(outputs(reloaded), outputs(try LoraModel(wrapping: tinyModel(), config: config,
                                                                    generator: Generator(seed: 3)))) > 1e-4)
    }

    @Test func saveAndLoadRoundTripInPeftLayout() throws {
        let model = tinyModel()
        var config = LoraConfig(r: 2, loraAlpha: 16, targetModules: .names(["k_proj", "down_proj"]),
                                rankPattern: ["down_proj": 3], initLoraWeights: .random)
        config.useRslora = true
        let lora = try LoraModel(wrapping: model, config: config, generator: Generator(seed: 4))
        let out = outputs(lora)
        let folder = temporaryFolder()
        try lora.save(to: folder)
        let json = try String(contentsOf: folder.appendingPathComponent("adapter_config.json"), encoding: .utf8)
        #expect(json.contains("\"peft_type\" : \"LORA\"") && json.contains("\"use_rslora\" : true")
                && json.contains("\"down_proj\" : 3"))
        let file = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        #expect(file["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"]?.shape == [3, 24])
        let reloaded = try AdapterFolder.load(from: folder, onto: tinyModelWithWeights(of: model))
        #expect(maxAbsDiff(outputs(reloaded), out) == 0)
        #expect((reloaded as? LoraModel)?.config == config)
    }

    /// A fresh model with `model`'s base weights (the adapter is loaded onto an unadapted base).
    func tinyModelWithWeights(of model: LlamaModel) -> LlamaModel {
        let m = tinyModel()
        for ((_, a), (_, b)) in zip(m.namedParameters, model.namedParameters) { a.copyValues(from: b) }
        return m
    }

    @Test func loadErrorsNameTheProblem() throws {
        let folder = temporaryFolder()
        func message() -> String {
            do { _ = try AdapterFolder.load(from: folder, onto: tinyModel()); return "" } catch { return "\(error)" }
        }
        #expect(message().contains("adapter_config.json: no such file"))
        try #"{"peft_type": "IA3"}"#.write(to: folder.appendingPathComponent("adapter_config.json"), atomically: true,
                                           encoding: .utf8)
        #expect(message().contains("peft_type IA3 is not a PEFT method this project knows"))
        try #"{"peft_type": "LORA", "r": "eight"}"#.write(to: folder.appendingPathComponent("adapter_config.json"),
                                                          atomically: true, encoding: .utf8)
        #expect(message().contains("adapter_config.json: r must be an integer"))
        try #"{"peft_type": "LORA", "r": 2}"#.write(to: folder.appendingPathComponent("adapter_config.json"),
                                                    atomically: true, encoding: .utf8)
        #expect(message().contains("adapter_model.safetensors: no such file"))
        var file = SafeTensorsFile()
        file["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = StoredTensor(
            shape: [2, 16], values: Array(repeating: 0, count: 32))
        try file.write(to: folder.appendingPathComponent("adapter_model.safetensors"))
        #expect(message().contains("q_proj.lora_B.weight': missing from the adapter"))
        file["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = StoredTensor(
            shape: [3, 16], values: Array(repeating: 0, count: 48))
        try file.write(to: folder.appendingPathComponent("adapter_model.safetensors"))
        #expect(message().contains("has shape [3, 16], but adapter_config.json and the model imply [2, 16]"))
    }

    @Test func loraPlusGivesBItsOwnLearningRate() throws {
        let lora = try LoraModel(wrapping: tinyModel(), config: LoraConfig(), generator: Generator(seed: 5))
        let groups = lora.parameterGroups(loraPlusRatio: 16)
        #expect(groups.count == 2 && groups[1].learningRateScale == 16)
        #expect(groups[1].parameters.allSatisfy { $0.shape[1] == 8 }
                && groups[0].parameters.allSatisfy { $0.shape[0] == 8 })
    }

    @Test func wrapsAnyBaseLayerThroughItsKernels() throws {
        // LoRA asks its base only for products: a base that is not the float Linear works the same.
        final class Doubled: BaseLinear {
            let inner: Linear
            init(_ inner: Linear) { self.inner = inner }
            var inFeatures: Int { inner.inFeatures }
            var outFeatures: Int { inner.outFeatures }
            var bias: Tensor? { nil }
            func callAsFunction(_ x: Tensor) -> Tensor { inner(x) * 2 }
            func multiply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
                inner.multiply(x, rows: rows, into: y); for i in 0..<(rows * outFeatures) { y[i] *= 2 }
            }
            func multiplyTransposed(_ dy: UnsafePointer<Float>, rows: Int,
                                    accumulatingInto dx: UnsafeMutablePointer<Float>) {
                let twice = (0..<(rows * outFeatures)).map { 2 * dy[$0] }
                twice.withUnsafeBufferPointer {
                    inner.multiplyTransposed($0.baseAddress!, rows: rows, accumulatingInto: dx)
                }
            }
            func denseWeight() -> Tensor { inner.denseWeight() * 2 }
            func addToWeight(_ delta: Tensor) { inner.addToWeight(delta * 0.5) }
            var namedTensors: [(suffix: String, tensor: Tensor)] { [] }
            var parameterCount: Int { inner.parameterCount }
            var storageBytes: Int { inner.storageBytes }
        }
        let plain = tinyModel(), wrapped = tinyModel()
        for slot in wrapped.layers[0].slots {
            slot.layer = Doubled(Linear(weight: (slot.layer.base as! Linear).weight * 0.5))
        }
        let config = LoraConfig(r: 2, targetModules: .allLinear, initLoraWeights: .random)
        let a = try LoraModel(wrapping: plain, config: config, generator: Generator(seed: 9))
        let b = try LoraModel(wrapping: wrapped, config: config, generator: Generator(seed: 9))
        #expect(maxAbsDiff(outputs(a), outputs(b)) < 1e-5)
        let la = a.loss(batch).total, lb = b.loss(batch).total
        la.backward(); lb.backward()
        for ((_, ta), (_, tb)) in zip(a.namedTrainableParameters, b.namedTrainableParameters) {
            #expect(maxRelDiff(tb.gradArray!, ta.gradArray!) < 1e-4)
        }
    }
}
