// Statistics.swift — from runs to verdicts: 95% bootstrap confidence intervals over test
// entities and seeds, and paired comparisons between methods that share test items.
//
// A score is a mean over test items and seeds. Items about the same entity (twelve questions
// about one person) are not independent, and neither are the seeds' noise and the test set's
// luck, so an interval resamples both: draw the entities with replacement, draw the seeds with
// replacement, take the mean; repeat; the 2.5th and 97.5th percentiles bound the mean.
// Two methods evaluated on the same items are compared pairwise: the same entities and seed
// indices are drawn for both, and the interval is the one of the difference. "Better" and
// "worse" mean that interval excludes 0; otherwise the difference is within the noise.

import Corpus
import Foundation
import TensorKit

/// Per-item results of one method: one row per seed, one column per item, and the entity each
/// item is about.
public struct ItemScores: Sendable {
    /// [seed][item].
    public var seeds: [[Double]]
    /// The entity index (0..<entityCount) of each item.
    public var entities: [Int]

    public init(seeds: [[Double]], entities: [Int]) {
        precondition(seeds.allSatisfy { $0.count == entities.count }, "every seed scores every item")
        self.seeds = seeds
        self.entities = entities
    }

    /// Items whose entities are given by name (the test examples' `entity`).
    public init(seeds: [[Double]], entityNames: [String]) {
        var index: [String: Int] = [:]
        self.init(seeds: seeds, entities: entityNames.map { name in
            if let i = index[name] { return i }
            index[name] = index.count
            return index.count - 1
        })
    }

    public var entityCount: Int { (entities.max() ?? -1) + 1 }
    /// The mean over seeds and items.
    public var mean: Double {
        seeds.map { $0.reduce(0, +) / Double(max($0.count, 1)) }.reduce(0, +) / Double(max(seeds.count, 1))
    }

    /// Per seed, the sum of item scores of each entity: [seed][entity].
    var entitySums: [[Double]] {
        seeds.map { row in
            var sums = [Double](repeating: 0, count: entityCount)
            for (item, e) in entities.enumerated() { sums[e] += row[item] }
            return sums
        }
    }
    /// Items per entity.
    var entitySizes: [Double] {
        var sizes = [Double](repeating: 0, count: entityCount)
        for e in entities { sizes[e] += 1 }
        return sizes
    }
}

/// An estimate with its 95% confidence interval.
public struct Interval: Sendable, Equatable {
    public var estimate: Double
    public var low: Double
    public var high: Double

    public init(estimate: Double, low: Double, high: Double) {
        self.estimate = estimate; self.low = low; self.high = high
    }

    /// "0.812 [0.790, 0.833]" (`digits` decimals; `signed` shows + for differences).
    public func text(_ digits: Int = 3, signed: Bool = false) -> String {
        let f = signed ? "%+.\(digits)f" : "%.\(digits)f"
        return String(format: "\(f) [\(f), \(f)]", estimate, low, high)
    }
    /// Half the width, for a symmetric error bar where one is needed.
    public var halfWidth: Double { (high - low) / 2 }
}

/// What an interval of a difference A − B supports.
public enum Verdict: String, Sendable {
    case better = "better", worse = "worse", withinNoise = "within noise"
}

/// A paired comparison of two methods on the same test items.
public struct Comparison: Sendable {
    /// The difference A − B with its 95% interval.
    public var difference: Interval
    /// Whether a larger value is the better one (a score) or the worse one (a loss).
    public var higherIsBetter = true
    public var verdict: Verdict {
        if difference.low > 0 { return higherIsBetter ? .better : .worse }
        if difference.high < 0 { return higherIsBetter ? .worse : .better }
        return .withinNoise
    }
    /// "better by +0.080 [+0.031, +0.129]" or "within noise (+0.012 [−0.020, +0.041])"; for a loss,
    /// "better by −0.910 […]" means lower.
    public var text: String {
        verdict == .withinNoise ? "within noise (\(difference.text(signed: true)))"
                                : "\(verdict.rawValue) by \(difference.text(signed: true))"
    }
}

/// The bootstrap, seeded so that the same runs give the same intervals.
public struct Bootstrap: Sendable {
    public var resamples = 2000
    public var seed: UInt64

    public init(seed: UInt64, resamples: Int = 2000) { self.seed = seed; self.resamples = resamples }

    /// The 95% interval of the mean of `scores`.
    public func interval(_ scores: ItemScores) -> Interval {
        let draws = resample(scores, nil)
        return Interval(estimate: scores.mean, low: quantile(draws, 0.025), high: quantile(draws, 0.975))
    }

    /// The 95% interval of mean(a) − mean(b), with the same entities and seed indices drawn for
    /// both (the items and entities must be the same; seeds are paired by index).
    public func difference(_ a: ItemScores, _ b: ItemScores) -> Interval {
        precondition(a.entities == b.entities, "a paired comparison needs the same test items")
        let draws = resample(a, b)
        return Interval(estimate: a.mean - b.mean, low: quantile(draws, 0.025), high: quantile(draws, 0.975))
    }

    /// A paired comparison of `a` against `b`; for losses, `higherIsBetter` is false.
    public func compare(_ a: ItemScores, _ b: ItemScores, higherIsBetter: Bool = true) -> Comparison {
        Comparison(difference: difference(a, b), higherIsBetter: higherIsBetter)
    }

    /// Bootstrap means of `a` (minus `b`'s on the same draw, when given). Seeds are drawn by index
    /// over the larger seed count of the two; the side with fewer seeds (a deterministic baseline
    /// has one) reuses its own modulo its count, so every seed of the other side is drawn.
    private func resample(_ a: ItemScores, _ b: ItemScores?) -> [Double] {
        let g = Generator(seed: seed)
        let sumsA = a.entitySums, sumsB = b?.entitySums, sizes = a.entitySizes
        let seedsA = a.seeds.count, seedsB = b?.seeds.count ?? 1
        let entities = sizes.count, seeds = max(seedsA, b == nil ? seedsA : seedsB)
        var out: [Double] = []
        out.reserveCapacity(resamples)
        var picked = [Int](repeating: 0, count: entities), seedDraws = [Int](repeating: 0, count: seeds)
        for _ in 0..<resamples {
            var items = 0.0
            for i in 0..<entities { picked[i] = g.int(below: entities); items += sizes[picked[i]] }
            for i in 0..<seeds { seedDraws[i] = g.int(below: seeds) }
            var total = 0.0
            for s in seedDraws {
                for e in picked { total += sumsA[s % seedsA][e] - (sumsB.map { $0[s % seedsB][e] } ?? 0) }
            }
            out.append(total / (items * Double(seeds)))
        }
        return out.sorted()
    }

    private func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }
}
