// FineTuning.swift — task examples to token batches, fine-tuning any tuner, and evaluation
// (rank classification for choice tasks, ChoiceScoring.swift; greedy generation for the others).

import Corpus
import Foundation
import Llama
import PEFT
import TensorKit
import Training

/// Prompt and answer as token ids; the labels mask the prompt (−100) so the loss covers the
/// answer and the closing end-of-text token only. `taskId` is the example's task, carried into
/// the batch for methods that read one per row (multitask prompt tuning).
public struct EncodedExample: Sendable {
    public var ids: [Int]
    public var labels: [Int]
    public var taskId: Int?

    public init(ids: [Int], labels: [Int], taskId: Int? = nil) {
        self.ids = ids; self.labels = labels; self.taskId = taskId
    }
}

extension Tokenizer {
    /// The ids the model reads before it answers: the post-processor's prefix (LLaMA's `<s>`; nothing
    /// for the project's tokenizers), then the prompt.
    public func promptIds(_ prompt: String) -> [Int] { specialPrefix + encode(prompt) }

    /// `prompt` and `continuation` encoded as ONE text, after the post-processor's prefix, with the
    /// end-of-text token after it when `endOfText`. Encoding them together gives the tokens the model
    /// would see in running text, whatever the tokenizer does at the boundary (LLaMA 2's tokenizer turns
    /// the answer's leading space into "▁" and glues it to the next word; encoded alone, " Paris" would
    /// start with an extra "▁"). The labels are −100 over the tokens shared with `promptIds(prompt)` and
    /// the ids after them: the continuation's tokens (and a boundary token that merged prompt and
    /// continuation, if the tokenizer made one).
    public func encode(prompt: String, continuation: String, endOfText: Bool) -> EncodedExample {
        let promptIds = promptIds(prompt)
        var ids = specialPrefix + encode(prompt + continuation)
        if endOfText, let eosId { ids.append(eosId) }
        let shared = zip(promptIds, ids).prefix { $0 == $1 }.count
        return EncodedExample(ids: ids, labels: [Int](repeating: -100, count: shared) + ids[shared...])
    }

    /// An example for training: its prompt, its answer and the end-of-text token (the answer's and the
    /// end token's labels kept).
    public func encode(_ e: Example) -> EncodedExample {
        var example = encode(prompt: e.prompt, continuation: e.answer, endOfText: true)
        example.taskId = e.taskId
        return example
    }
}

extension TokenBatch {
    /// Rows padded on the right to one length. Padding needs no attention mask: with causal
    /// attention no real token ever looks at a later (padding) position, and padded labels are −100.
    /// The rows' task ids become the batch's when every row has one (nil otherwise), and their
    /// lengths its `lengths`.
    public init(padding items: [EncodedExample], padId: Int) {
        let length = items.map(\.ids.count).max() ?? 0
        var ids: [Int] = [], labels: [Int] = []
        for e in items {
            let pad = length - e.ids.count
            ids += e.ids + [Int](repeating: padId, count: pad)
            labels += e.labels + [Int](repeating: -100, count: pad)
        }
        let taskIds = items.compactMap(\.taskId)
        self.init(ids: ids, labels: labels, rows: items.count, taskIds: taskIds.count == items.count ? taskIds : nil)
        lengths = items.map(\.ids.count)
    }

    /// Every row of `stream` (token windows of one length) as its own next-token target, read
    /// as task `taskId` when given.
    public init(windows stream: [[Int]], taskId: Int? = nil) {
        let ids = stream.flatMap { $0 }
        let taskIds = taskId.map { [Int](repeating: $0, count: stream.count) }
        self.init(ids: ids, labels: ids, rows: stream.count, taskIds: taskIds)
    }
}

/// Maps a batch to the logits of its real tokens, [B, T, V] (a tuner's `logits`).
public typealias LogitsFunction = (TokenBatch) -> Tensor

/// Maps a batch and flat positions r·T + t of its real tokens to the logits there, [S, V]
/// (`CausalLanguageModel.logits(_:at:)`).
public typealias PositionLogitsFunction = (TokenBatch, [Int]) -> Tensor

