// Choice.swift — the overview's methods, the map of what each trains, the score against trainable
// parameters, and the "which one when" table built from the measurements.

import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

/// One method of the overview: its family in the tutorial's map and what it trains.
struct Entry {
    let family: String
    let method: Method
    let trains: String
}

/// Every method at its sensible defaults. The settings are those of the methods' own lessons
/// (lesson-qlora's LoRA and QLoRA, lesson-adalora's main budget, lesson-soft-prompts' prompts with
/// 20 virtual tokens), so their committed sweeps of this task apply unchanged.
func lineup(_ base: BaseModel, steps: Int) -> [Entry] {
    let qv = LoraConfig(r: 8, loraAlpha: 16)
    var dora = qv
    dora.useDora = true
    let schedule = (tinit: 0.1, tfinal: 0.25)
    let adaLora = AdaLoraConfig(initR: 12, targetR: 8, tinit: Int((schedule.tinit * Double(steps)).rounded()),
                                tfinal: Int((schedule.tfinal * Double(steps)).rounded()), deltaT: 1,
                                orthRegWeight: 0.5, totalStep: steps, loraAlpha: 24, targetModules: .allLinear)
    let adaLoraKey = "adalora 12→8 alpha=2·init_r tinit=\(schedule.tinit) tfinal=\(schedule.tfinal) deltaT=1 "
        + "orth=0.5 all-linear"
    let n = 20
    return [
        Entry(family: "full", method: .selective("full fine-tuning", base) { .full($0) }, trains: "every weight"),
        Entry(family: "subset", method: .selective("freeze-tuning (top 1)", base) { .topBlocks(1, of: $0) },
              trains: "the last decoder block's projections and norms"),
        Entry(family: "reparametrise", method: .lora("LoRA r=8 (q,v)", base, qv, key: "lora 8 16.0 q_proj,v_proj"),
              trains: "A [8, in] and B [out, 8] beside q_proj and v_proj"),
        Entry(family: "reparametrise", method: .lora("DoRA r=8 (q,v)", base, dora, key: "dora 8 16.0 q_proj,v_proj"),
              trains: "LoRA's A and B, and a magnitude per output row"),
        Entry(family: "reparametrise",
              method: .qlora("QLoRA r=8 (q,v)", base, qv, key: "qlora nf4-dq-64 8 16.0 q_proj,v_proj"),
              trains: "LoRA's A and B over a base stored in 4-bit NF4"),
        Entry(family: "reparametrise",
              method: .peft("AdaLoRA 12→8 (all linear)", base, adaLora, key: adaLoraKey,
                            learningRates: [1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2], defaultLearningRate: 1e-2),
              trains: "P·Λ·Q on every linear layer, 12 triplets pruned to 8 a matrix on average"),
        Entry(family: "add", method: .promptTuning(base, n: n), trains: "\(n) input embeddings"),
        Entry(family: "add", method: .prefixTuning(base, n: n),
              trains: "an MLP that makes \(n) keys and values for every layer (only its output is saved)"),
        Entry(family: "add", method: .pTuning(base, n: n, .mlp),
              trains: "an MLP that makes \(n) input embeddings (only its output is saved)"),
        Entry(family: "add", method: .pTuningV2(base, n: n), trains: "\(n) keys and values for every layer"),
    ]
}

/// The tutorial's words for each family.
func familyName(_ family: String) -> String {
    switch family {
    case "full": "full fine-tuning (全参微调)"
    case "subset": "select a subset (选择参数子集)"
    case "reparametrise": "reparametrise (重新参数化)"
    default: "add parameters (添加参数)"
    }
}

/// What each method trains, counted on fresh copies of the base.
func mapTable(_ entries: [Entry], batch: TokenBatch) throws -> Table {
    var table = Table(["family", "method", "what trains", "trainable", "share", "peft_type"], rightAligned: [3, 4])
    for entry in entries {
        let tuner = try entry.method.prepare(0)
        table.add([familyName(entry.family), entry.method.name, entry.trains, formatCount(tuner.trainableCount),
                   String(format: "%.3f%%", 100 * tuner.trainableShare),
                   tuner.peftConfig.map { type(of: $0).peftType.rawValue } ?? "—"])
    }
    return table
}

/// Test score against trainable parameters (log scale), one point per method with its interval.
func scoreAgainstParameters(_ e: Experiment, _ results: [MethodResult]) -> Figure {
    let points = results.map { r in
        let interval = e.interval(r)
        return Figure.Point(r.name, x: Double(max(r.trainableParameters, 1)), y: interval.estimate,
                            yInterval: (interval.low, interval.high))
    }
    var figure = Figure(name: "score-vs-parameters",
                        title: "Test \(e.task.metricName) (\(e.task.name)) against trainable parameters, 95% CI",
                        xLabel: "trainable parameters (log scale)", yLabel: "test \(e.task.metricName)",
                        kind: .scatter(points))
    figure.logX = true
    figure.references = e.baselineReferences
    return figure
}

