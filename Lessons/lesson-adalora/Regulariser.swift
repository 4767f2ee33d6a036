// Regulariser.swift — section 7 of lesson-adalora: what the orthogonal regulariser does. How far
// Q (lora_A) and P (lora_B) are from orthonormal over training with and without it, whether s·|λ|
// are then the singular values of ΔW, and what it does to the score.

import Foundation
import Notebook
import PEFT
import TensorKit

extension LessonAdaLoRA {
    /// Returns what an SVD of every adapted ΔW costs (for section 8).
    func regulariserSection(_ nb: Notebook, _ experiment: Experiment, with: (MethodResult, AllocationTrace),
                            without: (MethodResult, AllocationTrace)) -> SVDCost {
        nb.section("The orthogonal regulariser", """
            P·Λ·Q is an SVD only if P's columns and Q's rows are orthonormal; then |λ_i| is the size of triplet i and \
            dropping it changes ΔW by exactly that much. Nothing in the product keeps them so; PEFT adds a penalty to \
            the loss instead: orth_reg_weight · (Σ ‖A·Aᵀ − I‖_F + Σ ‖Bᵀ·B − I‖_F) / (2N), A = Q and B = P of every \
            adapted matrix, weight 0.5 by default. To see what it does, the run at t = \(main) was repeated with the \
            weight at 1e-9 (PEFT refuses 0: it raises "orth_reg_weight should be greater than 0"), each at its own \
            learning rate.
            """)
        func curves(_ trace: AllocationTrace, _ label: String) -> [Figure.Series] {
            [.init("‖AAᵀ − I‖ (Q), \(label)", trace.orthogonality.map { (Double($0.step), $0.a) }),
             .init("‖BᵀB − I‖ (P), \(label)", trace.orthogonality.map { (Double($0.step), $0.b) })]
        }
        var figure = Figure(name: "orthogonality", title: "Distance from orthonormal, mean over the adapted matrices "
                                + "(seed \(experiment.seeds[0]))", xLabel: "step", yLabel: "Frobenius norm (log scale)",
                            kind: .lines(curves(with.1, "weight 0.5") + curves(without.1, "weight 1e-9")))
        figure.logY = true
        nb.figure(figure)
        let r = Double(Budget(t: main).initR)
        func ends(_ trace: AllocationTrace) -> String {
            guard let first = trace.orthogonality.first, let last = trace.orthogonality.last else { return "—" }
            return String(format: "‖AAᵀ − I‖ %.2f → %.2f, ‖BᵀB − I‖ %.2f → %.2f", first.a, last.a, first.b, last.b)
        }
        nb.say(String(format: "P and Q start as N(0, 0.02²) entries, nearly zero, so each norm starts near √r = %.2f. ",
                      r.squareRoot())
            + "Measured from the first to the last step: with the penalty \(ends(with.1)); without it "
            + "\(ends(without.1)). Only the penalty pulls toward orthonormal; without it P and Q go where the task's "
            + "gradient takes them.")

        var table = Table(["orth_reg_weight", "‖AAᵀ − I‖ at the end", "‖BᵀB − I‖ at the end",
                           "s·|λ| vs ΔW's singular values (relative gap)", "learning rate",
                           "test \(experiment.task.metricName) [95% CI]", "vs weight 0.5"])
        var cost = SVDCost()
        for (label, (result, _)) in [("0.5 (PEFT's default)", with), ("1e-9 (off)", without)] {
            let tuners = result.tuners.compactMap { $0 as? AdaLoraModel }
            let norms = tuners.map { t in t.adapters.map { orthogonality($0.layer) } }.flatMap { $0 }
            let n = Double(max(norms.count, 1))
            let gap = tuners.first.map { singularValueGap($0) } ?? .nan
            if label.hasPrefix("0.5"), let first = tuners.first { cost = svdCost(first) }
            table.add([label, String(format: "%.3f", norms.map(\.a).reduce(0, +) / n),
                       String(format: "%.3f", norms.map(\.b).reduce(0, +) / n), String(format: "%.3f", gap),
                       shortRate(result.learningRate), experiment.interval(result).text(),
                       label.hasPrefix("0.5") ? "—" : experiment.compare(result, with.0).text])
        }
        nb.table(table)
        let c = experiment.compare(without.0, with.0)
        let outcome: String
        switch c.verdict {
        case .better: outcome = "Switching the penalty off scored higher (\(c.text))"
        case .worse: outcome = "Switching the penalty off scored lower (\(c.text))"
        case .withinNoise: outcome = "Switching the penalty off changed the score by no more than the noise (\(c.text))"
        }
        nb.say("""
            The gap column compares, on the first seed, the kept s·|λ_i| (sorted) with the true singular values of \
            the same ΔW = s·P·Λ·Q (computed here once for the check, by SVDs of the thin factors), averaged over the \
            matrices: 0 means Λ holds exactly ΔW's singular values. \(outcome), at this scale. What the penalty \
            buys is that the allocator's λ mean what they say; whether the score needs that depends on how much the \
            pruning relies on it.
            """)
        return cost
    }

