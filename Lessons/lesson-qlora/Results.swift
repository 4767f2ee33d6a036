// Results.swift — what lesson-qlora's sections hand to its summary, each with the sentence its
// intervals support.

import Foundation
import Notebook

/// Reconstruction errors of every quantizer, block size and data set.
struct ReconstructionResults {
    struct Key: Hashable {
        var set: String
        var quantizer: String
        var block: Int
    }
    var sets: [String]
    /// MSE / mean x² with its 95% interval.
    var relative: [Key: Interval] = [:]
    /// Every element's squared error, blocks of 64 only (for paired comparisons).
    var squared: [Key: [Double]] = [:]

    init(sets: [String]) { self.sets = sets }

    /// Squared error of `a` minus that of `b` on data set `set`, blocks of 64, paired by element.
    func pair(_ set: String, _ a: String, _ b: String) -> Interval {
        guard let x = squared[Key(set: set, quantizer: a, block: 64)],
              let y = squared[Key(set: set, quantizer: b, block: 64)] else {
            return Interval(estimate: .nan, low: .nan, high: .nan)
        }
        return pairedDifference(x, y)
    }

    /// "NF4 < INT4 < FP4: the paper's order NF4 < FP4 < INT4 does not hold" for one data set:
    /// "<" where the paired interval excludes zero, "≈" where it does not.
    func orderSentence(for set: String) -> String {
        let names = ["NF4", "FP4", "INT4"].sorted {
            (relative[Key(set: set, quantizer: $0, block: 64)]?.estimate ?? .infinity)
                < (relative[Key(set: set, quantizer: $1, block: 64)]?.estimate ?? .infinity)
        }
        var order = names[0]
        for i in 1..<names.count {
            order += (pair(set, names[i - 1], names[i]).high < 0 ? " < " : " ≈ ") + names[i]
        }
        let holds = pair(set, "NF4", "FP4").high < 0 && pair(set, "FP4", "INT4").high < 0
        return "On \(set), blocks of 64, the errors rank \(order): the paper's order NF4 < FP4 < INT4 "
            + (holds ? "holds." : pair(set, "NF4", "FP4").high < 0 && pair(set, "NF4", "INT4").high < 0
               ? "holds for NF4 first, not for FP4 against INT4." : "does not hold.")
    }
}

/// The paired comparisons of the training section.
struct TrainingResults {
    var qloraVsLora: Comparison
    var allVsQV: Comparison
    var allVsFull: Comparison
    var qvVsFull: Comparison
    var loraVsFull: Comparison
}

/// QLoRA's time a step against LoRA's, in alternating pairs, for a few batch sizes.
struct SpeedResults {
    struct Row {
        var label: String
        var tokens: Int
        /// Seconds a step, one per block, in the order measured.
        var lora: [Double]
        var qlora: [Double]
        var dequantizationShare: Double
        /// QLoRA / LoRA, one per pair, ascending.
        var ratios: [Double] { zip(qlora, lora).map { $0 / $1 }.sorted() }
    }
    var rows: [Row]

    /// Whether the timings can resolve a slowdown of the dequantization's size: the half-width of
    /// the ratios' range against the share.
    var resolution: String {
        rows.map { row in
            let spread = ((row.ratios.last ?? 1) - (row.ratios.first ?? 1)) / 2
            let share = row.dequantizationShare
            return String(format: "With %@ the ratios spread ±%.1f%% around their middle, ", row.label, 100 * spread)
                + (spread > share ? String(format: "more than the %.1f%% to detect.", 100 * share)
                   : String(format: "less than the %.1f%% to detect.", 100 * share))
        }.joined(separator: " ")
    }

    /// A sign test over the pairs of each batch: slower or faster only when every pair agrees.
    var verdict: String {
        rows.map { row in
            let ratios = row.ratios, n = ratios.count
            let range = String(format: "median ratio %.3f, range %.3f–%.3f over %d alternating pairs", median(ratios),
                               ratios.first ?? 0, ratios.last ?? 0, n)
            let p = 2 / pow(2, Double(n)), chance = String(format: "%.2g", p)
            guard p < 0.05 else {
                return "With \(row.label), \(n) pairs are too few to tell (\(range))."
            }
            if let low = ratios.first, low > 1 {
                return "With \(row.label), a QLoRA step was slower than a LoRA step in every pair (\(range); all pairs "
                    + "on one side has probability \(chance) if neither is faster)."
            }
            if let high = ratios.last, high < 1 {
                return "With \(row.label), a QLoRA step was faster in every pair (\(range); probability \(chance) "
                    + "by chance)."
            }
            return "With \(row.label), the two cannot be told apart (\(range): the pairs disagree)."
        }.joined(separator: " ")
    }
}

/// The paged optimizer's run against AdamW's.
struct PagingResults {
    var stateBytes: Int
    var budget: Int
    var peakPagedState: Int
    var pageOuts: Int
    var identical: Bool
    var heapStep: Double
    var pagedStep: Double

    var sentence: String {
        let within = peakPagedState <= budget
        return "With a resident budget of \(formatBytes(budget)) for \(formatBytes(stateBytes)) of AdamW state, the "
            + "state's resident size after each step was at most \(formatBytes(peakPagedState)) ("
            + (within ? "within the budget"
               : "above the budget: one parameter's moments stay resident while it updates, and the kernel may map "
                 + "neighbouring pages of the file on a fault")
            + ", \(pageOuts) page-outs); a step took "
            + String(format: "%.2f× as long as with AdamW on the heap", pagedStep / max(heapStep, 1e-12))
            + ", and the adapter weights came out " + (identical ? "identical bit for bit." : "DIFFERENT (a bug).")
    }
}
