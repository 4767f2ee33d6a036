// ReferenceSolutions.swift — the answers the checker compares with. Each one runs the project's own
// implementation (the code the lessons run), so an exercise cannot drift from what a lesson shows:
// LoRA's layer and merge (LoraLinear), PEFT's parameter count (LoraModel on a LlamaModel),
// bitsandbytes' NF4 (FourBitQuantizer), AdaLoRA's BudgetSchedule, the prompt layout of
// LlamaModel's prepended tokens and `paddedLabels`, and lesson-rank's `subspaceSimilarity`.

import Llama
import Notebook
import PEFT
import TensorKit

/// The reference solutions, built on the project's implementations.
public enum ReferenceSolutions: ExerciseBook {
    public static func loraForward(x: Matrix, base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> Matrix {
        let layer = loraLayer(base: base, a: a, b: b, alpha: alpha)
        let y = withoutGrad { layer(x.tensor) }                                          // [n, out]
        return Matrix(y, rows: x.rows, columns: base.rows)
    }

    public static func loraMerge(base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> Matrix {
        let layer = loraLayer(base: base, a: a, b: b, alpha: alpha)
        layer.merge()                                                                     // W ← W₀ + s·B·A
        return Matrix(layer.base.denseWeight(), rows: base.rows, columns: base.columns)
    }

    public static func loraParameterCount(model shape: ModelShape, r: Int, targetModules: [String]) -> Int {
        let config = LlamaConfig(vocabSize: 4, hiddenSize: shape.hiddenSize, intermediateSize: shape.intermediateSize,
                                 numHiddenLayers: shape.layers, numAttentionHeads: shape.attentionHeads,
                                 numKeyValueHeads: shape.keyValueHeads)
        let generator = Generator(seed: 0)
        do {
            let tuner = try LoraModel(wrapping: LlamaModel(config: config, generator: generator),
                                      config: LoraConfig(r: r, targetModules: .names(targetModules)),
                                      generator: generator)
            return tuner.trainableCount
        } catch {
            preconditionFailure("the reference cannot count for \(shape), r \(r), \(targetModules): \(error)")
        }
    }

    public static func quantizeNF4(_ values: [Float], blockSize: Int) -> NF4Blocks {
        let (packed, absmax) = values.withUnsafeBufferPointer {
            FourBitQuantizer.quantize($0, blockSize: blockSize, type: .nf4)
        }
        return NF4Blocks(packed: packed, absmax: absmax)
    }

    public static func adaLoraBudget(step: Int, schedule s: BudgetSettings) -> BudgetStep {
        let schedule = BudgetSchedule(initialBudget: s.initialBudget, targetBudget: s.targetBudget, tinit: s.tinit,
                                      tfinal: s.tfinal, totalStep: s.totalSteps, deltaT: s.deltaT)
        let (budget, prune) = schedule(step)
        return BudgetStep(budget: budget, prune: prune)
    }

    public static func promptTuningInput(prompt: Matrix, embeddings: Matrix, batchSize: Int) -> Matrix {
        let (n, c, t) = (prompt.rows, embeddings.columns, embeddings.rows / batchSize)
        let rows = prompt.tensor.expanded(batch: batchSize)                              // [B, n, C]
        let tokens = embeddings.tensor.reshaped([batchSize, t, c])                        // [B, T, C]
        let joined = concat([rows, tokens], axis: 1)                                      // [B, n+T, C]
        return Matrix(joined, rows: batchSize * (n + t), columns: c)
    }

    public static func promptTuningLabels(_ labels: [Int], batchSize: Int, virtualTokens: Int) -> [Int] {
        paddedLabels(labels, rows: batchSize, virtualTokens: virtualTokens)
    }

    public static func subspaceSimilarity(_ a: Matrix, _ b: Matrix) -> [[Double]] {
        lessonSubspaceSimilarity(a.tensor, b.tensor)
    }

    /// A LoRA layer over the float weight `base` with the given A and B and no dropout.
    private static func loraLayer(base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> LoraLinear {
        let r = a.rows
        let config = LoraConfig(r: r, loraAlpha: alpha)
        let layer = LoraLinear(base: Linear(weight: base.tensor), r: r, alpha: alpha, config: config,
                               generator: Generator(seed: 0))
        layer.loraA.data.update(from: a.values, count: a.values.count)                  // [r, in]
        layer.loraB.data.update(from: b.values, count: b.values.count)                  // [out, r]
        layer.isTraining = false
        return layer
    }
}

/// lesson-rank's φ (Notebook's `subspaceSimilarity`), under a name the enum's own function does not hide.
private func lessonSubspaceSimilarity(_ a: Tensor, _ b: Tensor) -> [[Double]] {
    subspaceSimilarity(a, b)
}
