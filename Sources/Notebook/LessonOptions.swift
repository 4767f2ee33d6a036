// LessonOptions.swift — the flags every lesson shares.

import ArgumentParser
import Corpus
import Foundation

public struct LessonOptions: ParsableArguments {
    @Flag(help: "A tiny configuration that finishes in seconds (used by the tests).")
    public var quick = false

    @Option(help: "Seed of every random choice in the lesson (data order, initialisation, splits).")
    public var seed: UInt64 = 0

    @Option(help: "Training steps per run (default: the lesson's own).")
    public var steps: Int?

    @Option(help: "Where the report and figures go (default: Figures/<lesson>).")
    public var out: String?

    @Option(help: "Base model preset: tiny (~0.1M), small (~1M, default), medium (~5M), quick (the tests').")
    public var base: String?

    @Flag(help: "Pretrain the base model again instead of using the cached one.")
    public var rebuildBase = false

    public init() {}

    /// The output folder for `lesson`.
    public func folder(for lesson: String) -> URL {
        if let out { return URL(fileURLWithPath: out) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Figures/\(lesson)")
    }

    /// The base preset: `--base`, else quick for `--quick`, else small.
    public func basePreset() throws -> BasePreset {
        try BasePreset.named(base ?? (quick ? "quick" : "small"))
    }

    /// `count` seeds starting at `--seed` (`quickCount` with `--quick`).
    public func seedList(_ count: Int?, default full: Int, quick quickCount: Int = 1) -> [UInt64] {
        (0..<(count ?? (quick ? quickCount : full))).map { seed &+ UInt64($0) }
    }

    /// The split sizes for this run, with at most `trainLimit` training examples.
    public func splitSizes(trainLimit: Int) -> SplitSizes {
        var sizes = quick ? SplitSizes.quick : SplitSizes.full
        sizes.train = min(sizes.train, trainLimit)
        return sizes
    }

    /// `--steps` if given, else `full` or (with `--quick`) `quick`.
    public func steps(full: Int, quick quickSteps: Int) -> Int { steps ?? (quick ? quickSteps : full) }
}
