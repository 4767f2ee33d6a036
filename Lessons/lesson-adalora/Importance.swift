// Importance.swift — section 4 of lesson-adalora: the importance score of each singular triplet
// and the cubic budget schedule, read from one traced run; and the test of the tutorial's claim
// that the singular values tell which parts matter (prune by |λ| against prune by importance).

import Corpus
import Foundation
import Notebook
import PEFT
import TensorKit

extension LessonAdaLoRA {
    func importanceSection(_ nb: Notebook, _ experiment: Experiment, trace: AllocationTrace,
                           recorder: AllocationRecorder, method: String, budget: Budget, settings: Settings) throws {
        let n = trace.modules.count, steps = experiment.steps
        nb.section("Importance and the budget schedule", """
            After every optimizer step the rank allocator scores every entry w of P, Λ and Q. Its sensitivity \
            I = |w·∂L/∂w| estimates, to first order, how much the loss would change if w were set to zero. AdaLoRA \
            smooths it, Ī ← β₁·Ī + (1 − β₁)·I, and measures how much it fluctuates, the uncertainty \
            U ← β₂·U + (1 − β₂)·|I − Ī| (β₁ = β₂ = 0.85); the entry's score is Ī·U. A triplet's importance S_i adds \
            its λ_i's score to the mean score of its column of P and of its row of Q. While budgeting, the triplets \
            with the lowest S of all matrices together are pruned (λ_i = 0) down to the budget b(t), which falls on a \
            cubic from init_r·N to target_r·N: b(t) = target + (init − target)·(1 − (t − tinit)/(T − tfinal − \
            tinit))³. Everything below is read from seed \(experiment.seeds[0]) of t = \(budget.t) while it trained.
            """)
        let initial = budget.initR * n, target = budget.t * n
        var figure = Figure(name: "budget", title: "AdaLoRA's budget, t = \(budget.t) on \(n) matrices (seed "
                                + "\(experiment.seeds[0]))", xLabel: "step",
                            yLabel: "singular triplets",
                            kind: .lines([.init("scheduled budget b(t)", zip(trace.steps, trace.budgets).map {
                                              (Double($0), Double($1)) }),
                                          .init("triplets in use (λ ≠ 0)", zip(trace.steps, trace.active).map {
                                              (Double($0), Double($1)) })]))
        figure.references = [.init("init_r·N", y: Double(initial)), .init("target_r·N", y: Double(target))]
        nb.figure(figure)
        let firstPrune = zip(trace.steps, trace.active).first { $0.1 < initial }?.0 ?? settings.tinit
        let inUseEnd = trace.active.last ?? 0
        nb.say("""
            Measured: \(formatCount(initial)) triplets in use until step \(settings.tinit), then pruning from step \
            \(firstPrune) along the cubic to \(formatCount(inUseEnd)) at the end (the target is \
            \(formatCount(target))); the trainable tensors stay \(budget.initR) triplets wide throughout \
            (\(formatCount(trainableValues(trace, experiment, budget))) values train at every step) and are cut to \
            the kept triplets only when the adapter is saved. The tutorial says AdaLoRA works 「在保持整体参数量不变的\
            情况下」 (keeping the overall parameter count unchanged): wrong (E20). The budget in use is scheduled, \
            and what is fixed in advance is the final budget. Its recipe-book picture fits this part: AdaLoRA \
            puts more sticky notes (kept triplets) on the pages that matter and fewer on the others, out of a \
            stack that shrinks while it works.
            """)

        // The parts of one importance score and all scores of one matrix.
        guard let (module, triplet) = showcase(trace) else { return }
        let parts = trace.parts[module] ?? []
        func positive(_ values: [(Int, Float)]) -> [(x: Double, y: Double)] {
            values.filter { $0.1 > 0 }.map { (Double($0.0), Double($0.1)) }
        }
        var partsFigure = Figure(
            name: "importance", title: "The score of λ\(triplet + 1) in \(module)", xLabel: "step",
            yLabel: "sensitivity (log scale)",
            kind: .lines([.init("I = |λ·∂L/∂λ|", positive(parts.map { ($0.step, $0.ipt[triplet]) })),
                          .init("Ī, smoothed", positive(parts.map { ($0.step, $0.average[triplet]) })),
                          .init("U, uncertainty", positive(parts.map { ($0.step, $0.uncertainty[triplet]) })),
                          .init("score Ī·U (right axis)",
                                positive(parts.map { ($0.step, $0.average[triplet] * $0.uncertainty[triplet]) }),
                                onRightAxis: true)]))
        partsFigure.logY = true
        partsFigure.y2Label = "score Ī·U (log scale)"
        partsFigure.logY2 = true
        nb.figure(partsFigure)
        let scores = trace.scores[module] ?? []
        let kept = trace.finalKept[module] ?? []
        let r = scores.first?.values.count ?? 0
        var scoreFigure = Figure(
            name: "triplet-scores", title: "Importance S_i of the \(r) triplets of \(module)", xLabel: "step",
            yLabel: "S_i (log scale)",
            kind: .lines((0..<r).map { i in
                .init("#\(i + 1) \(i < kept.count && kept[i] ? "kept" : "pruned")",
                      positive(scores.map { ($0.step, $0.values[i]) }))
            } + [.init("threshold τ", positive(trace.thresholds.map { ($0.step, $0.value) }))]))
        scoreFigure.logY = true
        nb.figure(scoreFigure)
        nb.say("""
            The raw sensitivity I of a single entry jumps from step to step with the batch; Ī follows its level and \
            U its noise, and the score multiplies them. At every pruning step the triplets of all matrices together \
            whose S is at most the threshold τ (the k-th smallest, k = init_r·N − b(t)) lose their λ. S_i exists \
            from the first step to the final allocation at step \
            \(steps - settings.tfinal); then the allocator forgets the scores and the kept triplets (here \
            \(kept.filter { $0 }.count) of \(kept.count) in \(module)) train on with their ranks fixed. The tutorial's \
            pictures of the criterion are wrong (E21): AdaLoRA does not give rank where the model is weak, like a \
            teacher tutoring a student's weak subjects, nor by how often a recipe is used; it keeps the triplets the \
            loss is most sensitive to, as far as that sensitivity can be trusted.
            """)

        // The tutorial's criterion against AdaLoRA's
        nb.say("""
            The tutorial also says AdaLoRA 「通过奇异值分解（SVD）来评估每个矩阵的重要性」 — judges importance through \
            the SVD — and that the singular values tell which parts are important (E19). AdaLoRA computes no SVD, and \
            its score is not the size of λ. Does the size of λ know as well which triplets the model needs? At the \
            final allocation of every seed, half of the kept triplets were dropped by each criterion in turn, the \
            answer loss of every validation item measured, and the triplets put back (training went on unchanged):
            """)
        guard let tests = recorder.pruningTests[method], !tests.isEmpty else { return }
        let seeds = experiment.seeds.filter { tests[$0] != nil }
        let entities = experiment.task.validation.map(\.entity)
        func losses(_ c: PruningCriterion) -> ItemScores {
            ItemScores(seeds: seeds.map { tests[$0]?[c] ?? [] }, entityNames: entities)
        }
        let reference = losses(.importance)
        var table = Table(["half of the kept triplets dropped", "validation answer loss [95% CI]",
                           "vs dropping by importance (lower is better)"])
        for c in PruningCriterion.allCases {
            let s = losses(c)
            table.add([c.rawValue, experiment.bootstrap.interval(s).text(),
                       c == .importance ? "—" : experiment.bootstrap.compare(s, reference, higherIsBetter: false).text])
        }
        nb.table(table)
        let byMagnitude = experiment.bootstrap.compare(losses(.magnitude), reference, higherIsBetter: false)
        let byChance = experiment.bootstrap.compare(losses(.random), reference, higherIsBetter: false)
        let rho = seeds.compactMap { recorder.agreement[method]?[$0] }.filter(\.isFinite)
        let rhoText = rho.isEmpty ? "" : String(format: " How alike the two orders are: Spearman's rank correlation "
            + "between S and |λ| over the kept triplets is %.2f (mean over seeds; 1 would be the same order, 0 none).",
            rho.reduce(0, +) / Double(rho.count))
        nb.say(pruningVerdict(byMagnitude, byChance) + rhoText)
    }

