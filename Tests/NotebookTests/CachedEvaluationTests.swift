// Evaluation through the key/value cache against the full recompute it replaced: on the quick
// base and the qa task as the lessons draw it, the cached `generate` makes the same predictions,
// and `evaluate` the same per-item scores, for the plain base, LoRA, prompt tuning and prefix tuning;
// multiple-choice options scored from one cached prompt get the totals of one row per option.

import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import Testing
import TensorKit

@Suite(.serialized) struct CachedEvaluationTests {
    let base: BaseModel
    let task: TaskData

    init() throws {
        base = try BaseModel.load(.quick, log: { _ in })
        // the lessons' split of qa (at most 256 training examples)
        task = try base.world.task("qa", sizes: SplitSizes(train: 256, validation: 200, test: 400), seed: 0)
    }

    /// Tuners whose adapters change the outputs: LoRA with B ≠ 0, a random prompt, a random prefix.
    func tuners() throws -> [(String, any Tuner)] {
        let context = TunerContext(generator: Generator(seed: 5))
        let lora = try LoraConfig(r: 4, loraAlpha: 8).makeTuner(wrapping: base.copy(), context: context)
        for tensor in lora.trainableParameters { for i in 0..<tensor.count { tensor.data[i] = 0.05 * sin(Float(i)) } }
        return [
            ("LoRA", lora),
            ("prompt tuning",
             try PromptTuningConfig(numVirtualTokens: 4).makeTuner(wrapping: base.copy(), context: context)),
            ("prefix tuning", try PrefixTuningConfig(numVirtualTokens: 4, prefixProjection: true, encoderHiddenSize: 16)
                .makeTuner(wrapping: base.copy(), context: context)),
        ]
    }

    @Test func cachedGenerationMakesTheSamePredictions() throws {
        guard case .exactMatch(let maxTokens) = task.metric else {
            Issue.record("qa is expected to be scored by exact match of a generated answer"); return
        }
        let prompts = task.test.map(\.prompt)
        let sources: [(String, any CausalLanguageModel)] = [("base", base.model)] + (try tuners()).map { ($0, $1) }
        for (name, source) in sources {
            let start = Date()
            let full = generate(prompts, maxTokens: maxTokens, tokenizer: base.tokenizer, logits: source.logits)
            let middle = Date()
            let cached = generate(prompts, maxTokens: maxTokens, tokenizer: base.tokenizer, model: source)
            let end = Date()
            print(String(format: "generate, %@, %d qa prompts: full recompute %.3f s, cached %.3f s", name,
                         prompts.count, middle.timeIntervalSince(start), end.timeIntervalSince(middle)))
            #expect(cached == full, "\(name): \(zip(cached, full).filter { $0 != $1 }.prefix(3))")
        }
    }

    @Test func evaluateScoresEveryItemAsBefore() throws {
        for (name, tuner) in try tuners() {
            let before = evaluate(task, on: task.test, tokenizer: base.tokenizer, logits: tuner.logits)
            let after = evaluate(task, on: task.test, tokenizer: base.tokenizer, model: tuner)
            #expect(after.perItem == before.perItem, "\(name)")
        }
    }

    /// Rank classification (`evaluate` through the cache, and through a logits function, where
    /// one-token options are scored from one prompt row) must pick what a full forward of each
    /// (prompt + option) row picks, for one-token options, options of several tokens, and a mix.
    @Test func rankClassificationPicksWhatPerOptionRowsPick() throws {
        let sentiment = try base.world.task("sentiment", sizes: SplitSizes(train: 16, validation: 16, test: 48),
                                            seed: 0)
        // The project's small vocabularies spell " positive" in several tokens; one-character options are one
        let first = sentiment.test[0].prompt, promptLength = base.tokenizer.promptIds(first).count
        let oneToken = [" p", " n", " a", " s", " t", " the"].filter {
            base.tokenizer.encode(prompt: first, continuation: $0, endOfText: false).ids.count == promptLength + 1
        }
        try #require(oneToken.count >= 2, "the one-token path must be exercised")
        let variants: [[String: String]] = [
            [" positive": oneToken[0], " negative": oneToken[1]],               // one token each
            [" positive": " positive", " negative": " negative"],               // several tokens
            [" positive": oneToken[0], " negative": " negative"],               // mixed
        ]
        for (name, tuner) in try tuners() {
            for map in variants {
                var task = sentiment
                task.test = sentiment.test.map { var e = $0; e.answer = map[e.answer]!; return e }
                let options = [map[" positive"]!, map[" negative"]!]
                task.metric = .choice(options: options)
                let scored = evaluate(task, on: task.test, tokenizer: base.tokenizer, model: tuner)
                let byRows = evaluate(task, on: task.test, tokenizer: base.tokenizer, logits: tuner.logits)
                let expected = task.test.map { e -> Double in
                    let totals = options.map { option -> Float in
                        let row = base.tokenizer.encode(prompt: e.prompt, continuation: option, endOfText: false)
                        let lp = withoutGrad {
                            logSoftmax(tuner.logits(TokenBatch(ids: row.ids, labels: row.labels, rows: 1)))
                        }                                                                // [1, T, V]
                        let v = lp.shape[2]
                        return row.labels.indices.dropFirst().filter { row.labels[$0] != -100 }
                            .reduce(Float(0)) { $0 + lp.data[($1 - 1) * v + row.labels[$1]] }
                    }
                    return options[totals[0] >= totals[1] ? 0 : 1] == e.answer ? 1 : 0
                }
                #expect(scored.perItem == expected, "\(name), options \(options)")
                #expect(byRows.perItem == expected, "\(name), options \(options), one row per option")
            }
        }
    }

