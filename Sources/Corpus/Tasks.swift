// Tasks.swift — downstream tasks as text → answer text, with train/validation/test splits
// and a metric. The causal LM sees prompt + answer; the loss covers the answer tokens only.

import TensorKit

/// One example: the model reads `prompt` and should continue with `answer`.
public struct Example: Sendable, Equatable {
    public var prompt: String
    public var answer: String
    /// What the example is about (a person for qa; the example itself otherwise). Examples about
    /// one entity are not independent, so confidence intervals resample entities, not examples.
    public var entity: String
    /// The kind of question ("city", "job"… for qa; the task's name otherwise): the majority
    /// baseline answers the most frequent training answer of the same kind.
    public var kind: String
    /// The task the example belongs to, for methods that read one per row (multitask prompt
    /// tuning); nil when the data has a single task or the method needs none.
    public var taskId: Int?

    public init(prompt: String, answer: String, entity: String? = nil, kind: String = "", taskId: Int? = nil) {
        self.prompt = prompt; self.answer = answer; self.entity = entity ?? prompt; self.kind = kind
        self.taskId = taskId
    }
}

/// How a task is scored.
public enum Metric: Sendable, Equatable {
    /// Pick the option whose tokens the model finds most likely (rank classification): accuracy.
    case choice(options: [String])
    /// Rank classification among the options of the example's `kind` (tasks of one format whose
    /// label sets differ, and their mixtures): accuracy.
    case choiceByKind([String: [String]])
    /// Greedy generation of at most `maxTokens`; exact match of the first line (trimmed).
    case exactMatch(maxTokens: Int)
    /// Greedy generation; the share of the record's values that the text mentions, and exact match.
    case slotCoverage(maxTokens: Int)

    /// Whether every example picks among one fixed set of options (`choice`); `choiceByKind`,
    /// whose option set changes with the example's kind, is not.
    public var isChoice: Bool { if case .choice = self { return true } else { return false } }
}

/// A downstream task with its splits.
public struct TaskData: Sendable {
    public var name: String
    /// One sentence for tables and reports.
    public var summary: String
    public var metric: Metric
    public var train: [Example], validation: [Example], test: [Example]

    public init(name: String, summary: String, metric: Metric, train: [Example], validation: [Example],
                test: [Example]) {
        self.name = name; self.summary = summary; self.metric = metric
        self.train = train; self.validation = validation; self.test = test
    }

    /// The task with every example of every split labelled `taskId` (its row's task for
    /// multitask prompt tuning).
    public func withTaskId(_ taskId: Int) -> TaskData {
        func tagged(_ examples: [Example]) -> [Example] { examples.map { var e = $0; e.taskId = taskId; return e } }
        return TaskData(name: name, summary: summary, metric: metric, train: tagged(train),
                        validation: tagged(validation), test: tagged(test))
    }

    /// The task with its training split cut to the first `count` examples (validation and test
    /// unchanged): the same task with less data.
    public func withTrainingExamples(_ count: Int) -> TaskData {
        TaskData(name: name, summary: summary, metric: metric, train: Array(train.prefix(count)),
                 validation: validation, test: test)
    }
}

/// Split sizes: `full` for lessons, `quick` for `--quick` and the tests.
public struct SplitSizes: Sendable {
    public var train: Int, validation: Int, test: Int
    public init(train: Int, validation: Int, test: Int) {
        self.train = train; self.validation = validation; self.test = test
    }
    public static let full = SplitSizes(train: 2000, validation: 200, test: 400)
    public static let quick = SplitSizes(train: 300, validation: 60, test: 100)
}

extension World {
    /// The embedded tasks by name.
    public static let taskNames = ["sentiment", "topic", "qa", "data-to-text"] + qaRelationTaskNames

    /// qa restricted to one fact: four tasks that share a format, a skill (recall what pretraining
    /// said about a person) and the people split, and differ in what is asked — the kind of task
    /// family multitask prompt tuning shares a prompt across. Each is scored by rank
    /// classification among the fact's values (15 cities, 12 jobs, 8 colours, 8 pets).
    public static let qaRelationTaskNames = World.relations.map { "qa-\($0)" }

