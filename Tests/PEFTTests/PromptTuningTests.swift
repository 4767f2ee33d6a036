// Prompt tuning against Hugging Face peft: the golden `prompt` and `prompt-text` adapters give
// PEFT's logits (virtual positions first), loss (labels padded with −100, so labels[:, 0]
// counts) and gradient; the text initialisation follows PEFT's rule.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

@Suite struct PromptTuningGoldenTests {
    @Test(arguments: ["prompt", "prompt-text"])
    func adapterMatchesPeft(variant: String) throws {
        let model = try Golden.base()
        let tuner = try AdapterFolder.load(from: Golden.folder(variant), onto: model)
        #expect(tuner.prependedPositions == 5 && !tuner.canMerge)
        let expected = try Golden.expected("expected_\(variant).safetensors")
        let report = try tuner.forwardReport(try Golden.batch())
        #expect(report["logits"]!.shape == [2, 15, 97])
        expectMatches(report, expected)
        #expect(report["grad.prompt_encoder.embedding.weight"] != nil)
        for (name, p) in model.namedParameters { #expect(p.grad == nil, "frozen \(name) got a gradient") }
        // evaluation sees the real tokens only
        #expect(withoutGrad { tuner.logits(try! Golden.batch()) }.shape == [2, 10, 97])
    }

    @Test func theLastVirtualPositionPredictsTheFirstLabel() throws {
        // PEFT pads the labels with n × −100 in front: labels[:, 0] then counts in the loss. In
        // batch.json it is a real label in row 1, so leaving it out moves the loss.
        let tuner = try AdapterFolder.load(from: Golden.folder("prompt"), onto: try Golden.base())
        var batch = try Golden.batch()
        let expected = try Golden.expected("expected_prompt.safetensors")["loss"]!.values[0]
        #expect(abs(withoutGrad { tuner.loss(batch).total.item } - expected) < 1e-4)
        batch.labels[batch.sequenceLength] = -100  // row 1, position 0
        #expect(abs(withoutGrad { tuner.loss(batch).total.item } - expected) > 1e-3)
        #expect(paddedLabels([7, 8, 9, 1, 2, 3], rows: 2, virtualTokens: 2)
                == [-100, -100, 7, 8, 9, -100, -100, 1, 2, 3])
    }

    @Test func textInitialisationFollowsPeftsRule() throws {
        // "classify the sentiment" → [1, 16, 29, 42] (a leading <s>): repeated, then cut to n = 5.
        let ids = try Golden.expected("expected_prompt-text.safetensors")["init_token_ids"]!.values.map { Int($0) }
        #expect(textInitializationIds([1, 16, 29, 42], count: 5) == ids)
        #expect(textInitializationIds([1, 16, 29, 42, 55, 68, 81], count: 5) == [1, 16, 29, 42, 55])
        // Built here with the same token ids, the prompt is exactly the golden adapter's.
        let model = try Golden.base()
        let config = PromptTuningConfig(numVirtualTokens: 5, promptTuningInit: .text,
                                        promptTuningInitText: "classify the sentiment")
        let tuner = try config.makeTuner(wrapping: model,
                                         context: TunerContext(generator: Generator(seed: 0),
                                                               tokenize: { _ in [1, 16, 29, 42] }))
        let stored = try SafeTensorsFile.read(
            contentsOf: Golden.folder("prompt-text").appendingPathComponent("adapter_model.safetensors"))
        #expect(tuner.trainableParameters[0].array == stored["prompt_embeddings"]!.values)
    }

