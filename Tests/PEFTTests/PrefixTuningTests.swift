// Prefix tuning against Hugging Face peft: the golden `prefix` and `prefix-proj` adapters give
// PEFT's logits (real tokens only), loss and every encoder gradient; grouped-query attention
// gets prefixes of the key/value width, as PEFT makes them; the files are PEFT's plus the
// projection's weights, and bad sizes are clear errors.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

@Suite struct PrefixTuningGoldenTests {
    @Test(arguments: ["prefix", "prefix-proj"])
    func encoderMatchesPeft(variant: String) throws {
        let (tuner, expected) = try goldenEncoderTuner(variant)
        #expect(tuner.prependedPositions == 0 && tuner.virtualTokenCount == 5 && !tuner.canMerge)
        let report = try tuner.forwardReport(try Golden.batch())
        #expect(report["logits"]!.shape == [2, 10, 97])
        expectMatches(report, expected)
        let grads = expected.tensors.keys.filter { $0.hasPrefix("grad.") }
        #expect(Set(report.tensors.keys.filter { $0.hasPrefix("grad.") }) == Set(grads))
        for (name, p) in tuner.model.namedParameters { #expect(p.grad == nil, "frozen \(name) got a gradient") }
    }

    @Test func theStoredPrefixTrainsLikePeftsEmbedding() throws {
        // Without the projection, PEFT's prefix is the embedding: the reloaded table has its gradient.
        let tuner = try AdapterFolder.load(from: Golden.folder("prefix"), onto: try Golden.base())
        expectMatches(try tuner.forwardReport(try Golden.batch()), try Golden.expected("expected_prefix.safetensors"))
    }
}

@Suite struct PrefixTuningBehaviourTests {
    /// A LLaMA with grouped-query attention: 4 query heads share 2 key/value heads of width 4.
    func gqaModel(maxPositions: Int = 64) -> LlamaModel {
        LlamaModel(config: LlamaConfig(vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 3,
                                       numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: maxPositions),
                   generator: Generator(seed: 4))
    }
    let batch = TokenBatch(inputIds: [[1, 5, 9, 3], [7, 2, 8, 4]], labels: [[5, 9, 3, -100], [2, 8, 4, 6]])
    func context(_ seed: UInt64 = 1) -> TunerContext { TunerContext(generator: Generator(seed: seed)) }

