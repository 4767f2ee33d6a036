// The training loss computes logits only at the positions with a target and skips the padding of
// right-padded rows (`logitsAt`, `lengths`). For every method it must give the loss and the
// gradients of the full padded forward (`causalLanguageModelLoss` over every position).

import Foundation
import Llama
import PEFT
import Testing
import TensorKit
import TestSupport

@Suite struct PackedLossTests {
    /// Three right-padded rows of `rows` tokens (10 at most): the first tokens are a prompt (−100),
    /// the rest an answer; padding is id 5 with label −100. `lengths` is what the batch claims.
    static func paddedBatch(_ rows: [Int], lengths: [Int]?) -> TokenBatch {
        let g = Generator(seed: 41), t = 10
        var ids: [Int] = [], labels: [Int] = []
        for n in rows {
            let row = (0..<n).map { _ in 1 + Int(g.uniform() * 90) }
            let prompt = n / 2
            ids += row + [Int](repeating: 5, count: t - n)
            labels += (0..<t).map { $0 < prompt || $0 >= n ? -100 : row[$0] }
        }
        var batch = TokenBatch(ids: ids, labels: labels, rows: 3, taskIds: [2, 0, 1])
        batch.lengths = lengths
        return batch
    }

    /// Loss and every trainable gradient, after one backward.
    static func lossAndGradients(_ tuner: any Tuner, _ loss: () -> Tensor) -> (Float, [[Float]]) {
        let parameters = tuner.trainableParameters
        for p in parameters { p.requiresGrad = true; p.zeroGrad() }
        let l = loss()
        l.backward()
        return (l.item, parameters.map { $0.gradArray ?? [Float](repeating: 0, count: $0.count) })
    }

    @Test(arguments: ["lora", "dora", "qlora", "prompt", "prefix", "ptuning-mlp", "adalora", "mpt"])
    func packedLossMatchesTheFullForward(_ name: String) throws {
        let tuner = try AdapterFolder.load(from: Golden.folder(name), onto: try Golden.base())
        tuner.isTraining = false
        for rows in [[10, 6, 3], [4, 0, 9]] {  // an empty row too
            let full = Self.lossAndGradients(tuner) {
                let batch = Self.paddedBatch(rows, lengths: nil)
                let labels = paddedLabels(batch.labels, rows: 3, virtualTokens: tuner.prependedPositions)
                return causalLanguageModelLoss(tuner.forward(batch), labels: labels) // every position
            }
            for lengths in [nil, rows] as [[Int]?] {
                let (loss, gradients) = Self.lossAndGradients(tuner) {
                    tuner.loss(Self.paddedBatch(rows, lengths: lengths)).crossEntropy
                }
                let label = "\(name), rows \(rows), lengths \(String(describing: lengths))"
                #expect(abs(loss - full.0) <= 1e-5 * max(1, abs(full.0)), "\(label)")
                #expect(gradients.count == full.1.count && !gradients.isEmpty)
                for (g, reference) in zip(gradients, full.1) {
                    let scale = reference.map(abs).max() ?? 0
                    #expect(scale > 0 && maxAbsDiff(g, reference) <= 1e-4 * scale,
                            "\(label): gradient off by \(maxAbsDiff(g, reference))")
                }
            }
        }
    }

    @Test func logitsAtPositionsAreThoseOfTheFullForward() throws {
        for name in ["lora", "prompt", "prefix"] {
            let tuner = try AdapterFolder.load(from: Golden.folder(name), onto: try Golden.base())
            let batch = Self.paddedBatch([10, 6, 3], lengths: [10, 6, 3])
            let positions = [22, 0, 15, 9, 21, 15]                            // real tokens only, one twice
            let full = withoutGrad { tuner.logits(batch) }                            // [3, 10, V]
            let picked = withoutGrad { tuner.logits(batch, at: positions) }          // [6, V]
            #expect(picked.shape == [6, full.shape[2]])
            #expect(maxAbsDiff(picked.array, full.rows(at: positions).array) < 1e-5, "\(name)")
        }
    }
}
