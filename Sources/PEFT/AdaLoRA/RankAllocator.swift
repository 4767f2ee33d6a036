// RankAllocator.swift — AdaLoRA's importance scores and pruning (PEFT's `RankAllocator`).
//
// For every entry w of every lora_A, lora_E and lora_B, after the optimizer step (w updated, its
// gradient g still this step's):
//   I = |w·g|                       sensitivity        (PEFT: ipt)
//   Ī ← β₁·Ī + (1 − β₁)·I            smoothed           (exp_avg_ipt)
//   U ← β₂·U + (1 − β₂)·|I − Ī|      uncertainty, new Ī (exp_avg_unc)      Ī, U start at 0
//   s = Ī·U                          the entry's score
// A triplet's score adds its singular value's to the mean of its A row and of its B column:
//   S_i = s(E_i) + (mean_j s(A_ij) + mean_o s(B_oi))
// Pruning to a budget b keeps the b best triplets of all matrices together: with k = b_init − b
// and τ the k-th smallest S (1-based, `torch.kthvalue`), every E_i with S_i ≤ τ is set to 0 (ties
// at τ all go). Only E is zeroed: A and B keep their values.

import TensorKit

/// The importance state of one tensor, element by element (PEFT's `ipt`, `exp_avg_ipt`, `exp_avg_unc`).
public final class ImportanceState {
    /// I = |w·g| of the last update.
    public private(set) var ipt: [Float]
    /// Ī, the exponential average of I.
    public private(set) var exponentialAverage: [Float]
    /// U, the exponential average of |I − Ī|.
    public private(set) var uncertainty: [Float]

    init(count: Int) {
        ipt = [Float](repeating: 0, count: count)
        exponentialAverage = ipt
        uncertainty = ipt
    }

    /// One update from `w` and its gradient `g` (nil: no gradient reached it, I = 0).
    func update(_ w: UnsafePointer<Float>, _ g: UnsafePointer<Float>?, beta1: Float, beta2: Float) {
        let (c1, c2) = (1 - beta1, 1 - beta2)
        ipt.withUnsafeMutableBufferPointer { i in
            exponentialAverage.withUnsafeMutableBufferPointer { m in
                uncertainty.withUnsafeMutableBufferPointer { u in
                    for k in 0..<i.count {
                        let sensitivity = g.map { abs(w[k] * $0[k]) } ?? 0                // I = |w·g|
                        i[k] = sensitivity
                        m[k] = beta1 * m[k] + c1 * sensitivity                             // Ī ← β₁Ī + (1−β₁)I
                        u[k] = beta2 * u[k] + c2 * abs(sensitivity - m[k])                 // U ← β₂U + (1−β₂)|I−Ī|
                    }
                }
            }
        }
    }

    /// s = Ī·U at entry `k`.
    @inline(__always) func score(_ k: Int) -> Float { exponentialAverage[k] * uncertainty[k] }
}

/// What one pruning decided.
public struct Pruning: Sendable {
    /// The budget pruned to.
    public var budget: Int
    /// τ, the k-th smallest triplet score (nil when nothing had to go, k ≤ 0).
    public var threshold: Float?
    /// Per module (in adapter order): the triplet scores S_i and which held triplets stay.
    public var scores: [String: [Float]]
    public var kept: [String: [Bool]]
}

/// Scores every triplet of an AdaLoRA model and prunes the weakest to a budget.
public final class RankAllocator {
    public let beta1: Float, beta2: Float
    private var states: [ObjectIdentifier: ImportanceState] = [:]

    public init(beta1: Double, beta2: Double) {
        self.beta1 = Float(beta1)
        self.beta2 = Float(beta2)
    }

    /// The state of `tensor` (an A, E or B), nil before its first update or after `reset()`.
    public func state(of tensor: Tensor) -> ImportanceState? { states[ObjectIdentifier(tensor)] }

    /// PEFT's `update_ipt`: one update of I, Ī and U for every A, E and B, from their values and
    /// gradients now.
    public func updateScores(_ layers: [AdaLoraLinear]) {
        for layer in layers {
            for (_, t) in layer.namedTensors {
                let state = states[ObjectIdentifier(t)] ?? ImportanceState(count: t.count)
                states[ObjectIdentifier(t)] = state
                state.update(t.data, t.grad.map { UnsafePointer($0) }, beta1: beta1, beta2: beta2)
            }
        }
    }

    /// PEFT's `reset_ipt`: forgets every score.
    public func reset() { states = [:] }

    /// S_i = s(E_i) + (mean_j s(A_ij) + mean_o s(B_oi)) for each triplet the layer holds (0 without state).
    public func tripletScores(_ layer: AdaLoraLinear) -> [Float] {
        let (r, inF, outF) = (layer.r, layer.loraA.shape[1], layer.loraB.shape[0])
        guard let a = state(of: layer.loraA), let e = state(of: layer.loraE), let b = state(of: layer.loraB) else {
            return [Float](repeating: 0, count: r)
        }
        return (0..<r).map { i in
            var sumA: Double = 0, sumB: Double = 0
            for j in 0..<inF { sumA += Double(a.score(i * inF + j)) }
            for o in 0..<outF { sumB += Double(b.score(o * r + i)) }
            let meanA = Float(sumA / Double(max(inF, 1))), meanB = Float(sumB / Double(max(outF, 1)))
            return e.score(i) + (meanA + meanB)
        }
    }

    /// PEFT's `mask_to_budget`: keeps the `budget` best triplets of all `layers` together (out of
    /// `initialBudget`, the triplets they hold) and sets the singular value of every other to 0.
    public func prune(_ layers: [(name: String, layer: AdaLoraLinear)], toBudget budget: Int,
                      initialBudget: Int) -> Pruning {
        let scores = layers.map { tripletScores($0.layer) }
        let all = scores.flatMap { $0 }.sorted()
        let k = min(initialBudget - budget, all.count)
        // torch.kthvalue needs k ≥ 1; with nothing to prune PEFT would fail, here every triplet stays.
        let threshold = k >= 1 ? all[k - 1] : nil
        var pruning = Pruning(budget: budget, threshold: threshold, scores: [:], kept: [:])
        for ((name, layer), s) in zip(layers, scores) {
            let keep = s.map { score in threshold.map { !(score <= $0) } ?? true }
            layer.zeroSingularValues(keeping: keep)
            pruning.scores[name] = s
            pruning.kept[name] = keep
        }
        return pruning
    }
}