    /// Options scored from one prefill of each prompt (the cache rewound between options) against
    /// one full-forward row per option: the same totals up to rounding, with two options, five, and
    /// options that merge with the prompt's last word (the prefill then stops before it).
    @Test func cachedOptionScoresEqualOneRowPerOption() throws {
        let sentiment = try base.world.task("sentiment", sizes: SplitSizes(train: 16, validation: 16, test: 40),
                                            seed: 0)
        let topic = try base.world.task("topic", sizes: SplitSizes(train: 16, validation: 16, test: 40), seed: 0)
        guard case .choice(let two) = sentiment.metric, case .choice(let five) = topic.metric else {
            Issue.record("sentiment and topic are expected to be choice tasks"); return
        }
        // The prompt ends inside a word that the options complete (" th" + "e", …): with the words
        // the tokenizer has merges for, the first option token glues onto the prompt's last one.
        let endings = [" th", " pos", " wa", " neg", " a", " s"]
        let completions = ["e", "ere", "is", "at", "itive", "as", "ative", "nd", "ll", "ome", "t", "y", "s"]
        func merges(_ ending: String, _ option: String) -> Bool {
            let prompt = sentiment.test[0].prompt + ending
            let row = base.tokenizer.encode(prompt: prompt, continuation: option, endOfText: false)
            return !row.ids.starts(with: base.tokenizer.promptIds(prompt))
        }
        let ending = try #require(endings.first { e in completions.contains { merges(e, $0) } },
                                  "some option must merge with the prompt's last word")
        let mergingOptions = Array(completions.filter { merges(ending, $0) }.prefix(2))
            + Array(completions.filter { !merges(ending, $0) }.prefix(1))
        let merged = sentiment.test.map { var e = $0; e.prompt += ending; return e }
        // Rows of one batch with different options: a one-token option beside long ones, in either order,
        // three options or none (a mixture of tasks has this), each example with its task id.
        let oneToken = try #require([" p", " n", " a", " s", " t"].first { option in
            let row = base.tokenizer.encode(prompt: sentiment.test[0].prompt, continuation: option, endOfText: false)
            return row.ids.count == base.tokenizer.promptIds(sentiment.test[0].prompt).count + 1
        })
        let lists = [[oneToken, " negative review"], [" positive", oneToken, " not at all"], [], [" neutral", " no"]]
        let mixed = sentiment.test.enumerated().map { i, e in var e = e; e.taskId = i % 2; return e }
        let optionsOf = { (e: Example) in lists[e.prompt.utf8.count % lists.count] }
        let cases: [(String, [Example], (Example) -> [String])] = [
            ("sentiment", sentiment.test, { _ in two }), ("topic", topic.test, { _ in five }),
            ("merged", merged, { _ in mergingOptions }), ("mixed", mixed, optionsOf),
        ]
        let mpt = try MultitaskPromptTuningConfig(numVirtualTokens: 4, numTasks: 2)
            .makeTuner(wrapping: base.copy(), context: TunerContext(generator: Generator(seed: 6)))
        let sources: [(String, any CausalLanguageModel)] = [("base", base.model)] + (try tuners()).map { ($0, $1) }
            + [("multitask prompt tuning", mpt)]
        for (name, source) in sources {
            for (taskName, examples, options) in cases {
                if name == "multitask prompt tuning" && taskName != "mixed" { continue }  // needs task ids
                let (rows, cached) = withoutGrad {
                    (optionScores(examples, options: options, tokenizer: base.tokenizer,
                                  logits: source.logits(_:at:), batchSize: 7),
                     optionScores(examples, options: options, tokenizer: base.tokenizer, model: source,
                                  batchSize: 9))
                }
                #expect(rows.count == examples.count && cached.count == examples.count)
                let worst = zip(rows, cached).map { a, b in
                    zip(a, b).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
                }.max() ?? 0
                #expect(worst < 1e-4, "\(name), \(taskName): largest relative difference \(worst)")
                #expect(zip(examples, zip(rows, cached)).allSatisfy { e, scores in
                    scores.0.count == options(e).count && scores.1.count == options(e).count
                }, "\(name), \(taskName): one score per option")
            }
        }
    }
}