/// The knobs of one fine-tuning run.
public struct TrainingSettings: Sendable {
    public var steps: Int
    public var batchSize: Int = 16
    /// The peak learning rate (after warm-up).
    public var learningRate: Float
    /// Warm-up steps (default: a tenth of the run), then cosine decay to 0.
    public var warmupSteps: Int? = nil
    public var maxGradientNorm: Float = 1
    public var seed: UInt64 = 0
    public init(steps: Int, batchSize: Int = 16, learningRate: Float, seed: UInt64 = 0) {
        self.steps = steps; self.batchSize = batchSize; self.learningRate = learningRate; self.seed = seed
    }
}

/// Fine-tunes `tuner` on `data` with `optimizer` (which holds its trainable tensors): linear
/// warm-up and cosine decay, gradient clipping, the tuner's regulariser in the loss and its hook
/// after every optimizer step. Batches are drawn by shuffling the training set each epoch with the
/// settings' seed. Throws, before any training, if an example cannot be run.
public func fineTune(_ tuner: any Tuner, label: String, optimizer: any Optimizer, data: [EncodedExample],
                     padId: Int, settings: TrainingSettings) throws -> TrainingLog {
    guard !data.isEmpty else {
        throw LessonError("fine-tuning needs at least one training example; the data set is empty")
    }
    let tagged = data.filter { $0.taskId != nil }.count
    if tagged > 0 && tagged < data.count {
        throw LessonError("\(tagged) of \(data.count) training examples carry a task id and the others do not; give "
            + "every example its task (or none)")
    }
    if let longest = data.max(by: { $0.ids.count < $1.ids.count }) {
        try tuner.check(TokenBatch(padding: [longest], padId: padId))
    }
    let g = Generator(seed: settings.seed &+ 0x5EED)
    let schedule = LearningRateSchedule.cosine(warmup: settings.warmupSteps ?? max(1, settings.steps / 10),
                                               total: settings.steps)
    var order: [Int] = [], cursor = 0
    let progress = Progress(label, total: settings.steps)
    tuner.isTraining = true
    defer { tuner.isTraining = false }
    return runTraining(
        steps: settings.steps, optimizer: optimizer,
        learningRate: { settings.learningRate * schedule.multiplier(at: $0 + 1) },
        maxGradientNorm: settings.maxGradientNorm,
        lossOfStep: { _ in
            var items: [EncodedExample] = []
            for _ in 0..<min(settings.batchSize, data.count) {
                if cursor == order.count { order = g.shuffled(Array(data.indices)); cursor = 0 }
                items.append(data[order[cursor]]); cursor += 1
            }
            let batch = TokenBatch(padding: items, padId: padId)
            return (tuner.loss(batch).total, batch.inputIds.count)
        },
        afterStep: { tuner.afterOptimizerStep($0) },
        progress: { progress.update(step: $0, loss: $1, tokens: $2) })
}

/// A task score: the metric's main number (accuracy or exact match, in [0, 1]) and, for
/// data-to-text, the share of record values mentioned.
public struct Score: Sendable {
    public var value: Double
    /// Each example's score (1 or 0; for data-to-text, exact match too), in the order given.
    public var perItem: [Double]
    public var slotCoverage: Double?
    /// A few (prompt, prediction, answer) triples to show.
    public var samples: [(prompt: String, prediction: String, answer: String)]
}

/// Scores `examples` with the task's metric through `model` (a tuner, or a plain `LlamaModel`), both
/// over a key/value cache: choice tasks from one prefill of each prompt, every option continuing it
/// (`optionScores`), generated answers one token a step (the same greedy tokens as re-running the
/// full forward each step, at one token's cost a step).
public func evaluate(_ task: TaskData, on examples: [Example], tokenizer: Tokenizer, model: any CausalLanguageModel,
                     batchSize: Int = 32) -> Score {
    score(task, examples, choose: {
        optionScores($0, options: $1, tokenizer: tokenizer, model: model, batchSize: batchSize)
    }, generate: {
        generate($0, maxTokens: $1, tokenizer: tokenizer, model: model, batchSize: batchSize, taskIds: $2)
    })
}

