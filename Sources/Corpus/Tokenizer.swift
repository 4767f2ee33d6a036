// Tokenizer.swift — byte-level BPE (GPT-2 style), trained on the corpus, saved as a Hugging
// Face `tokenizer.json` beside the model.
//
// Any UTF-8 text encodes: it is first split into chunks (a word with its leading space, a run
// of digits, a run of punctuation, whitespace), each chunk is turned into its bytes, and
// merges learned from the corpus join frequent neighbouring pieces, lowest rank first.

import Foundation
import SafeTensors

public final class Tokenizer {
    /// Token id → bytes.
    public let pieces: [[UInt8]]
    /// Merge rules in order: (left id, right id) → merged id.
    let merges: [(Int, Int)]
    private let mergeRank: [Pair: Int]
    /// Special tokens: end of text (also used as beginning) and padding.
    public let eosId: Int, padId: Int
    public var vocabularySize: Int { pieces.count }
    private var cache: [Substring: [Int]] = [:]

    struct Pair: Hashable { let a: Int, b: Int }

    static let eosText = "<|endoftext|>", padText = "<|pad|>"

    init(merges: [(Int, Int)]) {
        var pieces = (0..<256).map { [UInt8($0)] }
        var rank: [Pair: Int] = [:]
        for (i, (a, b)) in merges.enumerated() {
            rank[Pair(a: a, b: b)] = i
            pieces.append(pieces[a] + pieces[b])
        }
        self.merges = merges
        self.mergeRank = rank
        eosId = pieces.count
        padId = pieces.count + 1
        pieces.append(Array(Tokenizer.eosText.utf8))
        pieces.append(Array(Tokenizer.padText.utf8))
        self.pieces = pieces
    }

    /// Learns merges from `text` until the vocabulary (256 bytes + merges + 2 specials) reaches
    /// `vocabularySize`. Deterministic: ties go to the pair first seen in the corpus.
    public static func train(on texts: [String], vocabularySize: Int) -> Tokenizer {
        precondition(vocabularySize >= 258, "a byte-level vocabulary needs at least 258 entries")
        var counts: [String: Int] = [:]
        var order: [String] = []
        for text in texts {
            for chunk in preTokenize(text) {
                let key = String(chunk)
                if counts[key] == nil { order.append(key) }
                counts[key, default: 0] += 1
            }
        }
        var words = order.map { (symbols: $0.utf8.map(Int.init), count: counts[$0]!) }
        var merges: [(Int, Int)] = []
        var next = 256
        while next < vocabularySize - 2 {
            var pairCounts: [Pair: Int] = [:]
            var firstSeen: [Pair: Int] = [:]
            for w in words where w.symbols.count > 1 {
                for i in 0..<(w.symbols.count - 1) {
                    let p = Pair(a: w.symbols[i], b: w.symbols[i + 1])
                    pairCounts[p, default: 0] += w.count
                    if firstSeen[p] == nil { firstSeen[p] = firstSeen.count }
                }
            }
            guard let best = pairCounts.max(by: { ($0.value, -firstSeen[$0.key]!) < ($1.value, -firstSeen[$1.key]!) }),
                  best.value > 1 else { break }
            merges.append((best.key.a, best.key.b))
            for i in words.indices where words[i].symbols.count > 1 {
                words[i].symbols = mergePair(words[i].symbols, best.key, into: next)
            }
            next += 1
        }
        return Tokenizer(merges: merges)
    }

