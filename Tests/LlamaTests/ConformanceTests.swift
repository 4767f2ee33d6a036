// The model against Hugging Face transformers: logits, loss and every gradient of the golden
// tiny LLaMA within the fixtures' tolerances (1e-4 absolute; gradients 1e-4 of the largest).

import Foundation
import Llama
import SafeTensors
import Testing
import TensorKit

@Suite struct ConformanceTests {
    @Test func baseModelMatchesTransformers() throws {
        let model = try LlamaModel.load(from: Golden.tiny.appendingPathComponent("base"))
        let batch = try TokenBatch.load(contentsOf: Golden.tiny.appendingPathComponent("batch.json"), vocabSize: model.config.vocabSize)
        let expected = try Golden.expected("expected_base.safetensors")
        model.setTrainable(true)
        let logits = model(batch.inputIds, batch: batch.batchSize)
        let loss = causalLanguageModelLoss(logits, labels: batch.labels)
        #expect(logits.shape == expected["logits"]!.shape)
        #expect(maxAbsDiff(logits.array, expected["logits"]!.values) < 1e-4)
        #expect(abs(loss.item - expected["loss"]!.values[0]) < 1e-4)
        loss.backward()
        var checked = 0
        for (name, parameter) in model.namedParameters {
            let reference = try #require(expected["grad.\(name)"], "no reference gradient for \(name)")
            let ours = try #require(parameter.gradArray, "no gradient reached \(name)")
            #expect(maxRelDiff(ours, reference.values) < 1e-4, "gradient of \(name)")
            checked += 1
        }
        #expect(checked == expected.tensors.keys.filter { $0.hasPrefix("grad.") }.count)
    }

    @Test func frozenBaseComputesNoWeightGradients() throws {
        let model = try LlamaModel.load(from: Golden.tiny.appendingPathComponent("base"))
        model.setTrainable(false)
        let q = model.layers[0].qProj.layer.base.weight
        q.requiresGrad = true
        let batch = try TokenBatch.load(contentsOf: Golden.tiny.appendingPathComponent("batch.json"), vocabSize: 97)
        causalLanguageModelLoss(model(batch.inputIds, batch: 2), labels: batch.labels).backward()
        #expect(q.grad != nil)
        for (name, t) in model.namedParameters where t !== q { #expect(t.grad == nil, "\(name) got a gradient while frozen") }
    }

    @Test func groupedQueryAttentionAndTiedHeadRoundTrip() throws {
        // Another shape entirely: GQA (4 query heads, 2 kv heads), tied embeddings, 3 layers.
        let config = LlamaConfig(vocabSize: 50, hiddenSize: 24, intermediateSize: 40, numHiddenLayers: 3,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true)
        let model = LlamaModel(config: config, generator: Generator(seed: 3))
        let folder = temporaryFolder()
        try model.save(to: folder)
        let reloaded = try LlamaModel.load(from: folder)
        #expect(reloaded.config == config)
        let ids = (0..<14).map { ($0 * 7) % 50 }
        #expect(maxAbsDiff(model(ids, batch: 2).array, reloaded(ids, batch: 2).array) == 0)
        #expect(reloaded.lmHead.layer.base.weight === reloaded.embedTokens)
        let stored = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("model.safetensors"))
        #expect(stored["lm_head.weight"] == nil && stored.metadata["format"] == "pt")
    }

    @Test func prefixesShiftPositionsLikeACache() throws {
        // Running T tokens after a key/value prefix equals running the P+T tokens and keeping
        // the last T logits, when the prefix is the first P tokens' own keys and values.
        let config = LlamaConfig(vocabSize: 30, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 1, numAttentionHeads: 2)
        let model = LlamaModel(config: config, generator: Generator(seed: 4))
        let ids = [3, 1, 4, 1, 5, 9, 2, 6]
        let full = model(ids, batch: 1)                                   // [1, 8, V]
        let layer = model.layers[0]
        let x = embedding(Array(ids[0..<3]), shape: [1, 3], weight: model.embedTokens)
        let h = rmsNorm(x, weight: layer.inputLayernorm, eps: config.rmsNormEps)
        let k = rope(layer.kProj(h), heads: 2, theta: config.ropeTheta)
        let v = layer.vProj(h)
        let tail = model(Array(ids[3...]), batch: 1, keyValuePrefixes: [KeyValuePrefix(key: k, value: v)])
        #expect(maxAbsDiff(tail.array, full.slice(axis: 1, 3..<8).array) < 1e-5)
    }
}