    /// The values a fact can take: the cities, jobs, colours or pets of the lexicon.
    public static func relationValues(_ relation: String) -> [String] {
        switch relation {
        case "city": Lexicon.cities
        case "job": Lexicon.jobs
        case "color": Lexicon.colors
        default: Lexicon.pets
        }
    }

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
            let test = Array(all.prefix(sizes.test)),
                validation = Array(all.dropFirst(sizes.test).prefix(sizes.validation))
            return (Array(all.dropFirst(sizes.test + sizes.validation)), validation, test)
        }
        let data = try makeTask(name, split: split, sizes: sizes, g)
        if data.train.isEmpty || data.validation.isEmpty || data.test.isEmpty {
            throw TaskError.emptySplit(name)
        }
        return data
    }

    private func makeTask(_ name: String, split: (() -> Example) -> ([Example], [Example], [Example]),
                          sizes: SplitSizes, _ g: Generator) throws -> TaskData {
        switch name {
        case "sentiment":
            let (tr, va, te) = split {
                let (text, positive) = review(g)
                return Example(prompt: "Review: \(text)\nSentiment:", answer: positive ? " positive" : " negative",
                               kind: "sentiment")
            }
            return TaskData(name: name, summary: "is a review positive or negative? (negation and contrast decide)",
                            metric: .choice(options: [" positive", " negative"]), train: tr, validation: va, test: te)
        case "topic":
            let (tr, va, te) = split {
                let topic = g.pick(Lexicon.topics)
                return Example(prompt: "Text: \(topicSentence(topic, g))\nTopic:", answer: " " + topic, kind: "topic")
            }
            return TaskData(name: name, summary: "which of five topics is a sentence about?",
                            metric: .choice(options: Lexicon.topics.map { " " + $0 }), train: tr, validation: va,
                            test: te)
        case "qa":
            return factualQA(sizes: sizes, g)
        case let name where World.qaRelationTaskNames.contains(name):
            return factualQA(sizes: sizes, g, relation: String(name.dropFirst(3)))
        case "data-to-text":
            let (tr, va, te) = split { dataToText(g) }
            return TaskData(name: name, summary: "write one sentence from a record of fields",
                            metric: .slotCoverage(maxTokens: 24), train: tr, validation: va, test: te)
        default:
            throw TaskError.unknownTask(name)
        }
    }

    /// Who each qa split asks about: the first 20 people for training, 6 for validation and the
    /// last 14 for test. The test answers are known only from pretraining, never from the task's
    /// training set.
    public static let qaPeople = (train: 0..<20, validation: 20..<26, test: 26..<40)

    /// Questions about the facts of the pretraining corpus: three wordings of each of four facts
    /// per person (12 questions), people split as `qaPeople` says; with `relation`, only the
    /// three questions about that fact (city, job, color or pet), scored by rank classification.
    func factualQA(sizes: SplitSizes, _ g: Generator, relation: String? = nil) -> TaskData {
        func questions(_ p: Person) -> [Example] {
            let n = p.name
            let asked: [(String, String, [String])] = [
                ("city", p.city,
                 ["Where does \(n) live?", "In which city is the home of \(n)?", "Which city does \(n) live in?"]),
                ("job", p.job,
                 ["What is the job of \(n)?", "What does \(n) do for a living?", "What does \(n) work as?"]),
                ("color", p.color, ["What is the favorite color of \(n)?", "Which color does \(n) like best?",
                                    "What color does \(n) love?"]),
                ("pet", p.pet,
                 ["What pet does \(n) have?", "Which animal does \(n) keep at home?",
                  "What animal is the pet of \(n)?"]),
            ]
            return asked.filter { relation == nil || $0.0 == relation }.flatMap { kind, answer, wordings in
                wordings.map {
                    Example(prompt: "Question: \($0)\nAnswer:", answer: " " + answer, entity: n, kind: kind)
                }
            }
        }
        let split = World.qaPeople
        let train = g.shuffled(people[split.train].flatMap(questions))
        let validation = g.shuffled(people[split.validation].flatMap(questions))
        let test = g.shuffled(people[split.test].flatMap(questions))
        let summary = relation.map { "answer questions about the \($0) of people known only from pretraining" }
            ?? "answer questions about people known only from pretraining"
        return TaskData(name: relation.map { "qa-\($0)" } ?? "qa", summary: summary,
                        metric: relation.map { .choiceByKind([$0: World.relationValues($0).map { " " + $0 }]) }
                            ?? .exactMatch(maxTokens: 4),
                        train: Array(train.prefix(sizes.train)), validation: Array(validation.prefix(sizes.validation)),
                        test: Array(test.prefix(sizes.test)))
    }

    /// A record of 2–3 fields about a (possibly new) person → one sentence in a fixed style.
    func dataToText(_ g: Generator) -> Example {
        let name = g.pick(Lexicon.names + Lexicon.extraNames)
        let city = g.pick(Lexicon.cities), job = g.pick(Lexicon.jobs),
            color = g.pick(Lexicon.colors), pet = g.pick(Lexicon.pets)
        let layouts: [([(String, String)], String)] = [
            ([("job", job), ("city", city)], "\(name) is a \(job) who lives in \(city)."),
            ([("job", job), ("pet", pet)], "\(name) is a \(job) who has a \(pet)."),
            ([("city", city), ("color", color)], "\(name) lives in \(city) and likes \(color)."),
            ([("job", job), ("city", city), ("pet", pet)], "\(name) is a \(job) from \(city) with a \(pet)."),
            ([("city", city), ("pet", pet), ("color", color)],
             "\(name) lives in \(city), has a \(pet) and likes \(color)."),
        ]
        let (fields, sentence) = g.pick(layouts)
        let record = ([("name", name)] + g.shuffled(fields)).map { "\($0.0)=\($0.1)" }.joined(separator: " | ")
        return Example(prompt: "Data: \(record)\nText:", answer: " " + sentence, kind: "data-to-text")
    }
}

