// lesson-overview in --quick mode: every method trains and is scored with the baselines, the costs
// are measured, and the "which one when" table is built from them. The structural facts hold at
// any scale: an adapter's file is far smaller than a full checkpoint, a merged LoRA model has the
// base's shape, prompt methods are the ones that add virtual tokens.

import Foundation
import Testing

@Suite struct OverviewLessonTests {
    @Test func overviewQuick() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-overview-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-overview", ["--quick", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        let methods = ["full fine-tuning", "freeze-tuning (top 1)", "LoRA r=8 (q,v)", "DoRA r=8 (q,v)",
                       "QLoRA r=8 (q,v)", "AdaLoRA 12→8 (all linear)", "prompt tuning", "prefix tuning",
                       "P-tuning (MLP)", "P-tuning v2"]
        for method in methods { #expect(report.contains("| \(method) |"), "no row for \(method)") }
        for family in ["「选择参数子集」", "「重新参数化」", "「添加参数」", "## 4. Which one when"] {
            #expect(report.contains(family), "report lacks \(family)")
        }
        #expect(report.contains("| chance |") && report.contains("| majority answer |"))
        for need in ["the highest score", "the least memory for a training step", "no inference cost over the base",
                     "many tasks on one base", "the least forgetting of pretraining"] {
            #expect(report.contains("| \(need)"), "the choice table lacks '\(need)'")
        }
        try expectFigures(["score-vs-parameters", "memory"], in: out)
        // memory.tsv: a row per method, four components (weights, gradients, optimizer state, activations)
        let memory = try String(contentsOf: out.appendingPathComponent("memory.tsv"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }
            .map { $0.split(separator: "\t").dropFirst().compactMap { Double($0) } }
        #expect(memory.count == methods.count && memory.allSatisfy { $0.count == 4 })
        // full fine-tuning has gradients and moments for every weight; LoRA's (row 2) are a few percent of them
        #expect(memory[2][1] < 0.1 * memory[0][1] && memory[2][2] < 0.1 * memory[0][2])
        // QLoRA (row 4) holds its base in about 4 bits a weight: well under LoRA's float32 weights
        #expect(memory[4][0] < 0.7 * memory[2][0])
        // the smallest saved file is a prompt's, and LoRA's is far below the full checkpoint's
        #expect(report.contains("| many tasks on one base (the smallest file per task) | prompt tuning |"))
        #expect(!report.contains("nan") && !report.contains("NaN"))
    }
}
