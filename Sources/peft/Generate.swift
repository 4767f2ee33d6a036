// Generate.swift — `peft generate`: text from a model folder, with any method's adapter, through
// the key/value cache (one prefill of the prompt, then one token per step). Greedy by default;
// with --temperature, sampled from the project's seeded generator, so a seed repeats its text.

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import SafeTensors
import TensorKit

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a prompt with a model (and any adapter), decoding with a key/value cache.",
        discussion: """
        Decoding stops at the end-of-text token (the tokenizer's, and generation_config.json's eos_token_id when \
        the model folder has one), after --max-new-tokens, or with --stop-at-newline at a newline (the lessons' \
        answers are one line). Temperature 0 is greedy; above 0, tokens are drawn from softmax(logits / T) with \
        --seed, and the same seed gives the same text.
        """)

    @Option(help: "A model folder with tokenizer.json (float, or bitsandbytes 4-bit).") var model: String
    @Option(help: "A PEFT adapter folder (any method).") var adapter: String?
    @Option(help: "The text to continue.") var prompt: String
    @Option(help: "At most this many new tokens.") var maxNewTokens = 64
    @Option(help: "0 for greedy decoding; otherwise the softmax temperature of sampling.") var temperature: Float = 0
    @Option(help: "The sampling seed.") var seed: UInt64 = 0
    @Option(help: "Multitask prompt tuning: the task whose prompt to use.") var taskId: Int?
    @Flag(help: "Stop at the first token that holds a newline (it is not printed).") var stopAtNewline = false

    func validate() throws {
        guard maxNewTokens > 0 else { throw ValidationError("--max-new-tokens must be at least 1") }
        guard temperature >= 0, temperature.isFinite else {
            throw ValidationError("--temperature must be 0 (greedy) or positive, got \(temperature)")
        }
    }

    func run() throws {
        let folder = URL(fileURLWithPath: model)
        let tokenizerURL = folder.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
            throw ValidationError("\(model) has no tokenizer.json, so the prompt cannot be encoded; use a folder made "
                + "by `peft pretrain` (or copy its tokenizer.json beside the weights)")
        }
        let tokenizer = try Tokenizer.load(modelFolder: folder)
        let base = try loadModel(from: folder)
        let source: any CausalLanguageModel
        // As transformers' generate reads a prompt: with the tokenizer's prefix (LLaMA's <s>), if it adds one.
        let ids = tokenizer.promptIds(prompt)
        guard !tokenizer.encode(prompt).isEmpty else {
            throw ValidationError("the prompt is empty; give --prompt some text to continue")
        }
        let batch = TokenBatch(inputIds: [ids], taskIds: taskId.map { [$0] })
        var virtualTokens = 0
        if let adapter {
            let tuner = try AdapterFolder.load(from: URL(fileURLWithPath: adapter), onto: base)
            try tuner.check(batch)
            virtualTokens = tuner.virtualTokenCount
            source = tuner
        } else {
            source = base
        }
        let positions = virtualTokens + ids.count + maxNewTokens, limit = base.config.maxPositionEmbeddings
        guard positions <= limit else {
            let virtual = virtualTokens > 0 ? " plus \(virtualTokens) virtual tokens" : ""
            throw ValidationError("the prompt's \(ids.count) tokens\(virtual)"
                + " and --max-new-tokens \(maxNewTokens) make \(positions) positions, more than the model's "
                + "max_position_embeddings (\(limit)); use a shorter prompt or fewer new tokens")
        }
        // Every end token config.json and generation_config.json name (eos_token_id may be a list), and padding.
        let stops = tokenizer.stopIds
        let sampler = TokenSampler(temperature: temperature, generator: Generator(seed: seed))
        let started = Date()
        let tokens = generateTokens(source, prompts: [ids], maxNewTokens: maxNewTokens, sampler: sampler,
                                    taskIds: batch.taskIds, padId: tokenizer.padId) { token in
            stops.contains(token) || (stopAtNewline && tokenizer.decode([token]).contains("\n"))
        }[0]
        let seconds = Date().timeIntervalSince(started)
        print(prompt + tokenizer.decode(continuation: tokens, after: ids))
        let ending = tokens.count < maxNewTokens ? (stopAtNewline ? "at end of text or a newline" : "at end of text")
            : "after --max-new-tokens"
        let mode = temperature == 0 ? "greedy" : "sampled at temperature \(temperature), seed \(seed)"
        let rate = Double(tokens.count) / max(seconds, 1e-9)
        print(String(format: "[%d prompt tokens, %d new tokens (stopped %@) in %@: %.1f tokens/s, %@, key/value cache]",
                     ids.count, tokens.count, ending, formatDuration(seconds), rate, mode))
    }
}
