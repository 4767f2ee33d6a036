// The memory table's activations: the peak of live tensor bytes in one forward and backward, less
// what was live before (the parameter gradients included). Training the top block as well as the
// output layer runs the same frozen forward and keeps more alive, so it cannot need fewer
// activations than training the output layer alone — whether the peak falls in the forward
// (before a backward allocates the gradients) or in the backward.

import Llama
import Notebook
import PEFT
import Testing
import TensorKit

@Suite struct MemoryTests {
    static func model() -> LlamaModel {
        LlamaModel(config: LlamaConfig(vocabSize: 64, hiddenSize: 32, intermediateSize: 96, numHiddenLayers: 3,
                                       numAttentionHeads: 4), generator: Generator(seed: 5))
    }

    /// Four rows of 16 tokens whose last two carry a label, as in a fine-tuning batch.
    static let batch: TokenBatch = {
        let g = Generator(seed: 6)
        let ids = (0..<64).map { _ in g.int(below: 60) }
        return TokenBatch(ids: ids, labels: ids.indices.map { $0 % 16 >= 14 ? ids[$0] : -100 }, rows: 4)
    }()

    @Test func trainingMoreKeepsAtLeastAsManyActivations() {
        let head = MemoryBreakdown.measure(SelectiveFineTuning.headOnly(Self.model()), on: Self.batch)
        let top = MemoryBreakdown.measure(SelectiveFineTuning.topBlocks(1, of: Self.model()), on: Self.batch)
        let full = MemoryBreakdown.measure(SelectiveFineTuning.full(Self.model()), on: Self.batch)
        #expect(head.activations > 0)
        #expect(head.activations <= top.activations, "head only \(head.activations), top block \(top.activations)")
        #expect(top.activations <= full.activations, "top block \(top.activations), full \(full.activations)")
        #expect(head.gradients < top.gradients && top.gradients < full.gradients)
        let again = MemoryBreakdown.measure(SelectiveFineTuning.topBlocks(1, of: Self.model()), on: Self.batch)
        #expect(again.activations == top.activations && again.total == top.total)
    }
}
