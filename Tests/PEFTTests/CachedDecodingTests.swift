// Incremental decoding with a key/value cache against re-running the full forward: for every
// kind of method — LoRA, AdaLoRA, prompt tuning (prepended), prefix tuning with its projection
// (a key/value prefix), P-tuning (MLP and LSTM), LoRA on a 4-bit base, per-row prompts as
// multitask prompt tuning makes them — greedy decoding gives the same tokens, and the logits of
// every step agree within 1e-5, for rows of different lengths decoded in one batch.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

/// Prompts of four lengths, decoded together (right-padded in the prefill).
let ragged = [[1, 14, 27, 40], [1, 52, 8], [5], [3, 9, 11, 60, 2, 7]]

/// Decodes `prompts` greedily for `steps` tokens twice — the full forward of each row's sequence
/// so far at every step, as Notebook's `generate` did, and the cached decoder — feeding both the
/// tokens of the full forward. Returns the largest logit difference over all rows and steps, and
/// whether every greedy token agreed.
func compareWithFullForward(_ source: any CausalLanguageModel, prompts: [[Int]], steps: Int,
                            taskIds: [Int]? = nil) -> (maxDiff: Float, sameTokens: Bool) {
    withoutGrad {
        var rows = prompts, maxDiff: Float = 0, same = true
        let decoder = IncrementalDecoder(source, prompts: prompts, taskIds: taskIds, padId: 0,
                                         maxNewTokens: steps)
        for step in 0..<steps {
            let length = rows.map(\.count).max() ?? 0
            let padded = rows.map { $0 + [Int](repeating: 0, count: length - $0.count) }
            let full = source.logits(TokenBatch(inputIds: padded, taskIds: taskIds))   // [B, T, V]
            let v = full.shape[2]
            var next: [Int] = []
            for r in rows.indices {
                let at = full.data + (r * length + rows[r].count - 1) * v
                let reference = Array(UnsafeBufferPointer(start: at, count: v))
                let cached = Array(UnsafeBufferPointer(start: decoder.nextLogits.data + r * v, count: v))
                maxDiff = max(maxDiff, maxAbsDiff(cached, reference))
                let token = argmax(full, row: r, position: rows[r].count - 1)
                same = same && TokenSampler.greedy.next(decoder.nextLogits.data + r * v, count: v) == token
                next.append(token)
                rows[r].append(token)
            }
            if step < steps - 1 { decoder.append(next) }
        }
        return (maxDiff, same)
    }
}

/// A prompt encoder whose n prepended vectors depend on each row's task, as multitask prompt
/// tuning's do: row b gets table[taskIds[b]], [B, n, C].
final class PerTaskPrompt: PromptEncoder {
    let table: Tensor                                                                   // [tasks, n, C]
    init(tasks: Int, n: Int, width: Int) {
        table = .randn([tasks, n, width], std: 0.5, generator: Generator(seed: 41))
    }
    var placement: PromptPlacement { .prepended }
    var numVirtualTokens: Int { table.shape[1] }
    func prompt(for batch: TokenBatch) -> Tensor {
        let (n, w) = (table.shape[1], table.shape[2])
        let ids = batch.taskIds ?? [Int](repeating: 0, count: batch.batchSize)
        let out = Tensor(zeros: [batch.batchSize, n, w])
        for (b, task) in ids.enumerated() {
            (out.data + b * n * w).update(from: table.data + task * n * w, count: n * w)
        }
        return out
    }
    var namedParameters: [(name: String, tensor: Tensor)] { [("prompt_encoder.table", table)] }
    func savedTensors() throws -> [String: Tensor] { [:] }
}

@Suite struct CachedDecodingTests {
    func check(_ name: String, _ source: any CausalLanguageModel, prompts: [[Int]] = ragged, steps: Int = 12,
               taskIds: [Int]? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let (diff, same) = compareWithFullForward(source, prompts: prompts, steps: steps, taskIds: taskIds)
        print("cached decoding, \(name): \(prompts.count) rows, \(steps) steps, max |Δlogits| = \(diff)")
        #expect(same, "\(name): greedy tokens differ", sourceLocation: sourceLocation)
        #expect(diff < 1e-5, "\(name): logits differ by \(diff)", sourceLocation: sourceLocation)
    }

    @Test func plainModel() throws { check("base model", try Golden.base()) }

