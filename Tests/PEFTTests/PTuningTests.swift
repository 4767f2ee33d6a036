// P-tuning against Hugging Face peft: the golden `ptuning-mlp` and `ptuning-lstm` adapters give
// PEFT's logits (virtual positions first), loss and every encoder gradient, the LSTM's included;
// the LSTM's backward passes a finite-difference check; files and bad settings as PEFT has them.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

@Suite struct PTuningGoldenTests {
    @Test(arguments: ["ptuning-mlp", "ptuning-lstm"])
    func encoderMatchesPeft(variant: String) throws {
        let (tuner, expected) = try goldenEncoderTuner(variant)
        #expect(tuner.prependedPositions == 5 && tuner.virtualTokenCount == 5)
        let report = try tuner.forwardReport(try Golden.batch())
        #expect(report["logits"]!.shape == [2, 15, 97])
        expectMatches(report, expected)
        let grads = expected.tensors.keys.filter { $0.hasPrefix("grad.") }
        #expect(Set(report.tensors.keys.filter { $0.hasPrefix("grad.") }) == Set(grads))
        for (name, p) in tuner.model.namedParameters { #expect(p.grad == nil, "frozen \(name) got a gradient") }
    }
}

@Suite struct BidirectionalLSTMTests {
    @Test func backwardMatchesFiniteDifferences() throws {
        // Two bidirectional layers over 4 steps: the input and every weight and bias. (The MLP head
        // is plain linear and relu, checked against PEFT's gradients in the golden test.)
        let gen = Generator(seed: 5)
        let config = PromptEncoderConfig(numVirtualTokens: 4, encoderReparameterizationType: .lstm,
                                         encoderHiddenSize: 3, encoderNumLayers: 2)
        let model = LlamaModel(config: LlamaConfig(vocabSize: 11, hiddenSize: 5, intermediateSize: 8,
                                                   numHiddenLayers: 1, numAttentionHeads: 1), generator: gen)
        let tuner = try config.makeTuner(wrapping: model, context: TunerContext(generator: gen))
        let encoder = try #require((tuner as? PromptLearningModel)?.encoder as? PTuningEncoder)
        let lstm = try #require(encoder.lstm)
        let x = randn([4, 5], gen)
        let weights = lstm.layers.flatMap { [$0.forward, $0.reverse] }
            .flatMap { [$0.weightIH, $0.weightHH, $0.biasIH, $0.biasHH] }
        #expect(weights.count == 16)
        gradCheck([x] + weights, samples: 12) { _ in lstm(x) }
    }

    @Test func oneStepFollowsPyTorchsGateOrder() throws {
        // h = 1, one step, forward direction: z = W_ih·x + b_ih + b_hh (h₀ = 0), gates i, f, g, o.
        let config = PromptEncoderConfig(numVirtualTokens: 1, encoderReparameterizationType: .lstm,
                                         encoderHiddenSize: 1, encoderNumLayers: 1)
        let model = LlamaModel(config: LlamaConfig(vocabSize: 11, hiddenSize: 2, intermediateSize: 4,
                                                   numHiddenLayers: 1, numAttentionHeads: 1),
                               generator: Generator(seed: 1))
        let tuner = try config.makeTuner(wrapping: model, context: TunerContext(generator: Generator(seed: 2)))
        let lstm = try #require(((tuner as? PromptLearningModel)?.encoder as? PTuningEncoder)?.lstm)
        let d = lstm.layers[0].forward
        let x: [Float] = [0.3, -0.7]
        let z = (0..<4).map { g in d.weightIH.data[2 * g] * x[0] + d.weightIH.data[2 * g + 1] * x[1]
            + d.biasIH.data[g] + d.biasHH.data[g] }
        func σ(_ v: Float) -> Float { 1 / (1 + Foundation.exp(-v)) }
        let c = σ(z[0]) * Foundation.tanh(z[2])                                  // f·c₀ + i·g with c₀ = 0
        let h = σ(z[3]) * Foundation.tanh(c)
        let out = withoutGrad { lstm(Tensor(shape: [1, 2], values: x)) }
        #expect(out.shape == [1, 2] && abs(out.data[0] - h) < 1e-6)
    }
}

@Suite struct PTuningBehaviourTests {
    func tinyModel() -> LlamaModel {
        LlamaModel(config: LlamaConfig(vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
                                       numAttentionHeads: 2), generator: Generator(seed: 1))
    }
    let batch = TokenBatch(inputIds: [[1, 5, 9, 3], [7, 2, 8, 4]], labels: [[5, 9, 3, -100], [2, 8, 4, 6]])
    func context(_ seed: UInt64 = 1) -> TunerContext { TunerContext(generator: Generator(seed: seed)) }

