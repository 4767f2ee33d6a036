// ExperimentReport.swift — how an experiment's results appear in a notebook, the same in every
// lesson: scores with 95% intervals beside the chance and majority baselines, paired verdicts,
// where each learning rate came from, and forgetting at matched task score.

import Corpus
import Foundation
import TensorKit

extension Experiment {
    /// The base, the task, the test split's size and its baselines, in a few sentences.
    public func describeSetup(in nb: Notebook) {
        let c = base.model.config
        let b = baselines
        let which = base.isUserModel ? "your model from \(base.folder.path)" : "the cached '\(base.name)' model"
        let heldOutName = base.isUserModel ? "loss on the world's held-out text" : "held-out pretraining loss"
        let tokenizerNote = base.isUserModel ? " Its tokenizer: \(base.tokenizer.summary)." : ""
        let speedNote = oneAtATime || parallelThreads == 1
            ? " Runs train one at a time; tokens/s is a run's training speed on every core."
            : " Runs train side by side, one per thread, with the same numbers as one at a time; tokens/s is the "
                + "median over seeds of a run's training speed on its one thread beside another run (the last runs of "
                + "a batch also get any thread that is free; `--one-at-a-time` measures each run alone)."
        nb.say("""
            Base: \(which), \(formatCount(base.model.parameterCount)) parameters \
            (\(c.numHiddenLayers) layers of width \(c.hiddenSize)), \(heldOutName) \
            \(String(format: "%.3f", base.heldOutLoss)).\(tokenizerNote) Task \(task.name): \(task.summary); \
            \(task.train.count) training, \
            \(task.validation.count) validation and \(testDescription). Baselines on the test split: chance \
            \(String(format: "%.3f", b.chance)), always the most common training answer (majority) \
            \(String(format: "%.3f", b.majority))\(oneAnswerNote). \
            Each method runs \(seeds.count) seed(s) of \(steps) steps; \
            intervals are 95% bootstrap intervals over the test \
            \(Set(task.test.map(\.entity)).count < task.test.count ? "entities" : "items") \
            and the seeds.\(speedNote)
            """)
    }

    /// ", and always the split's own most common answer 0.555" where that scores above chance and
    /// majority (it is then the no-learning floor the verdicts quote), else nothing.
    var oneAnswerNote: String {
        guard showsOneAnswer else { return "" }
        return ", and always the split's own most common answer \(String(format: "%.3f", oneAnswerScore))"
    }

    /// Whether `oneAnswerScore` beats chance and majority: it is then the no-learning floor, and
    /// tables and figures show it beside them.
    public var showsOneAnswer: Bool { oneAnswerScore > max(baselines.chance, baselines.majority) + 1e-9 }

    /// Scores with their intervals, forgetting, cost and speed per method, and the baselines.
    /// With `reference`, a column of each method's paired difference to it.
    public func scoreTable(_ results: [MethodResult], against reference: MethodResult? = nil) -> Table {
        var headers = ["method", "trainable", "share", "learning rate", "test \(task.metricName) [95% CI]"]
        if let reference { headers.append("vs \(reference.name)") }
        headers += ["forgetting (Δ held-out loss)", "tokens/s"]
        var table = Table(headers)
        for r in results {
            var row = [r.name, formatCount(r.trainableParameters), String(format: "%.3f%%", 100 * r.trainableShare),
                       learningRateText(r), interval(r).text()]
            if let reference { row.append(r.name == reference.name ? "—" : compare(r, reference).text) }
            row += [r.runs.first?.log.losses.isEmpty == false ? forgetting(r).text(signed: true) : "—",
                    r.tokensPerSecond > 0 ? formatCount(Int(r.tokensPerSecond)) : "—"]
            table.add(row)
        }
        for row in baselineRows(columns: headers.count, scoreColumn: 4) { table.add(row) }
        return table
    }

