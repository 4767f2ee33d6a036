// ExerciseBook.swift — what a student implements: one function per exercise, each with the exact
// rule it must follow and the shapes of its inputs and output. The student's answers
// (Exercises/Student/Answers.swift) and the reference solutions (ReferenceSolutions.swift) both
// conform; the checker compares the two on the same inputs.

/// The functions of the exercises, with plain Swift types only (`Matrix`, arrays, numbers).
///
/// Each function is `static`: an answer is an `enum` with no cases that conforms, e.g.
/// `enum StudentAnswers: ExerciseBook`.
public protocol ExerciseBook {
    /// **lora-forward.** A LoRA layer's output for a batch of inputs:
    ///
    ///     y = x·W₀ᵀ + (alpha / r) · (x·Aᵀ)·Bᵀ,   r = a.rows
    ///
    /// - Parameters:
    ///   - x: the inputs, [n, in] (one row per input vector).
    ///   - base: the frozen weight W₀, [out, in].
    ///   - a: A, [r, in] (PEFT's `lora_A.weight`).
    ///   - b: B, [out, r] (PEFT's `lora_B.weight`).
    ///   - alpha: `lora_alpha`; the update is scaled by alpha / r.
    /// - Returns: y, [n, out].
    static func loraForward(x: Matrix, base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> Matrix

    /// **lora-merge.** The merged weight that makes the adapter free at inference:
    ///
    ///     W = W₀ + (alpha / r) · B·A,   r = a.rows
    ///
    /// - Parameters:
    ///   - base: W₀, [out, in].
    ///   - a: A, [r, in].
    ///   - b: B, [out, r].
    ///   - alpha: `lora_alpha`.
    /// - Returns: W, [out, in].
    static func loraMerge(base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> Matrix

    /// **lora-parameter-count.** How many values a LoRA adapter trains (PEFT's "trainable params").
    ///
    /// Every decoder layer has seven linear layers, weight shapes [out, in], with
    /// d = `model.headDim` = hiddenSize / attentionHeads:
    ///
    ///     q_proj [attentionHeads·d, hiddenSize]     k_proj, v_proj [keyValueHeads·d, hiddenSize]
    ///     o_proj [hiddenSize, attentionHeads·d]     gate_proj, up_proj [intermediateSize, hiddenSize]
    ///     down_proj [hiddenSize, intermediateSize]
    ///
    /// A layer named in `targetModules` gets A [r, in] and B [out, r], so it adds r·(in + out)
    /// trainable values. The count is the sum over all `model.layers` decoder layers and all targeted
    /// names (nothing else trains).
    /// - Parameters:
    ///   - model: the model's sizes.
    ///   - r: the rank, the same for every targeted layer.
    ///   - targetModules: names from the seven above, e.g. ["q_proj", "v_proj"], each at most once.
    /// - Returns: the number of trainable values.
    static func loraParameterCount(model: ModelShape, r: Int, targetModules: [String]) -> Int

    /// **nf4-quantize.** NF4 quantization of `values` in blocks, bit for bit as bitsandbytes'
    /// `quantize_4bit` does it on the CPU.
    ///
    /// 1. Blocks: elements `b·blockSize ..< min((b+1)·blockSize, n)`; the last block may be shorter.
    /// 2. `absmax[b]` = the largest |x| in block b (0 for a block of zeros).
    /// 3. Normalise each x of block b, with s = max(absmax[b], 1e-38) (Float arithmetic):
    ///    a full block `v = x * (1 / s)` (the reciprocal first, then the product); the shorter last
    ///    block `v = x / s`. Then clamp v to [−1, 1].
    /// 4. Code: with `NF4.code` (16 ascending values c₀…c₁₅) and the 15 midpoints
    ///    mᵢ = (cᵢ + cᵢ₊₁) / 2 (Float), the code of v is the number of midpoints strictly below v.
    ///    So v exactly on a midpoint takes the lower code (ties go to the lower index).
    /// 5. Packing, two codes a byte, the earlier element in the high nibble:
    ///    `packed[j] = code[2j] << 4 | code[2j+1]`. For an odd n the last byte's low nibble is the
    ///    code of 0, which is 7.
    /// - Parameters:
    ///   - values: n values (n ≥ 1), e.g. a weight matrix flattened row-major.
    ///   - blockSize: an even block size (bitsandbytes uses 64; the exercises use small ones).
    /// - Returns: `packed`, (n + 1) / 2 bytes, and `absmax`, one per block (⌈n / blockSize⌉).
    static func quantizeNF4(_ values: [Float], blockSize: Int) -> NF4Blocks

    /// **adalora-budget.** AdaLoRA's budget schedule (PEFT's `RankAllocator.budget_schedule`): how
    /// many singular triplets may stay at `step`, and whether the allocator prunes at that step.
    ///
    /// With b₀ = initialBudget, b₁ = targetBudget, T = totalSteps:
    ///
    ///     step ≤ tinit:                   budget b₀, prune false
    ///     tinit < step ≤ T − tfinal:      p = 1 − (step − tinit) / (T − tfinal − tinit)
    ///                                     budget ⌊(b₀ − b₁)·p³ + b₁⌋ (Double, truncated like Python's int)
    ///                                     prune when step % deltaT == 0
    ///     step > T − tfinal:              budget b₁, prune true
    /// - Parameters:
    ///   - step: the 0-based step (PEFT's `global_step`), any step ≥ 0.
    ///   - schedule: the budgets and the phases.
    static func adaLoraBudget(step: Int, schedule: BudgetSettings) -> BudgetStep

    /// **prompt-input.** Prompt tuning's input: the n trained virtual-token vectors placed in front of
    /// every row's token embeddings (PEFT's `PeftModelForCausalLM.forward`).
    ///
    /// Row b of the output is `prompt` (n rows) followed by the T embeddings of batch row b:
    ///
    ///     out[b·(n+T) + p] = prompt[p]                 p < n
    ///     out[b·(n+T) + p] = embeddings[b·T + p − n]   n ≤ p < n + T
    /// - Parameters:
    ///   - prompt: the virtual tokens, [n, C] (n may be 0).
    ///   - embeddings: the token embeddings of the batch, [B·T, C] (row b·T + t is token t of row b).
    ///   - batchSize: B; T = embeddings.rows / B.
    /// - Returns: [B·(n+T), C].
    static func promptTuningInput(prompt: Matrix, embeddings: Matrix, batchSize: Int) -> Matrix

    /// **prompt-labels.** Prompt tuning's labels: n values of −100 (ignored by the loss) in front of
    /// every row's labels, so that label positions line up with the input positions (the last
    /// virtual position then predicts the row's first label).
    ///
    ///     out[b·(n+T) + p] = −100                  p < n
    ///     out[b·(n+T) + p] = labels[b·T + p − n]   n ≤ p < n + T
    /// - Parameters:
    ///   - labels: B·T labels, row-major [B, T] (they may hold −100 already).
    ///   - batchSize: B.
    ///   - virtualTokens: n (may be 0).
    /// - Returns: B·(n+T) labels, row-major [B, n+T].
    static func promptTuningLabels(_ labels: [Int], batchSize: Int, virtualTokens: Int) -> [Int]

    /// **subspace-similarity.** The LoRA paper's φ between the row spaces of two A matrices:
    ///
    ///     φ(i, j) = ‖Uᵢᵀ·Vⱼ‖²_F / min(i, j)  =  Σ_{k < i, l < j} (uₖ · vₗ)² / min(i, j)
    ///
    /// for 1 ≤ i ≤ rA and 1 ≤ j ≤ rB, where u₀, u₁, … are the right singular vectors of `a`
    /// (largest singular value first) and v₀, v₁, … those of `b`: Uᵢ holds the top i of them.
    /// `Matrix.rightSingularVectors()` gives them as rows. φ is 1 when one subspace contains the
    /// other and 0 when they are orthogonal.
    /// - Parameters:
    ///   - a: [rA, d], rA ≤ d.
    ///   - b: [rB, d], rB ≤ d.
    /// - Returns: rA rows of rB values: `result[i − 1][j − 1]` = φ(i, j).
    static func subspaceSimilarity(_ a: Matrix, _ b: Matrix) -> [[Double]]
}

/// The sizes of a LLaMA model that decide its linear layers' shapes (config.json's names in Swift).
public struct ModelShape: Equatable, Sendable, CustomStringConvertible {
    /// `num_hidden_layers`: decoder layers.
    public var layers: Int
    /// `hidden_size`: the width of the residual stream.
    public var hiddenSize: Int
    /// `intermediate_size`: the MLP's inner width.
    public var intermediateSize: Int
    /// `num_attention_heads`.
    public var attentionHeads: Int
    /// `num_key_value_heads` (fewer than attentionHeads with grouped-query attention).
    public var keyValueHeads: Int

    public init(layers: Int, hiddenSize: Int, intermediateSize: Int, attentionHeads: Int, keyValueHeads: Int) {
        self.layers = layers; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.attentionHeads = attentionHeads; self.keyValueHeads = keyValueHeads
    }

    /// The width of one attention head: hiddenSize / attentionHeads.
    public var headDim: Int { hiddenSize / attentionHeads }

    public var description: String {
        "layers \(layers), hiddenSize \(hiddenSize), intermediateSize \(intermediateSize), "
            + "attentionHeads \(attentionHeads), keyValueHeads \(keyValueHeads) (headDim \(headDim))"
    }
}

/// NF4-quantized values: the packed codes and each block's absmax.
public struct NF4Blocks: Equatable, Sendable {
    /// Two 4-bit codes a byte, (n + 1) / 2 bytes.
    public var packed: [UInt8]
    /// The largest |x| of each block, ⌈n / blockSize⌉ values.
    public var absmax: [Float]

    public init(packed: [UInt8], absmax: [Float]) {
        self.packed = packed; self.absmax = absmax
    }
}

/// The 16 NF4 values, ascending (code k stands for `NF4.code[k]`; code 7 is exactly 0), as
/// bitsandbytes ships them.
public enum NF4 {
    public static let code: [Float] = [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ]
}

/// The settings of AdaLoRA's budget schedule (PEFT's names: init_bgt, target_bgt, tinit, tfinal,
/// total_step, deltaT).
public struct BudgetSettings: Equatable, Sendable, CustomStringConvertible {
    /// init_r × the number of adapted matrices.
    public var initialBudget: Int
    /// target_r × the number of adapted matrices.
    public var targetBudget: Int
    /// Steps of warm-up without pruning.
    public var tinit: Int
    /// Steps at the end with the final ranks fixed.
    public var tfinal: Int
    /// T, the total number of training steps.
    public var totalSteps: Int
    /// Prune every deltaT steps during the cubic phase.
    public var deltaT: Int

    public init(initialBudget: Int, targetBudget: Int, tinit: Int, tfinal: Int, totalSteps: Int, deltaT: Int) {
        self.initialBudget = initialBudget; self.targetBudget = targetBudget
        self.tinit = tinit; self.tfinal = tfinal; self.totalSteps = totalSteps; self.deltaT = deltaT
    }

    public var description: String {
        "initialBudget \(initialBudget), targetBudget \(targetBudget), tinit \(tinit), tfinal \(tfinal), "
            + "totalSteps \(totalSteps), deltaT \(deltaT)"
    }
}

/// One step of the budget schedule.
public struct BudgetStep: Equatable, Sendable, CustomStringConvertible {
    /// How many singular triplets may stay.
    public var budget: Int
    /// Whether the allocator prunes to `budget` at this step.
    public var prune: Bool

    public init(budget: Int, prune: Bool) {
        self.budget = budget; self.prune = prune
    }

    public var description: String { "budget \(budget), prune \(prune)" }
}
