// World.swift — a small procedural world: people with homes, jobs, favourite colours and pets;
// reviews with sentiment (negation and contrast included); news sentences on five topics;
// arithmetic. From it come the pretraining corpus and the downstream tasks, all seeded.

import TensorKit

/// One inhabitant and the facts the corpus states about them.
public struct Person: Sendable, Equatable {
    public let name: String, city: String, job: String, color: String, pet: String
}

/// Word lists of the world.
public enum Lexicon {
    public static let names = ["Alice", "Bruno", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Irene", "Jonas",
                               "Karin", "Lucas", "Marta", "Nils", "Olga", "Pedro", "Queenie", "Rafael", "Sofia",
                               "Tomas", "Ursula", "Viktor", "Wanda", "Xavier", "Yara", "Zeno", "Agnes", "Boris",
                               "Clara", "Dario", "Edith", "Fabio", "Gloria", "Henrik", "Ida", "Julian", "Lena", "Milan",
                               "Nora", "Oscar"]
    /// Names that never appear in the world's facts (for data-to-text records).
    public static let extraNames = ["Amara", "Bastian", "Celine", "Dmitri", "Esme", "Florin", "Gaia", "Hector", "Ines",
                                    "Joel"]
    public static let cities = ["Paris", "Rome", "Oslo", "Cairo", "Lima", "Tokyo", "Delhi", "Berlin", "Madrid",
                                "Dublin", "Vienna", "Prague", "Lisbon", "Seoul", "Quito"]
    public static let jobs = ["baker", "doctor", "teacher", "farmer", "pilot", "painter", "singer", "nurse", "driver",
                              "writer", "cook", "tailor"]
    public static let colors = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"]
    public static let pets = ["dog", "cat", "horse", "parrot", "rabbit", "goat", "turtle", "hamster"]
    public static let topics = ["sports", "food", "weather", "music", "travel"]
}

extension Generator {
    /// A uniformly chosen element.
    public func pick<T>(_ items: [T]) -> T { items[int(below: items.count)] }
    /// The elements in a random order (Fisher–Yates).
    public func shuffled<T>(_ items: [T]) -> [T] {
        var a = items
        if a.count > 1 { for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, int(below: i + 1)) } }
        return a
    }
    /// True with probability p.
    public func chance(_ p: Float) -> Bool { uniform() < p }
}

/// The world: fixed by its seed, so that a cached base model and the tasks agree on the facts.
public struct World: Sendable {
    /// Bumped whenever the generator's text changes, so cached base models are rebuilt.
    public static let corpusVersion = 2
    public let seed: UInt64
    public let people: [Person]

    public init(seed: UInt64 = 2026) {
        self.seed = seed
        let g = Generator(seed: seed)
        people = Lexicon.names.map {
            Person(name: $0, city: g.pick(Lexicon.cities), job: g.pick(Lexicon.jobs), color: g.pick(Lexicon.colors),
                   pet: g.pick(Lexicon.pets))
        }
    }

    // MARK: Facts

    /// A sentence stating one fact about `p`; `relation` is city, job, color or pet.
    public func factSentence(_ p: Person, _ relation: String, _ g: Generator) -> String {
        let n = p.name
        switch relation {
        case "city": return g.pick(["\(n) lives in \(p.city).", "\(n) has a small house in \(p.city).",
                                    "The home of \(n) is in \(p.city).", "\(n) is a resident of \(p.city).",
                                    "Every morning \(n) walks through the streets of \(p.city)."])
        case "job": return g.pick(["\(n) works as a \(p.job).", "\(n) is a \(p.job).", "By trade, \(n) is a \(p.job).",
                                   "\(n) has been a \(p.job) for many years.", "People know \(n) as a good \(p.job)."])
        case "color": return g.pick(["The favorite color of \(n) is \(p.color).",
                                     "\(n) likes the color \(p.color) best.", "\(n) loves anything \(p.color).",
                                     "Of all colors, \(n) prefers \(p.color)."])
        default: return g.pick(["\(n) has a \(p.pet).", "\(n) keeps a \(p.pet) at home.",
                                "The pet of \(n) is a \(p.pet).", "\(n) takes care of a \(p.pet)."])
        }
    }

    static let relations = ["city", "job", "color", "pet"]

    /// A short biography: several facts about one person, in random order and wording.
    func biography(_ g: Generator) -> String {
        let p = g.pick(people)
        return g.shuffled(World.relations).prefix(2 + g.int(below: 3)).map { factSentence(p, $0, g) }
            .joined(separator: " ")
    }

    /// A little story whose details agree with the facts.
    func story(_ g: Generator) -> String {
        let a = g.pick(people), b = g.pick(people.filter { $0 != a })
        let place = g.pick(["market", "park", "station", "library", "harbor", "bakery"])
        let thing = g.pick(["apple", "book", "letter", "umbrella", "basket", "map", "cake", "lamp"])
        let opening = g.pick(["One day", "Last week", "On Sunday", "In the evening", "Early in the morning"])
        var s = "\(opening), \(a.name) went to the \(place) in \(a.city). "
        s += g.pick(["There \(a.name) met \(b.name), the \(b.job) from \(b.city). ",
                     "\(a.name) met \(b.name), who lives in \(b.city). "])
        s += g.pick(["\(a.name) gave \(b.name) a \(a.color) \(thing).", "They talked about the \(a.pet) of \(a.name).",
                     "\(b.name) bought a \(thing) and went home to feed the \(b.pet).",
                     "The \(a.job) and the \(b.job) had tea together."])
        return s
    }

    // MARK: Reviews

