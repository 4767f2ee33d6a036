// Ranks.swift — section 5 of lesson-adalora: where the ranks went. The final rank of every adapted
// matrix as a heat map of layers × matrix types, the ranks over training, and the AdaLoRA paper's
// finding (rank goes to the feed-forward matrices and the top layers) checked with intervals.

import Foundation
import Notebook
import PEFT
import TensorKit

/// The feed-forward (MLP) matrix types of a LLaMA block.
let feedForwardTypes: Set<String> = ["gate_proj", "up_proj", "down_proj"]

extension LessonAdaLoRA {
    func rankSection(_ nb: Notebook, _ experiment: Experiment, tuners: [AdaLoraModel], trace: AllocationTrace,
                     budget: Budget) {
        guard let first = tuners.first else { return }
        let modules = first.adapters.map(\.name)
        var types: [String] = []
        for m in modules where !types.contains(matrixType(m)) { types.append(matrixType(m)) }
        let layers = Array(Set(modules.map(layerIndex))).sorted()
        nb.section("Where the ranks went", """
            The AdaLoRA paper's Figure 1 found, on DeBERTaV3-base, that under one budget adapting the feed-forward \
            matrices helps more than adapting attention, and the top layers more than the bottom ones; the ranks \
            AdaLoRA ends with go mostly there. Here every one of the \(modules.count) matrices started with \
            \(budget.initR) triplets and \(budget.t) per matrix remain on average. The final rank of each, mean \
            over \(tuners.count) seed(s):
            """)
        // ranks[seed][module]
        let ranks = tuners.map { $0.ranks.map { Double($0.rank) } }
        func cell(_ layer: Int, _ type: String) -> Double {
            guard let i = modules.firstIndex(where: { layerIndex($0) == layer && matrixType($0) == type }) else {
                return .nan
            }
            return ranks.map { $0[i] }.reduce(0, +) / Double(ranks.count)
        }
        var heat = Figure(name: "ranks", title: "Final rank per matrix, AdaLoRA \(budget.initR) → \(budget.t) "
                              + "(mean of \(tuners.count) seed(s))", xLabel: "matrix type", yLabel: "layer",
                          kind: .heatmap(layers.map { l in types.map { cell(l, $0) } }))
        heat.rowLabels = layers.map { "layer \($0)" }
        heat.columnLabels = types.map { $0.replacingOccurrences(of: "_proj", with: "") }
        heat.cellValues = true
        heat.valueFormat = "%.1f"
        nb.figure(heat)

        // By type and by layer, with intervals over seeds
        func perSeed(_ select: (String) -> Bool) -> [Double] {
            ranks.map { r in
                let picked = modules.indices.filter { select(modules[$0]) }.map { r[$0] }
                return picked.reduce(0, +) / Double(max(picked.count, 1))
            }
        }
        let total = Double(budget.t * modules.count)
        var table = Table(["matrices", "count", "mean final rank [95% CI over seeds]", "share of the final budget",
                           "share if spread evenly"])
        for type in types {
            let count = modules.filter { matrixType($0) == type }.count
            let values = perSeed { matrixType($0) == type }
            table.add([type, "\(count)", seedInterval(experiment, values),
                       share(values, count, total), evenShare(count, modules.count)])
        }
        for layer in layers {
            let count = modules.filter { layerIndex($0) == layer }.count
            let values = perSeed { layerIndex($0) == layer }
            table.add(["layer \(layer)", "\(count)", seedInterval(experiment, values),
                       share(values, count, total), evenShare(count, modules.count)])
        }
        nb.table(table)

        // The paper's two findings, as differences per seed
        var findings: [(text: String, withinNoise: Bool)] = []
        let ffn = modules.filter { feedForwardTypes.contains(matrixType($0)) }
        if !ffn.isEmpty && ffn.count < modules.count {
            let a = perSeed { feedForwardTypes.contains(matrixType($0)) }
            let b = perSeed { !feedForwardTypes.contains(matrixType($0)) }
            findings.append(finding("feed-forward minus attention matrices", zip(a, b).map { $0 - $1 }, experiment,
                                    more: "the feed-forward matrices got more rank than attention, as in the paper",
                                    less: "attention got more rank than the feed-forward matrices, unlike the paper"))
        }
        if layers.count > 1 {
            let half = layers.count / 2
            let top = Set(layers.suffix(layers.count - half)), bottom = Set(layers.prefix(half))
            let a = perSeed { top.contains(layerIndex($0)) }, b = perSeed { bottom.contains(layerIndex($0)) }
            findings.append(finding("top \(top.count) minus bottom \(bottom.count) layers", zip(a, b).map { $0 - $1 },
                                    experiment, more: "the top layers got more rank, as in the paper",
                                    less: "the bottom layers got more rank, unlike the paper"))
        }
        let unseen = findings.filter(\.withinNoise).count
        nb.say("Mean final rank per matrix, " + findings.map(\.text).joined(separator: "; ")
               + (unseen == 0 ? "." : unseen == 1 ? ": that finding of the paper's does not show at this scale."
                                                  : ": neither finding of the paper's shows at this scale."))

        // Over training
        let steps = trace.steps.map(Double.init)
        func series(_ name: String, _ select: (String) -> Bool) -> Figure.Series {
            let picked = trace.modules.indices.filter { select(trace.modules[$0]) }
            return .init(name, zip(steps, trace.ranks).map { step, r in
                (step, picked.map { Double(r[$0]) }.reduce(0, +) / Double(max(picked.count, 1)))
            })
        }
        let byType = types.map { t in series(t, { matrixType($0) == t }) }
        let byLayer = layers.map { l in series("layer \(l)", { layerIndex($0) == l }) }
        for (name, what, lines) in [("ranks-by-type", "matrix type", byType), ("ranks-by-layer", "layer", byLayer)] {
            var over = Figure(name: name, title: "Kept triplets per matrix while training, by \(what) (seed "
                                  + "\(experiment.seeds[0]), t = \(budget.t))", xLabel: "step",
                              yLabel: "mean kept triplets per matrix", kind: .lines(lines))
            over.yRange = 0...Double(budget.initR) + 0.5
            nb.figure(over)
        }
        nb.say("""
            The ranks split while the budget falls and stay put once it is fixed. In the tutorial's words, AdaLoRA \
            「根据模型中不同权重矩阵的重要性来动态分配参数预算」 (allocates the budget dynamically by the importance \
            of the weight matrices): that is what the heat map shows, and which matrices win is a property of the \
            task, the model and the length of the run, measured here rather than assumed.
            """)
    }

