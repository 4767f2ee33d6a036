// BudgetSchedule.swift — how many singular triplets AdaLoRA keeps at each step (PEFT's
// `RankAllocator.budget_schedule`): a cubic decrease from the initial to the target budget.
//
//   b(t) = b_init                                             t ≤ tinit           (no pruning)
//   b(t) = ⌊(b_init − b_target)·(1 − (t − tinit)/(T − tfinal − tinit))³ + b_target⌋
//                                                             tinit < t ≤ T − tfinal  (prune when t % ΔT = 0)
//   b(t) = b_target                                           t > T − tfinal      (prune)
//
// The cubic is evaluated in double precision and truncated, as Python's `int(...)`.

import Foundation

/// The budget of every step, and whether the allocator prunes at it.
public struct BudgetSchedule: Equatable, Sendable {
    /// Σ of the triplets the adapted matrices hold at the start (init_r × matrices for a fresh adapter).
    public var initialBudget: Int
    /// target_r × matrices.
    public var targetBudget: Int
    public var tinit: Int, tfinal: Int, totalStep: Int, deltaT: Int

    public init(initialBudget: Int, targetBudget: Int, tinit: Int, tfinal: Int, totalStep: Int, deltaT: Int) {
        self.initialBudget = initialBudget; self.targetBudget = targetBudget
        self.tinit = tinit; self.tfinal = tfinal; self.totalStep = totalStep; self.deltaT = deltaT
    }

    /// The step at which the ranks are fixed: T − tfinal.
    public var finalAllocationStep: Int { totalStep - tfinal }

    /// (budget, prune) at `step` (0-based, PEFT's `global_step`).
    public func callAsFunction(_ step: Int) -> (budget: Int, mask: Bool) {
        if step <= tinit { return (initialBudget, false) }
        if step > totalStep - tfinal { return (targetBudget, true) }
        let progress = 1 - Double(step - tinit) / Double(totalStep - tfinal - tinit)
        let budget = Double(initialBudget - targetBudget) * pow(progress, 3) + Double(targetBudget)
        return (Int(budget), step % deltaT == 0)
    }
}
