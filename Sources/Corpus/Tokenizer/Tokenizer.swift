// Tokenizer.swift — a Hugging Face tokenizer.json applied exactly as the `tokenizers` library
// applies it: added tokens are found first, each stretch of text between them is normalized and
// pre-tokenized, the BPE model merges each piece; the post-processor puts special tokens around the
// text; the decoder chain turns ids back into text.
//
// What is implemented is listed in `TokenizerFile.unsupported`; every other part of a tokenizer.json
// is refused with an error naming it, never encoded approximately. The project's own tokenizers
// (trained by `Tokenizer.train`, TokenizerTraining.swift) are byte-level BPE files read the same way.

import Foundation
import SafeTensors

public final class Tokenizer {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: BPEModel
    let added: AddedVocabulary
    let postProcessor: PostProcessor
    let decoder: TokenDecoder?
    /// The tokenizer.json this tokenizer was read from, byte for byte (what `save` writes).
    let source: Data
    /// The ids of the special tokens: from the added tokens' names, or from the model folder's
    /// config.json and generation_config.json (`Tokenizer.load(modelFolder:)`).
    public internal(set) var specialTokens: SpecialTokenIds

    /// Ids run from 0 to `vocabularySize − 1` (the largest id of the vocabulary and the added tokens, + 1).
    public let vocabularySize: Int

    /// The end-of-text token (the training target after an answer), if the tokenizer or the model names one.
    public var eosId: Int? { specialTokens.eos }
    /// The beginning-of-text token, if named (the post-processor decides whether `encode` adds it).
    public var bosId: Int? { specialTokens.bos }
    /// The padding id: the pad token if there is one, else the end-of-text token (padded positions carry
    /// no loss and no real token attends to them, so the id only has to exist), else 0.
    public var padId: Int { specialTokens.pad ?? specialTokens.eos ?? 0 }
    /// Generation stops at these ids: every end token and the pad token.
    public var stopIds: Set<Int> { Set(specialTokens.endTokens + (specialTokens.pad.map { [$0] } ?? [])) }

    /// Ids the post-processor puts before the text (LLaMA's BOS), with `addingSpecialTokens`.
    public var specialPrefix: [Int] { postProcessor.prefix }
    /// Ids the post-processor puts after the text.
    public var specialSuffix: [Int] { postProcessor.suffix }

    /// Reads a tokenizer.json (its bytes `source`; `file` names it in errors).
    init(source: Data, file path: String) throws {
        let file = TokenizerFile(path: path)
        let json: JSONValue
        do { json = try JSONValue.parse([UInt8](source)) } catch {
            throw file.invalid("not valid JSON (\(error)); save the tokenizer again")
        }
        guard json.members != nil else { throw file.invalid("not a tokenizer.json: the top level must be an object") }
        guard let modelJSON = json["model"], modelJSON.members != nil else {
            throw file.invalid("not a tokenizer.json: it has no \"model\" object (a BPE vocabulary and merges)")
        }
        if let truncation = json["truncation"], !truncation.isNull {
            throw file.unsupported("truncation \(truncation.brief)", "set it to null; lessons choose their lengths")
        }
        if let padding = json["padding"], !padding.isNull, padding["strategy"]?.string != "BatchLongest" {
            throw file.unsupported("padding with a fixed length", "set it to null")
        }
        model = try BPEModel.read(modelJSON, file: file)
        normalizer = try json["normalizer"].map { try Normalizer.read($0, file: file) } ?? nil
        preTokenizer = try json["pre_tokenizer"].map { try PreTokenizer.read($0, file: file) } ?? nil
        postProcessor = try json["post_processor"].map { try PostProcessor.read($0, file: file) } ?? PostProcessor()
        decoder = try json["decoder"].map { try TokenDecoder.read($0, file: file) } ?? nil
        let entries = try (json["added_tokens"]?.array ?? []).enumerated().map {
            try AddedToken.read($1, index: $0, file: file)
        }
        added = try AddedVocabulary(entries, model: model, normalizer: normalizer, file: file)
        vocabularySize = max(model.ids.values.max() ?? -1, added.byId.keys.max() ?? -1) + 1
        self.source = source
        specialTokens = SpecialTokenIds()
        specialTokens = SpecialTokenIds(guessingFrom: self)
        for id in postProcessor.prefix + postProcessor.suffix where !hasToken(id) {
            throw file.invalid("post_processor adds the id \(id), which is not a token of this tokenizer")
        }
    }