    /// The baselines as rows of a score table of `columns` columns: the name first, the score in
    /// `scoreColumn`, "—" elsewhere. Chance and the training majority always; the test split's most
    /// common answer given every time where it scores higher (the no-learning floor verdicts quote).
    public func baselineRows(columns: Int, scoreColumn: Int) -> [[String]] {
        var scores = [("chance", baselines.chance), ("majority answer", baselines.majority)]
        if showsOneAnswer { scores.append(("most common test answer", oneAnswerScore)) }
        return scores.map { name, score in
            var row = [String](repeating: "—", count: columns)
            row[0] = name
            row[scoreColumn] = String(format: "%.3f", score)
            return row
        }
    }

    /// "2e-3 (tuned)" / "2e-3 (swept now)" / "2e-3 (fixed)" / "2e-3 (default)".
    func learningRateText(_ r: MethodResult) -> String {
        guard r.learningRate > 0 else { return "—" }
        let source: String
        switch r.learningRateSource {
        case .committed: source = "tuned"
        case .swept: source = "swept now"
        case .fixed: source = "fixed"
        case .untuned: source = "default"
        case .borrowed(let lesson): source = "tuned in \(lesson)"
        }
        return "\(shortRate(r.learningRate)) (\(source))"
    }

    /// A line of mean test scores with their 95% intervals, one point per (x, result): a score
    /// against rank, prompt length or any other setting.
    public func scoreSeries(_ name: String, _ points: [(x: Double, result: MethodResult)]) -> Figure.Series {
        let intervals = points.map { interval($0.result) }
        return .init(name, zip(points, intervals).map { ($0.x, $1.estimate) },
                     intervals: intervals.map { ($0.low, $0.high) })
    }

    /// Bars of the mean test score with 95% intervals, the baselines as dashed lines.
    public func scoreFigure(name: String, title: String, _ results: [MethodResult]) -> Figure {
        let intervals = results.map { interval($0) }
        var figure = Figure(name: name, title: title, yLabel: "test \(task.metricName) (95% CI)",
                            kind: .bars(categories: results.map(\.name),
                                        [.init(task.metricName, intervals.map(\.estimate),
                                               intervals: intervals.map { ($0.low, $0.high) })]))
        figure.references = baselineReferences
        figure.valueFormat = "%.3f"
        return figure
    }

    /// What the best single answer scores when given to every test item (its share of the test
    /// split): a model that learned nothing can reach it by always giving one answer. It can exceed
    /// `baselines.majority`, which gives the most common TRAINING answer (sentiment: 0.555 against 0.445).
    public var oneAnswerScore: Double {
        let answers = task.test.map(\.answer)
        let most = Dictionary(grouping: answers) { $0 }.values.map(\.count).max() ?? 0
        return Double(most) / Double(max(answers.count, 1))
    }

    /// The best test score a model can reach without learning the task: chance, the training
    /// majority, or the best single answer given every time (`oneAnswerScore`). A score is
    /// "learned" only where its interval clears this.
    public var scoreWithoutLearning: Double {
        max(baselines.chance, baselines.majority, oneAnswerScore)
    }

    /// `scoreWithoutLearning` in words, for a sentence that quotes it.
    public var scoreWithoutLearningMeaning: String {
        if showsOneAnswer {
            return "what always giving the test split's most common answer scores"
        }
        return baselines.chance >= baselines.majority ? "the chance baseline"
                                                      : "the majority baseline (always the most common training answer)"
    }

    /// "the no-learning floor (0.555, what always giving the test split's most common answer
    /// scores)": `scoreWithoutLearning` as a number and in words, for a verdict to quote.
    public var scoreWithoutLearningPhrase: String {
        "the no-learning floor (\(String(format: "%.3f", scoreWithoutLearning)), \(scoreWithoutLearningMeaning))"
    }

    /// Chance and majority as reference lines for score figures, and the test split's most common
    /// answer given every time where it scores higher (the no-learning floor the verdicts quote).
    public var baselineReferences: [Figure.Reference] {
        [.init("chance", y: baselines.chance), .init("majority", y: baselines.majority)]
            + (showsOneAnswer ? [.init("most common test answer", y: oneAnswerScore)] : [])
    }

