// AddedVocabulary.swift — added tokens (special or not), found in the text before anything else
// happens to it, as `tokenizers`' AddedVocabulary does: leftmost-longest matches, first in the raw
// text (tokens with `normalized: false`), then in each normalized stretch (`normalized: true`), with
// `single_word`, `lstrip` and `rstrip`.

/// One entry of tokenizer.json's `added_tokens`.
struct AddedToken: Equatable {
    var id: Int
    var content: [Unicode.Scalar]
    var singleWord = false, lstrip = false, rstrip = false, normalized = true, special = false

    /// Equality as `tokenizers` compares added tokens: every field but the id.
    func sameToken(as other: AddedToken) -> Bool {
        content == other.content && singleWord == other.singleWord && lstrip == other.lstrip
            && rstrip == other.rstrip && normalized == other.normalized && special == other.special
    }
}

/// What the added tokens cut a text into: their ids, and the text between them.
enum Segment {
    case token(Int)
    case text(Piece)
}

/// The added tokens of a tokenizer and how they are found in text.
final class AddedVocabulary {
    /// Id → token (for decoding: an added token's id maps to its content).
    let byId: [Int: AddedToken]
    /// Id → the text decoding writes for it: the content, normalized for `normalized` tokens (as
    /// `tokenizers`' `id_to_token` gives it: LLaMA 2's "Wörterbuch" decodes as "▁Wörterbuch").
    let decodedContent: [Int: [Unicode.Scalar]]
    /// Content → id.
    let idOfContent: [[Unicode.Scalar]: Int]
    /// Contents of the special tokens (skipped when decoding with `skippingSpecialTokens`).
    let specialContents: Set<[Unicode.Scalar]>
    /// The added tokens in `tokenizers`' order (special first), for the matchers.
    let ordered: [AddedToken]
    private let raw: Matcher, normalized: Matcher

    /// Adds `entries` (tokenizer.json's order) on top of `model` the way `tokenizers` does, so every id is
    /// the one `tokenizers` gives; `normalizer` turns the content of `normalized` tokens into what they
    /// match. Throws when the file's id of a token is not that id.
    init(_ entries: [AddedToken], model: BPEModel, normalizer: Normalizer?, file: TokenizerFile) throws {
        var special: [AddedToken] = [], plain: [AddedToken] = []
        var specialSet = Set<[Unicode.Scalar]>()
        for token in entries where token.special && !token.content.isEmpty && !specialSet.contains(token.content) {
            special.append(token)
            specialSet.insert(token.content)
        }
        var ids: [[Unicode.Scalar]: Int] = [:], byId: [Int: AddedToken] = [:]
        for token in entries {
            if token.content.isEmpty || byId.values.contains(where: { $0.sameToken(as: token) }) { continue }
            let id: Int
            if let known = ids[token.content] ?? model.ids[token.content] {
                id = known
            } else if let highest = ids.values.max() {
                id = highest >= model.count || model.count == 0 ? highest + 1 : model.count
            } else {
                id = model.count
            }
            guard id == token.id else {
                throw file.invalid("added_tokens gives \(JSONValue.string(token.content.text).brief) the id "
                    + "\(token.id), but `tokenizers` would give it \(id) (the id of the same text in the vocabulary, "
                    + "or the next free id after it); the file is inconsistent: save the tokenizer again")
            }
            ids[token.content] = id
            byId[id] = token
            if !specialSet.contains(token.content) { plain.append(token) }
        }
        self.byId = byId
        self.decodedContent = byId.mapValues { token in
            token.normalized ? normalizer?.apply(token.content) ?? token.content : token.content
        }
        self.idOfContent = ids
        self.specialContents = specialSet
        self.ordered = special + plain
        let all = ordered.compactMap { token in ids[token.content].map { (token, $0) } }
        raw = Matcher(all.filter { !$0.0.normalized }.map { ($0.0.content, $0.0, $0.1) })
        normalized = Matcher(all.filter { $0.0.normalized }.map { token, id in
            (normalizer?.apply(token.content) ?? token.content, token, id)
        })
    }

    var isEmpty: Bool { byId.isEmpty }

    /// `text` cut at its added tokens, each stretch between them normalized: `tokenizers`'
    /// `extract_and_normalize`. Empty stretches are dropped.
    func extract(_ text: [Unicode.Scalar], normalizer: Normalizer?) -> [Segment] {
        var segments: [Segment] = []
        for segment in raw.split(text, atStart: true) {
            guard case .text(let piece) = segment else { segments.append(segment); continue }
            let normalizedText = normalizer?.apply(piece.scalars) ?? piece.scalars
            segments += normalized.split(normalizedText, atStart: piece.atStart)
        }
        return segments
    }
}

/// Finds added tokens in text: leftmost-longest, non-overlapping (as Aho-Corasick with
/// `MatchKind::LeftmostLongest`), then applies each token's single_word, lstrip and rstrip.
private struct Matcher {
    struct Pattern { var scalars: [Unicode.Scalar], token: AddedToken, id: Int }
    private let patterns: [Pattern]
    /// Patterns by their first character, longest first.
    private let byFirst: [Unicode.Scalar: [Int]]

    init(_ entries: [([Unicode.Scalar], AddedToken, Int)]) {
        patterns = entries.filter { !$0.0.isEmpty }.map { Pattern(scalars: $0.0, token: $0.1, id: $0.2) }
        var byFirst: [Unicode.Scalar: [Int]] = [:]
        for (i, p) in patterns.enumerated() { byFirst[p.scalars[0], default: []].append(i) }
        let patterns = self.patterns
        self.byFirst = byFirst.mapValues { $0.sorted { patterns[$0].scalars.count > patterns[$1].scalars.count } }
    }

    /// The longest pattern that starts at `i`, if any.
    private func longest(in s: [Unicode.Scalar], at i: Int) -> Int? {
        guard let candidates = byFirst[s[i]] else { return nil }
        return candidates.first { k in
            let p = patterns[k].scalars
            return i + p.count <= s.count && s[i..<(i + p.count)].elementsEqual(p)
        }
    }

    /// `s` as added tokens and the text between them; `atStart` says whether `s` begins the input.
    func split(_ s: [Unicode.Scalar], atStart: Bool) -> [Segment] {
        guard !patterns.isEmpty else { return s.isEmpty ? [] : [.text(Piece(scalars: s, atStart: atStart))] }
        var segments: [Segment] = []
        var offset = 0  // end of what has been emitted
        var i = 0
        while i < s.count {
            guard let k = longest(in: s, at: i) else { i += 1; continue }
            let pattern = patterns[k]
            var (start, stop) = (i, i + pattern.scalars.count)
            i = stop
            if pattern.token.singleWord {
                let spaceBefore = start == 0 || !s[start - 1].isWordCharacter
                let spaceAfter = stop == s.count || !s[stop].isWordCharacter
                if !spaceBefore || !spaceAfter { continue }  // not a word of its own: left as text
            }
            if pattern.token.lstrip {
                var newStart = start
                while newStart > 0 && s[newStart - 1].isSpace { newStart -= 1 }
                start = max(newStart, offset)
            }
            if pattern.token.rstrip {
                while stop < s.count && s[stop].isSpace { stop += 1 }
            }
            if offset < start {
                segments.append(.text(Piece(scalars: Array(s[offset..<start]), atStart: atStart && offset == 0)))
            }
            segments.append(.token(pattern.id))
            offset = stop
        }
        if offset < s.count {
            segments.append(.text(Piece(scalars: Array(s[offset...]), atStart: atStart && offset == 0)))
        }
        return segments
    }
}

extension AddedToken {
    /// One entry of `added_tokens`, or an error naming it.
    static func read(_ value: JSONValue, index: Int, file: TokenizerFile) throws -> AddedToken {
        let part = "added_tokens[\(index)]"
        guard let id = value["id"]?.integer, id >= 0, id <= Int(UInt32.max) else {
            throw file.invalid("\(part) needs \"id\" as a whole number from 0")
        }
        let content = try file.string(value, "content", part)
        return AddedToken(id: id, content: Array(content.unicodeScalars),
                          singleWord: try file.bool(value, "single_word", part, default: false),
                          lstrip: try file.bool(value, "lstrip", part, default: false),
                          rstrip: try file.bool(value, "rstrip", part, default: false),
                          normalized: try file.bool(value, "normalized", part, default: true),
                          special: try file.bool(value, "special", part, default: false))
    }
}
