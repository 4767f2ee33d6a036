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
}
