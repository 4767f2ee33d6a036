// Answers.swift — YOUR answers to the exercises. This is the only file you edit.
//
//   swift run exercises list                 the exercises and their lessons
//   swift run exercises check lora-forward   check one answer (or several names, or --all)
//   swift run exercises hint lora-forward    a hint and the lesson that explains it
//
// Each function below returns a placeholder so that the package compiles; replace the body
// (marked TODO) with the computation. The exact rule each function must follow, with the shapes,
// is in the documentation of `ExerciseBook` (Exercises/Book/ExerciseBook.swift). A `Matrix` is
// rows × columns Float values stored row-major: `m[i, j]` reads and writes element (i, j).
// The functions are public so that the checker (another module) can call them.

import ExerciseBook

public enum StudentAnswers: ExerciseBook {
    /// y = x·W₀ᵀ + (alpha / r)·(x·Aᵀ)·Bᵀ with r = a.rows. x [n, in], base [out, in], a [r, in],
    /// b [out, r] → y [n, out].
    public static func loraForward(x: Matrix, base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> Matrix {
        // TODO: lora-forward
        return Matrix.empty
    }

    /// W = W₀ + (alpha / r)·B·A with r = a.rows. base [out, in], a [r, in], b [out, r] → [out, in].
    public static func loraMerge(base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> Matrix {
        // TODO: lora-merge
        return Matrix.empty
    }

    /// Σ over model.layers and the targeted modules of r·(in + out).
    public static func loraParameterCount(model: ModelShape, r: Int, targetModules: [String]) -> Int {
        // TODO: lora-parameter-count
        return 0
    }

    /// φ(i, j) = ‖Uᵢᵀ·Vⱼ‖²_F / min(i, j) for 1 ≤ i ≤ a.rows, 1 ≤ j ≤ b.rows; result[i − 1][j − 1] = φ(i, j).
    public static func subspaceSimilarity(_ a: Matrix, _ b: Matrix) -> [[Double]] {
        // TODO: subspace-similarity
        return []
    }

    /// NF4 codes of `values` in blocks of `blockSize`, packed two a byte, and each block's absmax.
    public static func quantizeNF4(_ values: [Float], blockSize: Int) -> NF4Blocks {
        // TODO: nf4-quantize
        return NF4Blocks(packed: [], absmax: [])
    }

    /// AdaLoRA's budget at `step` and whether the allocator prunes then.
    public static func adaLoraBudget(step: Int, schedule: BudgetSettings) -> BudgetStep {
        // TODO: adalora-budget
        return BudgetStep(budget: 0, prune: false)
    }

    /// The prompt [n, C] in front of every row's T embeddings: [B·T, C] → [B·(n+T), C].
    public static func promptTuningInput(prompt: Matrix, embeddings: Matrix, batchSize: Int) -> Matrix {
        // TODO: prompt-input
        return Matrix.empty
    }

    /// n values of −100 in front of every row's T labels: B·T labels → B·(n+T).
    public static func promptTuningLabels(_ labels: [Int], batchSize: Int, virtualTokens: Int) -> [Int] {
        // TODO: prompt-labels
        return []
    }
}
