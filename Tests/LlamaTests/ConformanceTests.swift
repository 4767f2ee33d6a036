// The model against Hugging Face transformers: logits, loss and every gradient of the golden
// tiny LLaMA within the fixtures' tolerances (1e-4 absolute; gradients 1e-4 of the largest).

import Foundation
import Llama
import SafeTensors
import Testing
import TestSupport
import TensorKit

@Suite struct ConformanceTests {
    @Test func baseModelMatchesTransformers() throws {
        let model = try LlamaModel.load(from: Golden.tiny.appendingPathComponent("base"))
        let batch = try TokenBatch.load(contentsOf: Golden.tiny.appendingPathComponent("batch.json"),
                                        vocabSize: model.config.vocabSize)
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
        let q = (model.layers[0].qProj.layer.base as! Linear).weight
        q.requiresGrad = true
        let batch = try TokenBatch.load(contentsOf: Golden.tiny.appendingPathComponent("batch.json"), vocabSize: 97)
        causalLanguageModelLoss(model(batch.inputIds, batch: 2), labels: batch.labels).backward()
        #expect(q.grad != nil)
        for (name, t) in model.namedParameters where t !== q {
            #expect(t.grad == nil, "\(name) got a gradient while frozen")
        }
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
        #expect((reloaded.lmHead.layer.base as! Linear).weight === reloaded.embedTokens)
        let stored = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("model.safetensors"))
        #expect(stored["lm_head.weight"] == nil && stored.metadata["format"] == "pt")
    }

    @Test func prefixesShiftPositionsLikeACache() throws {
        // Running T tokens after a key/value prefix equals running the P+T tokens and keeping
        // the last T logits, when the prefix is the first P tokens' own keys and values.
        let config = LlamaConfig(vocabSize: 30, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 1,
                                 numAttentionHeads: 2)
        let model = LlamaModel(config: config, generator: Generator(seed: 4))
        let ids = [3, 1, 4, 1, 5, 9, 2, 6]
        let full = model(ids, batch: 1)                                   // [1, 8, V]
        let layer = model.layers[0]
        let x = embedding(Array(ids[0..<3]), shape: [1, 3], weight: model.embedTokens)
        let h = rmsNorm(x, weight: layer.inputLayernorm, eps: config.rmsNormEps)
        let k = rope(layer.kProj(h), heads: 2, theta: config.ropeTheta)
        let v = layer.vProj(h)
        let tail = model(Array(ids[3...]), batch: 1,
                         virtualTokens: .keyValuePrefixes([KeyValuePrefix(key: k, value: v)]))
        #expect(maxAbsDiff(tail.array, full.slice(axis: 1, 3..<8).array) < 1e-5)
    }
}

/// Compares a forward report with an expected file: logits and loss within 1e-4, every
/// gradient within 1e-4 of its tensor's largest value. Returns the worst errors seen.
func expectConformance(_ ours: SafeTensorsFile, _ expected: SafeTensorsFile,
                       sourceLocation: SourceLocation = #_sourceLocation) -> (logits: Float, gradients: Float) {
    let logits = maxAbsDiff(ours["logits"]!.values, expected["logits"]!.values)
    #expect(ours["logits"]!.shape == expected["logits"]!.shape, sourceLocation: sourceLocation)
    #expect(logits < 1e-4, sourceLocation: sourceLocation)
    #expect(abs(ours["loss"]!.values[0] - expected["loss"]!.values[0]) < 1e-4, sourceLocation: sourceLocation)
    var worst: Float = 0
    let names = expected.tensors.keys.filter { $0.hasPrefix("grad.") }
    #expect(Set(names) == Set(ours.tensors.keys.filter { $0.hasPrefix("grad.") }), sourceLocation: sourceLocation)
    for name in names {
        guard let mine = ours[name] else { continue }
        let d = maxRelDiff(mine.values, expected[name]!.values)
        worst = max(worst, d)
        #expect(d < 1e-4, "\(name)", sourceLocation: sourceLocation)
    }
    return (logits, worst)
}

@Suite struct ForwardReportTests {
    @Test func goldenThroughTheReport() throws {
        let model = try LlamaModel.load(from: Golden.tiny.appendingPathComponent("base"))
        let batch = try TokenBatch.load(contentsOf: Golden.tiny.appendingPathComponent("batch.json"), vocabSize: 97)
        let report = model.forwardReport(batch, gradients: true)
        // written and read back through the safetensors writer, as `peft forward` does
        let url = temporaryFolder().appendingPathComponent("out.safetensors")
        try report.write(to: url)
        let worst = expectConformance(try SafeTensorsFile.read(contentsOf: url),
                                      try Golden.expected("expected_base.safetensors"))
        print("golden llama-tiny: max |Δlogits| \(worst.logits), max relative Δgrad \(worst.gradients)")
    }

    @Test func groupedQueryTiedModelMatchesTransformers() throws {
        // Fixture made by scripts/make_fixtures.py: GQA 6/2 heads, tied head, rope_theta 500.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/llama-gqa")
        let model = try LlamaModel.load(from: root.appendingPathComponent("base"))
        #expect(model.config.numKeyValueHeads == 2 && model.config.tieWordEmbeddings && model.config.ropeTheta == 500)
        let batch = try TokenBatch.load(contentsOf: root.appendingPathComponent("batch.json"),
                                        vocabSize: model.config.vocabSize)
        let expected = try SafeTensorsFile.read(contentsOf: root.appendingPathComponent("expected.safetensors"))
        let worst = expectConformance(model.forwardReport(batch, gradients: true), expected)
        print("llama-gqa: max |Δlogits| \(worst.logits), max relative Δgrad \(worst.gradients)")
    }
}
