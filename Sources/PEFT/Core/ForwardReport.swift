// ForwardReport.swift — one pass through a tuned model in the layout of the golden files
// (`expected_<method>.safetensors`), for tests and `peft forward`.

import Llama
import SafeTensors
import TensorKit

extension Tuner {
    /// `logits` (as PEFT's model returns them), `loss` (PEFT's loss with labels),
    /// `grad.<name>` for every trainable tensor, and `merged_logits` when the method can merge.
    public func forwardReport(_ batch: TokenBatch) throws -> SafeTensorsFile {
        for t in trainableParameters { t.zeroGrad() }
        let logits = forward(batch)
        let labels = paddedLabels(batch.labels, rows: batch.batchSize, virtualTokens: prependedPositions)
        let crossEntropy = causalLanguageModelLoss(logits, labels: labels)
        let extra = regularizer()
        let loss = extra.map { crossEntropy + $0 } ?? crossEntropy
        loss.backward()
        var file = SafeTensorsFile()
        file["logits"] = StoredTensor(shape: logits.shape, values: logits.array)
        file["loss"] = StoredTensor(shape: [1], values: [loss.item])
        if extra != nil { file["ce_loss"] = StoredTensor(shape: [1], values: [crossEntropy.item]) }
        for (name, t) in namedTrainableParameters {
            file["grad.\(name)"] = StoredTensor(shape: t.shape,
                                                values: t.gradArray ?? [Float](repeating: 0, count: t.count))
        }
        for t in trainableParameters { t.zeroGrad() }
        if canMerge {
            try merge()
            let merged = withoutGrad { forward(batch) }
            try unmerge()
            file["merged_logits"] = StoredTensor(shape: merged.shape, values: merged.array)
        }
        return file
    }
}
