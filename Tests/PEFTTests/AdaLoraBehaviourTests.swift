// AdaLoRA's pieces on their own: the fused kernel and the orthogonality penalty against finite
// differences, PEFT's start (equal to the base), merging, pruning ties, modules pruned to rank 0
// in the adapter file, and the errors for impossible settings.

import Foundation
import Llama
@testable import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

@Suite struct AdaLoraBehaviourTests {
    func tinyModel() -> LlamaModel {
        LlamaModel(config: LlamaConfig(vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
                                       numAttentionHeads: 2), generator: Generator(seed: 1))
    }
    let batch = TokenBatch(inputIds: [[1, 5, 9, 3], [7, 2, 8, 4]])

    func outputs(_ tuner: any Tuner) -> [Float] { withoutGrad { tuner.forward(batch) }.array }

    /// Random A, B ~ N(0, 1) with E = 0.1: an update of moderate size.
    func softened(_ tuner: AdaLoraModel) -> AdaLoraModel {
        for (_, l) in tuner.adapters { for i in 0..<l.r { l.loraE.data[i] = 0.1 } }
        return tuner
    }

    func config(initR: Int = 4, targetR: Int = 2, totalStep: Int? = 10,
                targets: TargetModules = .names(["q_proj", "v_proj"]), random: Bool = true) -> AdaLoraConfig {
        AdaLoraConfig(initR: initR, targetR: targetR, totalStep: totalStep, targetModules: targets,
                      initLoraWeights: !random)
    }

    @Test func fusedKernelMatchesFiniteDifferencesAndTheUnfusedForm() {
        let gen = Generator(seed: 31)
        let x = randn([2, 3, 6], gen), w = randn([5, 6], gen)
        let a = randn([2, 6], gen), e = randn([2, 1], gen), b = randn([5, 2], gen)
        let base = Linear(weight: w)
        gradCheck([x, a, e, b]) { adaLoraLinear($0[0], base: base, a: $0[1], e: $0[2], b: $0[3], scaling: 1.5) }
        let bias = randn([5], gen)
        let biased = Linear(weight: w, bias: bias)
        let fused = adaLoraLinear(x, base: biased, a: a, e: e, b: b, scaling: 1.5).array
        let plain = (linear(x, weight: w, bias: bias) + linear(linear(x, weight: a * e), weight: b) * 1.5).array
        #expect(maxAbsDiff(fused, plain) < 1e-5)
        // rank 0: the base alone, and gradients still flow to x
        let empty = adaLoraLinear(x, base: biased, a: Tensor(zeros: [0, 6], requiresGrad: true),
                                  e: Tensor(zeros: [0, 1], requiresGrad: true),
                                  b: Tensor(zeros: [5, 0], requiresGrad: true), scaling: 1.5)
        #expect(maxAbsDiff(empty.array, linear(x, weight: w, bias: bias).array) < 1e-6)
    }

    @Test func orthogonalityPenaltyMatchesFiniteDifferencesAndItsDefinition() {
        let gen = Generator(seed: 32)
        let a = randn([3, 7], gen, std: 0.5), b = randn([6, 3], gen, std: 0.5)
        gradCheck([a, b], eps: 1e-3) { orthogonalityPenalty(rowOrthonormal: [$0[0]], columnOrthonormal: [$0[1]]) }
        func frobenius(_ m: [[Double]]) -> Double { m.joined().reduce(0) { $0 + $1 * $1 }.squareRoot() }
        func gram(_ t: Tensor, rows: Bool) -> [[Double]] {
            let (n, k) = rows ? (t.shape[0], t.shape[1]) : (t.shape[1], t.shape[0])
            return (0..<n).map { i in (0..<n).map { j in
                (0..<k).reduce(0.0) { s, p in
                    let (u, v) = rows ? (t.data[i * k + p], t.data[j * k + p]) : (t.data[p * n + i], t.data[p * n + j])
                    return s + Double(u) * Double(v)
                } - (i == j ? 1 : 0)
            } }
        }
        let expected = frobenius(gram(a, rows: true)) + frobenius(gram(b, rows: false))
        let value = withoutGrad { orthogonalityPenalty(rowOrthonormal: [a], columnOrthonormal: [b]) }.item
        #expect(abs(Double(value) - expected) < 1e-5 * expected)
        // an orthonormal or empty matrix costs 0 and gets no (NaN) gradient
        let identity = Tensor(shape: [2, 2], values: [1, 0, 0, 1], requiresGrad: true)
        let none = Tensor(zeros: [0, 5], requiresGrad: true)
        let zero = orthogonalityPenalty(rowOrthonormal: [identity, none], columnOrthonormal: [identity])
        zero.backward()
        #expect(zero.item == 0 && (identity.gradArray ?? [0]).allSatisfy { $0 == 0 })
    }

