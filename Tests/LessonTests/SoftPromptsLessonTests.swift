// lesson-soft-prompts in --quick mode: it must finish and write its report and figures, the
// frozen weights must stay bit-identical under a soft prompt, every adapter must reload from
// prompt_embeddings alone with the trained logits, and the training curves must go down.

import Foundation
import Testing

@Suite(.serialized) struct SoftPromptsLessonTests {
    @Test func softPromptsQuick() throws {
        let out = FileManager.default.temporaryDirectory
            .appendingPathComponent("lesson-soft-prompts-\(UUID().uuidString)")
        let (status, output) = try runLesson("lesson-soft-prompts", ["--quick", "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        for heading in ["A hard prompt", "Soft prompts against LoRA and full fine-tuning: qa",
                        "A classification task: topic", "What they cost", "Prefix tuning: every layer",
                        "P-tuning: the encoder", "What each adapter folder holds", "Exercises"] {
            #expect(report.contains(heading), "report lacks '\(heading)'")
        }
        // prompt tuning leaves every weight of the base as it was
        #expect(report.contains("(0 values differ after training prompt tuning)"))
        // PEFT saves only the prompt: [n, hidden] for P-tuning, [n, layers·2·kv] for a prefix (quick base: 2 × 48)
        #expect(report.contains("| P-tuning (LSTM) | 108,624 |") && report.contains("prompt_embeddings [20, 48]"))
        #expect(report.contains("prompt_embeddings [20, 192]"))
        // reloaded from prompt_embeddings alone, each adapter gives the trained logits
        let reloads = report.split(separator: "\n").filter { $0.contains("as PEFT does (prompt_embeddings only)") }
        let differences = reloads.compactMap { row in
            row.split(separator: "|").last.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        }
        #expect(differences.count == 5 && differences.allSatisfy { $0 < 1e-5 }, "\(reloads)")
        #expect(!report.contains("nan") && !report.contains("NaN") && !report.contains("10e-"))
        try expectFigures(["score-vs-parameters-topic", "score-vs-parameters-qa", "loss-topic", "loss-qa",
                           "prefix-reparametrisation"], in: out)
        for task in ["topic", "qa"] {
            for curve in try series(inTSV: out.appendingPathComponent("loss-\(task).tsv")) {
                #expect(curve.last! < curve.first!, "\(task): a training loss did not go down: \(curve)")
            }
        }
    }
}