    /// Reads a tokenizer.json; the special tokens are found by their usual names ("<|endoftext|>",
    /// "</s>", …). `load(modelFolder:)` takes them from the model's config files instead.
    public static func load(contentsOf url: URL) throws -> Tokenizer {
        guard let data = try? Data(contentsOf: url) else {
            throw FileFormatError(file: url.path, problem: "no such file: the model folder has no tokenizer")
        }
        return try Tokenizer(source: data, file: url.path)
    }

    /// True when `id` is a token (of the vocabulary or an added token).
    public func hasToken(_ id: Int) -> Bool { model.tokens[id] != nil || added.byId[id] != nil }

    /// The token `id` as the tokenizer writes it ("Ġthe", "▁the", "<s>"; an added token with `normalized`
    /// in its normalized form, as `tokenizers`' `id_to_token`), or nil for an unknown id.
    public func token(_ id: Int) -> String? { added.decodedContent[id]?.text ?? model.tokens[id] }

    /// The id of the token written `text` (an added token first, then the vocabulary), if any.
    public func id(ofToken text: String) -> Int? {
        let scalars = Array(text.unicodeScalars)
        return added.idOfContent[scalars] ?? model.ids[scalars]
    }

    /// The token ids of `text` without special tokens around it (`tokenizers`' `add_special_tokens=False`).
    /// Added tokens written in the text (e.g. "<|im_start|>") are still recognised, as `tokenizers` does.
    public func encode(_ text: String) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int] = []
        for segment in added.extract(scalars, normalizer: normalizer) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let piece):
                let pieces = preTokenizer?.apply([piece]) ?? [piece]
                for piece in pieces { ids += model.tokenize(piece.scalars) }
            }
        }
        return ids
    }

    /// The token ids of `text`; with `addingSpecialTokens`, the post-processor's special tokens around it
    /// (LLaMA's "<s>" in front), as `tokenizers`' `encode(text)` and `transformers`' `tokenizer(text)` do.
    public func encode(_ text: String, addingSpecialTokens: Bool) -> [Int] {
        addingSpecialTokens ? specialPrefix + encode(text) + specialSuffix : encode(text)
    }

    /// The text of `ids` through the decoder. Special tokens are left out unless `skippingSpecialTokens`
    /// is false; ids that are not tokens are left out. Without a decoder the tokens are joined with spaces,
    /// as `tokenizers` does.
    public func decode(_ ids: [Int], skippingSpecialTokens: Bool = true) -> String {
        var tokens: [[Unicode.Scalar]] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            // As `tokenizers`: an added token decodes as its (normalized) text, and a token is special when
            // that text is a special token's content.
            let content = added.decodedContent[id] ?? model.tokens[id].map { Array($0.unicodeScalars) }
            guard let content else { continue }
            if skippingSpecialTokens && added.specialContents.contains(content) { continue }
            tokens.append(content)
        }
        guard let decoder else { return tokens.map(\.text).joined(separator: " ") }
        return decoder.decodeChain(tokens).map(\.text).joined()
    }

    /// The text `ids` add after `context` (a prompt's ids): the decoded whole minus the decoded context,
    /// as transformers' streamers print it. Decoding `ids` alone could differ: a Metaspace decoder strips the
    /// first token's leading space ("▁Paris" alone is "Paris", after a prompt it is " Paris").
    public func decode(continuation ids: [Int], after context: [Int]) -> String {
        let whole = decode(context + ids).unicodeScalars, before = decode(context).unicodeScalars
        guard whole.starts(with: before) else { return decode(ids) }
        return String(String.UnicodeScalarView(whole.dropFirst(before.count)))
    }

    /// What the tokenizer is, in one line: its model, vocabulary, pre-tokenizer and what `encode` adds.
    public var summary: String {
        var parts = ["BPE with \(model.count) tokens" + (added.isEmpty ? "" : " and \(added.byId.count) added tokens")]
        if model.byteFallback { parts.append("byte fallback") }
        if let normalizer { parts.append("normalizer \(normalizer.name)") }
        if let preTokenizer { parts.append("pre-tokenizer \(preTokenizer.name)") }
        if let decoder { parts.append("decoder \(decoder.name)") }
        if !specialPrefix.isEmpty || !specialSuffix.isEmpty {
            let names = { (ids: [Int]) in ids.map { self.token($0) ?? "\($0)" }.joined(separator: " ") }
            parts.append("adds \(names(specialPrefix))\(specialSuffix.isEmpty ? "" : " … " + names(specialSuffix))")
        }
        return parts.joined(separator: ", ")
    }
}
