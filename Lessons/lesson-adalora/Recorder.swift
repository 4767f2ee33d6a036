// Recorder.swift — what lesson-adalora reads from AdaLoRA runs while they train, through
// `AdaLoraModel.onAllocation` (called after every optimizer step, once the allocator has run):
// the budget, the triplets in use, the ranks, the importance scores and their parts, how far
// P and Q are from orthonormal; and, at the final allocation, the pruning test (importance
// against |λ| against random). The recorder times itself, so that its own work can be taken
// out of the measured step and allocator times.

import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

/// One traced run, step by step.
final class AllocationTrace {
    var steps: [Int] = [], budgets: [Int] = [], active: [Int] = []
    /// Triplets kept (by the rank pattern) per module after each step.
    var ranks: [[Int]] = []
    var modules: [String] = []
    /// The pruning threshold τ (the k-th smallest S of all matrices) at each pruning step.
    var thresholds: [(step: Int, value: Float)] = []
    /// Per module: the triplet scores S_i at each step they exist.
    var scores: [String: [(step: Int, values: [Float])]] = [:]
    /// Per module: I, Ī and U of every λ_i at each step the allocator holds them.
    var parts: [String: [(step: Int, ipt: [Float], average: [Float], uncertainty: [Float])]] = [:]
    /// Mean ‖A·Aᵀ − I‖_F and ‖Bᵀ·B − I‖_F over the adapted matrices, every few steps.
    var orthogonality: [(step: Int, a: Double, b: Double)] = []
    /// Which triplets of each module were kept at the end.
    var finalKept: [String: [Bool]] = [:]
}

/// Ways to choose which half of the kept triplets to drop.
enum PruningCriterion: String, CaseIterable {
    case none = "nothing dropped"
    case importance = "lowest importance S (AdaLoRA)"
    case magnitude = "smallest |λ| (the tutorial)"
    case random = "at random"
}

/// Watches AdaLoRA tuners as they train. Runs go side by side (`Experiment.run`), so the shared
/// tables are written under a lock; a trace belongs to one run.
final class AllocationRecorder {
    private let lock = NSLock()
    /// Full traces, by method name (one seed each).
    private(set) var traces: [String: AllocationTrace] = [:]
    /// method → seed → criterion → validation loss of each item after dropping half the kept triplets.
    private(set) var pruningTests: [String: [UInt64: [PruningCriterion: [Double]]]] = [:]
    /// method → seed → Spearman correlation between S and |λ| over the kept triplets at the test.
    private(set) var agreement: [String: [UInt64: Double]] = [:]
    /// method → seed → seconds the recorder spent inside the training step.
    private(set) var seconds: [String: [UInt64: Double]] = [:]
    let validation: [Example]
    let tokenizer: Tokenizer
    /// Orthogonality is measured every this many steps.
    let orthogonalityEvery: Int

    init(validation: [Example], tokenizer: Tokenizer, steps: Int) {
        self.validation = validation
        self.tokenizer = tokenizer
        orthogonalityEvery = max(1, steps / 60)
    }

    /// Records `tuner` of `method` at `seed`: a full trace when `trace`, the pruning test when `test`.
    func watch(_ tuner: AdaLoraModel, method: String, seed: UInt64, trace: Bool, test: Bool) {
        let t = trace ? AllocationTrace() : nil
        if let t {
            t.modules = tuner.adapters.map(\.name)
            lock.withLock { traces[method] = t }
        }
        let last = tuner.schedule.totalStep - 1
        tuner.onAllocation = { [unowned self, unowned tuner] event in
            let start = Date()
            if let t { self.record(event, tuner, into: t, last: last) }
            if test, event.phase == .finalAllocation, let pruning = event.pruning {
                let losses = self.pruningTest(tuner, pruning, seed: seed)
                let rho = self.correlation(tuner, pruning)
                self.lock.withLock {
                    self.pruningTests[method, default: [:]][seed] = losses
                    self.agreement[method, default: [:]][seed] = rho
                }
            }
            let spent = Date().timeIntervalSince(start)
            self.lock.withLock { self.seconds[method, default: [:]][seed, default: 0] += spent }
        }
    }

    /// `result` with the recorder's own time taken out of each run's step and hook times.
    func withoutRecording(_ result: MethodResult) -> MethodResult {
        var r = result
        for i in r.runs.indices {
            let s = seconds[r.name]?[r.runs[i].seed] ?? 0
            r.runs[i].log.seconds -= s
            r.runs[i].log.afterStepSeconds -= s
        }
        return r
    }

    private func record(_ event: AllocationStep, _ tuner: AdaLoraModel, into t: AllocationTrace, last: Int) {
        t.steps.append(event.step)
        t.budgets.append(event.budget)
        t.active.append(tuner.adapters.reduce(0) { n, a in n + a.layer.loraE.array.filter { $0 != 0 }.count })
        t.ranks.append(event.ranks.map(\.rank))
        if let tau = event.pruning?.threshold { t.thresholds.append((event.step, tau)) }
        let scoring = event.step < tuner.schedule.finalAllocationStep || event.pruning != nil
        for (name, layer) in tuner.adapters where scoring {
            let s = event.pruning?.scores[name] ?? tuner.allocator.tripletScores(layer)
            t.scores[name, default: []].append((event.step, s))
            if let e = tuner.allocator.state(of: layer.loraE) {
                t.parts[name, default: []].append((event.step, e.ipt, e.exponentialAverage, e.uncertainty))
            }
        }
        if event.step % orthogonalityEvery == 0 || event.step == last {
            let d = tuner.adapters.map { orthogonality($0.layer) }
            let n = Double(max(d.count, 1))
            t.orthogonality.append((event.step, d.map(\.a).reduce(0, +) / n, d.map(\.b).reduce(0, +) / n))
        }
        if event.step == last {
            for (name, layer) in tuner.adapters { t.finalKept[name] = layer.loraE.array.map { $0 != 0 } }
        }
    }

