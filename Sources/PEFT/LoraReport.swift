// LoraReport.swift — one pass through an adapted model in the golden files' layout.

import Llama
import SafeTensors
import TensorKit

extension LoraModel {
    /// `logits`, `loss`, `grad.<adapter key>` for every adapter tensor (the base frozen) and
    /// `merged_logits` after merging — the names of `expected_lora.safetensors`.
    public func forwardReport(_ batch: TokenBatch) -> SafeTensorsFile {
        for t in trainableParameters { t.zeroGrad() }
        let logits = self(batch.inputIds, batch: batch.batchSize)                 // [B, T, V]
        let loss = causalLanguageModelLoss(logits, labels: batch.labels)
        loss.backward()
        var file = SafeTensorsFile()
        file["logits"] = StoredTensor(shape: logits.shape, values: logits.array)
        file["loss"] = StoredTensor(shape: [1], values: [loss.item])
        for (key, t) in namedAdapterParameters {
            file["grad.\(key)"] = StoredTensor(shape: t.shape, values: t.gradArray ?? [Float](repeating: 0, count: t.count))
        }
        merge()
        let merged = withoutGrad { self(batch.inputIds, batch: batch.batchSize) }
        unmerge()
        file["merged_logits"] = StoredTensor(shape: merged.shape, values: merged.array)
        return file
    }
}
