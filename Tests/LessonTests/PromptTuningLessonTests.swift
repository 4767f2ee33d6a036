// lesson-prompt-tuning in --quick mode: it must finish, write its report and figures, and show
// every section and every prompt length of the sweep.

import Foundation
import Testing

@Suite(.serialized) struct PromptTuningLessonTests {
    @Test func promptTuningQuick() throws {
        let out = FileManager.default.temporaryDirectory
            .appendingPathComponent("lesson-prompt-tuning-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-prompt-tuning", ["--quick", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        for heading in ["Prompt tuning beside full fine-tuning", "Does the gap close as the base grows?",
                        "Where the prompt starts", "How many virtual tokens?", "Exercises"] {
            #expect(report.contains(heading), "report lacks '\(heading)'")
        }
        // one row per length, trainable n × 48 on the quick base: n = 1, 5, 20 (section 1's run) and 50
        for row in ["| 1 | 48 |", "| 5 | 240 |", "| 20 | 960 |", "| 50 | 2,400 |"] {
            #expect(report.contains(row), "the length table lacks '\(row)'")
        }
        #expect(!report.contains("nan") && !report.contains("NaN") && !report.contains("10e-"))
        try expectFigures(["scale", "initialisation", "length"], in: out)
    }
}