    /// "2.4 [2.1, 2.8]" over seeds, or the mean alone for one seed.
    func seedInterval(_ experiment: Experiment, _ values: [Double]) -> String {
        guard values.count > 1 else { return String(format: "%.2f (one seed)", values.first ?? .nan) }
        return experiment.bootstrap.interval(ItemScores(seeds: values.map { [$0] }, entities: [0])).text(2)
    }

    /// The share of the final budget `count` matrices of mean rank `values` hold.
    func share(_ values: [Double], _ count: Int, _ total: Double) -> String {
        String(format: "%.0f%%", 100 * Double(count) * values.reduce(0, +) / Double(max(values.count, 1)) / total)
    }

    /// The share `count` of `total` matrices would hold if the budget were spread evenly.
    func evenShare(_ count: Int, _ total: Int) -> String {
        String(format: "%.0f%%", 100 * Double(count) / Double(max(total, 1)))
    }

    /// One of the paper's findings, from the per-seed differences' interval, and whether the
    /// interval shows no difference.
    func finding(_ what: String, _ differences: [Double], _ experiment: Experiment, more: String,
                 less: String) -> (text: String, withinNoise: Bool) {
        guard differences.count > 1 else {
            return (String(format: "%@: %+.2f with one seed (no interval: run more seeds)", what,
                           differences.first ?? .nan), false)
        }
        let c = experiment.bootstrap.compare(ItemScores(seeds: differences.map { [$0] }, entities: [0]),
                                             ItemScores(seeds: differences.map { _ in [0] }, entities: [0]))
        let interval = c.difference.text(2, signed: true)
        switch c.verdict {
        case .better: return ("\(what): \(interval), so \(more)", false)
        case .worse: return ("\(what): \(interval), so \(less)", false)
        case .withinNoise: return ("\(what): \(interval), no difference beyond the seeds' noise", true)
        }
    }
}