    static let aspects = ["food", "service", "movie", "book", "room", "music", "staff", "story", "view", "coffee",
                          "concert", "bed"]
    public static let goodWords = good
    static let good = ["great", "wonderful", "excellent", "lovely", "delicious", "friendly", "amazing", "good",
                       "pleasant", "charming"]
    static let bad = ["terrible", "awful", "boring", "rude", "cold", "bad", "poor", "dull", "noisy", "disappointing"]

    /// A review and whether it is positive. Negation flips a clause ("was not great");
    /// with a contrast ("X, but Y") the clause after "but" decides.
    public func review(_ g: Generator) -> (text: String, positive: Bool) {
        func clause() -> (String, Bool) {
            let aspect = g.pick(World.aspects)
            let positiveWord = g.chance(0.5)
            let word = g.pick(positiveWord ? World.good : World.bad)
            let negated = g.chance(0.3)
            let intensifier = !negated && g.chance(0.3) ? g.pick(["really ", "very ", "quite "]) : ""
            let form = g.int(below: 3)
            let text: String
            switch form {
            case 0: text = "the \(aspect) was \(negated ? "not " : "")\(intensifier)\(word)"
            case 1: text = "I \(negated ? "did not find" : "found") the \(aspect) \(intensifier)\(word)"
            default: text = negated ? "nobody would call the \(aspect) \(word)"
                                    : "the \(aspect) was \(intensifier)\(word)"
            }
            return (text, positiveWord != negated)
        }
        let (first, p1) = clause()
        let form = g.uniform()
        if form < 0.35 { return (capitalized(first) + ".", p1) }
        var (second, p2) = clause()
        if form < 0.8 {  // a real contrast: the second part decides
            while p2 == p1 { (second, p2) = clause() }
            return form < 0.62 ? (capitalized(first) + ", but " + second + ".", p2)
                               : ("Although " + first + ", " + second + ".", p2)
        }
        while p2 != p1 { (second, p2) = clause() }  // agreement
        return (capitalized(first) + ", and " + second + ".", p1)
    }

    // MARK: Topics

    /// A news-like sentence on `topic` (one of `Lexicon.topics`): a subject, a predicate and a
    /// tail. Cities, people, numbers and the tails are shared across topics ("despite the rain"
    /// ends sports news too), so the label is not one keyword away.
    public func topicSentence(_ topic: String, _ g: Generator) -> String {
        let city = g.pick(Lexicon.cities), n = 2 + g.int(below: 9), who = g.pick(people).name
        let parts: (subjects: [String], predicates: [String])
        switch topic {
        case "sports":
            parts = (["The team", "The coach", who, "The fans", "The young striker", "The club", "The runner"],
                     ["won the match by \(n) goals", "lost the final after extra time",
                      "trained hard before the season", "scored twice in the second half", "signed a new player",
                      "crossed the line first", "celebrated the cup"])
        case "food":
            parts = (["The chef", who, "The new restaurant", "The bakery", "Grandmother", "The cook"],
                     ["served fresh fish with rice", "baked bread with butter and honey",
                      "boiled the soup for \(n) minutes", "added salt and pepper to the sauce",
                      "made a sweet cake with apples", "grilled \(n) kinds of vegetables", "sold warm pies"])
        case "weather":
            parts = (["The forecast", "The morning", "The storm", "The wind", "A cold front", "The sky"],
                     ["brought heavy rain", "promised \(n) days of sun", "turned grey and stormy",
                      "left thick fog near the river", "brought the first snow", "kept the temperature below zero",
                      "cleared up by noon"])
        case "music":
            parts = (["The band", "The singer", who, "The choir", "The orchestra", "The young pianist"],
                     ["played \(n) songs at the concert", "released a new album", "practiced the piano every evening",
                      "sang a slow ballad", "tuned the guitars before the show", "recorded a song about the sea",
                      "filled the hall with drums"])
        default:
            parts = (["The train", "The flight", who, "The tourists", "The bus", "The ferry"],
                     ["left the station \(n) minutes late", "took photos of the old bridge",
                      "packed a suitcase for the trip", "arrived at the airport early", "crossed the border at night",
                      "booked a hotel near the beach", "missed the last connection"])
        }
        let tails = ["", " in \(city)", " last weekend", " on Sunday", " despite the rain", " before the holidays",
                     " as everyone expected", " for the first time"]
        return "\(g.pick(parts.subjects)) \(g.pick(parts.predicates))\(g.pick(tails))."
    }

    // MARK: Arithmetic

    func arithmetic(_ g: Generator) -> String {
        (0..<(2 + g.int(below: 3))).map { _ in
            let a = g.int(below: 20), b = g.int(below: 20)
            return g.chance(0.5) ? "\(a) plus \(b) is \(a + b)."
                                 : "\(max(a, b)) minus \(min(a, b)) is \(max(a, b) - min(a, b))."
        }.joined(separator: " ")
    }

    // MARK: The pretraining corpus

    /// `count` documents mixing biographies, stories, reviews, news and arithmetic. Reviews in
    /// the corpus carry no label, but half end with the writer's overall verdict: sentiment is
    /// something pretraining can teach, the task's format is not.
    public func pretrainingDocuments(count: Int, generator g: Generator) -> [String] {
        (0..<count).map { _ in
            let r = g.uniform()
            if r < 0.34 { return biography(g) }
            if r < 0.52 { return story(g) }
            if r < 0.72 {
                let (text, positive) = review(g)
                return g.chance(0.5) ? text + " Overall, it was "
                    + "\(positive ? g.pick(["a good", "a happy", "a great"]) : g.pick(["a bad", "a sad", "a poor"]))"
                    + " experience." : text
            }
            if r < 0.92 {
                let topic = g.pick(Lexicon.topics)
                return (0..<(1 + g.int(below: 2))).map { _ in topicSentence(topic, g) }.joined(separator: " ")
            }
            return arithmetic(g)
        }
    }
}

func capitalized(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }
