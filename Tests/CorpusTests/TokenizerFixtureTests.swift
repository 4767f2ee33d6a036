// Tokenizers trained by the Hugging Face `tokenizers` library (scripts/make_tokenizer_fixtures.py),
// read here: every text encodes to the library's ids (with and without special tokens) and decodes
// to its text, scalar for scalar; tokenizers this code cannot reproduce are refused naming the part.

import Corpus
import Foundation
import Testing

/// The committed fixtures: Tests/CorpusTests/Fixtures/tokenizers.
enum TokenizerFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizers")
    static let kinds = ["smollm", "gpt2", "llama3", "llama2", "metaspace"]

    struct Expected: Decodable {
        var tokenizers_version: String
        var cases: [Case]
    }

    struct Case: Decodable {
        var text: String
        var ids: [Int]
        var ids_without_special_tokens: [Int]
        var decoded: String
        var decoded_with_special_tokens: String
    }

    struct Refused: Decodable {
        var cases: [RefusedCase]
    }

    struct RefusedCase: Decodable, CustomStringConvertible {
        var file: String
        var part: String
        var description: String { file }
    }

    static func tokenizer(_ kind: String) throws -> Tokenizer {
        try Tokenizer.load(contentsOf: folder.appendingPathComponent("\(kind).tokenizer.json"))
    }

    static func expected(_ kind: String) throws -> Expected {
        let url = folder.appendingPathComponent("\(kind).expected.json")
        return try JSONDecoder().decode(Expected.self, from: Data(contentsOf: url))
    }

    static var refused: [RefusedCase] {
        let url = folder.appendingPathComponent("refused.json")
        return (try? JSONDecoder().decode(Refused.self, from: Data(contentsOf: url)).cases) ?? []
    }
}

/// Strings compared scalar by scalar (Swift's `==` would call "é" and "e" + U+0301 equal).
func sameScalars(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }

/// A text with its invisible characters shown, for failure messages.
func shown(_ s: String) -> String {
    s.unicodeScalars.map { $0.isASCII && $0.value >= 32 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
}

@Suite struct TokenizerFixtureTests {
    @Test(arguments: TokenizerFixtures.kinds)
    func encodesAndDecodesAsTokenizersDoes(kind: String) throws {
        let tokenizer = try TokenizerFixtures.tokenizer(kind)
        let expected = try TokenizerFixtures.expected(kind)
        #expect(expected.cases.count > 150)
        var failures: [String] = []
        for c in expected.cases {
            let plain = tokenizer.encode(c.text)
            let full = tokenizer.encode(c.text, addingSpecialTokens: true)
            let decoded = tokenizer.decode(c.ids)
            let decodedAll = tokenizer.decode(c.ids, skippingSpecialTokens: false)
            if plain != c.ids_without_special_tokens {
                failures.append("\"\(shown(c.text))\": ids \(plain), tokenizers \(c.ids_without_special_tokens)")
            }
            if full != c.ids {
                failures.append("\"\(shown(c.text))\": with special tokens \(full), tokenizers \(c.ids)")
            }
            if !sameScalars(decoded, c.decoded) {
                failures.append("\"\(shown(c.text))\": decoded \"\(shown(decoded))\", "
                                + "tokenizers \"\(shown(c.decoded))\"")
            }
            if !sameScalars(decodedAll, c.decoded_with_special_tokens) {
                failures.append("\"\(shown(c.text))\": decoded with special tokens \"\(shown(decodedAll))\", "
                                + "tokenizers \"\(shown(c.decoded_with_special_tokens))\"")
            }
        }
        let report = "\(kind) (tokenizers \(expected.tokenizers_version)), \(failures.count) differences:\n"
            + failures.prefix(12).joined(separator: "\n")
        #expect(failures.isEmpty, "\(report)")
    }

    @Test(arguments: TokenizerFixtures.refused)
    func refusesWhatItCannotReproduce(_ refused: TokenizerFixtures.RefusedCase) {
        let url = TokenizerFixtures.folder.appendingPathComponent(refused.file)
        do {
            let tokenizer = try Tokenizer.load(contentsOf: url)
            Issue.record("\(refused.file) loaded (\(tokenizer.summary)); it should be refused naming \(refused.part)")
        } catch {
            let message = "\(error)"
            #expect(message.contains(refused.part) && message.contains(url.lastPathComponent), "\(message)")
            #expect(message.contains("not supported"), "\(message)")
        }
    }

    @Test func refusedListIsComplete() {
        #expect(TokenizerFixtures.refused.count >= 10)
    }
}
