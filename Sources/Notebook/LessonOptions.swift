// LessonOptions.swift — the flags every lesson shares.

import ArgumentParser
import Corpus
import Foundation

public struct LessonOptions: ParsableArguments {
    @Flag(help: "A tiny configuration that finishes in seconds (used by the tests); learning rates are not tuned.")
    public var quick = false

    @Option(help: "Seed of every random choice in the lesson (data order, initialisation, bootstrap).")
    public var seed: UInt64 = 0

    @Option(help: "Seeds per method (default 5; 1 with --quick). Intervals need at least 2.")
    public var seeds: Int?

    @Option(help: "Training steps per run (default: the lesson's own).")
    public var steps: Int?

    @Flag(help: """
        Choose every method's learning rate again on the validation split (a sweep per method) and write \
        them to Lessons/<lesson>/tuning.json. Without it, the committed choices are used.
        """)
    public var tune = false

    @Flag(help: """
        Sweep only what Lessons/<lesson>/tuning.json lacks and add it: settings it has no record for, and, where a \
        record's chosen rate is the smallest or largest it tried, up to three rates beyond that edge.
        """)
    public var tuneMissing = false

    @Option(help: "Where the report and figures go (default: Figures/<lesson>).")
    public var out: String?

    @Option(help: """
        Base model: a preset, tiny (~0.1M), small (~1M, default), medium (~5M), quick (the tests'); or the path of a \
        Hugging Face LLaMA-architecture model folder (config.json, model.safetensors or shards, tokenizer.json), \
        used as it is.
        """)
    public var base: String?

    @Flag(help: "Pretrain the base model again instead of using the cached one.")
    public var rebuildBase = false

    @Flag(help: """
        Train one run at a time, each on every core, instead of several side by side (one per core): slower, with \
        the same scores; each run's tokens/s is then measured without a neighbour.
        """)
    public var oneAtATime = false

    public init() {}

    /// The package's root folder (where Package.swift is).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    /// The output folder for `lesson`.
    public func folder(for lesson: String) -> URL {
        if let out { return URL(fileURLWithPath: out) }
        return LessonOptions.packageRoot.appendingPathComponent("Figures/\(lesson)")
    }

    /// The base: `--base` (a preset's name, or a folder: a path with a "/" or an existing folder), else
    /// the quick preset for `--quick`, else small.
    public func baseChoice() throws -> BaseChoice {
        guard let base else { return .preset(try BasePreset.named(quick ? "quick" : "small")) }
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: base, isDirectory: &isFolder)
        if exists && isFolder.boolValue { return .folder(URL(fileURLWithPath: base)) }
        if BasePreset.all.contains(where: { $0.name == base }) { return .preset(try BasePreset.named(base)) }
        if base.contains("/") || exists {
            let presets = BasePreset.all.map(\.name).joined(separator: ", ")
            throw LessonError("--base \(base): no such model folder; give a folder with config.json, "
                              + "model.safetensors and tokenizer.json, or a preset (\(presets))")
        }
        return .preset(try BasePreset.named(base))
    }

    /// The evaluation seeds: `--seeds` of them (default 5, or `quickCount` with `--quick`) from `--seed` on.
    public func seedList(quick quickCount: Int = 1) -> [UInt64] {
        (0..<(seeds ?? (quick ? quickCount : 5))).map { seed &+ UInt64($0) }
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
