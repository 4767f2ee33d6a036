// Experiment.swift — what a lesson's comparisons share: one base, one task, the seeds, each
// method's learning rate chosen on the validation split, and the statistics that turn runs into
// verdicts. Every lesson runs its methods through here, so every lesson is fair the same way.

import Corpus
import Foundation
import Llama
import PEFT
import TensorKit
import Training

/// Where a method's learning rate came from.
public enum LearningRateSource: Sendable, Equatable {
    /// The committed tuning file (chosen earlier by `--tune`).
    case committed
    /// A sweep in this run (`--tune`, or a setting the file does not hold yet).
    case swept
    /// Fixed by the lesson or the user (`--lr`).
    case fixed
    /// `--quick`: the method's default, not tuned.
    case untuned
    /// Another lesson's committed tuning file, which holds the same setting (task, base, training
    /// examples, steps and method): its sweep is the one this lesson would run, seed for seed.
    case borrowed(lesson: String)
}

/// One seed's run on the test split.
public struct Run {
    public var seed: UInt64
    /// The test score of each test item.
    public var itemScores: [Double]
    /// The held-out pretraining loss of each held-out window after training.
    public var windowLosses: [Double]
    public var log: TrainingLog

    public var score: Double { itemScores.reduce(0, +) / Double(max(itemScores.count, 1)) }
    public var heldOutLoss: Double { windowLosses.reduce(0, +) / Double(max(windowLosses.count, 1)) }
}

/// What a method achieved over seeds.
public struct MethodResult {
    public var name: String
    public var runs: [Run] = []
    /// The trained tuners of the first seeds (as many as asked to keep).
    public var tuners: [any Tuner] = []
    public var learningRate: Float = 0
    public var learningRateSource = LearningRateSource.untuned
    public var trainableParameters = 0
    /// PEFT's share: trainable / all parameters (the adapter's included).
    public var trainableShare = 0.0

    public init(name: String) { self.name = name }

    /// Test scores as the bootstrap reads them.
    public func itemScores(entities: [String]) -> ItemScores {
        ItemScores(seeds: runs.map(\.itemScores), entityNames: entities)
    }
    /// Held-out losses as the bootstrap reads them (each window its own entity).
    public var heldOutScores: ItemScores {
        ItemScores(seeds: runs.map(\.windowLosses), entities: Array(0..<(runs.first?.windowLosses.count ?? 0)))
    }
    /// The same result with only its first `count` seeds (to pair it with a sweep that ran fewer).
    public func firstSeeds(_ count: Int) -> MethodResult {
        var c = self
        c.runs = Array(runs.prefix(count))
        return c
    }
    /// Mean test score over seeds and items.
    public var meanScore: Double { runs.map(\.score).reduce(0, +) / Double(max(runs.count, 1)) }
    /// Mean held-out loss over seeds.
    public var meanHeldOutLoss: Double { runs.map(\.heldOutLoss).reduce(0, +) / Double(max(runs.count, 1)) }
    /// The training-loss curve of the first seed, averaged over windows of `window` steps.
    public func curve(window: Int) -> [Double] { runs.first?.log.smoothed(window) ?? [] }
    /// Mean training time of a run.
    public var seconds: Double { runs.map(\.log.seconds).reduce(0, +) / Double(max(runs.count, 1)) }
    /// Median training throughput over seeds: a batch's last runs can be helped by a thread that is
    /// free (side by side), which one fast seed must not pull into the figure.
    public var tokensPerSecond: Double { runs.isEmpty ? 0 : median(runs.map(\.log.tokensPerSecond)) }
}

public final class Experiment {
    public let lesson: String
    public let base: BaseModel
    public let task: TaskData
    public let options: LessonOptions
    /// The evaluation seeds.
    public let seeds: [UInt64]
    /// Training steps of a run (a method may ask for others).
    public let steps: Int
    public let batchSize = 16
    /// Whether runs train one after another instead of side by side: `--one-at-a-time`, or a base the
    /// user brought (it may be large, and every run side by side holds its own copy).
    public var oneAtATime: Bool { options.oneAtATime || base.isUserModel }
    /// Seeds of the learning-rate sweeps (not the evaluation seeds).
    public var tuningSeeds: [UInt64] { [options.seed &+ 1000, options.seed &+ 1001] }
    public let bootstrap: Bootstrap
    private let tuning: TuningStore
    /// Lessons whose committed tuning files may hold this experiment's settings: a setting found
    /// there is not swept again (the sweep's seeds and data are the same, so it would give the same
    /// record). Only with neither `--tune` nor `--quick`.
    public var borrowsTuningFrom: [String] = []
    /// The methods tuned or looked up so far, for the report: (name, key, record, source).
    public private(set) var tuned: [(name: String, record: TuningRecord, source: LearningRateSource)] = []
    let encodedTrain: [EncodedExample]
    /// The task id the held-out pretraining windows are read as (forgetting): the first training
    /// example's, when the task's examples carry one (multitask prompts need a task per row).
    public var heldOutTaskId: Int? { task.train.first?.taskId }

