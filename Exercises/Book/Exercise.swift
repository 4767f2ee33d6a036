// Exercise.swift — an exercise (a name, the lesson it belongs to, a hint, and its cases), one case
// (its inputs and how an answer is judged), and the checker that runs an answer over the cases.

import TensorKit

/// One exercise: a function of `ExerciseBook` and the cases it is checked on.
public struct Exercise: Sendable {
    /// The name on the command line, e.g. `lora-forward`.
    public let name: String
    /// What the exercise computes, in one line.
    public let title: String
    /// The lesson that explains it, e.g. `lesson-lora`.
    public let lesson: String
    /// The `ExerciseBook` function a student writes.
    public let function: String
    /// One or two sentences that point the way.
    public let hint: String
    /// The cases for a seed: random inputs drawn from `Generator(seed:)` and fixed edge cases.
    let makeCases: @Sendable (UInt64) -> [ExerciseCase]

    /// The cases this exercise is checked on; `seed` changes the random inputs, not the edge cases.
    public func cases(seed: UInt64 = 0) -> [ExerciseCase] { makeCases(seed) }

    /// The exercises in the order a course meets them.
    public static let all: [Exercise] = [
        .loraForward, .loraMerge, .loraParameterCount, .subspaceSimilarity, .nf4Quantize, .adaLoraBudget,
        .promptInput, .promptLabels,
    ]

    /// The exercise with this name, or nil.
    public static func named(_ name: String) -> Exercise? { all.first { $0.name == name } }
}

/// One set of inputs: a title that says what it is, the inputs printed small, and the judge.
public struct ExerciseCase: Sendable {
    /// What the case is, e.g. `x [2, 3], W₀ [4, 3], A [2, 3], B [4, 2], alpha 4 (alpha/r = 2)`.
    public let title: String
    /// The inputs, one `name = value` line each, short enough to print.
    public let inputs: [String]
    /// nil when the answer is right, otherwise what is wrong (expected and got).
    let judge: @Sendable (any ExerciseBook.Type) -> String?

    init(_ title: String, inputs: [String], judge: @escaping @Sendable (any ExerciseBook.Type) -> String?) {
        self.title = title; self.inputs = inputs; self.judge = judge
    }

    /// What is wrong with `answers` on this case, or nil when it matches the reference.
    public func problem(in answers: any ExerciseBook.Type) -> String? { judge(answers) }
}

/// How one case went.
public struct CaseResult: Sendable {
    /// 1-based.
    public let number: Int
    public let title: String
    public let inputs: [String]
    /// nil when the case passed.
    public let problem: String?
    public var passed: Bool { problem == nil }
}

/// How one exercise went.
public struct ExerciseResult: Sendable {
    public let exercise: Exercise
    public let cases: [CaseResult]
    /// Every case passed.
    public var passed: Bool { cases.allSatisfy(\.passed) }
    public var passedCount: Int { cases.filter(\.passed).count }
}

/// Runs an answer over an exercise's cases.
public enum Checker {
    /// Checks `answers` on every case of `exercise`. `willRun` is told each case (1-based number)
    /// before the answer runs, so that a crash can be traced to its case.
    public static func check(_ exercise: Exercise, answers: any ExerciseBook.Type, seed: UInt64 = 0,
                             willRun: (Int, ExerciseCase) -> Void = { _, _ in }) -> ExerciseResult {
        let results = exercise.cases(seed: seed).enumerated().map { index, item in
            willRun(index + 1, item)
            return CaseResult(number: index + 1, title: item.title, inputs: item.inputs,
                              problem: item.problem(in: answers))
        }
        return ExerciseResult(exercise: exercise, cases: results)
    }
}

/// Random, printable inputs for the cases: values drawn from N(0, 1) and rounded to two decimals,
/// so that a printed input reads back as exactly the value the answer saw.
final class Inputs {
    private let generator: Generator

    /// A stream of inputs for one exercise (`stream`) and the checker's `seed`.
    init(seed: UInt64, stream: UInt64) {
        generator = Generator(seed: seed &* 1_000_003 &+ stream)
    }

    /// N(0, 1) rounded to two decimals.
    func value() -> Float { Float((generator.normal() * 100).rounded()) / 100 }

    /// A [rows, columns] matrix of `value()`s.
    func matrix(_ rows: Int, _ columns: Int) -> Matrix {
        Matrix(rows: rows, columns: columns, values: (0..<rows * columns).map { _ in value() })
    }

    /// A uniform integer in `range`.
    func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + generator.int(below: range.count) }
}