    @Test func peftsStartEqualsTheBaseAndCountsItsParameters() throws {
        let model = tinyModel()
        let before = withoutGrad { model(batch.inputIds, batch: 2) }.array
        let tuner = try AdaLoraModel(wrapping: model, config: config(random: false), generator: Generator(seed: 2))
        #expect(outputs(tuner) == before)  // E = 0
        #expect(tuner.adapters.allSatisfy { $0.layer.loraE.array.allSatisfy { $0 == 0 } })
        #expect(tuner.adapters.allSatisfy { $0.layer.loraA.array.contains { $0 != 0 } })
        // 4 modules × (A 4×16 + E 4 + B 16×4)
        #expect(tuner.trainableCount == 4 * (64 + 4 + 64))
        let first = tuner.namedTrainableParameters.map(\.name).first
        #expect(first == "base_model.model.model.layers.0.self_attn.q_proj.lora_A")
        #expect(tuner.regularizer() != nil)
    }

    @Test func mergeGivesTheSameOutputsAndUnloadRestoresPlainLayers() throws {
        let model = tinyModel()
        let tuner = softened(try AdaLoraModel(wrapping: model, config: config(targets: .allLinear),
                                              generator: Generator(seed: 3)))
        let unmerged = outputs(tuner)
        tuner.merge()
        #expect(maxAbsDiff(outputs(tuner), unmerged) < 1e-4)
        tuner.unmerge()
        #expect(maxAbsDiff(outputs(tuner), unmerged) < 1e-4)
        let plain = tuner.mergeAndUnload()
        #expect(plain.linearSlots.allSatisfy { $0.layer is Linear })
        #expect(maxAbsDiff(withoutGrad { plain(batch.inputIds, batch: 2) }.array, unmerged) < 1e-4)
    }

    @Test func tiesAtTheThresholdAllGoAsWithKthvalue() throws {
        // before any score update every triplet scores 0: τ = 0 and S ≤ τ holds for all of them
        let tuner = try AdaLoraModel(wrapping: tinyModel(), config: config(), generator: Generator(seed: 4))
        let pruning = tuner.allocator.prune(tuner.adapters, toBudget: 12, initialBudget: 16)
        #expect(pruning.threshold == 0 && pruning.kept.values.allSatisfy { $0.allSatisfy { !$0 } })
        #expect(tuner.adapters.allSatisfy { $0.layer.loraE.array.allSatisfy { $0 == 0 } })
        // nothing to prune (k = 0, where torch.kthvalue would fail): everything stays
        let none = tuner.allocator.prune(tuner.adapters, toBudget: 16, initialBudget: 16)
        #expect(none.threshold == nil && none.kept.values.allSatisfy { $0.allSatisfy { $0 } })
    }

    @Test func budgetScheduleIsPeftsCubic() {
        let s = BudgetSchedule(initialBudget: 24, targetBudget: 8, tinit: 2, tfinal: 3, totalStep: 12, deltaT: 2)
        #expect((0..<12).map { s($0).budget } == [24, 24, 24, 18, 13, 10, 9, 8, 8, 8, 8, 8])
        #expect((0..<12).filter { s($0).mask } == [4, 6, 8, 10, 11])
    }

