// BatchTraining.swift — `peft train --data batch.json`: a pre-tokenised batch in the golden
// `batch.json` format ({"input_ids": [[…]], "labels": [[…]]}), the whole batch at every step,
// a constant learning rate and no gradient clipping — the loop of PEFT's documented AdaLoRA
// example and of the golden trace, so a run replays it for any method.

import Foundation
import Llama
import Notebook
import PEFT
import Training

/// Whether `url` holds a pre-tokenised batch (a JSON object with `input_ids`), not Alpaca records.
func isTokenBatchFile(_ url: URL) -> Bool {
    guard url.pathExtension == "json", let data = try? Data(contentsOf: url),
          let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return false }
    return object["input_ids"] != nil
}

/// `steps` optimizer steps on `batch`, in PEFT's order (loss with the regulariser, backward,
/// optimizer step, the tuner's hook, zero_grad), at the constant `learningRate`.
func train(_ tuner: any Tuner, on batch: TokenBatch, optimizer: any Optimizer, steps: Int, learningRate: Float,
           label: String) throws -> TrainingLog {
    try tuner.check(batch)
    let progress = Progress(label, total: steps)
    tuner.isTraining = true
    defer { tuner.isTraining = false }
    return runTraining(steps: steps, optimizer: optimizer, learningRate: { _ in learningRate }, maxGradientNorm: nil,
                       lossOfStep: { _ in (tuner.loss(batch).total, batch.inputIds.count) },
                       afterStep: { tuner.afterOptimizerStep($0) },
                       progress: { progress.update(step: $0, loss: $1, tokens: $2) })
}
