// Each lesson in --quick mode, as a student would run it: it must finish, write its report,
// valid PNG figures (where gnuplot is installed) with their data and scripts, finite numbers,
// and training curves that go down.

import Foundation
import Testing

/// Runs a lesson executable built beside the test bundle.
func runLesson(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var binary = products.appendingPathComponent(name)
    if !FileManager.default.fileExists(atPath: binary.path) {  // xctest bundles nest one level deeper on some systems
        binary = products.deletingLastPathComponent().appendingPathComponent(name)
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Every number in a figure's .tsv file (comment lines skipped, quoted labels ignored).
func numbers(inTSV url: URL) throws -> [Double] {
    try String(contentsOf: url, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
        .flatMap { $0.split(separator: "\t") }.filter { !$0.hasPrefix("\"") }.map { Double($0) ?? .nan }
}

/// The y values of each series of a line-chart .tsv.
func series(inTSV url: URL) throws -> [[Double]] {
    try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n\n\n").map { block in
        block.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(separator: "\t").last.flatMap { Double($0) } }
    }.filter { !$0.isEmpty }
}

func expectFigures(_ names: [String], in folder: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let hasGnuplot = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/gnuplot") }
    for name in names {
        let tsv = folder.appendingPathComponent("\(name).tsv"), gp = folder.appendingPathComponent("\(name).gp")
        #expect(FileManager.default.fileExists(atPath: gp.path), "\(name).gp", sourceLocation: sourceLocation)
        let values = try numbers(inTSV: tsv)
        #expect(!values.isEmpty && values.allSatisfy(\.isFinite), "\(name).tsv holds non-finite values", sourceLocation: sourceLocation)
        if hasGnuplot {
            let png = try Data(contentsOf: folder.appendingPathComponent("\(name).png"))
            #expect(png.count > 1000 && png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(name).png is not a PNG", sourceLocation: sourceLocation)
        }
    }
}

@Suite(.serialized) struct LessonTests {
    @Test func fullFinetuneQuick() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-ff-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-full-finetune", ["--quick", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        for heading in ["## 1. The pretrained base model", "Test scores", "Catastrophic forgetting", "exercises"] {
            #expect(report.contains(heading), "report lacks '\(heading)'")
        }
        try expectFigures(["pretraining", "memory", "loss-qa", "loss-sentiment", "scores", "forgetting"], in: out)
        for task in ["qa", "sentiment"] {
            for curve in try series(inTSV: out.appendingPathComponent("loss-\(task).tsv")) {
                #expect(curve.last! < curve.first!, "\(task): a training loss did not go down: \(curve)")
            }
        }
        #expect(!report.contains("nan") && !report.contains("NaN"))
    }

    @Test func loraQuick() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-lora-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-lora", ["--quick", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(report.contains("trainable params: ") && report.contains("|| trainable%: "))
        #expect(report.contains("the largest difference between their logits on 16 test examples is 0.0"))  // B = 0 at the start
        try expectFigures(["loss-curves", "scores", "spectrum"], in: out)
        for curve in try series(inTSV: out.appendingPathComponent("loss-curves.tsv")) { #expect(curve.last! < curve.first!) }
        // the spectrum starts at 1 (σ₁/σ₁) and decreases
        for s in try series(inTSV: out.appendingPathComponent("spectrum.tsv")) { #expect(abs(s.first! - 1) < 1e-6 && s.last! < s.first!) }
    }

    @Test func rankQuick() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-rank-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-rank", ["--quick", "--ranks", "1,4,8,16", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        try expectFigures(["score-vs-rank", "subspace-q_proj", "subspace-v_proj", "rslora"], in: out)
        // φ is a similarity in [0, 1]
        let phi = try numbers(inTSV: out.appendingPathComponent("subspace-q_proj.tsv"))
        #expect(phi.count == 8 * 16 && phi.allSatisfy { $0 >= -1e-9 && $0 <= 1 + 1e-9 })
    }

    @Test func targetsQuick() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-targets-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-targets", ["--quick", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(report.contains("Why Q and V rather than K?") && report.contains("| Wq,Wv | 4 |"))
        try expectFigures(["targets"], in: out)
        #expect(try numbers(inTSV: out.appendingPathComponent("targets.tsv")).count == 9 * 2)
    }

    @Test func lessonRejectsBadFlags() throws {
        let (status, output) = try runLesson("lesson-full-finetune", ["--quick", "--tasks", "nonsense", "--out", FileManager.default.temporaryDirectory.path + "/x"])
        #expect(status != 0)
        #expect(output.contains("unknown task 'nonsense'"))
        let (status2, output2) = try runLesson("lesson-full-finetune", ["--base", "huge"])
        #expect(status2 != 0 && output2.contains("unknown base preset 'huge'"))
    }
}