    public init(lesson: String, options: LessonOptions, base: BaseModel, task: TaskData, steps: Int) {
        self.lesson = lesson
        self.options = options
        self.base = base
        self.task = task
        self.steps = steps
        self.seeds = options.seedList()
        self.bootstrap = Bootstrap(seed: options.seed &+ 0xB007)
        self.tuning = TuningStore.forLesson(lesson, fresh: options.tune)
        self.encodedTrain = task.train.map { base.tokenizer.encode($0) }
    }

    /// Loads (or pretrains) the lesson's base and draws the task's splits: what every lesson
    /// does first. `trainLimit` caps the training examples, `testLimit` the test items (evaluation
    /// can cost as much as training: five options of several tokens are five rows); `steps` are (full, --quick).
    public static func start(_ lesson: String, options: LessonOptions, task name: String, trainLimit: Int,
                             testLimit: Int? = nil, steps: (full: Int, quick: Int)) throws -> Experiment {
        let base = try BaseModel.load(try options.baseChoice(), rebuild: options.rebuildBase)
        var sizes = options.splitSizes(trainLimit: trainLimit)
        if let testLimit { sizes.test = min(sizes.test, testLimit) }
        let task = try base.world.task(name, sizes: sizes, seed: options.seed)
        return Experiment(lesson: lesson, options: options, base: base, task: task,
                          steps: options.steps(full: steps.full, quick: steps.quick))
    }

    /// The one batch every memory measurement uses: the first 16 training examples.
    public var probeBatch: TokenBatch {
        TokenBatch(padding: Array(encodedTrain.prefix(16)), padId: base.tokenizer.padId)
    }

    /// Chance and majority-class baselines on the test split.
    public var baselines: Baselines { task.baselines }
    /// "test: 168 questions about 14 people" style description of the test split.
    public var testDescription: String {
        let entities = Set(task.test.map(\.entity)).count
        return entities < task.test.count ? "\(task.test.count) test items about \(entities) entities"
                                          : "\(task.test.count) test items"
    }

    // MARK: Learning rates

    func tuningKey(_ method: Method, steps: Int) -> String {
        "\(task.name) · \(base.name) base · \(task.train.count) examples · \(steps) steps · \(method.key)"
    }

    /// The learning rate `method` trains with, and where it came from.
    public func learningRate(for method: Method,
                             steps: Int? = nil) throws -> (rate: Float, source: LearningRateSource) {
        if let fixed = method.fixedLearningRate { return (fixed, .fixed) }
        if options.quick { return (method.defaultLearningRate, .untuned) }
        let steps = steps ?? self.steps
        let key = tuningKey(method, steps: steps)
        if var record = tuning[key] {  // committed, or swept earlier in this --tune run
            let source: LearningRateSource = options.tune ? .swept : .committed
            if options.tuneMissing, let wider = try widened(method, record, steps: steps) {
                record = wider
                tuning[key] = record
                try tuning.save()
            }
            note(method.name, record, source)
            return (record.learningRate, source)
        }
        if !options.tune, let (lesson, record) = TuningStore.committed(key, in: borrowsTuningFrom) {
            note(method.name, record, .borrowed(lesson: lesson))
            return (record.learningRate, .borrowed(lesson: lesson))
        }
        var record = try sweep(method, steps: steps)
        if options.tune || options.tuneMissing, let wider = try widened(method, record, steps: steps) {
            record = wider  // a fresh sweep whose best rate is at its edge is widened at once
        }
        tuning[key] = record
        note(method.name, record, .swept)
        if options.tune || options.tuneMissing { try tuning.save() }
        return (record.learningRate, .swept)
    }

    private func note(_ name: String, _ record: TuningRecord, _ source: LearningRateSource) {
        if !tuned.contains(where: { $0.name == name }) { tuned.append((name, record, source)) }
    }

