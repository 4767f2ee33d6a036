// Claims.swift — lesson-prompt-tuning, sections 2–4: Lester et al.'s claims on prompt tuning, one
// by one: the gap to full fine-tuning as the base grows, the initialisation, the prompt length.

import Corpus
import Foundation
import Notebook
import PEFT
import TensorKit

// MARK: - Section 2: scale

/// Per seed and item, `a` − `b`: the gap as the bootstrap reads it.
func gapScores(_ e: Experiment, _ a: MethodResult, _ b: MethodResult) -> ItemScores {
    let rows = zip(a.runs, b.runs).map { zip($0.itemScores, $1.itemScores).map { $0 - $1 } }
    return ItemScores(seeds: rows, entityNames: e.task.test.map(\.entity))
}

extension LessonPromptTuning {
    func scaleSection(_ nb: Notebook, main: Experiment, mainPrompt: MethodResult, mainFull: MethodResult,
                      seeds: [UInt64]) throws {
        let names = (sizes ?? (options.quick ? main.base.name : "tiny,small,medium"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        nb.section("Does the gap close as the base grows?", """
            Lester et al.'s Figure 1: on SuperGLUE, prompt tuning trails model tuning (full fine-tuning) badly at \
            T5-Small and T5-Base and matches it at T5-XXL, 11 billion parameters — the tutorial's 「随着模型大小的增加\
            ，Prompt Tuning的性能也会提升」 (S1.7). Here: prompt tuning (n = \(virtualTokens), sampled-vocabulary \
            start) and full fine-tuning on \(main.task.name) on bases of \(names.joined(separator: ", ")), each at \
            its own tuned learning rate, \(seeds.count) seed(s) of \(main.steps) steps (the \(main.base.name) \
            base's runs are section 1's). A base not in the cache is pretrained first, \
            once, and then cached beside the default one; the table's pretraining column says how long that took \
            (the medium base, about 5M parameters and 1,800 steps, takes several times as long as the small one).
            """)
        var rows: [(name: String, base: BaseModel, e: Experiment, prompt: MethodResult, full: MethodResult)] = []
        for name in names {
            if name == main.base.name {
                rows.append((name, main.base, main, mainPrompt.firstSeeds(seeds.count),
                             mainFull.firstSeeds(seeds.count)))
                continue
            }
            var o = lessonOptions
            o.base = name
            let e = try Experiment.start(Self.lesson, options: o, task: main.task.name, trainLimit: 256,
                                         steps: (main.steps, main.steps))
            e.borrowsTuningFrom = main.borrowsTuningFrom
            let lineup = PromptLineup(base: e.base, task: e.task, n: virtualTokens)
            let pair = try e.run([lineup.promptTuning(), lineup.full], seeds: seeds, keep: 0)
            let (p, f) = (pair[0], pair[1])
            rows.append((name, e.base, e, p, f))
        }
        rows.sort { $0.base.model.parameterCount < $1.base.model.parameterCount }
        var table = Table(["base", "parameters", "pretraining", "held-out loss", "prompt tuning", "lr",
                           "full fine-tuning", "lr", "prompt − full", "prompt's share"])
        for r in rows {
            let c = r.base.model.config
            let made = "\(formatDuration(r.base.pretrainingSeconds)) "
                + (r.base.pretrainedThisRun ? "(this run)" : "(cached)")
            table.add(["\(r.name) (\(c.numHiddenLayers) × \(c.hiddenSize))", formatCount(r.base.model.parameterCount),
                       made, String(format: "%.3f", r.base.heldOutLoss),
                       r.e.interval(r.prompt).text(), shortRate(r.prompt.learningRate), r.e.interval(r.full).text(),
                       shortRate(r.full.learningRate), r.e.compare(r.prompt, r.full).text,
                       String(format: "%.3f%%", 100 * r.prompt.trainableShare)])
        }
        nb.table(table)
        let losses = rows.map { "\($0.name) \(String(format: "%.3f", $0.base.heldOutLoss))" }
        var lossText = "Held-out pretraining loss by base: \(losses.joined(separator: ", "))."
        if rows.count >= 2 {
            let big = rows[rows.count - 1], next = rows[rows.count - 2]
            if big.base.heldOutLoss > 0.98 * next.base.heldOutLoss {
                lossText += " The \(big.name) base reads the corpus no better than the \(next.name) one: the embedded "
                    + "corpus is generated from a small world, and the \(next.name) base already nearly reaches the "
                    + "loss its text allows. A bigger base here is wider and deeper, not better read, unlike T5's "
                    + "sizes."
            }
        }
        nb.say(lossText)
        func series(_ name: String, _ pick: (MethodResult, MethodResult) -> MethodResult) -> Figure.Series {
            let intervals = rows.map { $0.e.interval(pick($0.prompt, $0.full)) }
            return .init(name, zip(rows, intervals).map { (Double($0.base.model.parameterCount), $1.estimate) },
                         intervals: intervals.map { ($0.low, $0.high) })
        }
        var figure = Figure(name: "scale",
                            title: "Prompt tuning against full fine-tuning as the base grows (\(main.task.name))",
                            xLabel: "base parameters (log scale)", yLabel: "test \(main.task.metricName) (95% CI)",
                            kind: .lines([series("prompt tuning") { p, _ in p },
                                          series("full fine-tuning") { _, f in f }]))
        figure.logX = true
        figure.references = main.baselineReferences
        nb.figure(figure)
        guard rows.count >= 2, let first = rows.first, let last = rows.last else {
            nb.say("With one base size there is no trend to read; the full run uses tiny, small and medium.")
            return
        }
        let change = main.bootstrap.compare(gapScores(last.e, last.prompt, last.full),
                                            gapScores(first.e, first.prompt, first.full))
        let size = Double(last.base.model.parameterCount)
        // The tutorial's reading of Figure 1 is about prompt tuning's own score, not the gap.
        let promptScores = rows.map { "\($0.name) \(String(format: "%.3f", $0.prompt.meanScore))" }
        let promptGain = main.compare(last.prompt, first.prompt)
        let tutorial = promptGain.verdict == .better ? "holds here"
            : promptGain.verdict == .worse ? "is reversed here" : "cannot be told from noise here"
        nb.say("Prompt tuning's own score by base: \(promptScores.joined(separator: ", ")); \(last.name) − "
            + "\(first.name) \(promptGain.text), paired over the same test items and seeds. The tutorial's reading "
            + "of the figure, 「随着模型大小的增加，Prompt Tuning的性能也会提升」 (its score rises with the model), \(tutorial). "
            + "Lester et al.'s claim is stronger: that the gap to full fine-tuning closes.")
        let gaps = rows.map { "\($0.name) \($0.e.compare($0.prompt, $0.full).difference.text(signed: true))" }
        let trend: String
        switch change.verdict {
        case .better where first.e.compare(first.prompt, first.full).verdict != .worse:
            trend = "Prompt tuning gains relative to full fine-tuning from the \(first.name) base to the \(last.name) "
                + "one (\(change.text))."
        case .better:
            let lastGap = last.e.compare(last.prompt, last.full)
            trend = "The gap is smaller on the \(last.name) base than on the \(first.name) one (\(change.text)): "
                + "the direction Lester et al. report"
                + (lastGap.verdict == .worse ? ", though prompt tuning still trails there."
                   : ", and there it has closed.")
        case .worse:
            trend = "The gap is larger on the \(last.name) base than on the \(first.name) one (\(change.text)): "
                + "at these sizes the trend of Lester et al. does not appear; full fine-tuning gains more from the "
                + "bigger base."
        case .withinNoise:
            trend = "The gap on the \(last.name) base and on the \(first.name) one cannot be told apart "
            + "(\(change.text)): no trend at this scale."
        }
        nb.say("Prompt tuning − full fine-tuning: \(gaps.joined(separator: "; ")). \(trend) The largest base here is "
            + "\(formatCount(last.base.model.parameterCount)) parameters, about \(formatCount(Int(11e9 / size))) times "
            + "smaller than T5-XXL (11 billion), where Lester et al. see the gap close; the claim is about a range "
            + "this lesson cannot reach"
            + (rows.allSatisfy({ $0.e.compare($0.prompt, $0.full).verdict == .worse })
               ? ", and what it shows is the small-model end of their Figure 1, where prompt tuning trails."
               : "; prompt tuning does not trail full fine-tuning at every size here, which the paper's small models "
                 + "would not lead one to expect."))
    }

    // MARK: - Section 3: initialisation

    func initialisationSection(_ nb: Notebook, _ e: Experiment, _ lineup: PromptLineup, shared: MethodResult,
                               seeds: [UInt64]) throws {
        let labels = labelText(e.task), words = instruction(forTask: e.task.name)
        let labelKind = e.task.metric.isChoice ? "class labels"
            : "most common answer of each kind, the nearest thing to class labels a generation task has"
        let instructionText = instructionStart ? " or the instruction \"\(words)\""
            : "; `--instruction-start` adds a start from the task's instruction, \"\(words)\""
        nb.section("Where the prompt starts: random, sampled vocabulary, text", """
            Lester et al.'s Figure 3(b): at small scale, starting the prompt from the embeddings of the class labels \
            beats sampled vocabulary, which beats a random start; the differences vanish at XXL. PEFT offers the \
            three (`prompt_tuning_init`): RANDOM draws each value from N(0, 1), as torch.nn.Embedding does — vectors \
            about \(String(format: "%.0f", randomToVocabularyRatio(e.base)))× longer than this base's token \
            embeddings; SAMPLE_VOCAB copies rows of the embedding matrix for random token ids; TEXT copies the \
            embeddings of a text's tokens, repeated or cut to n. Here the text is "\(labels)" (the \
            \(labelKind))\(instructionText). On \(e.task.name), \(seeds.count) seed(s), each start at its own tuned \
            learning rate. PEFT's default is RANDOM; section 1's prompt tuning uses \
            SAMPLE_VOCAB, so a student who keeps PEFT's default gets the random row below.
            """)
        var methods = [lineup.promptTuning(initialisation: .random, label: "random"),
                       lineup.promptTuning(initialisation: .text, text: labels, label: "text: labels")]
        if instructionStart {
            methods.append(lineup.promptTuning(initialisation: .text, text: words, label: "text: instruction"))
        }
        let starts = try e.run(methods, seeds: seeds, keep: 2)
        let (random, labelRun) = (starts[0], starts[1])
        let instructionRun = starts.count > 2 ? starts[2] : nil
        let vocab = shared.firstSeeds(seeds.count)
        var vocabNamed = vocab
        vocabNamed.name = "sampled vocabulary"
        let results = [random, vocabNamed, labelRun] + (instructionRun.map { [$0] } ?? [])
        nb.table(e.scoreTable(results, against: vocabNamed))
        nb.figure(e.scoreFigure(name: "initialisation", title: "Prompt tuning by initialisation (\(e.task.name))",
                                results))
        let labelVsRandom = e.compare(labelRun, random), labelVsVocab = e.compare(labelRun, vocabNamed)
        let vocabVsRandom = e.compare(vocabNamed, random)
        let pairs = [labelVsVocab, vocabVsRandom, labelVsRandom]
            + (instructionRun.map { [e.compare($0, vocabNamed), e.compare($0, random), e.compare($0, labelRun)] } ?? [])
        let order = labelVsVocab.verdict != .worse && vocabVsRandom.verdict == .better
        nb.say("Lester et al.'s order, labels ≥ sampled vocabulary > random: labels − sampled \(labelVsVocab.text); "
            + "sampled − random \(vocabVsRandom.text); labels − random \(labelVsRandom.text). "
            + (order ? "The order holds here, at this scale."
               : pairs.allSatisfy({ $0.verdict == .withinNoise })
                 ? "The \(results.count) starts cannot be told apart here (every pair within noise): at this budget "
                    + "the start does not matter "
                    + "measurably (Lester et al.'s differences were large at T5-Small and vanished with size)."
                 : "The full order does not hold here; the intervals above say which parts do."))
        nb.say("""
            Are the trained vectors readable? For each start, one seed's prompt (the table names it): how far each \
            vector moved (cosine similarity between its start and its end) and whether its nearest token embedding (by \
            cosine) is \
            still the one it started nearest to. The tutorial says soft prompts 「不可读」, cannot be read (S1.5); \
            Lester et al. found the nearest neighbours of class-label-initialised prompts often stay the labels.
            """)
        var readable = [(random, lineup.promptTuning(initialisation: .random)), (vocabNamed, lineup.promptTuning()),
                        (labelRun, lineup.promptTuning(initialisation: .text, text: labels))]
        if let instructionRun {
            readable.append((instructionRun, lineup.promptTuning(initialisation: .text, text: words)))
        }
        nb.table(try readability(e, readable, seeds: seeds))
    }

    /// Per start: mean cosine between initial and trained vectors, the share whose nearest token is
    /// unchanged, and the first few nearest tokens after training.
    func readability(_ e: Experiment, _ runs: [(MethodResult, Method)], seeds: [UInt64]) throws -> Table {
        let table = e.base.model.embedTokens, tokenizer = e.base.tokenizer
        // The second seed when there is one: seed 0 also initialised the base's embedding table, so a seed-0
        // N(0, 1) prompt starts parallel to the never-trained byte tokens' rows.
        let index = min(1, seeds.count - 1), seed = seeds[index]
        var out = Table(["start (seed \(seed))", "cos(start, end)", "nearest token kept",
                         "nearest tokens after training (first 8)"])
        for (result, method) in runs {
            guard let trained = (index < result.tuners.count ? result.tuners[index] : result.tuners.first)
                    as? PromptLearningModel,
                  let end = trained.namedTrainableParameters.first?.tensor,
                  let start = (try method.prepare(seed) as? PromptLearningModel)?.namedTrainableParameters.first?.tensor
            else { continue }
            let n = end.shape[0], width = end.shape[1]
            var cosine = 0.0, kept = 0, shown: [String] = []
            for i in 0..<n {
                let a = Array(start.array[(i * width)..<((i + 1) * width)])
                let b = Array(end.array[(i * width)..<((i + 1) * width)])
                cosine += cos(a, b)
                let before = nearest(a, table), after = nearest(b, table)
                if before == after { kept += 1 }
                if shown.count < 8 { shown.append(tokenText(after, tokenizer)) }
            }
            out.add([result.name, String(format: "%.2f", cosine / Double(n)), "\(kept) of \(n)",
                     shown.joined(separator: " ")])
        }
        return out
    }

    // MARK: - Section 4: length

    func lengthSection(_ nb: Notebook, _ e: Experiment, _ lineup: PromptLineup, shared: MethodResult,
                       seeds: [UInt64]) throws {
        let list = lengths.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            .filter { $0 >= 1 && $0 < e.base.model.config.maxPositionEmbeddings / 2 }
        let listText = list.map(String.init).joined(separator: ", ")
        nb.section("How many virtual tokens?", """
            Lester et al.'s Figure 3(a): going beyond one token helps a lot, gains flatten around 20 tokens, and \
            beyond that the small models can even get worse. Prompt tuning with n = \(listText) \
            on \(e.task.name) (sampled-vocabulary start), \(seeds.count) seed(s) each, every length at the learning \
            rate tuned for n = \(virtualTokens) (\(shortRate(shared.learningRate)); Lester et al. too kept one set of \
            hyperparameters across lengths); n = \(virtualTokens) is section 1's run.
            """)
        var results: [(n: Int, result: MethodResult)] = []
        let others = list.filter { $0 != virtualTokens }
        let trained = try e.run(others.map {
            lineup.promptTuning(n: $0, label: "n = \($0)").fixed(at: options.quick ? nil : shared.learningRate)
        }, seeds: seeds, keep: 0)
        for n in list {
            if let i = others.firstIndex(of: n) {
                results.append((n, trained[i]))
            } else {
                var r = shared.firstSeeds(seeds.count)
                r.name = "n = \(n)"
                results.append((n, r))
            }
        }
        guard let best = results.max(by: { $0.result.meanScore < $1.result.meanScore }) else { return }
        var table = Table(["n", "trainable", "learning rate", "test \(e.task.metricName) [95% CI]",
                           "vs best (n = \(best.n))", "tokens/s"])
        for (n, r) in results {
            table.add(["\(n)", formatCount(r.trainableParameters), shortRate(r.learningRate), e.interval(r).text(),
                       n == best.n ? "—" : e.compare(r, best.result).text, formatCount(Int(r.tokensPerSecond))])
        }
        nb.table(table)
        var figure = Figure(name: "length",
                            title: "Prompt tuning against the number of virtual tokens (\(e.task.name))",
                            xLabel: "virtual tokens n (log scale)", yLabel: "test \(e.task.metricName) (95% CI)",
                            kind: .lines([e.scoreSeries("prompt tuning", results.map { (Double($0.n), $0.result) })]))
        figure.logX = true
        figure.references = e.baselineReferences
        nb.figure(figure)
        nb.say(lengthVerdict(e, results, best: best))
    }
}

/// What the length sweep supports: no effect, a rise that levels off, or a fall; and whether longer
/// prompts measurably cost throughput (beyond 10%, the timing noise of single runs here).
func lengthVerdict(_ e: Experiment, _ results: [(n: Int, result: MethodResult)],
                   best: (n: Int, result: MethodResult)) -> String {
    let tied = results.filter { $0.n == best.n || e.compare($0.result, best.result).verdict == .withinNoise }.map(\.n)
    let ordered = results.map(\.n)
    let below = ordered.filter { !tied.contains($0) }
    var text = "The best mean is n = \(best.n)'s; lengths within noise of it: "
        + "\(tied.map(String.init).joined(separator: ", ")). "
    if below.isEmpty {
        text += "Every length is within noise of the best: no effect of the length can be read at this budget "
            + "(Lester et al.: gains up to about 20 tokens)."
    } else if below.allSatisfy({ $0 < (tied.min() ?? best.n) }) {
        let saturation = tied.min() ?? best.n
        let longer = tied.filter { $0 > saturation }.map(String.init)
        if longer.isEmpty {
            text += "Shorter prompts than n = \(saturation) score lower, and no longer one was tried: whether the "
                + "score levels off cannot be read here (Lester et al.: about 20)."
        } else {
            text += "Shorter prompts than n = \(saturation) score lower; longer ones (n = "
                + "\(longer.joined(separator: ", "))) cannot be told apart from it"
                + (best.n != saturation ? ", though n = \(best.n)'s mean is higher" : "")
                + ": as far as these intervals can tell, the score levels off by n = \(saturation) (Lester et al.: "
                + "about 20)."
        }
    } else if below.allSatisfy({ $0 > (tied.max() ?? best.n) }) {
        text += "Longer prompts than n = \(tied.max() ?? best.n) score lower: here the score falls with length, as "
            + "Lester et al. saw only for their smallest models beyond 20 tokens; with this budget a longer prompt has "
            + "more to learn in the same steps."
    } else if below.contains(where: { $0 < best.n }) && below.contains(where: { $0 > best.n })
                && below.allSatisfy({ $0 < (tied.min() ?? best.n) || $0 > (tied.max() ?? best.n) }) {
        text += "Lengths on both sides of the best score lower (\(below.map(String.init).joined(separator: ", "))): "
            + "a peak, not a plateau."
    } else {
        text += "Lengths within noise of the best and lengths below it alternate "
            + "(below: \(below.map(String.init).joined(separator: ", "))): no clean trend at this budget."
    }
    if let shortest = results.min(by: { $0.n < $1.n }), let longest = results.max(by: { $0.n < $1.n }),
       longest.n > shortest.n {
        let ratio = longest.result.tokensPerSecond / max(shortest.result.tokensPerSecond, 1)
        text += String(format: " Throughput at n = %d is %.2f× that at n = %d", longest.n, ratio, shortest.n)
            + (ratio < 1 / 1.1 ? ": every virtual token is one more position through every layer."
               : ", within the timing noise of single runs.")
    }
    return text
}

/// The text a TEXT initialisation starts from when it stands for the "class labels": the options
/// of a choice task, or, for a generation task, its most common training answer of each kind.
func labelText(_ task: TaskData) -> String {
    if case .choice(let options) = task.metric {
        return options.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
    var counts: [String: [String: Int]] = [:], kinds: [String] = []
    for e in task.train {
        if counts[e.kind] == nil { kinds.append(e.kind) }
        counts[e.kind, default: [:]][e.answer.trimmingCharacters(in: .whitespaces), default: 0] += 1
    }
    return kinds.compactMap { counts[$0]?.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key }.joined(separator: " ")
}

/// A token as the tables show it: quoted text, or ⟨eos⟩ / ⟨pad⟩ for the special tokens.
func tokenText(_ id: Int, _ tokenizer: Tokenizer) -> String {
    if id == tokenizer.eosId { return "⟨eos⟩" }
    if id == tokenizer.padId { return "⟨pad⟩" }
    let text = tokenizer.decode([id])
    if text.isEmpty || text.unicodeScalars.contains(where: { $0.value < 32 && $0 != "\n" || $0 == "\u{FFFD}" }) {
        return "⟨byte \(id)⟩"
    }
    return "'" + text.replacingOccurrences(of: "\n", with: "\\n") + "'"
}

/// The row of `table` [V, C] nearest to `v` by cosine.
func nearest(_ v: [Float], _ table: Tensor) -> Int {
    let width = table.shape[1]
    var best = 0, bestCosine = -Double.infinity
    for row in 0..<table.shape[0] {
        let c = cos(v, Array(UnsafeBufferPointer(start: table.data + row * width, count: width)))
        if c > bestCosine { bestCosine = c; best = row }
    }
    return best
}

/// Cosine similarity of two vectors.
func cos(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) { dot += Double(x * y); na += Double(x * x); nb += Double(y * y) }
    return dot / max((na * nb).squareRoot(), 1e-12)
}

/// How much longer an N(0, 1) vector is than the base's average token embedding.
func randomToVocabularyRatio(_ base: BaseModel) -> Double {
    let table = base.model.embedTokens, width = table.shape[1]
    var total = 0.0
    for row in 0..<table.shape[0] {
        var s = 0.0
        for j in 0..<width { let x = Double(table.data[row * width + j]); s += x * x }
        total += s.squareRoot()
    }
    return Double(width).squareRoot() / (total / Double(table.shape[0]))
}
