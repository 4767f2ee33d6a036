// lesson-adalora in --quick mode, as a student would run it: it must finish, write its report and
// figures, follow PEFT's budget schedule from init_r·N down to target_r·N, end every matrix with
// a rank between 0 and init_r, and keep P and Q closer to orthonormal with the penalty than without.

import Foundation
import Testing

@Suite(.serialized) struct AdaLoraLessonTests {
    @Test func adaLoraQuick() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-adalora-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-adalora", ["--quick", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        for heading in ["The update in SVD form: P·Λ·Q", "Importance and the budget schedule", "Where the ranks went",
                        "AdaLoRA against LoRA at equal final budgets", "The orthogonal regulariser", "What it costs",
                        "Exercises"] {
            #expect(report.contains(heading), "report lacks '\(heading)'")
        }
        #expect(report.contains("largest logit difference on 16 training examples: 0.0"))  // λ = 0 at the start
        #expect(report.contains("E19") && report.contains("E20") && report.contains("E21"))
        #expect(!report.contains("nan") && !report.contains("NaN"))
        try expectFigures(["budget", "importance", "triplet-scores", "ranks", "ranks-by-type", "ranks-by-layer",
                           "adalora-vs-lora", "loss-curves", "orthogonality"], in: out)
        // The quick base has 2 layers × 7 matrices; t = 8 starts from init_r = 12: 168 triplets, then 112.
        let budget = try series(inTSV: out.appendingPathComponent("budget.tsv"))
        #expect(budget.count == 2)
        if let scheduled = budget.first, let inUse = budget.last {
            #expect(scheduled.first == 168 && scheduled.last == 112)
            #expect(zip(scheduled, scheduled.dropFirst()).allSatisfy { $0 >= $1 }, "the budget only falls")
            #expect(inUse.last == 112)
        }
        let ranks = try numbers(inTSV: out.appendingPathComponent("ranks.tsv"))
        #expect(ranks.count == 2 * 7 && ranks.allSatisfy { $0 >= 0 && $0 <= 12 })
        #expect(abs(ranks.reduce(0, +) / Double(ranks.count) - 8) < 1e-9, "t = 8 triplets per matrix on average")
        // Orthogonality at the last step: with the penalty (series 1, 2) below without it (series 3, 4).
        let orthogonality = try series(inTSV: out.appendingPathComponent("orthogonality.tsv")).compactMap(\.last)
        #expect(orthogonality.count == 4)
        if orthogonality.count == 4 {
            #expect(max(orthogonality[0], orthogonality[1]) < min(orthogonality[2], orthogonality[3]))
        }
        for curve in try series(inTSV: out.appendingPathComponent("loss-curves.tsv")) {
            #expect(curve.last! < curve.first!, "a training loss did not go down: \(curve)")
        }
    }
}
