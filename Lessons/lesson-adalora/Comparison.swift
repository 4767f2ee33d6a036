// Comparison.swift — section 6 of lesson-adalora: AdaLoRA against LoRA at equal final budgets,
// with paired intervals per budget, against the paper's finding (AdaLoRA ≥ LoRA, most at small
// budgets).

import Foundation
import Notebook
import TensorKit

extension LessonAdaLoRA {
    func comparisonSection(_ nb: Notebook, _ experiment: Experiment,
                           _ pairs: [(budget: Budget, ada: MethodResult, lora: MethodResult)]) {
        nb.section("AdaLoRA against LoRA at equal final budgets", """
            The AdaLoRA paper found AdaLoRA at least as good as LoRA at the same final budget, with the largest gains \
            at the smallest budgets (DeBERTaV3-base on GLUE, SQuAD; BART-large on summarisation). The same question \
            here, at \(pairs.count) budget(s), each method at its own learning rate, paired over the same test items \
            and seeds:
            """)
        let frozen = experiment.frozenBase()
        nb.table(experiment.scoreTable(pairs.flatMap { [$0.ada, $0.lora] } + [frozen]))
        var table = Table(["t", "LoRA r = t", "AdaLoRA t", "AdaLoRA − LoRA (paired)"])
        var comparisons: [(t: Int, comparison: Comparison)] = []
        for (b, ada, lora) in pairs {
            let c = experiment.compare(ada, lora)
            comparisons.append((b.t, c))
            table.add(["\(b.t)", experiment.interval(lora).text(), experiment.interval(ada).text(), c.text])
        }
        nb.table(table)
        func line(_ name: String, _ results: [MethodResult]) -> Figure.Series {
            let intervals = results.map { experiment.interval($0) }
            return .init(name, zip(pairs, intervals).map { (Double($0.budget.t), $1.estimate) },
                         intervals: intervals.map { ($0.low, $0.high) })
        }
        var figure = Figure(name: "adalora-vs-lora",
                            title: "Test \(experiment.task.metricName) at equal final budgets (95% CI)",
                            xLabel: "final budget t (triplets or rank per matrix, log scale)",
                            yLabel: "test \(experiment.task.metricName)",
                            kind: .lines([line("LoRA r = t", pairs.map(\.lora)),
                                          line("AdaLoRA init_r = 1.5·t → t", pairs.map(\.ada))]))
        figure.logX = pairs.count > 1
        figure.references = experiment.baselineReferences
        nb.figure(figure)
        if let pair = pairs.first(where: { $0.budget.t == main }) {
            var losses = Figure(name: "loss-curves", title: "Training loss at t = \(main), first seed", xLabel: "step",
                                yLabel: "loss on the answer tokens (AdaLoRA: + penalty; log scale)",
                                kind: .lines([pair.lora, pair.ada].map { $0.lossSeries(steps: experiment.steps) }))
            losses.logY = true
            nb.figure(losses)
        }
        nb.say(comparisonVerdict(comparisons))
    }

    /// The paper's claim, judged from the paired intervals of each budget.
    func comparisonVerdict(_ comparisons: [(t: Int, comparison: Comparison)]) -> String {
        let better = comparisons.filter { $0.comparison.verdict == .better }.map(\.t)
        let worse = comparisons.filter { $0.comparison.verdict == .worse }.map(\.t)
        let tied = comparisons.filter { $0.comparison.verdict == .withinNoise }.map(\.t)
        func list(_ ts: [Int]) -> String { ts.map { "t = \($0)" }.joined(separator: ", ") }
        var parts: [String] = []
        if !better.isEmpty { parts.append("AdaLoRA scored higher at \(list(better))") }
        if !worse.isEmpty { parts.append("lower at \(list(worse))") }
        if !tied.isEmpty { parts.append("the two cannot be told apart at \(list(tied))") }
        let smallest = comparisons.min { $0.t < $1.t }
        let claim: String
        if !worse.isEmpty {
            claim = "The paper's \"AdaLoRA ≥ LoRA at equal budget\" does not hold at \(list(worse)) at this scale."
        } else if better.isEmpty {
            claim = "So the paper's advantage does not show at this scale: AdaLoRA is not worse, but not better "
                + "beyond the noise of \(comparisons.count > 0 ? "these seeds and test items" : "the runs")."
        } else if let smallest, smallest.comparison.verdict == .better {
            claim = "That agrees with the paper: AdaLoRA is never worse, and better at the smallest budget."
        } else {
            claim = "AdaLoRA is never worse, but its advantage is not where the paper puts it (at the smallest budget)."
        }
        return parts.joined(separator: "; ") + " (paired 95% intervals above). " + claim
    }
}
