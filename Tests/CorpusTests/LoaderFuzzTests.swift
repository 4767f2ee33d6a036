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
            let tokenizer = try Tokenizer.load(contentsOf: $0)
            let text = "Alice lives in Paris, naïve café 🚀"
            guard tokenizer.decode(tokenizer.encode(text)) == text else {
                throw InvalidLoaderResult("the loaded tokenizer does not round-trip \"\(text)\"")
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

    /// A merge that uses the token of a later merge indexed past the pieces built so far: a crash
    /// (index out of range) in `Tokenizer.init`.
    @Test func mergeUsingALaterToken() throws {
        let url = write(try tokenizerJSON(vocab: ["abc": 256, "ab": 257], merges: ["ab c", "a b"]), "tokenizer.json")
        let message = loadError(url)
        #expect(message.contains("tokenizer.json: merge 0 is not two known tokens"), "\(message)")
    }

    /// A merge that uses a vocabulary entry no merge produces (id 9999): also out of range.
    @Test func mergeUsingAnUndefinedId() throws {
        let url = write(try tokenizerJSON(vocab: ["zz": 9999, "zzz": 256], merges: ["zz z"]), "tokenizer.json")
        #expect(loadError(url).contains("merge 0 is not two known tokens"))
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
