// The world, the tasks and the tokenizer: deterministic, well-formed, and honest splits.

import Corpus
import Foundation
import SafeTensors
import Testing
import TensorKit

@Suite struct CorpusTests {
    let world = World()

    @Test func worldAndCorpusAreSeeded() {
        #expect(World().people == World().people)
        let a = world.pretrainingDocuments(count: 50, generator: Generator(seed: 1))
        #expect(a == world.pretrainingDocuments(count: 50, generator: Generator(seed: 1)))
        #expect(a != world.pretrainingDocuments(count: 50, generator: Generator(seed: 2)))
    }

    @Test func corpusStatesTheFactsTheQATestAsksAbout() throws {
        let docs = world.pretrainingDocuments(count: 20000, generator: Generator(seed: 3)).joined(separator: "\n")
        let qa = try world.task("qa", sizes: .full)
        for p in world.people[World.qaPeople.test] {
            #expect(docs.contains("\(p.name) lives in \(p.city)") || docs.contains("home of \(p.name) is in \(p.city)"),
                    "no home fact for \(p.name)")
        }
        // no test question about a person the training set asks about
        let trainNames = Set(qa.train.map {
            $0.prompt.split(separator: " ").first { w in
                world.people.contains { $0.name == w.trimmingCharacters(in: .punctuationCharacters) }
            }
        })
        for e in qa.test {
            #expect(!world.people[World.qaPeople.train].contains {
                e.prompt.contains(" \($0.name)?") || e.prompt.contains(" \($0.name) ")
            })
        }
        #expect(!trainNames.isEmpty)
        // the task format never appears in the corpus
        #expect(!docs.contains("Question:") && !docs.contains("Sentiment:") && !docs.contains("Topic:"))
    }

    @Test func sentimentLabelsFollowNegationAndContrast() {
        let g = Generator(seed: 4)
        var negated = 0, contrasted = 0
        for _ in 0..<500 {
            let (text, positive) = world.review(g)
            let lower = " " + text.lowercased()
            let last = lower.hasPrefix(" although")
                ? String(lower.split(separator: ",", maxSplits: 1)[1])
                : lower.components(separatedBy: ", but ").last!.components(separatedBy: ", and ").last!
            let hasGood = World.goodWords.contains { last.contains(" \($0)") }
            let isNegated = last.contains(" not ") || last.contains("nobody")
            #expect(positive == (hasGood != isNegated), "\(text) labelled \(positive)")
            if isNegated { negated += 1 }
            if text.contains(", but ") || text.hasPrefix("Although") { contrasted += 1 }
        }
        #expect(negated > 50 && contrasted > 100)
    }

    @Test func splitsAreDisjointAndSized() throws {
        for name in World.taskNames {
            let task = try world.task(name, sizes: .quick, seed: 5)
            #expect(task.train.count > 0 && task.validation.count > 0 && task.test.count > 0, "\(name)")
            let train = Set(task.train.map(\.prompt))
            #expect(task.test.allSatisfy { !train.contains($0.prompt) }, "\(name): a test prompt is in training")
            if case .choice(let options) = task.metric { #expect(task.test.allSatisfy { options.contains($0.answer) }) }
            if case .choiceByKind(let options) = task.metric {
                #expect(task.test.allSatisfy { options[$0.kind]?.contains($0.answer) == true })
            }
        }
        #expect(throws: TaskError.unknownTask("nope")) { try world.task("nope") }
        #expect(try world.task("sentiment", seed: 1).train == world.task("sentiment", seed: 1).train)
    }

    @Test func qaRelationTasksShareTheFormatAndThePeopleSplit() throws {
        // One task per fact, the same questions as qa restricted to it, people split as qa's.
        #expect(World.qaRelationTaskNames == ["qa-city", "qa-job", "qa-color", "qa-pet"])
        let qa = try world.task("qa", sizes: .full)
        for relation in ["city", "job", "color", "pet"] {
            let task = try world.task("qa-\(relation)", sizes: .full)
            #expect(task.name == "qa-\(relation)"
                    && task.metric == .choiceByKind([relation: World.relationValues(relation).map { " " + $0 }]))
            #expect(task.train.count == 60 && task.validation.count == 18 && task.test.count == 42)
            for (split, full) in [(task.train, qa.train), (task.validation, qa.validation), (task.test, qa.test)] {
                #expect(split.allSatisfy { $0.kind == relation && $0.prompt.hasPrefix("Question: ") })
                #expect(Set(split.map(\.prompt)) == Set(full.filter { $0.kind == relation }.map(\.prompt)))
            }
        }
        let tagged = try world.task("qa-pet", sizes: .quick).withTaskId(3)
        #expect((tagged.train + tagged.validation + tagged.test).allSatisfy { $0.taskId == 3 })
        #expect(tagged.withTrainingExamples(8).train == Array(tagged.train.prefix(8)))
    }

    @Test func recordValuesParse() {
        #expect(recordValues("Data: name=Ida | city=Rome | pet=goat\nText:") == ["Ida", "Rome", "goat"])
    }
}