    private static func mergePair(_ s: [Int], _ p: Pair, into id: Int) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + 1 < s.count && s[i] == p.a && s[i + 1] == p.b {
                out.append(id); i += 2
            } else {
                out.append(s[i]); i += 1
            }
        }
        return out
    }

    /// Token ids of `text` (no special tokens added).
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for chunk in Tokenizer.preTokenize(text) {
            if let hit = cache[chunk] { ids += hit; continue }
            var symbols = chunk.utf8.map(Int.init)
            while symbols.count > 1 {
                var best: (rank: Int, index: Int)? = nil
                for i in 0..<(symbols.count - 1) {
                    if let r = mergeRank[Pair(a: symbols[i], b: symbols[i + 1])], r < (best?.rank ?? .max) {
                        best = (r, i)
                    }
                }
                guard let best else { break }
                let p = merges[best.rank]
                symbols = Tokenizer.mergePair(symbols, Pair(a: p.0, b: p.1), into: 256 + best.rank)
            }
            cache[chunk] = symbols
            ids += symbols
        }
        return ids
    }

    /// The text of `ids` (special tokens are dropped; invalid UTF-8 is replaced).
    public func decode(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < eosId { bytes += pieces[id] }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// GPT-2's pre-tokenisation: contractions ('s 't 're 've 'm 'll 'd), an optional space then
    /// letters, an optional space then digits, an optional space then other symbols, whitespace.
    static func preTokenize(_ text: String) -> [Substring] {
        var chunks: [Substring] = []
        let scalars = text.unicodeScalars
        var i = scalars.startIndex
        func kind(_ c: Unicode.Scalar) -> Int {
            if c.properties.isWhitespace { return 0 }
            if c.properties.isAlphabetic { return 1 }
            if c.properties.numericType != nil { return 2 }
            return 3
        }
        while i < scalars.endIndex {
            let start = i
            let c = scalars[i]
            if c == "'" {
                let rest = String(scalars[scalars.index(after: i)...].prefix(2)).lowercased()
                if let m = ["re", "ve", "ll"].first(where: { rest.hasPrefix($0) })
                    ?? ["s", "t", "m", "d"].first(where: { rest.hasPrefix($0) }) {
                    let end = scalars.index(i, offsetBy: 1 + m.count)
                    chunks.append(Substring(scalars[start..<end])); i = end; continue
                }
            }
            var j = i
            if c == " ", scalars.index(after: j) < scalars.endIndex, kind(scalars[scalars.index(after: j)]) != 0 {
                j = scalars.index(after: j)
            }
            let k = kind(scalars[j])
            if k == 0 {  // whitespace: a run, leaving its last character to the next chunk
                var end = j
                while end < scalars.endIndex, kind(scalars[end]) == 0 { end = scalars.index(after: end) }
                if end < scalars.endIndex, scalars.distance(from: j, to: end) > 1 {
                    end = scalars.index(before: end)
                }
                chunks.append(Substring(scalars[start..<end])); i = end; continue
            }
            var end = scalars.index(after: j)
            while end < scalars.endIndex, kind(scalars[end]) == k, !(k == 3 && scalars[end] == "'") {
                end = scalars.index(after: end)
            }
            chunks.append(Substring(scalars[start..<end])); i = end
        }
        return chunks
    }

    // MARK: tokenizer.json (Hugging Face `tokenizers`, ByteLevel BPE)

    /// GPT-2's reversible byte → printable character map used in the JSON vocabulary.
    static let byteToUnicode: [Character] = {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) { bs.append(b); cs.append(256 + n); n += 1 }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Character(Unicode.Scalar(c)!) }
        return table
    }()

    static func printable(_ bytes: [UInt8]) -> String { String(bytes.map { byteToUnicode[Int($0)] }) }

    /// Writes `tokenizer.json` atomically.
    public func save(to url: URL) throws {
        var vocab: [String] = []
        for id in 0..<eosId { vocab.append("    \(jsonString(Tokenizer.printable(pieces[id]))): \(id)") }
        let mergeLines = merges.map {
            "    \(jsonString(Tokenizer.printable(pieces[$0.0]) + " " + Tokenizer.printable(pieces[$0.1])))"
        }
        let added = [(eosId, Tokenizer.eosText), (padId, Tokenizer.padText)].map {
            "    {\"id\": \($0.0), \"content\": \(jsonString($0.1)), \"single_word\": false, \"lstrip\": false, "
                + "\"rstrip\": false, \"normalized\": false, \"special\": true}"
        }
        let text = """
        {
          "version": "1.0",
          "truncation": null,
          "padding": null,
          "added_tokens": [
        \(added.joined(separator: ",\n"))
          ],
          "normalizer": null,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
          "post_processor": null,
          "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
          "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": {
        \(vocab.joined(separator: ",\n"))
            },
            "merges": [
        \(mergeLines.joined(separator: ",\n"))
            ]
          }
        }

        """
        try writeAtomically(Data(text.utf8), to: url)
    }

    /// Reads a `tokenizer.json` written by `save` (a ByteLevel BPE whose first 256 ids are bytes).
    ///
    /// Each merge may only join tokens already defined (a byte or an earlier merge) and must
    /// produce the next id, so every piece is built from pieces before it and its text is in the
    /// file: a damaged file gives an error, never an index out of range or a runaway piece.
    public static func load(contentsOf url: URL) throws -> Tokenizer {
        func fail(_ problem: String) -> FileFormatError { FileFormatError(file: url.path, problem: problem) }
        guard let data = try? Data(contentsOf: url) else {
            throw fail("no such file: the model folder has no tokenizer")
        }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
            throw fail("not valid JSON (\(jsonSyntaxProblem(error))); save the tokenizer again")
        }
        guard let json = parsed as? [String: Any],
              let model = json["model"] as? [String: Any], model["type"] as? String == "BPE",
              let vocabJSON = model["vocab"] as? [String: Any], let merges = model["merges"] as? [Any] else {
            throw fail("not a byte-level BPE tokenizer.json (model.type BPE with vocab and merges)")
        }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(vocabJSON.count)
        for (token, value) in vocabJSON {
            guard let id = jsonInteger(value) else {
                let (shownToken, shownId) = (jsonString(String(token.prefix(40))), String(describing: value).prefix(40))
                throw fail("vocab gives \(shownToken) the id \(shownId), not an integer; ids are whole numbers")
            }
            vocab[token] = id
        }
        for b in 0..<256 where vocab[printable([UInt8(b)])] != b {
            throw fail("ids 0..<256 must be the 256 bytes in order")
        }
        var defined: [String: Int] = [:]
        for b in 0..<256 { defined[printable([UInt8(b)])] = b }
        var pairs: [(Int, Int)] = []
        for (n, m) in merges.enumerated() {
            let parts: [String]
            if let s = m as? String {
                parts = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else {
                parts = (m as? [String]) ?? []
            }
            guard parts.count == 2, let a = defined[parts[0]], let b = defined[parts[1]] else {
                throw fail("merge \(n) is not two known tokens (a byte or the result of an earlier merge); "
                           + "merges must be listed in the order they were learned")
            }
            guard vocab[parts[0] + parts[1]] == 256 + n else { throw fail("merge \(n) does not produce id \(256 + n)") }
            pairs.append((a, b))
            defined[parts[0] + parts[1]] = 256 + n
        }
        return Tokenizer(merges: pairs)
    }
}
