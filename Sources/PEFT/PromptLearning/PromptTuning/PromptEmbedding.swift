// PromptEmbedding.swift — prompt tuning's encoder: a table of n trainable embeddings, the
// prompt itself (PEFT's `PromptEmbedding`).
//
//   prompt = E [n, C],   prepended to the token embeddings: [E; embed(ids)]

import Foundation
import Llama
import TensorKit

public final class PromptEmbedding: PromptEncoder {
    /// `prompt_encoder.embedding.weight` [n, C].
    public let embedding: Tensor
    public var placement: PromptPlacement { .prepended }
    public var numVirtualTokens: Int { embedding.shape[0] }
    /// The key PEFT saves the prompt under.
    static let savedKey = "prompt_embeddings"

    /// A table to be filled from a file.
    init(numVirtualTokens: Int, width: Int) {
        embedding = Tensor(zeros: [numVirtualTokens, width], requiresGrad: true)
    }

    /// The table initialised as `config.promptTuningInit` says.
    init(config: PromptTuningConfig, model: LlamaModel, context: TunerContext) throws {
        let n = config.numVirtualTokens, width = model.config.hiddenSize, vocab = model.config.vocabSize
        switch config.promptTuningInit {
        case .random:
            embedding = .randn([n, width], generator: context.generator, requiresGrad: true)
        case .sampleVocab:
            let ids = (0..<n).map { _ in context.generator.int(below: vocab) }
            embedding = PromptEmbedding.rows(ids, of: model.embedTokens)
        case .text:
            guard let tokenize = context.tokenize else {
                throw PEFTError("prompt_tuning_init TEXT needs the base model's tokenizer "
                    + "(tokenizer.json in the model folder)")
            }
            let ids = tokenize(config.promptTuningInitText ?? "")
            guard !ids.isEmpty else {
                throw PEFTError("prompt_tuning_init_text encodes to no tokens; give it some words")
            }
            embedding = PromptEmbedding.rows(textInitializationIds(ids, count: n), of: model.embedTokens)
        }
    }

    /// Copies of `table`'s rows for `ids`, as a trainable [ids.count, C] tensor.
    static func rows(_ ids: [Int], of table: Tensor) -> Tensor {
        let width = table.shape[1]
        let out = Tensor(zeros: [ids.count, width], requiresGrad: true)
        for (i, id) in ids.enumerated() { (out.data + i * width).update(from: table.data + id * width, count: width) }
        return out
    }

    public func prompt(for batch: TokenBatch) -> Tensor { embedding }

    public var namedParameters: [(name: String, tensor: Tensor)] { [("prompt_encoder.embedding.weight", embedding)] }

    public func savedTensors() -> [String: Tensor] { [PromptEmbedding.savedKey: embedding] }
}

/// PEFT's rule for a text-initialised prompt of n tokens: the text's ids, cut to the first n,
/// or repeated ⌈n/len⌉ times and cut to n.
public func textInitializationIds(_ ids: [Int], count n: Int) -> [Int] {
    guard !ids.isEmpty else { return [] }
    if ids.count >= n { return Array(ids.prefix(n)) }
    let repeats = (n + ids.count - 1) / ids.count
    return Array(Array(repeating: ids, count: repeats).joined().prefix(n))
}