    @Test func modulesPrunedToRankZeroSaveAsZeroSizeTensorsAndLoadBack() throws {
        var c = config()
        c.rankPattern = [
            "model.layers.0.self_attn.q_proj.lora_E": [false, false, false, false],
            "model.layers.0.self_attn.v_proj.lora_E": [true, false, true, false],
            "model.layers.1.self_attn.q_proj.lora_E.default": [true, true, true, true],  // PEFT's in-memory key
            "model.layers.1.self_attn.v_proj.lora_E": [false, false, false, true],
        ]
        let model = tinyModel()
        let tuner = softened(try AdaLoraModel(wrapping: model, config: c, generator: Generator(seed: 5)))
        #expect(tuner.adapters.allSatisfy { $0.layer.r == 4 })  // a fresh adapter holds every triplet
        #expect(tuner.ranks.map(\.rank) == [0, 2, 4, 1])
        tuner.updateAndAllocate(11)  // after T − tfinal: the pattern zeroes what it drops
        let pruned = outputs(tuner)
        let folder = temporaryFolder()
        try tuner.save(to: folder)
        let file = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        let q0 = "base_model.model.model.layers.0.self_attn.q_proj."
        #expect(file[q0 + "lora_A"]?.shape == [0, 16] && file[q0 + "lora_E"]?.shape == [0, 1])
        #expect(file[q0 + "lora_B"]?.shape == [16, 0])
        #expect(file["base_model.model.model.layers.0.self_attn.v_proj.lora_B"]?.shape == [16, 2])
        let fresh = tinyModel()
        let loaded = try AdaLoraModel.load(from: folder, onto: fresh)
        #expect(loaded.adapters.map(\.layer.r) == [0, 2, 4, 1])
        #expect(maxAbsDiff(outputs(loaded), pruned) < 1e-4)
        #expect(loaded.config.rankPattern?.keys.sorted() == tuner.config.rankPattern?.keys.sorted())
        // a pruned adapter trains on: its regulariser counts the empty matrices (N = 8) and stays finite
        let loss = loaded.loss(batch).total
        loss.backward()
        #expect(loss.item.isFinite)
        #expect(loaded.trainableParameters.allSatisfy { ($0.gradArray ?? []).allSatisfy(\.isFinite) })
    }

    @Test func zeroSizeTensorsRoundTripThroughSafetensors() throws {
        var file = SafeTensorsFile()
        file["a"] = StoredTensor(shape: [0, 32], values: [])
        file["b"] = StoredTensor(shape: [2], values: [1, 2])
        file["c"] = StoredTensor(shape: [32, 0], values: [])
        let back = try SafeTensorsFile.parse(file.serialized(), file: "zero.safetensors")
        #expect(back.tensors == file.tensors)
        // as Python's safetensors writes them: an empty span [n, n) between others
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
            + #""e":{"dtype":"F32","shape":[0,1],"data_offsets":[4,4]},"#
            + #""z":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        for v: Float in [3, 4] { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        let parsed = try SafeTensorsFile.parse(data, file: "python.safetensors")
        #expect(parsed["e"]?.shape == [0, 1] && parsed["e"]?.values == [] && parsed["z"]?.values == [4])
    }

