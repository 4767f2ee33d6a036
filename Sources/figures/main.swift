// figures — regenerate every lesson's notebook and figures with one command, in the order of the
// course, and print how long each lesson took.
//
//   swift run figures                     (every lesson, full runs with the committed learning rates)
//   swift run figures --quick             (every lesson in seconds: a check that all of them run)
//   swift run figures --only lesson-lora,lesson-rank
//
// It builds the lessons once (`swift build`), then runs each executable from the build folder with
// the options given here, its output shown as it goes; a lesson that fails is reported and the
// others still run. The exit code is nonzero if any lesson failed.

import ArgumentParser
import Foundation
import Notebook

@main
struct Figures: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "figures",
        abstract: "Run every lesson (or some) to regenerate Figures/<lesson>/, and print each lesson's time.")

    /// The course's order; a lesson folder not listed here runs after these, by name.
    static let courseOrder = ["lesson-lora", "lesson-full-finetune", "lesson-rank", "lesson-targets",
                              "lesson-soft-prompts", "lesson-prompt-tuning", "lesson-qlora", "lesson-adalora",
                              "lesson-mpt", "lesson-overview"]

    @Flag(help: "Pass --quick to every lesson (seconds each; the figures go to a temporary folder, not Figures/).")
    var quick = false
    @Option(help: "Only these lessons, comma-separated.") var only: String?
    @Option(help: "Base model preset passed to every lesson (tiny, small, medium, quick).") var base: String?
    @Flag(help: "List the lessons in order and exit.") var list = false

    /// Every folder of Lessons/ holding a main.swift, in the course's order.
    static func lessons(root: URL) throws -> [String] {
        let folder = root.appendingPathComponent("Lessons")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent("\($0)/main.swift").path)
        }
        let known = courseOrder.filter(names.contains)
        return known + names.filter { !known.contains($0) }.sorted()
    }

    func run() throws {
        let root = LessonOptions.packageRoot
        var lessons = try Self.lessons(root: root)
        if list { lessons.forEach { print($0) }; return }
        if let only {
            let wanted = only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let unknown = wanted.filter { !lessons.contains($0) }
            guard unknown.isEmpty else {
                throw ValidationError("unknown lesson(s) \(unknown.joined(separator: ", ")); the lessons are "
                    + lessons.joined(separator: ", ") + " (swift run figures --list)")
            }
            lessons = lessons.filter(wanted.contains)
        }
        print("Building the lessons (swift build)…")
        guard try shell(["swift", "build"], in: root).status == 0 else {
            throw ValidationError("`swift build` failed; fix the build first (its errors are above)")
        }
        let binPath = try shell(["swift", "build", "--show-bin-path"], in: root, capture: true).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var arguments: [String] = []
        if quick {
            arguments.append("--quick")
        }
        if let base { arguments += ["--base", base] }
        var rows: [(lesson: String, seconds: Double, status: Int32, folder: String)] = []
        for lesson in lessons {
            var lessonArguments = arguments
            let folder = quick
                ? FileManager.default.temporaryDirectory.appendingPathComponent("figures-quick/\(lesson)").path
                : root.appendingPathComponent("Figures/\(lesson)").path
            if quick { lessonArguments += ["--out", folder] }
            print("\n=== \(lesson) \(lessonArguments.joined(separator: " "))")
            let started = Date()
            let status = try shell([URL(fileURLWithPath: binPath).appendingPathComponent(lesson).path]
                                   + lessonArguments, in: root).status
            rows.append((lesson, Date().timeIntervalSince(started), status, folder))
        }
        var table = Table(["lesson", "time", "result", "notebook"])
        for row in rows {
            table.add([row.lesson, formatDuration(row.seconds), row.status == 0 ? "ok" : "FAILED (exit \(row.status))",
                       row.folder + "/README.md"])
        }
        print("\n" + table.terminal)
        print("Total: \(formatDuration(rows.map(\.seconds).reduce(0, +)))")
        if rows.contains(where: { $0.status != 0 }) { throw ExitCode(1) }
    }

    /// Runs `command` (found on PATH for a bare name) in `directory`; its output is shown unless captured.
    func shell(_ command: [String], in directory: URL,
               capture: Bool = false) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.currentDirectoryURL = directory
        let pipe = Pipe()
        if capture { process.standardOutput = pipe }
        fflush(nil)  // our lines before the child's (nil flushes every stream)
        try process.run()
        let data = capture ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