    /// Every learning rate of `method` on the tuning seeds, scored on the validation split.
    func sweep(_ method: Method, steps: Int) throws -> TuningRecord {
        let points = try sweepPoints(method, rates: method.learningRates, steps: steps)
        return TuningRecord(learningRate: TuningRecord.best(points).learningRate, seeds: tuningSeeds, sweep: points)
    }

    /// Each rate on the tuning seeds, every (rate, seed) run side by side: validation score and
    /// loss, held-out loss (means over the seeds, summed in seed order).
    func sweepPoints(_ method: Method, rates: [Float], steps: Int) throws -> [SweepPoint] {
        let jobs = rates.flatMap { rate in tuningSeeds.map { (rate: rate, seed: $0) } }
        let labels = jobs.map { "lr \($0.rate) · seed \($0.seed)" }
        let measured = try sideBySide("tuning \(method.name)", labels: labels,
                                      oneAtATime: oneAtATime) { j in
            let (rate, seed) = jobs[j]
            let label = "tuning \(method.name) · lr \(rate) · seed \(seed)"
            let (tuner, log) = try train(method, rate: rate, seed: seed, steps: steps, label: label)
            let score = evaluate(task, on: task.validation, tokenizer: base.tokenizer, model: tuner).value
            let loss = answerLoss(tuner, task.validation, tokenizer: base.tokenizer)
            let heldOut = Double(languageModelLoss(tuner.logits, stream: base.heldOut, taskId: heldOutTaskId))
            return (result: (score: score, loss: loss, heldOut: heldOut), log: log)
        }
        let n = tuningSeeds.count
        return rates.indices.map { r in
            var score = 0.0, loss = 0.0, heldOut = 0.0
            for m in measured[r * n ..< (r + 1) * n] { score += m.score; loss += m.loss; heldOut += m.heldOut }
            return SweepPoint(learningRate: rates[r], validationScore: score / Double(n),
                              validationLoss: loss / Double(n), heldOutLoss: heldOut / Double(n))
        }
    }

    /// With `--tune-missing` (and after any sweep of `--tune`), a record whose chosen rate is the
    /// smallest or largest it tried gets the next rate beyond that edge (the grid's own spacing
    /// continued), and again, until the choice lies inside the sweep or three rates were added.
    /// Nil when nothing was added.
    func widened(_ method: Method, _ record: TuningRecord, steps: Int) throws -> TuningRecord? {
        var record = record, added = 0
        while added < 3, let rate = record.rateBeyondEdge {
            record.sweep += try sweepPoints(method, rates: [rate], steps: steps)
            record.sweep.sort { $0.learningRate < $1.learningRate }
            record.learningRate = TuningRecord.best(record.sweep).learningRate
            added += 1
        }
        return added > 0 ? record : nil
    }

    /// One training run; returns the trained tuner and its log.
    func train(_ method: Method, rate: Float, seed: UInt64, steps: Int,
               label: String) throws -> (tuner: any Tuner, log: TrainingLog) {
        let tuner = try method.prepare(seed)
        let settings = TrainingSettings(steps: steps, batchSize: batchSize, learningRate: rate, seed: seed)
        let log = try fineTune(tuner, label: label, optimizer: method.optimizer(tuner, rate), data: encodedTrain,
                               padId: base.tokenizer.padId, settings: settings)
        return (tuner, log)
    }

    // MARK: Runs

    /// Trains `method` for every seed at its chosen learning rate, scores every test item and
    /// measures forgetting; keeps the first `keep` trained tuners. The seeds run side by side.
    public func run(_ method: Method, steps: Int? = nil, seeds: [UInt64]? = nil, keep: Int = 1) throws -> MethodResult {
        try run([method], steps: steps, seeds: seeds, keep: keep)[0]
    }

    /// `run(_:steps:seeds:keep:)` for several methods at once: their learning rates are looked up
    /// (or swept) first, in order, then every (method, seed) run goes side by side with the others,
    /// which keeps every core busy to the end better than one method's seeds alone. The results are
    /// the same as running the methods one by one.
    public func run(_ methods: [Method], steps: Int? = nil, seeds: [UInt64]? = nil,
                    keep: Int = 1) throws -> [MethodResult] {
        try run(methods, steps: steps, seeds: seeds, keep: methods.map { _ in keep })
    }

