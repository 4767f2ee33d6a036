// Costs.swift — what each method costs besides its score: the memory of a training step, training
// and inference throughput, the saved file, and forgetting, measured on the overview's runs.

import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

/// One method's measured costs.
struct MethodCosts {
    /// One training step on the probe batch, measured on a fresh tuner.
    var memory: MemoryBreakdown
    /// Inference throughput as deployed (merged when the method allows it), tokens/s.
    var inference: Double
    /// The same against the base's, timed in alternation with it (so a busy machine slows both).
    var inferenceRatio: Double
    var merged: Bool
    /// Virtual tokens the method adds to every sequence (prompt methods).
    var virtualTokens: Int
    /// Bytes of the weights file the method saves (the adapter, or the whole model).
    var fileBytes: Int
}

/// Every method's costs, and the base's inference throughput to compare with.
struct MeasuredCosts {
    var rows: [MethodCosts]
    /// The base's inference throughput, the median over every method's measurement.
    var baseInference: Double
}

/// Median throughputs of `logits` and of the base, timed in alternation: `rounds` samples of each,
/// a sample being `passes` forward passes of the probe batch (after a warm-up pass).
func alternatingTimings(_ logits: @escaping LogitsFunction, base: @escaping LogitsFunction, batch: TokenBatch,
                        rounds: Int = 9, passes: Int = 3) -> (method: Double, base: Double) {
    func sample(_ f: LogitsFunction) -> Double {
        let started = Date()
        for _ in 0..<passes { _ = f(batch) }
        return Double(passes * batch.inputIds.count) / Date().timeIntervalSince(started)
    }
    return withoutGrad {
        _ = logits(batch)
        _ = base(batch)
        var method: [Double] = [], reference: [Double] = []
        for _ in 0..<rounds {
            method.append(sample(logits))
            reference.append(sample(base))
        }
        return (median(method), median(reference))
    }
}

/// Measures each method: memory on a fresh tuner; inference and file size on the first seed's
/// trained tuner (merged when it can be, as one would deploy it).
func measureCosts(_ e: Experiment, _ entries: [Entry], _ results: [MethodResult]) throws -> MeasuredCosts {
    let batch = e.probeBatch, model = e.base.model
    let base: LogitsFunction = { model($0.inputIds, batch: $0.batchSize) }
    var rows: [MethodCosts] = [], baseTimings: [Double] = []
    for (entry, result) in zip(entries, results) {
        let memory = MemoryBreakdown.measure(try entry.method.prepare(e.seeds[0]), on: batch)
        guard let trained = result.tuners.first else { throw LessonError("\(result.name) kept no trained tuner") }
        let folder = temporaryFolder("lesson-overview")
        defer { try? FileManager.default.removeItem(at: folder) }
        try trained.save(to: folder)
        let weightsFile = ["adapter_model.safetensors", "model.safetensors"].map { folder.appendingPathComponent($0) }
            .first { FileManager.default.fileExists(atPath: $0.path) }
        let fileBytes = weightsFile.flatMap {
            (try? FileManager.default.attributesOfItem(atPath: $0.path))?[.size] as? Int
        } ?? folderSize(folder)
        let merged = trained.canMerge
        if merged { try trained.merge() }
        let (inference, baseInference) = alternatingTimings(trained.logits, base: base, batch: batch)
        baseTimings.append(baseInference)
        rows.append(MethodCosts(memory: memory, inference: inference, inferenceRatio: inference / baseInference,
                                merged: merged, virtualTokens: trained.virtualTokenCount, fileBytes: fileBytes))
    }
    return MeasuredCosts(rows: rows, baseInference: median(baseTimings))
}

/// Memory, speed, inference, file size and forgetting per method.
func costTable(_ e: Experiment, _ results: [MethodResult], _ costs: MeasuredCosts) -> Table {
    var table = Table(["method", "step memory", "vs full", "training tokens/s", "inference tokens/s", "vs base",
                       "saved weights", "forgetting (Δ held-out loss)"])
    let full = costs.rows[0]
    for (result, cost) in zip(results, costs.rows) {
        table.add([result.name, formatBytes(cost.memory.total),
                   String(format: "%.2f×", Double(cost.memory.total) / Double(max(full.memory.total, 1))),
                   formatCount(Int(result.tokensPerSecond.rounded())),
                   formatCount(Int(cost.inference.rounded())) + (cost.merged ? " (merged)" : ""),
                   String(format: "%.2f×", cost.inferenceRatio),
                   formatBytes(cost.fileBytes), e.forgetting(result).text(signed: true)])
    }
    return table
}

/// The memory of a training step by component, one group of bars per method.
func costFigure(_ results: [MethodResult], _ costs: MeasuredCosts) -> Figure {
    let kib = { (bytes: Int) in Double(bytes) / 1024 }
    let parts: [(String, (MemoryBreakdown) -> Int)] = [("weights", \.weights), ("gradients", \.gradients),
                                                       ("optimizer state", \.optimizerState),
                                                       ("activations", \.activations)]
    var figure = Figure(name: "memory", title: "Memory of one training step (16 examples), by component",
                        xLabel: "", yLabel: "KiB",
                        kind: .bars(categories: results.map(\.name), parts.map { name, part in
                            Figure.Bars(name, costs.rows.map { kib(part($0.memory)) })
                        }))
    figure.legend = .below
    return figure
}

/// The costs in words: ratios against full fine-tuning and the base.
func costSummary(_ e: Experiment, _ results: [MethodResult], _ costs: MeasuredCosts) -> String {
    let full = costs.rows[0]
    let indices = Array(results.indices.dropFirst())
    guard let leanest = indices.min(by: { costs.rows[$0].memory.total < costs.rows[$1].memory.total }),
          let slowest = indices.min(by: { costs.rows[$0].inferenceRatio < costs.rows[$1].inferenceRatio })
    else { return "" }
    let prompts = indices.filter { costs.rows[$0].virtualTokens > 0 }
    let lean = costs.rows[leanest].memory
    let state = full.memory.gradients + full.memory.optimizerState - lean.gradients - lean.optimizerState
    let activations = full.memory.activations - lean.activations
    var text = String(format: "A PEFT step needs as little as %.0f%% of full fine-tuning's memory, with %@: ",
                      100 * Double(lean.total) / Double(max(full.memory.total, 1)), results[leanest].name)
    text += "with the same weights, it saves \(formatBytes(state)) of gradients and optimizer state, and its "
        + "activations take " + formatBytes(abs(activations)) + (activations >= 0 ? " less" : " more")
        + " (back-propagation stops below the lowest layer that trains; see the activations column for the others). "
    text += String(format: "The slowest at inference is %@ at %.2f× the base's throughput", results[slowest].name,
                   costs.rows[slowest].inferenceRatio)
    text += prompts.isEmpty ? ". "
        : "; the prompt methods (\(listText(prompts.map { results[$0].name }))) cannot be merged: their virtual "
            + "tokens lengthen every sequence at every forward (for prefixes, the keys and values every layer "
            + "attends to). "
    text += "Merged adapters cost what the base costs: the merged model is the base's shape."
    return text
}
