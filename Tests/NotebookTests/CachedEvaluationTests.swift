// Evaluation through the key/value cache against the full recompute it replaced: on the quick
// base and the qa task as the lessons draw it, the cached `generate` makes the same predictions,
// and `evaluate` the same per-item scores, for the plain base, LoRA, prompt tuning and prefix tuning.

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

    /// Rank classification scores one-token options from one prompt row, and computes logits only
    /// where it reads them: it must pick what a full forward of each (prompt + option) row picks,
    /// for one-token options, options of several tokens, and a mix.
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
            }
        }
    }
}
