// Each lesson in --quick mode, as a student would run it: it must finish, write its report,
// valid PNG figures (where gnuplot is installed) with their data and scripts, finite numbers,
// and training curves that go down.

import Foundation
import SafeTensors
import Testing

/// Runs a lesson executable (or `peft`) built beside the test bundle; `environment` entries
/// are added to (or, with an empty value, removed from) the inherited environment.
func runLesson(_ name: String, _ arguments: [String],
               environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    var binary = products.appendingPathComponent(name)
    if !FileManager.default.fileExists(atPath: binary.path) {  // xctest bundles nest one level deeper on some systems
        binary = products.deletingLastPathComponent().appendingPathComponent(name)
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v.isEmpty ? nil : v }
    process.environment = env
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

/// The y values of each series of a line-chart .tsv (the second column: x, y, then the interval's low and high).
func series(inTSV url: URL) throws -> [[Double]] {
    try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n\n\n").map { block in
        block.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            let columns = line.split(separator: "\t")
            return columns.count > 1 ? Double(columns[1]) : nil
        }
    }.filter { !$0.isEmpty }
}

func expectFigures(_ names: [String], in folder: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let hasGnuplot = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .contains { FileManager.default.isExecutableFile(atPath: "\($0)/gnuplot") }
    for name in names {
        let tsv = folder.appendingPathComponent("\(name).tsv"), gp = folder.appendingPathComponent("\(name).gp")
        #expect(FileManager.default.fileExists(atPath: gp.path), "\(name).gp", sourceLocation: sourceLocation)
        let values = try numbers(inTSV: tsv)
        #expect(!values.isEmpty && values.allSatisfy(\.isFinite), "\(name).tsv holds non-finite values",
                sourceLocation: sourceLocation)
        if hasGnuplot {
            let png = try Data(contentsOf: folder.appendingPathComponent("\(name).png"))
            #expect(png.count > 1000 && png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
                    "\(name).png is not a PNG", sourceLocation: sourceLocation)
        }
    }
}

@Suite(.serialized) struct LessonTests {
    @Test func fullFinetuneQuick() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-ff-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-full-finetune", ["--quick", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        for heading in ["## 1. The pretrained base model", "Training on qa", "Catastrophic forgetting", "Little data",
                        "exercises", "LLaMA-65B", "「选择参数子集」"] {
            #expect(report.contains(heading), "report lacks '\(heading)'")
        }
        try expectFigures(["pretraining", "memory", "loss-qa", "loss-sentiment", "scores-qa", "scores-sentiment",
                           "little-data"], in: out)
        // every score table shows the baselines and the paired comparison with full fine-tuning
        #expect(report.contains("| chance |") && report.contains("| majority answer |")
                && report.contains("vs full fine-tuning"))
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
        // B = 0 at the start
        #expect(report.contains("the largest difference between their logits on 16 training examples is 0.0"))
        try expectFigures(["loss-curves", "scores", "spectrum"], in: out)
        for curve in try series(inTSV: out.appendingPathComponent("loss-curves.tsv")) {
            #expect(curve.last! < curve.first!)
        }
        // the spectrum starts at 1 (σ₁/σ₁) and decreases
        for s in try series(inTSV: out.appendingPathComponent("spectrum.tsv")) {
            #expect(abs(s.first! - 1) < 1e-6 && s.last! < s.first!)
        }
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
        #expect(report.contains("The four reasons, tested") && report.contains("参数效率") && report.contains("c_attn"))
        // the settings share one budget; MLP only and all linear come as close as whole ranks allow
        #expect(report.contains("| Wq,Wv | q_proj, v_proj | 4 |") && report.contains("per module"))
        try expectFigures(["targets-qa", "targets-sentiment"], in: out)
        // 9 settings: mean, interval low and high each
        #expect(try numbers(inTSV: out.appendingPathComponent("targets-qa.tsv")).count >= 9 * 3)
    }

    @Test func withoutGnuplotOrOpenBLASTheLessonStillRunsAndSaysSo() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-bare-\(UUID().uuidString)")
        // no gnuplot on this PATH, and a BLAS library that does not exist
        let (status, output) = try runLesson("lesson-lora", ["--quick", "--steps", "10", "--out", out.path],
                                             environment: ["PATH": "/nonexistent",
                                                           "PEFT_BLAS": "/nonexistent/libopenblas.so"])
        #expect(status == 0, "\(output.suffix(1500))")
        #expect(output.components(separatedBy: "OpenBLAS was not found").count == 2,
                "the BLAS note should appear exactly once")
        #expect(output.contains("install it (apt-get install libopenblas-dev)"))
        #expect(output.contains("gnuplot is not installed"))
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path)
        #expect(files.contains("spectrum.gp") && files.contains("spectrum.tsv") && !files.contains("spectrum.png"))
        #expect(files.contains("README.md"))
    }

    @Test func peftCommandLineReproducesTheGoldenFiles() throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/golden/llama-tiny")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("peft-cli-\(UUID().uuidString)")
        let (s1, o1) = try runLesson("peft", ["forward", "--model", golden.appendingPathComponent("base").path,
                                              "--adapter", golden.appendingPathComponent("lora").path,
                                              "--batch", golden.appendingPathComponent("batch.json").path,
                                              "--out", out.appendingPathComponent("lora.safetensors").path])
        #expect(s1 == 0, "\(o1)")
        #expect(o1.contains("trainable params: 1,024 || all params: 32,480 || trainable%: 3.1527"))
        let (s2, o2) = try runLesson("peft", ["merge", "--model", golden.appendingPathComponent("base").path,
                                              "--adapter", golden.appendingPathComponent("lora").path,
                                              "--out", out.appendingPathComponent("merged").path])
        #expect(s2 == 0, "\(o2)")
        let (s3, o3) = try runLesson("peft", ["forward", "--model", out.appendingPathComponent("merged").path,
                                              "--batch", golden.appendingPathComponent("batch.json").path,
                                              "--out", out.appendingPathComponent("m.safetensors").path])
        #expect(s3 == 0, "\(o3)")
        // the merged model saved by `peft merge` gives PEFT's merged logits
        let merged = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("m.safetensors"))["logits"]!.values
        let expected = try SafeTensorsFile.read(contentsOf: golden.appendingPathComponent("expected_lora.safetensors"))
        #expect(zip(merged, expected["merged_logits"]!.values).allSatisfy { abs($0 - $1) < 1e-4 })
        let adapted = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("lora.safetensors"))
        #expect(zip(adapted["logits"]!.values, expected["logits"]!.values).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(adapted["grad.base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"] != nil)
        let (s4, o4) = try runLesson("peft", ["info", "/nonexistent/model"])
        #expect(s4 == 1 && o4.contains("Error: /nonexistent/model: no such model folder"))
        let (s5, o5) = try runLesson("peft",
                                     ["bench", "--steps", "2", "--batch", "2", "--seq", "16", "--method", "lora"])
        #expect(s5 == 0 && o5.contains("swift lora tokens/s") && o5.contains("weight gradients: "), "\(o5)")
    }

    @Test func lessonRejectsBadFlags() throws {
        let (status, output) = try runLesson("lesson-full-finetune",
                                             ["--quick", "--tasks", "nonsense", "--out",
                                              FileManager.default.temporaryDirectory.path + "/x"])
        #expect(status != 0)
        #expect(output.contains("unknown task 'nonsense'"))
        let (status2, output2) = try runLesson("lesson-full-finetune", ["--base", "huge"])
        #expect(status2 != 0 && output2.contains("unknown base preset 'huge'"))
    }
}