    @Test func lora() throws {
        check("LoRA", try AdapterFolder.load(from: Golden.folder("lora"), onto: try Golden.base()))
    }

    @Test func adaLora() throws {
        check("AdaLoRA", try AdapterFolder.load(from: Golden.folder("adalora"), onto: try Golden.base()))
    }

    @Test func promptTuning() throws {
        check("prompt tuning", try AdapterFolder.load(from: Golden.folder("prompt"), onto: try Golden.base()))
    }

    @Test(arguments: ["prefix-proj", "ptuning-mlp", "ptuning-lstm"])
    func encoders(variant: String) throws {
        // the encoders with their networks (prefix projection, MLP, LSTM), not the saved tables
        check(variant, try goldenEncoderTuner(variant).tuner)
    }

    @Test func prefixTuningTable() throws {
        check("prefix", try AdapterFolder.load(from: Golden.folder("prefix"), onto: try Golden.base()))
    }

    @Test func qloraOnTransformersFourBitBase() throws {
        let base = try loadModel(from: Golden.folder("qlora-base-4bit"))
        check("QLoRA (4-bit base)", try AdapterFolder.load(from: Golden.folder("qlora"), onto: base))
    }

    @Test func loraOnABaseQuantizedHere() throws {
        let base = try Golden.base()
        try base.quantizeLinearLayers(.qlora)
        check("LoRA on quantizeLinearLayers(.qlora)", try AdapterFolder.load(from: Golden.folder("lora"), onto: base))
    }

    @Test func perRowPrompts() throws {
        // multitask prompt tuning's case: each row's virtual tokens depend on its task id
        let model = try Golden.base()
        let tuner = PromptLearningModel(model: model, config: PromptTuningConfig(numVirtualTokens: 3),
                                        encoder: PerTaskPrompt(tasks: 3, n: 3, width: model.config.hiddenSize))
        check("per-row prompts", tuner, taskIds: [2, 0, 1, 2])
    }

    @Test func oneRowAndEqualLengths() throws {
        let tuner = try goldenEncoderTuner("prefix-proj").tuner
        check("prefix-proj, one row", tuner, prompts: [[1, 14, 27, 40]])
        check("prefix-proj, equal lengths", tuner, prompts: [[1, 14, 27], [9, 8, 7]])
    }

    @Test func theCacheGrowsPastItsCapacity() throws {
        let model = try Golden.base()
        let cache = KeyValueCache(for: model, batchSize: 2, capacity: 2)
        let ids = [1, 14, 27, 40, 1, 52, 8, 0]
        let prefill = model(ids, batch: 2, cache: cache, lengths: [4, 3])                    // [2, 4, V]
        let full = withoutGrad { model(ids, batch: 2) }
        #expect(maxAbsDiff(prefill.array, full.array) < 1e-5)
        #expect(cache.length == 4 && cache.nextPositions == [4, 3] && cache.capacity >= 4)
        _ = model([5, 6], batch: 2, cache: cache)
        #expect(cache.length == 5 && cache.nextPositions == [5, 4])
    }

    @Test func samplingIsSeededAndGreedyAtTemperatureZero() throws {
        let model = try Golden.base()
        func sample(_ seed: UInt64, _ t: Float) -> [[Int]] {
            generateTokens(model, prompts: ragged, maxNewTokens: 10,
                           sampler: TokenSampler(temperature: t, generator: Generator(seed: seed))) { _ in false }
        }
        #expect(sample(7, 1) == sample(7, 1))
        #expect(sample(7, 1) != sample(8, 1))
        #expect(sample(7, 0) == generateTokens(model, prompts: ragged, maxNewTokens: 10) { _ in false })
        // the stop token ends a row and is not kept
        let first = generateTokens(model, prompts: [[1, 14]], maxNewTokens: 1) { _ in false }[0][0]
        #expect(generateTokens(model, prompts: [[1, 14]], maxNewTokens: 5) { $0 == first } == [[]])
    }

    @Test func trainingStillRecordsGradients() throws {
        // the cache is inference-only: the forward without it still trains the prompt
        let (tuner, _) = try goldenEncoderTuner("prefix-proj")
        let loss = tuner.loss(try Golden.batch()).total
        loss.backward()
        #expect(tuner.trainableParameters.allSatisfy { $0.grad != nil })
    }
}