    @Test func impossibleSettingsAreClearErrors() {
        func message(_ c: AdaLoraConfig) -> String {
            do {
                _ = try AdaLoraModel(wrapping: tinyModel(), config: c, generator: Generator(seed: 1))
                return ""
            } catch { return "\(error)" }
        }
        #expect(message(config(initR: 4, targetR: 6)).contains("target_r (6) is larger than init_r (4)"))
        #expect(message(config(totalStep: nil)).contains("AdaLoRA does not work when total_step is None"))
        #expect(message(config(totalStep: 0)).contains("supply a value > 0"))
        var c = config(totalStep: 10)
        c.tinit = 4; c.tfinal = 6
        #expect(message(c).contains("tinit (4) + tfinal (6) must be less than total_step (10)"))
        c = config(); c.deltaT = 0
        #expect(message(c).contains("deltaT must be a positive"))
        c = config(); c.beta1 = 1
        #expect(message(c).contains("beta1 must be in (0, 1)"))
        c = config(); c.orthRegWeight = 0
        #expect(message(c).contains("orth_reg_weight should be greater than 0"))
        c = config(); c.initR = 0
        #expect(message(c).contains("init_r must be a positive integer"))
        let modules = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                       "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"]
        var full = Dictionary(uniqueKeysWithValues: modules.map { ($0 + ".lora_E", [true, true, false, false]) })
        c = config(); c.rankPattern = full
        #expect(message(c) == "")
        full["model.layers.0.self_attn.k_proj.lora_E"] = [true, true, true, true]
        c.rankPattern = full
        #expect(message(c).contains("key 'model.layers.0.self_attn.k_proj.lora_E' names no adapted module"))
        full["model.layers.0.self_attn.k_proj.lora_E"] = nil
        full["model.layers.1.self_attn.v_proj.lora_E"] = [true, false]
        c.rankPattern = full
        #expect(message(c).contains("['model.layers.1.self_attn.v_proj.lora_E'] has 2 entries but init_r is 4"))
        full["model.layers.1.self_attn.v_proj.lora_E"] = nil
        c.rankPattern = full
        #expect(message(c).contains("rank_pattern has no entry for model.layers.1.self_attn.v_proj"))
        let missing = message(config(targets: .names(["query"])))
        #expect(missing.contains("Target modules {'query'} not found in the base model"))
    }

    @Test func badAdapterFilesNameTheProblem() throws {
        let folder = temporaryFolder()
        func message() -> String {
            do { _ = try AdapterFolder.load(from: folder, onto: tinyModel()); return "" } catch { return "\(error)" }
        }
        func write(_ json: String) throws {
            try json.write(to: folder.appendingPathComponent("adapter_config.json"), atomically: true, encoding: .utf8)
        }
        try write(#"{"peft_type": "ADALORA", "init_r": 4, "target_r": 2}"#)
        #expect(message().contains("adapter_config.json: AdaLoRA does not work when total_step is None"))
        try write(#"{"peft_type": "ADALORA", "init_r": 4, "target_r": 2, "total_step": 10, "use_dora": true}"#)
        #expect(message().contains("use_dora: ADALORA does not support DoRA"))
        try write(#"{"peft_type": "ADALORA", "init_r": 4, "target_r": 2, "total_step": 10, "#
            + #""rank_pattern": {"x.lora_E": [true]}}"#)
        #expect(message().contains("rank_pattern['x.lora_E'] has 1 entries but init_r is 4"))
        // tensors that disagree with the rank pattern
        let tuner = try AdaLoraModel(wrapping: tinyModel(), config: config(), generator: Generator(seed: 6))
        try tuner.save(to: folder)
        let all = "[true, true, true, true]", layers = "model.layers"
        try write(#"{"peft_type": "ADALORA", "init_r": 4, "target_r": 2, "total_step": 10, "rank_pattern": {"#
            + #""\#(layers).0.self_attn.q_proj.lora_E": [true, false, false, false], "#
            + #""\#(layers).0.self_attn.v_proj.lora_E": \#(all), "\#(layers).1.self_attn.q_proj.lora_E": \#(all), "#
            + #""\#(layers).1.self_attn.v_proj.lora_E": \#(all)}}"#)
        #expect(message().contains("q_proj.lora_A': has shape [4, 16], "
                                   + "but adapter_config.json and the model imply [1, 16]"))
    }
}