    @Test func encodersHavePeftsShapesAndNames() throws {
        let mlp = try PromptEncoderConfig(numVirtualTokens: 3, encoderHiddenSize: 6, encoderNumLayers: 5)
            .makeTuner(wrapping: tinyModel(), context: context())                          // encoder_num_layers ignored
        #expect(mlp.namedTrainableParameters.map(\.name) == ["prompt_encoder.embedding.weight"]
            + [0, 2, 4].flatMap { ["prompt_encoder.mlp_head.\($0).weight", "prompt_encoder.mlp_head.\($0).bias"] })
        #expect(mlp.namedTrainableParameters.map(\.tensor.shape) == [[3, 16], [6, 16], [6], [6, 6], [6], [16, 6], [16]])
        #expect(withoutGrad { mlp.forward(batch) }.shape == [2, 7, 40])
        let lstm = try PromptEncoderConfig(numVirtualTokens: 3, encoderReparameterizationType: .lstm,
                                           encoderHiddenSize: 6, encoderNumLayers: 3)
            .makeTuner(wrapping: tinyModel(), context: context())
        let names = lstm.namedTrainableParameters.map(\.name)
        #expect(names.count == 1 + 3 * 8 + 4)
        #expect(names.contains("prompt_encoder.lstm_head.weight_ih_l2_reverse"))
        let shapes = Dictionary(uniqueKeysWithValues: lstm.namedTrainableParameters.map { ($0.name, $0.tensor.shape) })
        #expect(shapes["prompt_encoder.lstm_head.weight_ih_l0"] == [24, 16])
        #expect(shapes["prompt_encoder.lstm_head.weight_ih_l1_reverse"] == [24, 12])
        #expect(shapes["prompt_encoder.lstm_head.weight_hh_l2"] == [24, 6])
        #expect(shapes["prompt_encoder.mlp_head.0.weight"] == [12, 12])
        #expect(shapes["prompt_encoder.mlp_head.2.weight"] == [16, 12])
        // PEFT's defaults: MLP, h = token_dim, 2 layers, dropout 0
        let defaults = PromptEncoderConfig(numVirtualTokens: 3)
        #expect(defaults.encoderReparameterizationType == .mlp && defaults.encoderNumLayers == 2)
        #expect(defaults.encoderDropout == 0 && defaults.encoderHiddenSize == nil)
        let folder = temporaryFolder()
        try PromptEncoderConfig(numVirtualTokens: 3).makeTuner(wrapping: tinyModel(), context: context())
            .save(to: folder)
        let json = try String(contentsOf: folder.appendingPathComponent("adapter_config.json"), encoding: .utf8)
        for field in ["\"peft_type\" : \"P_TUNING\"", "\"encoder_reparameterization_type\" : \"MLP\"",
                      "\"encoder_hidden_size\" : 16", "\"encoder_num_layers\" : 2", "\"encoder_dropout\" : 0",
                      "\"token_dim\" : 16", "\"num_attention_heads\" : 2", "\"num_virtual_tokens\" : 3"] {
            #expect(json.contains(field), "adapter_config.json lacks \(field)")
        }
    }

