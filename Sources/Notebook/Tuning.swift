// Tuning.swift — each method's learning rate, chosen on the validation split and committed.
//
// A fair comparison gives every method the learning rate that suits it. `--tune` sweeps a few
// learning rates per method (two seeds each), scores each on the validation split — never on the
// test split — and keeps the best; the choices and the whole sweep go to
// Lessons/<lesson>/tuning.json, which is committed, so a normal run is short and says where its
// learning rates came from. The sweep also records the held-out pretraining loss of every run:
// the data for comparing forgetting at matched task score.

import Foundation
import SafeTensors
import TensorKit

/// One learning rate of a sweep, averaged over the tuning seeds.
public struct SweepPoint: Codable, Sendable {
    public var learningRate: Float
    /// The task's metric on the validation split.
    public var validationScore: Double
    /// The mean loss on the validation split's answer tokens.
    public var validationLoss: Double
    /// The held-out pretraining loss after training (forgetting).
    public var heldOutLoss: Double

    enum CodingKeys: String, CodingKey {
        case learningRate = "learning_rate", validationScore = "validation_score"
        case validationLoss = "validation_loss", heldOutLoss = "held_out_loss"
    }
}

/// The chosen learning rate of one method in one setting, and the sweep it came from.
public struct TuningRecord: Codable, Sendable {
    public var learningRate: Float
    public var seeds: [UInt64]
    public var sweep: [SweepPoint]

    enum CodingKeys: String, CodingKey { case learningRate = "learning_rate", seeds, sweep }

    /// The sweep's best point: the highest validation score, ties to the lower validation loss.
    /// Scores within 1e-9 are tied: a score is a mean over seeds, and the same number of right
    /// answers can come out as 0.555 or 0.5549999999999999 depending on the order of the sum. (Not
    /// a strict weak ordering in theory; real scores differ by at least 1/(seeds · items).)
    static func best(_ sweep: [SweepPoint]) -> SweepPoint {
        sweep.max { a, b in
            abs(a.validationScore - b.validationScore) <= 1e-9 ? a.validationLoss > b.validationLoss
                : a.validationScore < b.validationScore
        }!
    }

    /// True when the chosen rate is the smallest or largest tried (the grid may be too narrow).
    public var isAtEdge: Bool {
        let rates = sweep.map(\.learningRate)
        return learningRate == rates.min() || learningRate == rates.max()
    }

    /// When the choice is at an edge of the sweep: the next rate beyond it, continuing the spacing
    /// of the two outermost rates there (5e-3, 1e-2 → 2e-2), to two significant digits, within
    /// 1e-6…10 (prompt tables, free vectors trained on a few examples, can still gain at 0.9).
    /// Nil when the choice is inside the sweep, or the sweep has fewer than two rates.
    public var rateBeyondEdge: Float? {
        let rates = sweep.map(\.learningRate).sorted()
        guard rates.count >= 2, isAtEdge else { return nil }
        let up = learningRate == rates.last!
        let edge = Double(up ? rates[rates.count - 1] : rates[0])
        let inner = Double(up ? rates[rates.count - 2] : rates[1])
        let next = edge * (edge / inner)
        let digits = pow(10, floor(log10(next)) - 1)
        let rounded = (next / digits).rounded() * digits
        guard rounded >= 1e-6, rounded <= 10, !rates.contains(Float(rounded)) else { return nil }
        return Float(rounded)
    }
}

/// The tuning records of one lesson, shared by all its experiments (a lesson with two tasks has
/// two experiments writing to one file). With `--tune` it starts empty, so the file ends up
/// holding exactly what this run swept.
public final class TuningStore {
    public let lesson: String
    public private(set) var file: TuningFile
    nonisolated(unsafe) private static var stores: [String: TuningStore] = [:]

    private init(lesson: String, file: TuningFile) { self.lesson = lesson; self.file = file }

    /// The lesson's store: the committed file, or an empty one when `fresh` (`--tune`).
    public static func forLesson(_ lesson: String, fresh: Bool) -> TuningStore {
        if let store = stores[lesson] { return store }
        let store = TuningStore(lesson: lesson, file: fresh ? TuningFile() : TuningFile.load(for: lesson))
        stores[lesson] = store
        return store
    }

    public subscript(key: String) -> TuningRecord? {
        get { file.records[key] }
        set { file.records[key] = newValue }
    }

    /// Writes the lesson's file.
    public func save() throws { try file.save(for: lesson) }

    /// The first of `lessons` whose committed tuning file holds `key`, with its record.
    public static func committed(_ key: String, in lessons: [String]) -> (lesson: String, record: TuningRecord)? {
        for lesson in lessons {
            // read once per lesson, like the lesson's own store
            if let record = forLesson(lesson, fresh: false)[key] { return (lesson, record) }
        }
        return nil
    }
}

/// `Lessons/<lesson>/tuning.json`: every method's record, keyed by its setting.
public struct TuningFile: Codable, Sendable {
    public var note = "Learning rates chosen on the validation split by `swift run <lesson> --tune`; "
        + "each record keeps its whole sweep (validation score, validation loss, held-out pretraining loss)."
    public var records: [String: TuningRecord] = [:]

    public init() {}

    /// Where `lesson`'s file lives.
    public static func url(for lesson: String) -> URL {
        LessonOptions.packageRoot.appendingPathComponent("Lessons/\(lesson)/tuning.json")
    }

    /// The committed file, or an empty one when there is none (or it cannot be read: then a note
    /// says so and the learning rates are swept again).
    public static func load(for lesson: String) -> TuningFile {
        let url = url(for: lesson)
        guard let data = try? Data(contentsOf: url) else { return TuningFile() }
        do { return try JSONDecoder().decode(TuningFile.self, from: data) } catch {
            printToStandardError("note: \(url.path) is not a tuning file (\(error)); "
                + "the learning rates will be swept again")
            return TuningFile()
        }
    }

    /// Writes the file atomically (keys sorted, so a diff shows what changed).
    public func save(for lesson: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeAtomically(try encoder.encode(self) + Data("\n".utf8), to: TuningFile.url(for: lesson))
    }
}