    @Test func freshPromptsStartAsPeftStartsThem() throws {
        let model = try Golden.base()
        func prompt(_ initialization: PromptTuningInit) throws -> Tensor {
            let config = PromptTuningConfig(numVirtualTokens: 4, promptTuningInit: initialization)
            return try config.makeTuner(wrapping: model,
                                        context: TunerContext(generator: Generator(seed: 3))).trainableParameters[0]
        }
        let random = try prompt(.random).array
        let mean = random.reduce(0, +) / Float(random.count)
        let variance = random.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(random.count)
        #expect(abs(mean) < 0.3 && variance > 0.5 && variance < 1.6)  // N(0, 1), as nn.Embedding starts
        let sampled = try prompt(.sampleVocab)
        let width = model.config.hiddenSize
        for row in 0..<4 {  // every row is some row of the embedding matrix
            let r = Array(sampled.array[(row * width)..<((row + 1) * width)])
            #expect((0..<model.config.vocabSize).contains { id in
                Array(model.embedTokens.array[(id * width)..<((id + 1) * width)]) == r
            })
        }
    }

    @Test func saveLoadRoundTripAndPeftsFileLayout() throws {
        let model = try Golden.base()
        let config = PromptTuningConfig(numVirtualTokens: 3)
        let tuner = try config.makeTuner(wrapping: model, context: TunerContext(generator: Generator(seed: 1)))
        let folder = temporaryFolder()
        try tuner.save(to: folder)
        let file = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        #expect(Array(file.tensors.keys) == ["prompt_embeddings"] && file["prompt_embeddings"]!.shape == [3, 32])
        let json = try String(contentsOf: folder.appendingPathComponent("adapter_config.json"), encoding: .utf8)
        for field in ["\"peft_type\" : \"PROMPT_TUNING\"", "\"num_virtual_tokens\" : 3", "\"token_dim\" : 32",
                      "\"num_layers\" : 2", "\"num_attention_heads\" : 4", "\"prompt_tuning_init\" : \"RANDOM\"",
                      "\"task_type\" : \"CAUSAL_LM\""] {
            #expect(json.contains(field), "adapter_config.json lacks \(field)")
        }
        let reloaded = try AdapterFolder.load(from: folder, onto: try Golden.base())
        let batch = try Golden.batch()
        #expect(withoutGrad { reloaded.forward(batch) }.array == withoutGrad { tuner.forward(batch) }.array)
    }

    @Test func badSettingsAreClearErrors() throws {
        let model = try Golden.base()
        func message(_ config: PromptTuningConfig) -> String {
            do {
                _ = try config.makeTuner(wrapping: model, context: TunerContext(generator: Generator(seed: 1)))
                return ""
            }
            catch { return "\(error)" }
        }
        #expect(message(PromptTuningConfig(numVirtualTokens: 0))
                    .contains("num_virtual_tokens must be a positive number"))
        #expect(message(PromptTuningConfig(numVirtualTokens: 4, promptTuningInit: .text))
                    .contains("needs prompt_tuning_init_text"))
        #expect(message(PromptTuningConfig(numVirtualTokens: 4, promptTuningInit: .text, promptTuningInitText: "hi"))
                    .contains("needs the base model's tokenizer"))
        // more virtual tokens than positions, and a batch that does not fit once they are counted (64 positions)
        #expect(message(PromptTuningConfig(numVirtualTokens: 2040)).contains("the model has only 64 positions"))
        let tuner = try PromptTuningConfig(numVirtualTokens: 60)
            .makeTuner(wrapping: model, context: TunerContext(generator: Generator(seed: 1)))
        let tooLong = #expect(throws: PEFTError.self) { try tuner.check(try Golden.batch()) }
        #expect(tooLong?.description.contains("plus 60 virtual tokens makes 70 positions") == true)
        // an adapter made for another model
        let folder = temporaryFolder()
        try tuner.save(to: folder)
        let other = LlamaModel(config: LlamaConfig(vocabSize: 97, hiddenSize: 16, intermediateSize: 24,
                                                   numHiddenLayers: 2, numAttentionHeads: 4),
                               generator: Generator(seed: 2))
        #expect(throws: (any Error).self) { try AdapterFolder.load(from: folder, onto: other) }
        let merge = #expect(throws: PEFTError.self) { try tuner.merge() }
        #expect(merge?.description.contains("PROMPT_TUNING cannot be merged") == true)
    }
}

@Suite struct AdapterConfigTests {
    @Test(arguments: ["lora", "dora", "rslora", "prompt", "prompt-text"])
    func peftsOwnFilesReadWithoutWarnings(name: String) throws {
        var warnings: [String] = []
        _ = try AdapterConfigFile.read(contentsOf: Golden.folder(name).appendingPathComponent("adapter_config.json")) {
            warnings.append($0)
        }
        #expect(warnings.isEmpty, "\(warnings)")
    }

    @Test func unknownKeysAreWarnedAboutAndUnimplementedMethodsNamed() throws {
        let folder = temporaryFolder()
        let url = folder.appendingPathComponent("adapter_config.json")
        try #"{"peft_type": "LORA", "r": 4, "colour": "blue"}"#.write(to: url, atomically: true, encoding: .utf8)
        var warnings: [String] = []
        let config = try AdapterConfigFile.read(contentsOf: url) { warnings.append($0) }
        #expect((config as? LoraConfig)?.r == 4 && (config as? LoraConfig)?.loraAlpha == 8)  // PEFT's default alpha
        #expect(warnings.count == 1 && warnings[0].contains("ignoring unknown keys colour"))
        try #"{"peft_type": "LORA", "target_modules": 5}"#.write(to: url, atomically: true, encoding: .utf8)
        #expect(throws: FileFormatError.self) { try AdapterConfigFile.read(contentsOf: url) }
        try #"{"peft_type": "PROMPT_TUNING"}"#.write(to: url, atomically: true, encoding: .utf8)
        let missing = #expect(throws: FileFormatError.self) { try AdapterConfigFile.read(contentsOf: url) }
        #expect(missing?.problem.contains("num_virtual_tokens is missing") == true)
    }

    @Test func jsonRoundTripsEveryField() throws {
        var lora = LoraConfig(r: 3, loraAlpha: 12.5, loraDropout: 0.1, targetModules: .regex(".*q_proj"),
                              layersToTransform: [0, 1], rankPattern: ["v_proj": 2], alphaPattern: ["v_proj": 4],
                              useRslora: true, initLoraWeights: .gaussian, useDora: true)
        lora.baseModelNameOrPath = "some/base"
        var prompt = PromptTuningConfig(numVirtualTokens: 7, promptTuningInit: .text,
                                        promptTuningInitText: "say \"hi\"")
        prompt.baseModelNameOrPath = "some/base"
        let folder = temporaryFolder()
        for config in [lora, prompt] as [any PeftConfig] {
            let url = folder.appendingPathComponent("adapter_config.json")
            try AdapterConfigFile.json(config).write(to: url)
            let back = try AdapterConfigFile.read(contentsOf: url)
            #expect(try AdapterConfigFile.json(back) == AdapterConfigFile.json(config))
            #expect(back.baseModelNameOrPath == "some/base")
        }
    }
}