@Suite struct TokenizerTests {
    @Test func roundTripsAnyUTF8() {
        let corpus = World().pretrainingDocuments(count: 2000, generator: Generator(seed: 1))
        let tok = Tokenizer.train(on: corpus, vocabularySize: 400)
        #expect(tok.vocabularySize == 400)
        for text in ["Alice lives in Paris.", "naïve café — 東京 🚀", "  two  spaces\n\nand\ttabs ", "it's 42!", ""] {
            #expect(tok.decode(tok.encode(text)) == text)
        }
        // frequent words become single tokens
        #expect(tok.encode(" the").count == 1 && tok.encode(" was").count == 1)
        #expect(tok.encode("Alice lives in Paris.").count < "Alice lives in Paris.".utf8.count / 2)
    }

    @Test func savesAndLoadsTokenizerJSON() throws {
        let tok = Tokenizer.train(on: World().pretrainingDocuments(count: 500, generator: Generator(seed: 2)),
                                  vocabularySize: 300)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString).json")
        try tok.save(to: url)
        let back = try Tokenizer.load(contentsOf: url)
        let text = "Review: The food was not great, but the staff was friendly.\nSentiment: positive"
        #expect(back.encode(text) == tok.encode(text) && back.vocabularySize == tok.vocabularySize)
        try "{\"model\": {}}".write(to: url, atomically: true, encoding: .utf8)
        #expect(throws: FileFormatError.self) { try Tokenizer.load(contentsOf: url) }
    }
}

@Suite struct UserDataTests {
    func write(_ text: String, _ ext: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("data-\(UUID().uuidString).\(ext)")
        try? text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "" } catch { return "\(error)" }
    }

    @Test func readsAlpacaJSONAndJSONL() throws {
        let json = write(#"[{"instruction": "Add", "input": "2 and 3", "output": "5"}, "#
                         + #"{"instruction": "Greet", "output": "Hello"}]"#, "json")
        let a = try loadAlpaca(contentsOf: json)
        #expect(a == [Example(prompt: "Instruction: Add\nInput: 2 and 3\nResponse:", answer: " 5"),
                      Example(prompt: "Instruction: Greet\nResponse:", answer: " Hello")])
        let jsonl = write("{\"instruction\": \"Add\", \"input\": \"2 and 3\", \"output\": \"5\"}\n\n"
                          + "{\"instruction\": \"Greet\", \"input\": \"\", \"output\": \"Hello\"}\n", "jsonl")
        #expect(try loadAlpaca(contentsOf: jsonl) == a)
    }

    @Test func alpacaRecordsMayCarryTheirTask() throws {
        let url = write("{\"instruction\": \"a\", \"output\": \"b\", \"task_id\": 2}\n"
                        + "{\"instruction\": \"c\", \"output\": \"d\"}\n", "jsonl")
        #expect(try loadAlpaca(contentsOf: url).map(\.taskId) == [2, nil])
        let bad = write("{\"instruction\": \"a\", \"output\": \"b\", \"task_id\": -1}\n", "jsonl")
        #expect(message { try loadAlpaca(contentsOf: bad) }.contains("line 1: \"task_id\" must be a whole number ≥ 0"))
    }

    @Test func badFilesNameFileLineAndProblem() {
        let badLine = write("{\"instruction\": \"a\", \"output\": \"b\"}\n{oops\n", "jsonl")
        #expect(message { try loadAlpaca(contentsOf: badLine) }.contains("line 2: not valid JSON"))
        let missing = write("{\"instruction\": \"a\"}\n", "jsonl")
        #expect(message { try loadAlpaca(contentsOf: missing) }.contains("line 1: missing or empty \"output\""))
        let empty = write("\n\n", "jsonl")
        #expect(message { try loadAlpaca(contentsOf: empty) }.contains("holds no examples"))
        let notArray = write("[1, 2", "json")
        #expect(message { try loadAlpaca(contentsOf: notArray) }.contains("is not valid JSON"))
        #expect(message { try loadAlpaca(contentsOf: URL(fileURLWithPath: "/no/such.json")) }.contains("no such file"))
        #expect(message { try loadTextCorpus(contentsOf: write("\n \n", "txt")) }.contains("holds no text"))
        #expect(message { try loadAlpaca(contentsOf: badLine) }.hasPrefix(badLine.path))
    }
}