    @Test func groupedQueryAttentionGetsKeyValueWidthPrefixes() throws {
        let model = gqaModel()
        let tuner = try PrefixTuningConfig(numVirtualTokens: 3).makeTuner(wrapping: model, context: context())
        // 3 layers · 2 · (2 key/value heads · head dim 4) = 48 columns
        #expect(tuner.namedTrainableParameters.map(\.tensor.shape) == [[3, 48]])
        #expect(withoutGrad { tuner.forward(batch) }.shape == [2, 4, 40])
        let folder = temporaryFolder()
        try tuner.save(to: folder)
        let json = try String(contentsOf: folder.appendingPathComponent("adapter_config.json"), encoding: .utf8)
        for field in ["\"peft_type\" : \"PREFIX_TUNING\"", "\"token_dim\" : 8", "\"num_attention_heads\" : 2",
                      "\"num_layers\" : 3", "\"encoder_hidden_size\" : 8", "\"prefix_projection\" : false",
                      "\"num_virtual_tokens\" : 3", "\"init_weights\" : null"] {
            #expect(json.contains(field), "adapter_config.json lacks \(field)")
        }
        let projected = try PrefixTuningConfig(numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 6)
            .makeTuner(wrapping: gqaModel(), context: context())
        #expect(projected.namedTrainableParameters.map(\.name) == [
            "prompt_encoder.embedding.weight", "prompt_encoder.transform.0.weight", "prompt_encoder.transform.0.bias",
            "prompt_encoder.transform.2.weight", "prompt_encoder.transform.2.bias"])
        #expect(projected.namedTrainableParameters.map(\.tensor.shape) == [[3, 8], [6, 8], [6], [48, 6], [48]])
    }

    @Test func theRealTokensComeAfterThePrefix() throws {
        // The prefix takes positions 0..<n: a prefix of zero keys and values still moves the real
        // tokens' positions, so the logits differ from the base model's; and a row too long once
        // the virtual tokens are counted is refused.
        let model = gqaModel(maxPositions: 6)
        let tuner = try PrefixTuningConfig(numVirtualTokens: 3, initWeights: .zero).makeTuner(wrapping: model,
                                                                                             context: context())
        #expect(tuner.trainableParameters[0].array.allSatisfy { $0 == 0 })
        let message = #expect(throws: PEFTError.self) { try tuner.check(batch) }
        #expect(message?.description.contains("plus 3 virtual tokens makes 7 positions") == true)
        #expect(message?.description.contains("max_position_embeddings (6)") == true)
        let short = TokenBatch(inputIds: [[1, 5, 9], [7, 2, 8]])
        try tuner.check(short)
    }

    @Test func freshEncodersStartAsPeftStartsThem() throws {
        let tuner = try PrefixTuningConfig(numVirtualTokens: 20).makeTuner(wrapping: gqaModel(), context: context(3))
        let e = tuner.trainableParameters[0].array                                               // N(0, 1)
        let mean = e.reduce(0, +) / Float(e.count)
        let variance = e.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(e.count)
        #expect(abs(mean) < 0.1 && abs(variance - 1) < 0.15)
        let projected = try PrefixTuningConfig(numVirtualTokens: 4, prefixProjection: true, encoderHiddenSize: 6)
            .makeTuner(wrapping: gqaModel(), context: context(3))
        let p = Dictionary(uniqueKeysWithValues: projected.namedTrainableParameters.map { ($0.name, $0.tensor) })
        for (name, fanIn) in [("transform.0.weight", 8), ("transform.0.bias", 8), ("transform.2.weight", 6),
                              ("transform.2.bias", 6)] {                               // U(−1/√in, 1/√in)
            let values = p["prompt_encoder." + name]!.array, bound = 1 / Float(fanIn).squareRoot()
            #expect(values.allSatisfy { abs($0) <= bound }, "\(name)")
            if name.hasSuffix("weight") { #expect(values.map(abs).max()! > 0.7 * bound, "\(name) spans its range") }
        }
        let zero = try PrefixTuningConfig(numVirtualTokens: 4, prefixProjection: true, initWeights: .zero)
            .makeTuner(wrapping: gqaModel(), context: context(3))
        let zeroFolder = temporaryFolder()
        try zero.save(to: zeroFolder)
        let zeroURL = zeroFolder.appendingPathComponent(AdapterFolder.weightsName)
        let zeroFile = try SafeTensorsFile.read(contentsOf: zeroURL)
        let prompt = zeroFile.tensors["prompt_embeddings"]!
        #expect(prompt.shape == [4, 48] && prompt.values.allSatisfy { $0 == 0 })
    }

    @Test func pTuningV2IsPrefixTuningWithoutTheProjection() throws {
        let config = PrefixTuningConfig.pTuningV2(numVirtualTokens: 7)
        #expect(config == PrefixTuningConfig(numVirtualTokens: 7) && !config.prefixProjection)
        #expect(type(of: config).peftType == .prefixTuning)
    }

    @Test func saveAndLoadKeepTheProjectionBesidePeftsFiles() throws {
        let tuner = try PrefixTuningConfig(numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 6)
            .makeTuner(wrapping: gqaModel(), context: context())
        let folder = temporaryFolder()
        try tuner.save(to: folder)
        let adapter = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        #expect(Array(adapter.tensors.keys) == ["prompt_embeddings"] && adapter["prompt_embeddings"]!.shape == [3, 48])
        let encoderFile = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent(PromptEncoderFile.name))
        #expect(Set(encoderFile.tensors.keys) == Set(tuner.namedTrainableParameters.map(\.name)))
        let before = withoutGrad { tuner.forward(batch) }.array
        // with prompt_encoder.safetensors: the projection is back, trainable, with the same gradients
        let reloaded = try AdapterFolder.load(from: folder, onto: gqaModel())
        #expect(reloaded.namedTrainableParameters.map(\.name) == tuner.namedTrainableParameters.map(\.name))
        #expect(withoutGrad { reloaded.forward(batch) }.array == before)
        let (a, b) = (try tuner.forwardReport(batch), try reloaded.forwardReport(batch))
        for key in a.tensors.keys { #expect(a[key] == b[key], "\(key)") }
        // without it: PEFT's reload, the saved prefix as the one tensor
        try FileManager.default.removeItem(at: folder.appendingPathComponent("prompt_encoder.safetensors"))
        let asPeft = try AdapterFolder.load(from: folder, onto: gqaModel())
        #expect(asPeft.namedTrainableParameters.map(\.name) == ["prompt_encoder.embedding.weight"])
        #expect(maxAbsDiff(withoutGrad { asPeft.forward(batch) }.array, before) < 1e-6)
        // without the projection there is nothing to add to PEFT's file
        let plain = temporaryFolder()
        try PrefixTuningConfig(numVirtualTokens: 3).makeTuner(wrapping: gqaModel(), context: context()).save(to: plain)
        #expect(!FileManager.default.fileExists(atPath: plain.appendingPathComponent(PromptEncoderFile.name).path))
    }

    @Test func badSettingsAndFilesAreClearErrors() throws {
        func message(_ config: PrefixTuningConfig) -> String {
            do { _ = try config.makeTuner(wrapping: gqaModel(), context: context()) } catch { return "\(error)" }
            return ""
        }
        #expect(message(PrefixTuningConfig(numVirtualTokens: 0))
                    .contains("num_virtual_tokens must be a positive number"))
        #expect(message(PrefixTuningConfig(numVirtualTokens: -2)).contains("got -2"))
        #expect(message(PrefixTuningConfig(numVirtualTokens: 3, prefixProjection: true, encoderHiddenSize: 0))
                    .contains("encoder_hidden_size must be a positive width, got 0"))
        // prompt_embeddings of another model: 2 layers instead of 3
        let folder = temporaryFolder()
        let tuner = try PrefixTuningConfig(numVirtualTokens: 3, prefixProjection: true).makeTuner(wrapping: gqaModel(),
                                                                                                context: context())
        try tuner.save(to: folder)
        let other = LlamaModel(config: LlamaConfig(vocabSize: 40, hiddenSize: 16, intermediateSize: 24,
                                                   numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2),
                               generator: Generator(seed: 4))
        // num_layers 3 vs 2
        #expect(throws: FileFormatError.self) { try AdapterFolder.load(from: folder, onto: other) }
        // a prompt_embeddings tensor that does not fit the config
        var adapter = SafeTensorsFile()
        adapter["prompt_embeddings"] = StoredTensor(shape: [2, 48], values: [Float](repeating: 0, count: 96))
        try adapter.write(to: folder.appendingPathComponent("adapter_model.safetensors"))
        let shape = #expect(throws: FileFormatError.self) { try AdapterFolder.load(from: folder, onto: gqaModel()) }
        #expect(shape?.tensor == "prompt_embeddings")
        #expect(shape?.problem.contains("has shape [2, 48], but num_virtual_tokens 3 and the model's 3 layers") == true)
        // an encoder file whose projection does not fit the config
        try tuner.save(to: folder)
        var encoder = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("prompt_encoder.safetensors"))
        encoder["prompt_encoder.transform.0.weight"] = StoredTensor(shape: [5, 8],
                                                                    values: [Float](repeating: 0, count: 40))
        try encoder.write(to: folder.appendingPathComponent("prompt_encoder.safetensors"))
        let wrong = #expect(throws: FileFormatError.self) { try AdapterFolder.load(from: folder, onto: gqaModel()) }
        #expect(wrong?.tensor == "prompt_encoder.transform.0.weight")
        #expect(wrong?.problem.contains("has shape [5, 8], but adapter_config.json and the model imply [8, 8]") == true)
        #expect(wrong?.problem.contains("delete it") == true)
        encoder.tensors["prompt_encoder.transform.0.weight"] = nil
        try encoder.write(to: folder.appendingPathComponent("prompt_encoder.safetensors"))
        let missing = #expect(throws: FileFormatError.self) { try AdapterFolder.load(from: folder, onto: gqaModel()) }
        #expect(missing?.problem.contains("missing") == true)
        let merge = #expect(throws: PEFTError.self) { try tuner.merge() }
        #expect(merge?.description.contains("PREFIX_TUNING cannot be merged") == true)
    }
}
