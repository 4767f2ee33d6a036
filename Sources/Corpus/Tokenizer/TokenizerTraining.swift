// TokenizerTraining.swift — the project's own tokenizer: byte-level BPE (GPT-2 style) trained on
// the corpus and saved as a Hugging Face `tokenizer.json` beside the model.
//
// Any UTF-8 text encodes: it is split by GPT-2's regex (a word with its leading space, a run of
// digits, a run of punctuation, whitespace), each chunk is turned into its bytes, and merges learned
// from the corpus join frequent neighbouring pieces, lowest rank first. Ids 0..<256 are the bytes,
// then one id per merge, then "<|endoftext|>" and "<|pad|>". The tokenizer is read back from the JSON
// it saves, so what is trained and what is loaded later encode alike.

import Foundation
import SafeTensors

extension Tokenizer {
    static let eosText = "<|endoftext|>", padText = "<|pad|>"

    private struct Pair: Hashable { let a: Int, b: Int }

    /// Learns merges from `texts` until the vocabulary (256 bytes + merges + 2 specials) reaches
    /// `vocabularySize`. Deterministic: ties go to the pair first seen in the corpus.
    public static func train(on texts: [String], vocabularySize: Int) -> Tokenizer {
        precondition(vocabularySize >= 258, "a byte-level vocabulary needs at least 258 entries")
        var counts: [[UInt8]: Int] = [:]  // chunks by their bytes (Strings would merge "é" with "e" + U+0301)
        var order: [[UInt8]] = []
        for text in texts {
            let scalars = Array(text.unicodeScalars)
            for range in SplitPattern.gpt2.split(scalars) {
                let key = Array(scalars[range].text.utf8)
                if counts[key] == nil { order.append(key) }
                counts[key, default: 0] += 1
            }
        }
        var words = order.map { (symbols: $0.map(Int.init), count: counts[$0] ?? 0) }
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
            let rank = { (p: Pair) in firstSeen[p] ?? 0 }
            guard let best = pairCounts.max(by: { ($0.value, -rank($0.key)) < ($1.value, -rank($1.key)) }),
                  best.value > 1 else { break }
            merges.append((best.key.a, best.key.b))
            for i in words.indices where words[i].symbols.count > 1 {
                words[i].symbols = mergePair(words[i].symbols, best.key, into: next)
            }
            next += 1
        }
        let json = projectJSON(merges: merges)
        do { return try Tokenizer(source: Data(json.utf8), file: "the trained tokenizer") } catch {
            preconditionFailure("the tokenizer.json written for trained merges does not load: \(error)")
        }
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

    /// The tokenizer.json of byte-level merges (ids 0..<256 the bytes, then one per merge, then the two
    /// special tokens): ByteLevel pre-tokenizer and decoder, no normalizer, no post-processor.
    static func projectJSON(merges: [(Int, Int)]) -> String {
        var pieces = (0..<256).map { [UInt8($0)] }
        for (a, b) in merges { pieces.append(pieces[a] + pieces[b]) }
        let eosId = pieces.count, padId = pieces.count + 1
        let printable = ByteLevelAlphabet.printable
        var vocab: [String] = []
        for id in 0..<eosId { vocab.append("    \(jsonString(printable(pieces[id]))): \(id)") }
        let mergeLines = merges.map { "    \(jsonString(printable(pieces[$0.0]) + " " + printable(pieces[$0.1])))" }
        let added = [(eosId, eosText), (padId, padText)].map {
            "    {\"id\": \($0.0), \"content\": \(jsonString($0.1)), \"single_word\": false, \"lstrip\": false, "
                + "\"rstrip\": false, \"normalized\": false, \"special\": true}"
        }
        return """
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
    }

    /// Writes the tokenizer.json this tokenizer was read from (or trained as), atomically.
    public func save(to url: URL) throws {
        try writeAtomically(source, to: url)
    }
}