    /// The kept triplets at the final allocation, as (layer index, triplet index, S, |λ|).
    private func kept(_ tuner: AdaLoraModel, _ pruning: Pruning) -> [(layer: Int, i: Int, score: Float, size: Float)] {
        var out: [(layer: Int, i: Int, score: Float, size: Float)] = []
        for (l, (name, layer)) in tuner.adapters.enumerated() {
            guard let keep = pruning.kept[name], let s = pruning.scores[name] else { continue }
            for i in 0..<layer.r where keep[i] { out.append((l, i, s[i], abs(layer.loraE.data[i]))) }
        }
        return out
    }

    /// Drops half of the kept triplets (λ_i = 0) by each criterion in turn, measures every
    /// validation item's answer loss, and puts the singular values back: training goes on unchanged.
    private func pruningTest(_ tuner: AdaLoraModel, _ pruning: Pruning, seed: UInt64) -> [PruningCriterion: [Double]] {
        let alive = kept(tuner, pruning)
        let drop = alive.count / 2
        let saved = tuner.adapters.map(\.layer.loraE.array)
        let g = Generator(seed: seed &+ 0xD20B)
        var out: [PruningCriterion: [Double]] = [:]
        for criterion in PruningCriterion.allCases {
            let order: [Int]
            switch criterion {
            case .none: order = []
            case .importance: order = alive.indices.sorted { alive[$0].score < alive[$1].score }
            case .magnitude: order = alive.indices.sorted { alive[$0].size < alive[$1].size }
            case .random: order = g.shuffled(Array(alive.indices))
            }
            for j in order.prefix(drop) { tuner.adapters[alive[j].layer].layer.loraE.data[alive[j].i] = 0 }
            out[criterion] = itemLosses(tuner, validation, tokenizer: tokenizer)
            for (l, values) in saved.enumerated() {
                for (i, v) in values.enumerated() { tuner.adapters[l].layer.loraE.data[i] = v }
            }
        }
        return out
    }

    /// Spearman's rank correlation between S and |λ| over the kept triplets.
    private func correlation(_ tuner: AdaLoraModel, _ pruning: Pruning) -> Double {
        let alive = kept(tuner, pruning)
        return spearman(alive.map { Double($0.score) }, alive.map { Double($0.size) })
    }
}

/// ‖A·Aᵀ − I‖_F and ‖Bᵀ·B − I‖_F of one layer: how far Q (lora_A, rows) and P (lora_B, columns)
/// are from orthonormal.
func orthogonality(_ layer: AdaLoraLinear) -> (a: Double, b: Double) {
    withoutGrad {
        let aat = matmul(layer.loraA, layer.loraA, transposeB: true)                       // [r, r]
        let btb = matmul(layer.loraB, layer.loraB, transposeA: true)                       // [r, r]
        return (distanceFromIdentity(aat), distanceFromIdentity(btb))
    }
}

/// ‖M − I‖_F of a square matrix.
func distanceFromIdentity(_ m: Tensor) -> Double {
    let r = m.shape[0]
    var sum = 0.0
    for i in 0..<r {
        for j in 0..<r {
            let x = Double(m.data[i * r + j]) - (i == j ? 1 : 0)
            sum += x * x
        }
    }
    return sum.squareRoot()
}

/// Each example's mean loss on its answer tokens (teacher-forced), without gradients.
func itemLosses(_ tuner: any Tuner, _ examples: [Example], tokenizer: Tokenizer, batchSize: Int = 32) -> [Double] {
    withoutGrad {
        var out: [Double] = []
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let rows = examples[start..<min(start + batchSize, examples.count)].map { tokenizer.encode($0) }
            let batch = TokenBatch(padding: rows, padId: tokenizer.padId)
            let lp = logSoftmax(tuner.logits(batch))                                       // [B, T, V]
            let (t, v) = (batch.sequenceLength, lp.shape[2])
            for r in 0..<batch.batchSize {
                var sum = 0.0, count = 0
                for pos in 1..<t where batch.labels[r * t + pos] != -100 {
                    sum -= Double(lp.data[(r * t + pos - 1) * v + batch.labels[r * t + pos]])
                    count += 1
                }
                out.append(sum / Double(max(count, 1)))
            }
        }
        return out
    }
}

/// Spearman's rank correlation of two equally long lists (ties get their mean rank).
func spearman(_ x: [Double], _ y: [Double]) -> Double {
    func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count), i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Double(i + j) / 2 }
            i = j + 1
        }
        return r
    }
    let (a, b) = (ranks(x), ranks(y)), n = Double(x.count)
    guard n > 1 else { return .nan }
    let (ma, mb) = (a.reduce(0, +) / n, b.reduce(0, +) / n)
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for (p, q) in zip(a, b) { sab += (p - ma) * (q - mb); saa += (p - ma) * (p - ma); sbb += (q - mb) * (q - mb) }
    return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : .nan
}