/// Scores `examples` with the task's metric through a logits function: generation re-runs the
/// full forward for every new token (any function works; `evaluate(_:on:tokenizer:model:)` is
/// the fast path for models and tuners).
public func evaluate(_ task: TaskData, on examples: [Example], tokenizer: Tokenizer, logits: LogitsFunction,
                     batchSize: Int = 32) -> Score {
    score(task, examples, choose: {
        optionScores($0, options: $1, tokenizer: tokenizer, logits: { logits($0).rows(at: $1) }, batchSize: batchSize)
    }, generate: {
        generate($0, maxTokens: $1, tokenizer: tokenizer, logits: logits, batchSize: batchSize, taskIds: $2)
    })
}

/// The metric of `task` on `examples`: rank classification of the option scores
/// `choose(examples, options)` gives, or the predictions `generate(prompts, maxTokens, taskIds)`
/// makes against the answers.
private func score(_ task: TaskData, _ examples: [Example], choose: ([Example], (Example) -> [String]) -> [[Float]],
                   generate: ([String], Int, [Int]?) -> [String]) -> Score {
    withoutGrad {
        switch task.metric {
        case .choice(let options):
            return rankClassification(examples, options: { _ in options },
                                      scores: choose(examples, { _ in options }))
        case .choiceByKind(let options):
            let optionsOf = { (e: Example) in options[e.kind] ?? [] }
            return rankClassification(examples, options: optionsOf, scores: choose(examples, optionsOf))
        case .exactMatch(let maxTokens), .slotCoverage(let maxTokens):
            let taskIds = examples.compactMap(\.taskId)
            let predictions = generate(examples.map(\.prompt), maxTokens,
                                       taskIds.count == examples.count ? taskIds : nil)
            var perItem: [Double] = [], coverage = 0.0
            for (e, p) in zip(examples, predictions) {
                perItem.append(
                    p.trimmingCharacters(in: .whitespaces) == e.answer.trimmingCharacters(in: .whitespaces) ? 1 : 0)
                let values = recordValues(e.prompt)
                if !values.isEmpty { coverage += Double(values.filter { p.contains($0) }.count) / Double(values.count) }
            }
            let n = Double(max(examples.count, 1))
            let samples = zip(examples, predictions).prefix(4).map { ($0.prompt, $1, $0.answer) }
            var isSlotTask = false
            if case .slotCoverage = task.metric { isSlotTask = true }
            return Score(value: perItem.reduce(0, +) / n, perItem: perItem,
                         slotCoverage: isSlotTask ? coverage / n : nil, samples: samples)
        }
    }
}

/// Greedy continuations (up to a newline or end of text) through a key/value cache: the prompts of
/// a batch are right-padded into one prefill, then every row gets one token a step
/// (`IncrementalDecoder`). The tokens are those of `generate(_:maxTokens:tokenizer:logits:)`.
/// `taskIds` (one per prompt) go with the rows.
public func generate(_ prompts: [String], maxTokens: Int, tokenizer: Tokenizer, model: any CausalLanguageModel,
                     batchSize: Int = 32, taskIds: [Int]? = nil) -> [String] {
    var out: [String] = []
    for start in stride(from: 0, to: prompts.count, by: batchSize) {
        let range = start..<min(start + batchSize, prompts.count)
        let rows = prompts[range].map { tokenizer.promptIds($0) }
        let tokens = generateTokens(model, prompts: rows, maxNewTokens: maxTokens,
                                    taskIds: taskIds.map { Array($0[range]) }, padId: tokenizer.padId) {
            endsAnswer($0, tokenizer)
        }
        out += tokens.map { tokenizer.decode($0) }
    }
    return out
}