    // MARK: Learning rates

    /// How each method's learning rate was chosen: a table of the choices and, when there were
    /// sweeps, the validation score against the learning rate.
    public func reportTuning(in nb: Notebook, figureName: String = "learning-rates") {
        if options.quick {
            nb.say("With --quick nothing is tuned: every method trains at its default learning rate, so the --quick "
                + "numbers only show that the code runs.")
            return
        }
        guard !tuned.isEmpty else { return }
        var table = Table(["method", "learning rates tried", "validation score at each", "chosen", "from"])
        for (name, record, source) in tuned {
            let choice = shortRate(record.learningRate) + (record.isAtEdge ? " (edge of the grid)" : "")
            table.add([name, record.sweep.map { shortRate($0.learningRate) }.joined(separator: ", "),
                       record.sweep.map { String(format: "%.3f", $0.validationScore) }.joined(separator: ", "), choice,
                       sourceText(source)])
        }
        nb.table(table)
        let series = tuned.map { name, record, _ in
            Figure.Series(name, record.sweep.map { (Double($0.learningRate), $0.validationScore) })
        }
        var figure = Figure(name: figureName, title: "Validation \(task.metricName) against the learning rate "
                                + "(\(tuningSeeds.count) seeds each)",
                            xLabel: "peak learning rate (log scale)", yLabel: "validation \(task.metricName)",
                            kind: .lines(series))
        figure.logX = true
        nb.figure(figure)
        let edges = tuned.filter { $0.record.isAtEdge }.map(\.name)
        if !edges.isEmpty {
            nb.say("At the edge of the grid for \(edges.joined(separator: ", ")): a wider sweep might find a better "
                + "rate; the comparison is fair only as far as the grid reaches.")
        }
    }

    /// Where a learning rate in the tuning table came from.
    func sourceText(_ source: LearningRateSource) -> String {
        switch source {
        case .committed: "tuning.json"
        case .borrowed(let lesson): "\(lesson)\(lesson.hasSuffix("s") ? "'" : "'s") tuning.json"
        case .swept, .fixed, .untuned: "this run"
        }
    }

    /// Validation score against forgetting across each method's sweep: methods compared at
    /// matched task score, not at one arbitrary learning rate. Nil without sweeps.
    public func forgettingFigure(name: String, title: String) -> Figure? {
        guard !options.quick, !tuned.isEmpty else { return nil }
        let base = Double(self.base.heldOutLoss)
        let series = tuned.map { name, record, _ in
            Figure.Series(name, record.sweep.map { ($0.heldOutLoss - base, $0.validationScore) })
        }
        var figure = Figure(name: name, title: title, xLabel: "forgetting: held-out pretraining loss − the base's",
                            yLabel: "validation \(task.metricName)", kind: .lines(series))
        figure.references = baselineReferences
        return figure
    }
}

extension MethodResult {
    /// The first seed's training loss, averaged over windows of a thirtieth of the run, as a line.
    public func lossSeries(steps: Int) -> Figure.Series {
        let window = max(1, steps / 30)
        return .init(name, y: curve(window: window), xStart: Double(window), xStep: Double(window))
    }
}

/// A learning rate as people write it: 0.002 → "2e-3", 0.0005 → "5e-4", 0.03 → "3e-2".
public func shortRate(_ rate: Float) -> String {
    var exponent = Int(log10(Double(rate)).rounded(.down))
    var mantissa = Double(rate) / pow(10, Double(exponent))
    if mantissa >= 9.9995 { mantissa /= 10; exponent += 1 }  // 1e-4 computed as 9.9999…e-5
    let m = abs(mantissa - mantissa.rounded()) < 1e-3 ? String(Int(mantissa.rounded()))
                                                      : String(format: "%.1f", mantissa)
    return "\(m)e\(exponent)"
}
