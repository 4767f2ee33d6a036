// The method kernels that live in PEFT, against finite differences and their unfused forms.

@testable import PEFT
import Llama
import Testing
import TensorKit
import TestSupport

@Suite struct KernelTests {
    @Test func fusedLoraLinear() {
        let gen = Generator(seed: 22)
        let x = randn([2, 3, 6], gen), w = randn([5, 6], gen), a = randn([2, 6], gen), b = randn([5, 2], gen)
        let base = Linear(weight: w)
        gradCheck([x, a, b]) { loraLinear($0[0], base: base, a: $0[1], b: $0[2], scaling: 1.5) }
        // equals the unfused composition, bias included
        let bias = randn([5], gen)
        let biased = Linear(weight: w, bias: bias)
        let fused = loraLinear(x, base: biased, a: a, b: b, scaling: 1.5).array
        let plain = (linear(x, weight: w, bias: bias) + linear(linear(x, weight: a), weight: b) * 1.5).array
        #expect(maxAbsDiff(fused, plain) < 1e-5)
    }

    @Test func promptBroadcastOverTheBatch() {
        let gen = Generator(seed: 23)
        let p = randn([3, 4], gen)
        gradCheck([p]) { $0[0].expanded(batch: 5) }
        #expect(p.expanded(batch: 2).array == p.array + p.array)
    }

    @Test func prefixColumnsSplitIntoLayersKeysAndValues() throws {
        // PEFT's layout: column ((2·layer + j)·kvWidth + c) holds layer's key (j = 0) or value (j = 1).
        let model = LlamaModel(config: LlamaConfig(vocabSize: 11, hiddenSize: 8, intermediateSize: 12,
                                                   numHiddenLayers: 2, numAttentionHeads: 2),
                               generator: Generator(seed: 1))
        let tuner = PromptLearningModel(model: model, config: try PromptTuningConfig(numVirtualTokens: 1).validated(),
                                        encoder: PromptEmbedding(numVirtualTokens: 1, width: 8))
        let prompt = Tensor(shape: [1, 32], values: (0..<32).map(Float.init))
        let split = tuner.prefixes(prompt)
        #expect(split[0].key.array == (0..<8).map(Float.init) && split[0].value.array == (8..<16).map(Float.init))
        #expect(split[1].key.array == (16..<24).map(Float.init) && split[1].value.array == (24..<32).map(Float.init))
    }
}

extension PromptTuningConfig {
    func validated() throws -> PromptTuningConfig { try validate(); return self }
}