/// Greedy continuations (up to a newline or end of text), batched with right padding: every step
/// re-runs `logits` on the rows so far, and each row reads its next token at its own last
/// position. Works with any logits function; the reference the cached `generate` is tested against.
public func generate(_ prompts: [String], maxTokens: Int, tokenizer: Tokenizer, logits: LogitsFunction,
                     batchSize: Int = 32, taskIds: [Int]? = nil) -> [String] {
    var out: [String] = []
    for start in stride(from: 0, to: prompts.count, by: batchSize) {
        let rowTasks = taskIds.map { Array($0[start..<min(start + batchSize, prompts.count)]) }
        var rows = prompts[start..<min(start + batchSize, prompts.count)].map { tokenizer.promptIds($0) }
        var generated = [[Int]](repeating: [], count: rows.count)
        var done = [Bool](repeating: false, count: rows.count)
        for _ in 0..<maxTokens where done.contains(false) {
            let length = rows.map(\.count).max()!
            let ids = rows.flatMap { $0 + [Int](repeating: tokenizer.padId, count: length - $0.count) }
            let z = logits(TokenBatch(ids: ids, labels: ids, rows: rows.count, taskIds: rowTasks))  // [R, T, V]
            let v = z.shape[2]
            for r in rows.indices where !done[r] {
                let base = z.data + (r * length + rows[r].count - 1) * v
                var best = 0
                for k in 1..<v where base[k] > base[best] { best = k }
                if endsAnswer(best, tokenizer) { done[r] = true; continue }
                rows[r].append(best); generated[r].append(best)
            }
        }
        out += generated.map { tokenizer.decode($0) }
    }
    return out
}

/// Whether `token` ends a one-line answer: an end token (every one the model names), padding, or a
/// token holding a newline.
func endsAnswer(_ token: Int, _ tokenizer: Tokenizer) -> Bool {
    tokenizer.stopIds.contains(token) || token == tokenizer.padId || tokenizer.decode([token]).contains("\n")
}

/// Mean next-token loss on held-out token windows, without gradients, through `logits` (the
/// real tokens' logits): every method's forgetting is measured the same way. The windows are
/// read as task `taskId` when given (a multitask prompt needs one per row).
public func languageModelLoss(_ logits: LogitsFunction, stream: [[Int]], taskId: Int? = nil) -> Float {
    withoutGrad {
        let batch = TokenBatch(windows: stream, taskId: taskId)
        return causalLanguageModelLoss(logits(batch), labels: batch.labels).item
    }
}

/// The next-token loss of each held-out window (its mean over the window's positions), the
/// windows read as task `taskId` when given.
public func windowLosses(_ logits: LogitsFunction, stream: [[Int]], taskId: Int? = nil) -> [Double] {
    withoutGrad {
        let batch = TokenBatch(windows: stream, taskId: taskId)
        let lp = logSoftmax(logits(batch))                                               // [W, T, V]
        let (t, v) = (batch.sequenceLength, lp.shape[2])
        return (0..<batch.batchSize).map { r in
            var sum = 0.0
            for pos in 0..<(t - 1) { sum -= Double(lp.data[(r * t + pos) * v + batch.inputIds[r * t + pos + 1]]) }
            return sum / Double(t - 1)
        }
    }
}

/// The mean loss on the answer tokens of `examples` (teacher-forced), without gradients.
public func answerLoss(_ tuner: any Tuner, _ examples: [Example], tokenizer: Tokenizer, batchSize: Int = 32) -> Double {
    withoutGrad {
        var total = 0.0, targets = 0
        for start in stride(from: 0, to: examples.count, by: batchSize) {
            let batch = TokenBatch(
                padding: examples[start..<min(start + batchSize, examples.count)].map { tokenizer.encode($0) },
                padId: tokenizer.padId)
            let t = batch.sequenceLength
            let count = (0..<batch.batchSize).reduce(0) { n, r in
                n + batch.labels[(r * t + 1)..<(r * t + t)].filter { $0 != -100 }.count
            }
            total += Double(tuner.loss(batch).crossEntropy.item) * Double(count)
            targets += count
        }
        return total / Double(max(targets, 1))
    }
}
