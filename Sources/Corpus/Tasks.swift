// Tasks.swift — downstream tasks as text → answer text, with train/validation/test splits
// and a metric. The causal LM sees prompt + answer; the loss covers the answer tokens only.

import TensorKit

/// One example: the model reads `prompt` and should continue with `answer`.
public struct Example: Sendable, Equatable {
    public var prompt: String
    public var answer: String
    public init(prompt: String, answer: String) { self.prompt = prompt; self.answer = answer }
}

/// How a task is scored.
public enum Metric: Sendable, Equatable {
    /// Pick the option whose tokens the model finds most likely (rank classification): accuracy.
    case choice(options: [String])
    /// Greedy generation of at most `maxTokens`; exact match of the first line (trimmed).
    case exactMatch(maxTokens: Int)
    /// Greedy generation; the share of the record's values that the text mentions, and exact match.
    case slotCoverage(maxTokens: Int)
}

/// A downstream task with its splits.
public struct TaskData: Sendable {
    public var name: String
    /// One sentence for tables and reports.
    public var summary: String
    public var metric: Metric
    public var train: [Example], validation: [Example], test: [Example]

    public init(name: String, summary: String, metric: Metric, train: [Example], validation: [Example], test: [Example]) {
        self.name = name; self.summary = summary; self.metric = metric
        self.train = train; self.validation = validation; self.test = test
    }
}

/// Split sizes: `full` for lessons, `quick` for `--quick` and the tests.
public struct SplitSizes: Sendable {
    public var train: Int, validation: Int, test: Int
    public init(train: Int, validation: Int, test: Int) { self.train = train; self.validation = validation; self.test = test }
    public static let full = SplitSizes(train: 2000, validation: 200, test: 400)
    public static let quick = SplitSizes(train: 300, validation: 60, test: 100)
}

extension World {
    /// The embedded tasks by name.
    public static let taskNames = ["sentiment", "topic", "qa", "data-to-text"]

    /// The task `name` with splits drawn from `seed`; throws for an unknown name.
    public func task(_ name: String, sizes: SplitSizes = .full, seed: UInt64 = 0) throws -> TaskData {
        let g = Generator(seed: seed ^ 0x7A5C_0000 ^ UInt64(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xFFFF))
        func split(_ make: () -> Example) -> ([Example], [Example], [Example]) {
            // Distinct prompts across splits, so no test prompt was seen in training.
            var seen = Set<String>(), all: [Example] = []
            let total = sizes.train + sizes.validation + sizes.test
            var attempts = 0
            while all.count < total && attempts < total * 50 {
                attempts += 1
                let e = make()
                if seen.insert(e.prompt).inserted { all.append(e) }
            }
            // Test and validation are filled first, so a small pool shortens training, never the test.
            let test = Array(all.prefix(sizes.test)), validation = Array(all.dropFirst(sizes.test).prefix(sizes.validation))
            return (Array(all.dropFirst(sizes.test + sizes.validation)), validation, test)
        }
        let data = try makeTask(name, split: split, sizes: sizes, g)
        if data.train.isEmpty || data.validation.isEmpty || data.test.isEmpty {
            throw TaskError.emptySplit(name)
        }
        return data
    }

    private func makeTask(_ name: String, split: (() -> Example) -> ([Example], [Example], [Example]), sizes: SplitSizes, _ g: Generator) throws -> TaskData {
        switch name {
        case "sentiment":
            let (tr, va, te) = split {
                let (text, positive) = review(g)
                return Example(prompt: "Review: \(text)\nSentiment:", answer: positive ? " positive" : " negative")
            }
            return TaskData(name: name, summary: "is a review positive or negative? (negation and contrast decide)",
                            metric: .choice(options: [" positive", " negative"]), train: tr, validation: va, test: te)
        case "topic":
            let (tr, va, te) = split {
                let topic = g.pick(Lexicon.topics)
                return Example(prompt: "Text: \(topicSentence(topic, g))\nTopic:", answer: " " + topic)
            }
            return TaskData(name: name, summary: "which of five topics is a sentence about?",
                            metric: .choice(options: Lexicon.topics.map { " " + $0 }), train: tr, validation: va, test: te)
        case "qa":
            return factualQA(sizes: sizes, g)
        case "data-to-text":
            let (tr, va, te) = split { dataToText(g) }
            return TaskData(name: name, summary: "write one sentence from a record of fields",
                            metric: .slotCoverage(maxTokens: 24), train: tr, validation: va, test: te)
        default:
            throw TaskError.unknownTask(name)
        }
    }

