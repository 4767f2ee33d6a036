// SpecialTokenIds.swift — which ids end a text, begin it and pad it. A model folder's config files
// name them (ModelFolderTokenizer.swift); without them, the usual names of the tokenizer's special
// added tokens are looked for.

import Foundation
import SafeTensors

/// The special ids a lesson needs: the end of a text (appended after every answer), the tokens
/// generation stops at, the beginning of a text and padding.
public struct SpecialTokenIds: Equatable, Sendable {
    public var bos: Int?
    public var eos: Int?
    /// Every end token (config.json's and generation_config.json's `eos_token_id`, which may be lists).
    public var endTokens: [Int] = []
    public var pad: Int?

    public init(bos: Int? = nil, eos: Int? = nil, endTokens: [Int] = [], pad: Int? = nil) {
        self.bos = bos; self.eos = eos; self.endTokens = endTokens; self.pad = pad
    }

    /// The usual names of an end-of-text token, looked for when no config file names one.
    public static let endNames = ["<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>"]
    static let beginNames = ["<|begin_of_text|>", "<s>", "<bos>"]
    static let padNames = ["<|pad|>", "<pad>", "[PAD]"]

    /// The ids of the tokenizer's special added tokens with the usual names.
    init(guessingFrom tokenizer: Tokenizer) {
        func find(_ names: [String]) -> Int? {
            names.lazy.compactMap { name in
                tokenizer.added.idOfContent[Array(name.unicodeScalars)].flatMap { id in
                    tokenizer.added.byId[id]?.special == true ? id : nil
                }
            }.first
        }
        eos = find(SpecialTokenIds.endNames)
        endTokens = eos.map { [$0] } ?? []
        bos = find(SpecialTokenIds.beginNames)
        pad = find(SpecialTokenIds.padNames)
    }
}
