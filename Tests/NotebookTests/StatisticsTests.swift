// The statistics behind every verdict: bootstrap intervals over entities and seeds, paired
// comparisons, baselines, and the tuning file.

import Corpus
import Foundation
import Notebook
import Testing
import TensorKit

@Suite struct StatisticsTests {
    /// `n` entities with `per` items each, one row per seed, item scores drawn with probability p.
    func scores(p: Double, entities n: Int, per: Int, seeds: Int, seed: UInt64) -> ItemScores {
        let g = Generator(seed: seed)
        let rows = (0..<seeds).map { _ in (0..<(n * per)).map { _ in Double(g.uniform()) < p ? 1.0 : 0.0 } }
        return ItemScores(seeds: rows, entities: (0..<(n * per)).map { $0 / per })
    }

    @Test func intervalsAreReproducibleAndContainTheMean() {
        let s = scores(p: 0.7, entities: 20, per: 10, seeds: 5, seed: 1)
        let a = Bootstrap(seed: 9).interval(s), b = Bootstrap(seed: 9).interval(s)
        #expect(a == b)
        #expect(a.low < a.estimate && a.estimate < a.high)
        #expect(abs(a.estimate - 0.7) < 0.05)
        // a mean over 1,000 coin flips has a standard error near 0.0145: the 95% interval is about ±0.028
        #expect(a.high - a.low > 0.03 && a.high - a.low < 0.09)
    }

    @Test func entitiesWidenTheIntervalWhenTheirItemsAgree() {
        // Every item of an entity has the same score: 10 entities carry the information of 10 items, not 100.
        let g = Generator(seed: 3)
        let perEntity = (0..<10).map { _ in Double(g.uniform()) < 0.5 ? 1.0 : 0.0 }
        let row = (0..<100).map { perEntity[$0 / 10] }
        let clustered = Bootstrap(seed: 1).interval(ItemScores(seeds: [row], entities: (0..<100).map { $0 / 10 }))
        let naive = Bootstrap(seed: 1).interval(ItemScores(seeds: [row], entities: Array(0..<100)))
        #expect(clustered.high - clustered.low > 2 * (naive.high - naive.low))
    }

    @Test func pairedComparisonsGiveVerdictsTheIntervalsSupport() {
        let strong = scores(p: 0.9, entities: 30, per: 8, seeds: 5, seed: 4)
        let weak = scores(p: 0.5, entities: 30, per: 8, seeds: 5, seed: 5)
        let bootstrap = Bootstrap(seed: 2)
        #expect(bootstrap.compare(strong, weak).verdict == .better)
        #expect(bootstrap.compare(weak, strong).verdict == .worse)
        let same = bootstrap.compare(strong, strong)
        #expect(same.verdict == .withinNoise && same.difference.low == 0 && same.difference.high == 0)
        let close = bootstrap.compare(scores(p: 0.60, entities: 30, per: 8, seeds: 5, seed: 6),
                                      scores(p: 0.61, entities: 30, per: 8, seeds: 5, seed: 7))
        #expect(close.verdict == .withinNoise)
        // for a loss, lower is better
        #expect(bootstrap.compare(weak, strong, higherIsBetter: false).verdict == .better)
    }

    @Test func aDeterministicBaselineHasOneSeed() {
        let method = scores(p: 0.8, entities: 20, per: 5, seeds: 5, seed: 8)
        let base = ItemScores(seeds: [Array(repeating: 0.2, count: 100)], entities: method.entities)
        let c = Bootstrap(seed: 3).compare(method, base)
        #expect(c.verdict == .better && abs(c.difference.estimate - (method.mean - 0.2)) < 1e-12)
        // the other way round (the baseline first), every seed of the method is still drawn: the two
        // intervals mirror each other, and each contains its estimate
        let reversed = Bootstrap(seed: 3).compare(base, method)
        #expect(abs(reversed.difference.estimate + c.difference.estimate) < 1e-12)
        #expect(reversed.difference.low < reversed.difference.estimate
                    && reversed.difference.estimate < reversed.difference.high)
        #expect(abs(reversed.difference.low + c.difference.high) < 1e-9
                    && abs(reversed.difference.high + c.difference.low) < 1e-9)
    }

    @Test func baselinesOfTheTasks() throws {
        let world = World()
        let sentiment = try world.task("sentiment", sizes: .quick)
        #expect(sentiment.baselines.chance == 0.5)
        let positive = Double(sentiment.test.filter { $0.answer == " positive" }.count) / Double(sentiment.test.count)
        let trainPositive = sentiment.train.filter { $0.answer == " positive" }.count * 2 >= sentiment.train.count
        #expect(abs(sentiment.baselines.majority - (trainPositive ? positive : 1 - positive)) < 1e-12)
        let qa = try world.task("qa", sizes: .full)
        #expect(qa.test.count == 14 * 12 && Set(qa.test.map(\.entity)).count == 14)
        // chance: a uniform guess among the answers of the question's kind in the data
        #expect(qa.baselines.chance > 0.05 && qa.baselines.chance < 0.2)
        #expect(try world.task("data-to-text", sizes: .quick).baselines.chance == 0)
    }

    @Test func learningRatesAsPeopleWriteThem() {
        #expect(shortRate(0.002) == "2e-3" && shortRate(0.0005) == "5e-4" && shortRate(0.03) == "3e-2"
                && shortRate(1) == "1e0")
        #expect(shortRate(1e-4) == "1e-4" && shortRate(0.01) == "1e-2" && shortRate(3e-4) == "3e-4")
        // Floats just below a power of ten as Doubles (0.01, 0.1) keep their exponent
        #expect(shortRate(0.01) == "1e-2" && shortRate(0.1) == "1e-1")
        #expect(shortRate(0.3) == "3e-1" && shortRate(1e-4) == "1e-4")
        #expect(shortRate(0.01) == "1e-2" && shortRate(1e-3) == "1e-3" && shortRate(0.1) == "1e-1")  // not "10e-3"
    }
}
