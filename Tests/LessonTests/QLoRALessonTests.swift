// lesson-qlora in --quick mode: it runs, writes its report and figures, and what it measures
// without training holds whatever the seed: NF4 rebuilt from normal quantiles, the error ranking
// on N(0, 1), double quantization's bits, the frozen 4-bit bytes, the paged optimizer's budget.

import Foundation
import Testing

@Suite struct QLoRALessonTests {
    @Test func qloraQuick() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("lesson-qlora-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-qlora", ["--quick", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        for heading in ["NF4: sixteen values at the quantiles of N(0, 1)", "Reconstruction error: NF4, FP4 and INT4",
                        "The quantized base, before any training", "Double quantization: bits per weight",
                        "Memory of a training step", "LLaMA-65B", "Scores: QLoRA against 32-bit LoRA",
                        "Is QLoRA faster?", "The paged optimizer", "The claims, measured", "Exercises",
                        "「提高了速度」", "偏移量（offset）", "统一内存"] {
            #expect(report.contains(heading), "report lacks '\(heading)'")
        }
        #expect(!report.contains("nan") && !report.contains("NaN"))
        // NF4 recomputed from Φ⁻¹ agrees with bitsandbytes' table to float32 rounding
        let largest = try #require(report.firstMatch(of: /The largest difference is ([0-9.e+-]+)/))
        #expect((Double(largest.1) ?? 1) < 1e-6)
        try expectFigures(["nf4-histogram", "reconstruction-error", "held-out-after-quantization", "scores",
                           "loss-curves", "paged-optimizer"], in: out)
        for curve in try series(inTSV: out.appendingPathComponent("loss-curves.tsv")) {
            #expect(curve.last! < curve.first!, "a training loss did not go down: \(curve)")
        }
        // N(0, 1), every block size: NF4 < INT4 < FP4, and the error grows with the block
        let panels = try series(inTSV: out.appendingPathComponent("reconstruction-error.tsv"))
        #expect(panels.count == 12)  // 3 data sets × NF4, NF4 + DQ, FP4, INT4
        let (nf4, fp4, int4) = (panels[0], panels[2], panels[3])
        for i in nf4.indices { #expect(nf4[i] < int4[i] && int4[i] < fp4[i]) }
        #expect(nf4.first! < nf4.last!)
        #expect(report.contains("the errors rank NF4 < INT4 < FP4"))
        // double quantization: 4.5 bits a weight without, about 4.13 with
        #expect(report.contains("| all seven × ") && report.contains("4.5000 → 4.1"))
        #expect(report.contains("are identical to a fresh quantization of the base"))
        // The resident size is the kernel's count (smaps Rss), which fault-around and a busy machine can push past
        // the budget; the sentence reports either case. The paged optimizer's result must equal AdamW's exactly.
        #expect(report.contains("within the budget") || report.contains("above the budget"))
        #expect(report.contains("identical to AdamW's, bit for bit"))
    }
}
