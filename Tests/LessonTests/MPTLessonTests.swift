// lesson-mpt in --quick mode: it must finish, write every section and figure, and its training
// curves must go down.

import Foundation
import Testing

@Suite(.serialized) struct MPTLessonTests {
    @Test func mptQuick() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-mpt-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-mpt", ["--quick", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        for heading in ["## 1. The decomposition", "## 2. Source training on 3 tasks",
                        "## 3. Adaptation to the held-out task", "## 4. Stored parameters",
                        "## 5. Does MPT beat per-task prompts", "## 6. Exercises", "prefix_task_cols",
                        "EXACT_SOURCE_TASK", "chance"] {
            #expect(report.contains(heading), "report lacks '\(heading)'")
        }
        try expectFigures(["source-tasks", "loss-source", "target-vs-examples", "loss-target", "inits",
                           "target-vs-steps", "storage"], in: out)
        for name in ["loss-source", "loss-target"] {
            for curve in try series(inTSV: out.appendingPathComponent("\(name).tsv")) {
                #expect(curve.last! < curve.first!, "\(name): a training loss did not go down: \(curve)")
            }
        }
        #expect(!report.contains("nan") && !report.contains("NaN"))
    }
}
