// A Hugging Face style model folder of the kind `--base DIR` and `peft train --model DIR` accept: a small
// randomly initialised LLaMA (config.json, model.safetensors), one of the committed tokenizer fixtures
// (Tests/CorpusTests/Fixtures/tokenizers, trained by Python's `tokenizers`) as tokenizer.json, and a
// generation_config.json. Made in Swift, so the tests never need Python.

import Foundation
import Llama
import TensorKit

/// Builds model folders with a fixture tokenizer.
public enum UserModelFolder {
    /// The committed tokenizer fixtures.
    public static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../CorpusTests/Fixtures/tokenizers")

    /// The fixture tokenizer.json of `kind` ("llama2", "llama3", "gpt2", "smollm", "metaspace"), or a refused
    /// one ("refused/unigram").
    public static func tokenizerFile(_ kind: String) -> URL {
        fixtures.appendingPathComponent("\(kind).tokenizer.json")
    }

    /// The number of ids of a tokenizer.json: its largest id (vocabulary or added token) + 1, read without
    /// the project's tokenizer code.
    public static func idCount(of tokenizer: URL) throws -> Int {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: tokenizer)) as? [String: Any]
        let vocab = ((json?["model"] as? [String: Any])?["vocab"] as? [String: Int]) ?? [:]
        let added = (json?["added_tokens"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }
        return (Array(vocab.values) + added).max().map { $0 + 1 } ?? 0
    }

    /// A new folder holding a 2-layer LLaMA of width 32 whose vocabulary is `vocabSize` (default: the
    /// tokenizer's id count), the `kind` fixture as tokenizer.json (left out when nil), config.json's
    /// `eos_token_id` and `bos_token_id`, and generation_config.json with `generation` (left out when nil).
    public static func make(tokenizer kind: String?, vocabSize: Int? = nil, bosTokenId: Int? = nil,
                            eosTokenId: Int? = nil, generation: [String: Any]? = nil, seed: UInt64 = 1) throws
        -> URL {
        let folder = temporaryFolder()
        var size = vocabSize ?? 0
        if let kind {
            let source = tokenizerFile(kind)
            try FileManager.default.copyItem(at: source, to: folder.appendingPathComponent("tokenizer.json"))
            size = try vocabSize ?? idCount(of: source)
        }
        let config = LlamaConfig(vocabSize: size, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                 numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 256,
                                 bosTokenId: bosTokenId, eosTokenId: eosTokenId)
        try LlamaModel(config: config, generator: Generator(seed: seed)).save(to: folder)
        if let generation {
            let data = try JSONSerialization.data(withJSONObject: generation, options: [.sortedKeys])
            try data.write(to: folder.appendingPathComponent("generation_config.json"))
        }
        return folder
    }
}