    /// The verdict of the pruning test, from the paired intervals.
    func pruningVerdict(_ byMagnitude: Comparison, _ byChance: Comparison) -> String {
        let magnitude: String
        switch byMagnitude.verdict {
        case .worse: magnitude = "Dropping the smallest |λ| raised the validation loss more than dropping the lowest "
            + "importance (\(byMagnitude.text)): AdaLoRA's score knows better which triplets the model needs"
        case .better: magnitude = "Dropping the smallest |λ| raised the validation loss less than dropping the lowest "
            + "importance (\(byMagnitude.text)): here the size of λ was the better guide"
        case .withinNoise: magnitude = "Dropping by |λ| and by importance cannot be told apart here "
            + "(\(byMagnitude.text))"
        }
        let chance: String
        switch byChance.verdict {
        case .worse: chance = "both beat dropping at random (random against importance: \(byChance.text))"
        case .better: chance = "yet dropping at random did better than importance (\(byChance.text))"
        case .withinNoise: chance = "and importance did not beat dropping at random (\(byChance.text))"
        }
        return magnitude + "; " + chance + ", at this scale."
    }

    /// The module whose final rank is closest to half of init_r, and its highest-scoring kept triplet.
    func showcase(_ trace: AllocationTrace) -> (module: String, triplet: Int)? {
        let candidates = trace.modules.filter { trace.finalKept[$0] != nil && trace.scores[$0]?.isEmpty == false }
        guard let module = candidates.min(by: { a, b in
            balance(trace.finalKept[a] ?? []) < balance(trace.finalKept[b] ?? [])
        }) else { return nil }
        let kept = trace.finalKept[module] ?? []
        let last = trace.scores[module]?.last?.values ?? []
        let triplet = last.indices.filter { $0 < kept.count && kept[$0] }.max { last[$0] < last[$1] }
            ?? last.indices.max { last[$0] < last[$1] } ?? 0
        return (module, triplet)
    }

    /// How far a matrix's kept share is from one half.
    func balance(_ kept: [Bool]) -> Double {
        abs(Double(kept.filter { $0 }.count) / Double(max(kept.count, 1)) - 0.5)
    }

    /// The values that train at every step: init_r triplets of in + out + 1 on every module.
    func trainableValues(_ trace: AllocationTrace, _ experiment: Experiment, _ budget: Budget) -> Int {
        let slots = experiment.base.model.linearSlots.filter { trace.modules.contains($0.name) }
        return slots.reduce(0) { $0 + budget.initR * ($1.layer.inFeatures + $1.layer.outFeatures + 1) }
    }
}
