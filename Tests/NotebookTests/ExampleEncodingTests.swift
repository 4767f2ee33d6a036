// How an example becomes ids and labels. Prompt and answer are encoded as one text (what the model reads
// in running text); for the project's own byte-level tokenizers that is exactly the prompt's ids followed
// by the answer's, so the lessons train and score on the same tokens as before. For a LLaMA 2 style
// tokenizer (Metaspace, "<s>" in front) the prompt gets its "<s>" and the answer keeps one "▁" per space.

import Corpus
import Foundation
import Llama
import Notebook
import Testing
import TensorKit

@Suite struct ExampleEncodingTests {
    /// The LLaMA 2 style tokenizer of the tokenizer fixtures (trained by Python's `tokenizers`).
    static func llama2Tokenizer() throws -> Tokenizer {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../CorpusTests/Fixtures/tokenizers/llama2.tokenizer.json")
        return try Tokenizer.load(contentsOf: url)
    }

    @Test func projectTokenizersEncodePromptThenAnswer() throws {
        let world = World()
        let tokenizer = Tokenizer.train(on: world.pretrainingDocuments(count: 300, generator: Generator(seed: 1)),
                                        vocabularySize: 400)
        let eos = try #require(tokenizer.eosId)
        #expect(tokenizer.specialPrefix.isEmpty)
        var checked = 0
        for name in World.taskNames {
            let task = try world.task(name, sizes: .quick)
            var options: [String] = []
            switch task.metric {
            case .choice(let list): options = list
            case .choiceByKind(let byKind): options = byKind.values.flatMap { $0 }
            default: break
            }
            for e in task.train + task.test {
                let prompt = tokenizer.encode(e.prompt), answer = tokenizer.encode(e.answer) + [eos]
                let encoded = tokenizer.encode(e)
                #expect(encoded.ids == prompt + answer, "\(name): \(e.prompt) → \(e.answer)")
                #expect(encoded.labels == [Int](repeating: -100, count: prompt.count) + answer)
                for option in options {
                    let row = tokenizer.encode(prompt: e.prompt, continuation: option, endOfText: false)
                    #expect(row.ids == prompt + tokenizer.encode(option), "\(name): \(option)")
                }
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    @Test func llama2StyleExamplesStartWithBeginningOfText() throws {
        let tokenizer = try Self.llama2Tokenizer()
        let bos = try #require(tokenizer.id(ofToken: "<s>"))
        let eos = try #require(tokenizer.eosId)
        #expect(tokenizer.specialPrefix == [bos])
        let e = Example(prompt: "Question: Where does Alice live?\nAnswer:", answer: " Paris")
        let encoded = tokenizer.encode(e)
        #expect(encoded.ids.first == bos && encoded.ids.last == eos)
        #expect(encoded.ids == [bos] + tokenizer.encode(e.prompt + e.answer) + [eos])
        // The labels mask the ids shared with the prompt's own encoding and keep the rest: the answer as running
        // text ("▁Paris", not the extra "▁" that " Paris" encoded alone would start with). A toy tokenizer trained
        // without a pre-tokenizer has tokens across spaces: its last prompt token may merge with the answer's
        // "▁", and then that token is the first one kept.
        let masked = encoded.labels.prefix(while: { $0 == -100 }).count
        #expect(Array(encoded.ids[..<masked]) == Array(tokenizer.promptIds(e.prompt).prefix(masked)))
        #expect(encoded.labels[masked...].elementsEqual(encoded.ids[masked...]))
        let context = Array(encoded.ids[..<masked]), kept = Array(encoded.ids[masked..<(encoded.ids.count - 1)])
        let continuation = tokenizer.decode(continuation: kept, after: context)
        #expect(continuation.hasSuffix(" Paris"))
        #expect(tokenizer.decode(context) + continuation == e.prompt + e.answer)
    }

    @Test func paddedBatchesKeepTheirRowLengths() {
        let rows = [EncodedExample(ids: [1, 2, 3], labels: [-100, 2, 3]), EncodedExample(ids: [4], labels: [4]),
                    EncodedExample(ids: [], labels: [])]
        let batch = TokenBatch(padding: rows, padId: 9)
        #expect(batch.lengths == [3, 1, 0])
        #expect(batch.inputIds == [1, 2, 3, 4, 9, 9, 9, 9, 9])
        #expect(batch.labels == [-100, 2, 3, 4, -100, -100, -100, -100, -100])
    }
}