/// The methods within noise of the best, of full fine-tuning, and above what learning nothing scores.
func scoreSummary(_ e: Experiment, _ results: [MethodResult]) -> String {
    guard let full = results.first, let best = results.max(by: { $0.meanScore < $1.meanScore }) else { return "" }
    let tied = results.filter { $0.name == best.name || e.compare($0, best).verdict == .withinNoise }.map(\.name)
    let belowFull = results.dropFirst().filter { e.compare($0, full).verdict == .worse }.map(\.name)
    let matchFull = results.dropFirst().filter { e.compare($0, full).verdict != .worse }.map(\.name)
    let floor = e.scoreWithoutLearning
    let atBaseline = results.filter { e.interval($0).low <= floor }.map(\.name)
    var text = "The highest mean score is \(best.name)'s, \(e.interval(best).text()); "
        + (tied.count > 1 ? "within noise of it: \(listText(tied.filter { $0 != best.name }))."
            : "every other method is below it.")
    text += matchFull.isEmpty ? " Every PEFT method scored below full fine-tuning here."
        : " Not below full fine-tuning (paired): \(listText(matchFull))."
    if !belowFull.isEmpty { text += " Below full fine-tuning: \(listText(belowFull))." }
    if !atBaseline.isEmpty {
        text += " Not clearly above \(e.scoreWithoutLearningPhrase): \(listText(atBaseline))."
    }
    return text
}


/// Each need, the methods the measurements support for it, and the evidence.
func choiceTable(_ e: Experiment, _ results: [MethodResult], _ costs: MeasuredCosts) -> Table {
    var table = Table(["if you need", "these measurements support", "evidence"], rightAligned: [])
    guard let full = results.first, let best = results.max(by: { $0.meanScore < $1.meanScore }) else { return table }
    let indices = Array(results.indices)

    let tied = indices.filter { results[$0].name == best.name || e.compare(results[$0], best).verdict == .withinNoise }
    table.add(["the highest score", listText(tied.map { results[$0].name }),
               "best mean \(best.name) \(e.interval(best).text())"
                + (tied.count > 1 ? "; the others listed are within noise of it" : ", above every other method")])

    let asGood = indices.dropFirst().filter { e.compare(results[$0], full).verdict != .worse }
    if let leanest = asGood.min(by: { results[$0].trainableParameters < results[$1].trainableParameters }) {
        table.add(["full fine-tuning's score with the fewest trainable parameters", results[leanest].name,
                   "\(formatCount(results[leanest].trainableParameters)) trainable; − full = "
                    + e.compare(results[leanest], full).text])
    } else {
        table.add(["full fine-tuning's score with the fewest trainable parameters", "none here",
                   "every PEFT method scored below full fine-tuning (paired intervals)"])
    }

    let memory = indices.min { costs.rows[$0].memory.total < costs.rows[$1].memory.total }!
    table.add(["the least memory for a training step", results[memory].name,
               "\(formatBytes(costs.rows[memory].memory.total)) against full fine-tuning's "
                + formatBytes(costs.rows[0].memory.total)])

    let weights = indices.min { costs.rows[$0].memory.weights < costs.rows[$1].memory.weights }!
    table.add(["a base too large for memory", results[weights].name,
               "weights \(formatBytes(costs.rows[weights].memory.weights)) against "
                + formatBytes(costs.rows[0].memory.weights) + " in float32"])

    let free = indices.filter { costs.rows[$0].virtualTokens == 0 && costs.rows[$0].inferenceRatio >= 0.9 }
    let ratios = free.map { costs.rows[$0].inferenceRatio }
    table.add(["no inference cost over the base",
               free.isEmpty ? "none measured" : listText(free.map { results[$0].name }),
               "no virtual tokens, and inference throughput as deployed (merged where possible) "
                + String(format: "%.2f–%.2f× the base's", ratios.min() ?? 0, ratios.max() ?? 0)
                + " (\(formatRate(costs.baseInference)); timed in alternation with it)"])

    let smallest = indices.min { costs.rows[$0].fileBytes < costs.rows[$1].fileBytes }!
    table.add(["many tasks on one base (the smallest file per task)", results[smallest].name,
               "\(formatBytes(costs.rows[smallest].fileBytes)) against a full checkpoint's "
                + formatBytes(costs.rows[0].fileBytes)])

    let least = indices.min { e.forgetting(results[$0]).estimate < e.forgetting(results[$1]).estimate }!
    let forgetTied = indices.filter {
        $0 == least || e.compareForgetting(results[$0], results[least]).verdict == .withinNoise
    }
    table.add(["the least forgetting of pretraining", listText(forgetTied.map { results[$0].name }),
               "\(results[least].name) \(e.forgetting(results[least]).text(signed: true)) (Δ held-out loss)"
                + (forgetTied.count > 1 ? "; the others listed are within noise of it" : ", below every other method")
                + ", at each method's chosen learning rate"
                + (least != 0 && e.compare(results[least], full).verdict == .worse
                    ? "; it also scored below full fine-tuning, so part of it is learning less (the figure in section "
                        + "3 compares forgetting at matched validation score)" : "")])
    return table
}

/// "12.3k tokens/s".
func formatRate(_ tokensPerSecond: Double) -> String { "\(formatCount(Int(tokensPerSecond.rounded()))) tokens/s" }