/// What a score must beat to mean anything: guessing, and always giving the most common answer.
public struct Baselines: Sendable, Equatable {
    /// The expected score of a uniform guess among the answers each kind of question has in the
    /// data (0 for free text, where a guess is never exactly right).
    public var chance: Double
    /// The score of always answering the most frequent training answer of the item's kind.
    public var majority: Double
}

extension TaskData {
    /// Chance and majority-class baselines on the test split.
    public var baselines: Baselines {
        let all = train + validation + test
        var answers: [String: Set<String>] = [:], counts: [String: [String: Int]] = [:]
        for e in all { answers[e.kind, default: []].insert(e.answer) }
        for e in train { counts[e.kind, default: [:]][e.answer, default: 0] += 1 }
        let majorityAnswer = counts.mapValues { c in c.max { ($0.value, $1.key) < ($1.value, $0.key) }!.key }
        var chance = 0.0, majority = 0.0
        for e in test {
            if case .choice(let options) = metric { chance += 1 / Double(options.count) }
            else if case .choiceByKind(let options) = metric {
                chance += 1 / Double(max(options[e.kind]?.count ?? 1, 1))
            }
            else if case .exactMatch = metric { chance += 1 / Double(answers[e.kind]?.count ?? 1) }
            if majorityAnswer[e.kind] == e.answer { majority += 1 }
        }
        let n = Double(max(test.count, 1))
        return Baselines(chance: chance / n, majority: majority / n)
    }
}

public enum TaskError: Error, CustomStringConvertible, Equatable {
    case unknownTask(String)
    case emptySplit(String)
    public var description: String {
        switch self {
        case .emptySplit(let name):
            "task '\(name)' has an empty train, validation or test split; ask for fewer examples"
        case .unknownTask(let name):
            "unknown task '\(name)'; the embedded tasks are \(World.taskNames.joined(separator: ", ")), "
                + "or give a JSON/JSONL file of Alpaca records"
        }
    }
}

/// The values of a data-to-text prompt's record ("name=Alice | city=Rome" → [Alice, Rome]).
public func recordValues(_ prompt: String) -> [String] {
    guard let line = prompt.split(separator: "\n").first, line.hasPrefix("Data: ") else { return [] }
    return line.dropFirst(6).split(separator: "|").compactMap {
        $0.split(separator: "=").last.map { $0.trimmingCharacters(in: " ") }
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> String {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