    /// Questions about the facts of the pretraining corpus. Training asks about the first 24
    /// people, validation about 4 others and test about the last 12: the test answers are
    /// known only from pretraining, never from the task's training set.
    func factualQA(sizes: SplitSizes, _ g: Generator) -> TaskData {
        func questions(_ p: Person) -> [Example] {
            let n = p.name
            return [
                Example(prompt: "Question: Where does \(n) live?\nAnswer:", answer: " " + p.city),
                Example(prompt: "Question: In which city is the home of \(n)?\nAnswer:", answer: " " + p.city),
                Example(prompt: "Question: What is the job of \(n)?\nAnswer:", answer: " " + p.job),
                Example(prompt: "Question: What does \(n) do for a living?\nAnswer:", answer: " " + p.job),
                Example(prompt: "Question: What is the favorite color of \(n)?\nAnswer:", answer: " " + p.color),
                Example(prompt: "Question: Which color does \(n) like best?\nAnswer:", answer: " " + p.color),
                Example(prompt: "Question: What pet does \(n) have?\nAnswer:", answer: " " + p.pet),
                Example(prompt: "Question: Which animal does \(n) keep at home?\nAnswer:", answer: " " + p.pet),
            ]
        }
        let train = g.shuffled(people[0..<24].flatMap(questions))
        let validation = g.shuffled(people[24..<28].flatMap(questions))
        let test = g.shuffled(people[28...].flatMap(questions))
        return TaskData(name: "qa", summary: "answer questions about people known only from pretraining",
                        metric: .exactMatch(maxTokens: 4),
                        train: Array(train.prefix(sizes.train)), validation: Array(validation.prefix(sizes.validation)),
                        test: Array(test.prefix(sizes.test)))
    }

    /// A record of 2–3 fields about a (possibly new) person → one sentence in a fixed style.
    func dataToText(_ g: Generator) -> Example {
        let name = g.pick(Lexicon.names + Lexicon.extraNames)
        let city = g.pick(Lexicon.cities), job = g.pick(Lexicon.jobs), color = g.pick(Lexicon.colors), pet = g.pick(Lexicon.pets)
        let layouts: [([(String, String)], String)] = [
            ([("job", job), ("city", city)], "\(name) is a \(job) who lives in \(city)."),
            ([("job", job), ("pet", pet)], "\(name) is a \(job) who has a \(pet)."),
            ([("city", city), ("color", color)], "\(name) lives in \(city) and likes \(color)."),
            ([("job", job), ("city", city), ("pet", pet)], "\(name) is a \(job) from \(city) with a \(pet)."),
            ([("city", city), ("pet", pet), ("color", color)], "\(name) lives in \(city), has a \(pet) and likes \(color)."),
        ]
        let (fields, sentence) = g.pick(layouts)
        let record = ([("name", name)] + g.shuffled(fields)).map { "\($0.0)=\($0.1)" }.joined(separator: " | ")
        return Example(prompt: "Data: \(record)\nText:", answer: " " + sentence)
    }
}

public enum TaskError: Error, CustomStringConvertible, Equatable {
    case unknownTask(String)
    case emptySplit(String)
    public var description: String {
        switch self {
        case .emptySplit(let name): "task '\(name)' has an empty train, validation or test split; ask for fewer examples"
        case .unknownTask(let name):
            "unknown task '\(name)'; the embedded tasks are \(World.taskNames.joined(separator: ", ")), or give a JSON/JSONL file of Alpaca records"
        }
    }
}

/// The values of a data-to-text prompt's record ("name=Alice | city=Rome" → [Alice, Rome]).
public func recordValues(_ prompt: String) -> [String] {
    guard let line = prompt.split(separator: "\n").first, line.hasPrefix("Data: ") else { return [] }
    return line.dropFirst(6).split(separator: "|").compactMap { $0.split(separator: "=").last.map { $0.trimmingCharacters(in: " ") } }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