    /// `run(_:steps:seeds:keep:)` for several methods, keeping `keep[m]` tuners of method `m`.
    public func run(_ methods: [Method], steps: Int? = nil, seeds: [UInt64]? = nil,
                    keep: [Int]) throws -> [MethodResult] {
        precondition(keep.count == methods.count, "one keep count per method")
        let steps = steps ?? self.steps, seeds = seeds ?? self.seeds
        var results: [MethodResult] = []
        for method in methods {
            let (rate, source) = try learningRate(for: method, steps: steps)
            var result = MethodResult(name: method.name)
            result.learningRate = rate
            result.learningRateSource = source
            results.append(result)
        }
        let rates = results.map(\.learningRate)
        let jobs = methods.indices.flatMap { m in seeds.indices.map { (method: m, seed: $0) } }
        let labels = jobs.map { "\(methods[$0.method].name)\(seeds.count > 1 ? " · seed \(seeds[$0.seed])" : "")" }
        let title = methods.count == 1 ? methods[0].name : "\(methods.count) methods"
        let outcomes = try sideBySide(title, labels: labels, oneAtATime: oneAtATime) { j in
            let (m, i) = jobs[j]
            let (tuner, log) = try train(methods[m], rate: rates[m], seed: seeds[i], steps: steps, label: labels[j])
            let score = evaluate(task, on: task.test, tokenizer: base.tokenizer, model: tuner)
            let losses = windowLosses(tuner.logits, stream: base.heldOut, taskId: heldOutTaskId)
            let run = Run(seed: seeds[i], itemScores: score.perItem, windowLosses: losses, log: log)
            // Only the kept tuners outlive their job (a model copy each).
            return (result: (run: run, kept: i < keep[m] ? tuner : nil, trainable: tuner.trainableCount,
                             share: tuner.trainableShare), log: log)
        }
        for (job, outcome) in zip(jobs, outcomes) {
            results[job.method].runs.append(outcome.run)
            if job.seed == 0 {
                results[job.method].trainableParameters = outcome.trainable
                results[job.method].trainableShare = outcome.share
            }
            if let tuner = outcome.kept { results[job.method].tuners.append(tuner) }
        }
        return results
    }

    /// The untrained base on the test split (one deterministic "seed").
    public func frozenBase() -> MethodResult {
        untrained("frozen base") { [base] in base.model($0.inputIds, batch: $0.batchSize) }
    }

    /// A method that trains nothing (the frozen base, the base steered by a written instruction),
    /// scored on the test split like any other: one deterministic "seed", forgetting measured
    /// through the same `logits`.
    public func untrained(_ name: String, logits: @escaping LogitsFunction) -> MethodResult {
        var r = MethodResult(name: name)
        let score = evaluate(task, on: task.test, tokenizer: base.tokenizer, logits: logits)
        r.runs = [Run(seed: 0, itemScores: score.perItem, windowLosses: windowLosses(logits, stream: base.heldOut),
                      log: TrainingLog(losses: [], seconds: 0, tokens: 0))]
        return r
    }

    // MARK: Statistics

    /// The mean test score with its 95% interval (entities and seeds resampled).
    public func interval(_ result: MethodResult) -> Interval {
        bootstrap.interval(result.itemScores(entities: task.test.map(\.entity)))
    }

    /// `a` against `b` on the same test items, paired by entity and seed.
    public func compare(_ a: MethodResult, _ b: MethodResult) -> Comparison {
        let entities = task.test.map(\.entity)
        return bootstrap.compare(a.itemScores(entities: entities), b.itemScores(entities: entities))
    }

    /// The held-out pretraining loss after training, with its 95% interval (windows and seeds).
    public func heldOutInterval(_ result: MethodResult) -> Interval { bootstrap.interval(result.heldOutScores) }

    /// The change in held-out loss against the base (forgetting), with its interval.
    public func forgetting(_ result: MethodResult) -> Interval {
        bootstrap.difference(result.heldOutScores, frozenHeldOut)
    }

    /// Whether `a` forgot less than `b` ("better": a lower held-out loss), paired by window and seed.
    public func compareForgetting(_ a: MethodResult, _ b: MethodResult) -> Comparison {
        bootstrap.compare(a.heldOutScores, b.heldOutScores, higherIsBetter: false)
    }

    private lazy var frozenHeldOut: ItemScores = {
        let logits: LogitsFunction = { [base] in base.model($0.inputIds, batch: $0.batchSize) }
        return ItemScores(seeds: [windowLosses(logits, stream: base.heldOut)], entities: Array(0..<base.heldOut.count))
    }()
}
