// ExercisesCommand.swift — `swift run exercises`: list the exercises, check answers against the
// reference, show a hint. Exit code 0 only when every selected check passes.
//
//   swift run exercises list
//   swift run exercises check lora-forward [more names…] | --all  [--solutions] [--seed N]
//   swift run exercises hint lora-forward

import ArgumentParser
import ExerciseAnswers
import ExerciseBook
import Foundation

@main
struct ExercisesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exercises",
        abstract: "Classroom exercises: implement PEFT's formulas in Exercises/Student/Answers.swift and check them.",
        discussion: """
        Each exercise is one function of Exercises/Student/Answers.swift; its exact rule is documented in \
        Exercises/Book/ExerciseBook.swift. `check` runs your answer and the reference (the project's own \
        implementation) on the same small inputs and says what differs.
        """,
        subcommands: [List.self, Check.self, Hint.self])
}

extension ExercisesCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the exercises and the lessons they belong to.")

        func run() {
            let width = Exercise.all.map(\.name.count).max() ?? 0
            for exercise in Exercise.all {
                let name = exercise.name.padding(toLength: width, withPad: " ", startingAt: 0)
                print("\(name)  \(exercise.lesson.padding(toLength: 20, withPad: " ", startingAt: 0))\(exercise.title)")
            }
            print("\nswift run exercises check NAME   (or --all), swift run exercises hint NAME")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check answers against the reference; exit code 0 only when every case of every selected "
                + "exercise passes.")

        @Argument(help: "Exercises to check (see `exercises list`).") var names: [String] = []
        @Flag(help: "Check every exercise.") var all = false
        @Flag(help: "Check the reference solutions instead of Exercises/Student/Answers.swift (they all pass).")
        var solutions = false
        @Option(help: "Seed of the random inputs (the edge cases stay the same).") var seed: UInt64 = 0

        func validate() throws {
            if all && !names.isEmpty { throw ValidationError("give exercise names or --all, not both") }
            if !all && names.isEmpty {
                throw ValidationError("name an exercise (\(Exercise.all.map(\.name).joined(separator: ", "))) or --all")
            }
            _ = try selected()
        }

        func run() throws {
            let answers: any ExerciseBook.Type = solutions ? ReferenceSolutions.self : StudentAnswers.self
            print("Checking \(solutions ? "the reference solutions" : "Exercises/Student/Answers.swift")"
                + (seed == 0 ? "" : " with seed \(seed)") + ".\n")
            var results: [ExerciseResult] = []
            for exercise in try selected() {
                let result = Checker.check(exercise, answers: answers, seed: seed) { number, item in
                    CrashNote.set("\nexercises: the answer crashed in \(exercise.name), case \(number): \(item.title)\n"
                        + item.inputs.map { "  " + $0 }.joined(separator: "\n") + "\n")
                }
                CrashNote.set(nil)
                Report.lines(for: result).forEach { print($0) }
                print("")
                results.append(result)
            }
            if results.count > 1 { Report.summary(results).forEach { print($0) } }
            if !results.allSatisfy(\.passed) { throw ExitCode(1) }
        }

        /// The exercises named, or all; an unknown name is an error listing the names that exist.
        private func selected() throws -> [Exercise] {
            if all { return Exercise.all }
            return try names.map { name in
                guard let exercise = Exercise.named(name) else {
                    throw ValidationError("no exercise named '\(name)'; the exercises are "
                        + Exercise.all.map(\.name).joined(separator: ", "))
                }
                return exercise
            }
        }
    }

    struct Hint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A hint for an exercise, and the lesson that explains it.")

        @Argument(help: "The exercise (see `exercises list`).") var name: String

        func run() throws {
            guard let exercise = Exercise.named(name) else {
                throw ValidationError("no exercise named '\(name)'; the exercises are "
                    + Exercise.all.map(\.name).joined(separator: ", "))
            }
            print(Report.heading(exercise))
            print("  You write: StudentAnswers.\(exercise.function) in Exercises/Student/Answers.swift")
            print("  Hint: \(exercise.hint)")
            print("  The lesson: swift run \(exercise.lesson)")
        }
    }
}

/// A message the process prints if an answer crashes (an index out of range, say), naming the case
/// that was running: Swift's runtime reports the error, this says which inputs led there.
enum CrashNote {
    nonisolated(unsafe) private static var note: UnsafeMutablePointer<CChar>?
    /// The handlers that were there before (Swift's backtracer, or the default), per signal.
    nonisolated(unsafe) private static var previous: [Int32: sigaction] = [:]
    private static let signals = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS]

    /// Sets the note (nil: none) and, the first time, the handlers of the signals a Swift trap raises.
    static func set(_ text: String?) {
        fflush(nil)                                                    // what was printed so far, out first
        if previous.isEmpty {
            for number in signals {
                var action = sigaction(), old = sigaction()
                #if canImport(Glibc)
                action.__sigaction_handler.sa_handler = crashed
                #else
                action.__sigaction_u.__sa_handler = crashed
                #endif
                sigemptyset(&action.sa_mask)
                sigaction(number, &action, &old)
                previous[number] = old
            }
        }
        free(note)
        note = text.flatMap { strdup($0) }
    }

    /// Writes the note (write(2) only, as a signal handler may), puts the previous handler back and
    /// returns: the trapping instruction runs again and the previous handler (Swift's backtrace, or
    /// the default) sees the original crash.
    private static let crashed: @convention(c) (Int32) -> Void = { number in
        if let text = CrashNote.note { _ = write(2, text, strlen(text)) }
        if var old = CrashNote.previous[number] { sigaction(number, &old, nil) }
    }
}