    /// The relative gap between the kept s·|λ_i| (sorted) and the top singular values of ΔW, mean
    /// over the matrices with a kept triplet.
    func singularValueGap(_ tuner: AdaLoraModel) -> Double {
        var gaps: [Double] = []
        for (_, layer) in tuner.adapters {
            let lambda = layer.loraE.array.map { abs(Double($0) * Double(layer.scaling)) }.filter { $0 > 0 }
                .sorted(by: >)
            guard !lambda.isEmpty else { continue }
            let sigma = Array(singularValues(layer).prefix(lambda.count))
            let difference = zip(sigma, lambda).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            let size = sigma.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            if size > 0 { gaps.append(difference / size) }
        }
        return gaps.isEmpty ? .nan : gaps.reduce(0, +) / Double(gaps.count)
    }

    /// What finding ΔW's singular values by SVD costs: one full SVD of an [out, in] update per shape
    /// (timed), the estimate for all adapted matrices, the SVD from the thin factors for all of them
    /// (timed), and the largest relative difference between the two ways on the timed matrices.
    func svdCost(_ tuner: AdaLoraModel) -> SVDCost {
        var cost = SVDCost()
        var timed: [String: Double] = [:]
        let thinStart = Date()
        let thin = tuner.adapters.map { singularValues($0.layer) }
        cost.thinSeconds = Date().timeIntervalSince(thinStart)
        for ((_, layer), small) in zip(tuner.adapters, thin) {
            let shape = "[\(layer.outFeatures), \(layer.inFeatures)]"
            if timed[shape] == nil {
                let delta = layer.delta()                                                  // [out, in]
                let start = Date()
                let full = SVD(delta.array, rows: layer.outFeatures, columns: layer.inFeatures).s
                timed[shape] = Date().timeIntervalSince(start)
                cost.measured.append((shape, timed[shape] ?? 0))
                let top = full.first ?? 0
                for (a, b) in zip(full, small) where top > 0 {
                    cost.largestDifference = max(cost.largestDifference, abs(a - b) / top)
                }
            }
            cost.fullSecondsEstimate += timed[shape] ?? 0
        }
        return cost
    }
}

/// What section 8 reports about SVDs (see `svdCost`).
struct SVDCost {
    var measured: [(shape: String, seconds: Double)] = []
    var fullSecondsEstimate = 0.0
    var thinSeconds = 0.0
    var largestDifference = 0.0
}

/// The singular values of ΔW = s·B·(A⊙E) from its thin factors, largest first: SVDs of B [out, r]
/// and of C = (A⊙E)ᵀ [in, r], then of the r×r core K = S_B·V_Bᵀ·V_C·S_C, since
/// ΔW = s·U_B·K·U_Cᵀ with U_B and U_C orthonormal. No [out, in] matrix is formed.
func singularValues(_ layer: AdaLoraLinear) -> [Double] {
    let (r, outF, inF) = (layer.r, layer.outFeatures, layer.inFeatures)
    guard r > 0 else { return [] }
    let b = SVD(layer.loraB.array, rows: outF, columns: r)                                 // B = U_B·S_B·V_Bᵀ
    var c = [Float](repeating: 0, count: inF * r)                                          // C [in, r]
    for i in 0..<r { for j in 0..<inF { c[j * r + i] = layer.loraA.data[i * inF + j] * layer.loraE.data[i] } }
    let a = SVD(c, rows: inF, columns: r)                                                  // C = U_C·S_C·V_Cᵀ
    var core = [Float](repeating: 0, count: r * r)                                         // K [r, r]
    for p in 0..<r {
        for q in 0..<r {
            var dot = 0.0
            for i in 0..<r { dot += b.vt[p * r + i] * a.vt[q * r + i] }
            core[p * r + q] = Float(b.s[p] * dot * a.s[q])
        }
    }
    return SVD(core, rows: r, columns: r).s.map { $0 * Double(layer.scaling) }
}