    @Test func freshEncodersStartAsPyTorchStartsThem() throws {
        let tuner = try PromptEncoderConfig(numVirtualTokens: 40, encoderReparameterizationType: .lstm,
                                            encoderHiddenSize: 9).makeTuner(wrapping: tinyModel(), context: context(3))
        for (name, t) in tuner.namedTrainableParameters {
            let values = t.array
            if name.hasSuffix("embedding.weight") {                                              // N(0, 1)
                let mean = values.reduce(0, +) / Float(values.count)
                let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)
                #expect(abs(mean) < 0.1 && abs(variance - 1) < 0.15)
            } else {              // LSTM (h = 9): U(±1/√h); the head, Linear(18, 18) and Linear(18, 16): U(±1/√18)
                let limit = 1 / Float(name.contains("lstm_head") ? 9 : 18).squareRoot()
                #expect(values.allSatisfy { abs($0) <= limit }, "\(name) beyond ±\(limit)")
                #expect(values.map(abs).max()! > 0.6 * limit, "\(name) does not span ±\(limit)")
            }
        }
    }

    @Test func dropoutActsBetweenLstmLayersOnlyWhileTraining() throws {
        let tuner = try PromptEncoderConfig(numVirtualTokens: 4, encoderReparameterizationType: .lstm,
                                            encoderDropout: 0.5).makeTuner(wrapping: tinyModel(), context: context())
        let eval = withoutGrad { tuner.forward(batch) }.array
        #expect(withoutGrad { tuner.forward(batch) }.array == eval)
        tuner.isTraining = true
        #expect(withoutGrad { tuner.forward(batch) }.array != eval)
        tuner.isTraining = false
        #expect(withoutGrad { tuner.forward(batch) }.array == eval)
    }

    @Test(arguments: [PromptEncoderReparameterizationType.mlp, .lstm])
    func saveAndLoadKeepTheEncoderBesidePeftsFiles(type: PromptEncoderReparameterizationType) throws {
        let tuner = try PromptEncoderConfig(numVirtualTokens: 3, encoderReparameterizationType: type,
                                            encoderHiddenSize: 5).makeTuner(wrapping: tinyModel(), context: context())
        let folder = temporaryFolder()
        try tuner.save(to: folder)
        let adapter = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        #expect(Array(adapter.tensors.keys) == ["prompt_embeddings"] && adapter["prompt_embeddings"]!.shape == [3, 16])
        let encoderFile = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent(PromptEncoderFile.name))
        #expect(Set(encoderFile.tensors.keys) == Set(tuner.namedTrainableParameters.map(\.name)))
        let before = withoutGrad { tuner.forward(batch) }.array
        let reloaded = try AdapterFolder.load(from: folder, onto: tinyModel())
        #expect((reloaded as? PromptLearningModel)?.encoder is PTuningEncoder)
        let (a, b) = (try tuner.forwardReport(batch), try reloaded.forwardReport(batch))
        #expect(Set(a.tensors.keys) == Set(b.tensors.keys))
        for key in a.tensors.keys { #expect(a[key] == b[key], "\(key)") }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("prompt_encoder.safetensors"))
        let asPeft = try AdapterFolder.load(from: folder, onto: tinyModel())
        #expect(asPeft.namedTrainableParameters.map(\.name) == ["prompt_encoder.embedding.weight"])
        #expect(maxAbsDiff(withoutGrad { asPeft.forward(batch) }.array, before) < 1e-6)
    }

    @Test func badSettingsAndFilesAreClearErrors() throws {
        func message(_ config: PromptEncoderConfig) -> String {
            do { _ = try config.makeTuner(wrapping: tinyModel(), context: context()) } catch { return "\(error)" }
            return ""
        }
        #expect(message(PromptEncoderConfig(numVirtualTokens: 0))
                    .contains("num_virtual_tokens must be a positive number"))
        let lstm = PromptEncoderConfig(numVirtualTokens: 3, encoderReparameterizationType: .lstm, encoderNumLayers: 0)
        #expect(message(lstm)
                    == "encoder_num_layers must be at least 1 for the LSTM encoder, got 0; try 2 (PEFT's default)")
        #expect(message(PromptEncoderConfig(numVirtualTokens: 3, encoderNumLayers: 0)) == "")   // the MLP ignores it
        #expect(message(PromptEncoderConfig(numVirtualTokens: 3, encoderHiddenSize: -1)).contains("got -1"))
        #expect(message(PromptEncoderConfig(numVirtualTokens: 3, encoderDropout: 1))
                    .contains("encoder_dropout must be a probability in [0, 1), got 1.0"))
        // a row that does not fit once the virtual tokens are counted (max_position_embeddings 64)
        let long = try PromptEncoderConfig(numVirtualTokens: 61).makeTuner(wrapping: try Golden.base(),
                                                                           context: context())
        let length = #expect(throws: PEFTError.self) { try long.check(try Golden.batch()) }
        #expect(length?.description.contains("plus 61 virtual tokens makes 71 positions") == true)
        // an encoder_num_layers of 0 in a file is refused when read
        let folder = temporaryFolder()
        let tuner = try PromptEncoderConfig(numVirtualTokens: 3, encoderReparameterizationType: .lstm,
                                            encoderHiddenSize: 4).makeTuner(wrapping: tinyModel(), context: context())
        try tuner.save(to: folder)
        let url = folder.appendingPathComponent("adapter_config.json")
        let json = try String(contentsOf: url, encoding: .utf8)
        try json.replacingOccurrences(of: "\"encoder_num_layers\" : 2", with: "\"encoder_num_layers\" : 0")
            .write(to: url, atomically: true, encoding: .utf8)
        let layers = #expect(throws: FileFormatError.self) { try AdapterFolder.load(from: folder, onto: tinyModel()) }
        #expect(layers?.problem.contains("encoder_num_layers must be at least 1") == true)
        // an encoder file written for another encoder_hidden_size
        try json.replacingOccurrences(of: "\"encoder_hidden_size\" : 4", with: "\"encoder_hidden_size\" : 6")
            .write(to: url, atomically: true, encoding: .utf8)
        let wrong = #expect(throws: FileFormatError.self) { try AdapterFolder.load(from: folder, onto: tinyModel()) }
        #expect(wrong?.tensor == "prompt_encoder.lstm_head.weight_ih_l0")
        #expect(wrong?.problem.contains("has shape [16, 16], but adapter_config.json and the model imply [24, 16]")
                    == true)
        // prompt_embeddings for another hidden size
        try json.write(to: url, atomically: true, encoding: .utf8)
        var adapter = SafeTensorsFile()
        adapter["prompt_embeddings"] = StoredTensor(shape: [3, 8], values: [Float](repeating: 0, count: 24))
        try adapter.write(to: folder.appendingPathComponent("adapter_model.safetensors"))
        let shape = #expect(throws: FileFormatError.self) { try AdapterFolder.load(from: folder, onto: tinyModel()) }
        #expect(shape?.problem.contains("has shape [3, 8], but num_virtual_tokens 3 and the model's hidden size 16 "
            + "imply [3, 16]") == true)
    }
}
