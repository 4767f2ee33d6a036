// ForwardReport.swift — one forward (and backward) pass written in the golden files' layout.

import SafeTensors
import TensorKit

extension LlamaModel {
    /// `logits`, `loss` and, with `gradients`, `grad.<name>` for every base parameter — the names
    /// and conventions of `expected_base.safetensors`. The model's trainable flags are set to
    /// `gradients` for the pass.
    public func forwardReport(_ batch: TokenBatch, gradients: Bool) -> SafeTensorsFile {
        setTrainable(gradients)
        for (_, p) in namedParameters { p.zeroGrad() }
        let logits = self(batch.inputIds, batch: batch.batchSize)          // [B, T, V]
        let loss = causalLanguageModelLoss(logits, labels: batch.labels)
        var file = SafeTensorsFile()
        file["logits"] = StoredTensor(shape: logits.shape, values: logits.array)
        file["loss"] = StoredTensor(shape: [1], values: [loss.item])
        if gradients {
            loss.backward()
            for (name, p) in namedParameters {
                file["grad.\(name)"] = StoredTensor(shape: p.shape,
                                                    values: p.gradArray ?? [Float](repeating: 0, count: p.count))
            }
        }
        return file
    }
}
