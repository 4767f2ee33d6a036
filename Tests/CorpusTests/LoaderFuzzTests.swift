// Seeded fuzzing of the Corpus target's loaders: tokenizer.json, Alpaca records (JSON array and
// JSON Lines) and a plain-text corpus. Each damaged file must give an error naming the file, or
// a valid result — never a crash or a hang. The mutator and the harness are `FileMutator` and
// `LoaderFuzzCase` in SafeTensors (shared with LlamaTests). A new loader is one line in `cases`.
//
// PEFT_FUZZ_SEED and PEFT_FUZZ_VARIANTS change the seed and the number of damaged files per
// loader; PEFT_FUZZ_ONLY=<part of a case name> runs only the matching cases; PEFT_FUZZ_TRACE=1
// prints each damaged file before it is loaded (to find one that crashes).

import Corpus
import Foundation
import SafeTensors
import Testing
import TensorKit
import TestSupport

/// The seed and the number of damaged files per loader (environment overrides for long runs).
enum FuzzSettings {
    static let seed = ProcessInfo.processInfo.environment["PEFT_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20_240_601
    static let variants = ProcessInfo.processInfo.environment["PEFT_FUZZ_VARIANTS"].flatMap { Int($0) } ?? 400
    static let only = ProcessInfo.processInfo.environment["PEFT_FUZZ_ONLY"]

    static func selects(_ fuzzCase: LoaderFuzzCase) -> Bool { only.map { fuzzCase.name.contains($0) } ?? true }
}

/// Valid files to damage.
enum FuzzFixtures {
    /// A small byte-level BPE tokenizer (300 ids) trained on the world's corpus, as tokenizer.json.
    static let tokenizer: Data = {
        let documents = World().pretrainingDocuments(count: 200, generator: Generator(seed: 3))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-tok-\(UUID().uuidString).json")
        try? Tokenizer.train(on: documents, vocabularySize: 300).save(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return (try? Data(contentsOf: url)) ?? Data()
    }()

    /// True for a byte-level BPE like the valid file: ByteLevel pre-tokenizer without prefix space, ByteLevel
    /// decoder, no normalizer, and a token for each of the 256 bytes. Such a tokenizer loses no text.
    static func isCompleteByteLevel(_ tokenizer: Tokenizer) -> Bool {
        let table = Array(33...126) + Array(161...172) + Array(174...255)
        var n = 0
        let byteTokens = (0..<256).map { b -> String in
            if table.contains(b) { return String(Character(Unicode.Scalar(UInt8(b)))) }
            defer { n += 1 }
            return String(Character(Unicode.Scalar(256 + n)!))
        }
        let summary = tokenizer.summary
        return summary.contains("pre-tokenizer ByteLevel(add_prefix_space: false")
            && summary.contains("decoder ByteLevel") && !summary.contains("normalizer")
            && byteTokens.allSatisfy { tokenizer.id(ofToken: $0) != nil }
    }

    static let alpacaArray = Data(#"""
        [
          {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
          {"instruction": "Greet the user.", "input": "", "output": "Hello!"},
          {"instruction": "Name the capital.", "output": "Paris"}
        ]
        """#.utf8)

    static let alpacaLines = Data("""
        {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}
        {"instruction": "Greet the user.", "input": "", "output": "Hello!"}

        {"instruction": "Translate to French: cat", "output": "chat — naïve café"}

        """.utf8)

    static let text = Data("""
        Alice lives in Paris. She has a cat.

        Bob moved to Rome in 2019, and he likes it there.
        The end of the second document.


        Third: naïve café 東京 🚀
        """.utf8)
}

@Suite struct CorpusLoaderFuzzTests {
    /// The loaders and their valid files. One line per loader.
    static let cases: [LoaderFuzzCase] = [
        LoaderFuzzCase("tokenizer.json", file: "tokenizer.json", valid: FuzzFixtures.tokenizer) {
            // A damaged file may still be a valid tokenizer.json of another kind (no decoder, a byte missing
            // from the vocabulary): `tokenizers` would read it too, and so does this loader. Its ids must be
            // tokens; and while it is still a complete byte-level BPE, text must come back unchanged.
            let tokenizer = try Tokenizer.load(contentsOf: $0)
            let text = "Alice lives in Paris, naïve café 🚀"
            let ids = tokenizer.encode(text)
            guard ids.allSatisfy(tokenizer.hasToken) else {
                throw InvalidLoaderResult("encoding \"\(text)\" gives ids that are not tokens: \(ids)")
            }
            let decoded = tokenizer.decode(ids)
            if FuzzFixtures.isCompleteByteLevel(tokenizer) && decoded != text {
                throw InvalidLoaderResult("the loaded byte-level tokenizer does not round-trip \"\(text)\"")
            }
        },
        LoaderFuzzCase("Alpaca JSON array", file: "alpaca.json", valid: FuzzFixtures.alpacaArray) {
            _ = try loadAlpaca(contentsOf: $0)
        },
        LoaderFuzzCase("Alpaca JSON Lines", file: "alpaca.jsonl", valid: FuzzFixtures.alpacaLines) {
            _ = try loadAlpaca(contentsOf: $0)
        },
        LoaderFuzzCase("text corpus", file: "corpus.txt", valid: FuzzFixtures.text) {
            _ = try loadTextCorpus(contentsOf: $0)
        },
    ]

    @Test(arguments: cases)
    func damagedFilesGiveClearErrors(_ fuzzCase: LoaderFuzzCase) {
        guard FuzzSettings.selects(fuzzCase) else { return }
        let report = fuzzCase.fuzz(variants: FuzzSettings.variants, seed: FuzzSettings.seed) { Generator(seed: $0) }
        print("fuzz \(fuzzCase.name): \(report.summary)")
        #expect(report.failures.isEmpty, "\(report.failures.joined(separator: "\n"))")
        #expect(report.variants == FuzzSettings.variants)
    }
}

/// The crashes and misreadings the fuzzing found in the Corpus loaders, one test each.
@Suite struct CorpusLoaderRegressionTests {
    func write(_ text: String, _ name: String) -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("regress-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent(name)
        try? text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// A tokenizer.json with the 256 byte tokens and `extra` vocabulary entries and merges.
    func tokenizerJSON(vocab extra: [String: Any], merges: [String]) throws -> String {
        var vocab: [String: Any] = extra
        let table = (33...126).map { $0 } + (161...172).map { $0 } + (174...255).map { $0 }
        var n = 0
        for b in 0..<256 {
            if let i = table.firstIndex(of: b) { vocab[String(UnicodeScalar(UInt8(table[i])))] = b } else {
                vocab[String(Character(Unicode.Scalar(256 + n)!))] = b
                n += 1
            }
        }
        let json: [String: Any] = ["model": ["type": "BPE", "vocab": vocab, "merges": merges]]
        return String(decoding: try JSONSerialization.data(withJSONObject: json, options: .sortedKeys), as: UTF8.self)
    }

    func loadError(_ url: URL) -> String {
        do { _ = try Tokenizer.load(contentsOf: url); return "" } catch { return "\(error)" }
    }

    @Test func tokenizerBuilderIsValid() throws {
        let url = write(try tokenizerJSON(vocab: ["ab": 256, "abc": 257], merges: ["a b", "ab c"]), "tokenizer.json")
        let tokenizer = try Tokenizer.load(contentsOf: url)
        #expect(tokenizer.encode("abc") == [257])
    }

    /// A merge that uses the token of a later merge was a crash (index out of range) when the loader built
    /// pieces in merge order. `tokenizers` accepts it (a merge only has to join vocabulary tokens into a
    /// vocabulary token), ranks the merges as listed, and so does this loader: "abc" merges a+b (rank 1)
    /// into "ab", then ab+c (rank 0) into "abc".
    @Test func mergeUsingALaterToken() throws {
        let url = write(try tokenizerJSON(vocab: ["abc": 256, "ab": 257], merges: ["ab c", "a b"]), "tokenizer.json")
        let tokenizer = try Tokenizer.load(contentsOf: url)
        #expect(tokenizer.encode("abc") == [256])
    }

    /// A vocabulary entry no merge produces, with an id far past the others (9999), was also out of range.
    /// Ids are the vocabulary's own: the tokenizer spans 0..<10000 and the merge is never reached from bytes.
    @Test func mergeUsingAnUndefinedId() throws {
        let url = write(try tokenizerJSON(vocab: ["zz": 9999, "zzz": 256], merges: ["zz z"]), "tokenizer.json")
        let tokenizer = try Tokenizer.load(contentsOf: url)
        #expect(tokenizer.vocabularySize == 10000 && tokenizer.encode("zzz") == [122, 122, 122])
    }

    /// A merge whose joined text is not in the vocabulary is an error naming the merge.
    @Test func mergeIntoAnUnknownToken() throws {
        let url = write(try tokenizerJSON(vocab: ["ab": 256], merges: ["a b", "b c"]), "tokenizer.json")
        #expect(loadError(url).contains("tokenizer.json: merge 1"), "\(loadError(url))")
    }

    @Test(arguments: ["1e30", "256.5", "true", "-1", "\"256\""])
    func vocabularyIdsThatAreNotIntegers(literal: String) throws {
        let text = try tokenizerJSON(vocab: ["ab": 256], merges: ["a b"])
            .replacingOccurrences(of: #""ab":256"#, with: #""ab":\#(literal)"#)
        let message = loadError(write(text, "tokenizer.json"))
        #expect(message.hasPrefix(FileManager.default.temporaryDirectory.path) && message.contains("tokenizer.json"))
        #expect(message.contains("not an integer") || message.contains("does not produce id 256"), "\(message)")
    }

    /// "\r\n" is one Character in Swift, so a JSONL file with Windows line ends was one line; a
    /// byte-order mark made a JSON array read as JSON Lines.
    @Test func windowsLineEndsAndByteOrderMark() throws {
        let record = "{\"instruction\": \"a\", \"output\": \"b\"}"
        let lines = write(record + "\r\n" + record + "\r\n", "data.jsonl")
        #expect(try loadAlpaca(contentsOf: lines).count == 2)
        let bad = write(record + "\r\n{oops\r\n", "data.jsonl")
        do { _ = try loadAlpaca(contentsOf: bad); Issue.record("accepted") } catch {
            #expect("\(error)".contains("data.jsonl: line 2: not valid JSON"), "\(error)")
        }
        #expect(try loadTextCorpus(contentsOf: write("one\r\n\r\ntwo\r\n", "c.txt")) == ["one", "two"])
        #expect(try loadAlpaca(contentsOf: write("\u{FEFF}[" + record + "]", "data.json")).count == 1)
        #expect(try loadAlpaca(contentsOf: write("\u{FEFF}" + record + "\n", "data.jsonl")).count == 1)
    }
}
