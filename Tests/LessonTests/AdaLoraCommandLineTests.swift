// `peft train` replays PEFT's AdaLoRA trace from the command line: started from the golden
// adapter, on the golden batch, with plain SGD, it saves what `adalora-final` holds. Plus a fresh
// AdaLoRA run, its errors, and the bench's allocator share.

import Foundation
import SafeTensors
import Testing
import TestSupport

@Suite struct AdaLoraCommandLineTests {
    func path(_ name: String) -> String { Golden.tiny.appendingPathComponent(name).path }

    func rankPattern(_ folder: URL) throws -> [String: [Bool]]? {
        let file = folder.appendingPathComponent("adapter_config.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: file))
        return (object as? [String: Any])?["rank_pattern"] as? [String: [Bool]]
    }

    @Test func peftTrainReplaysTheGoldenAllocatorTrace() throws {
        let out = temporaryFolder().appendingPathComponent("adalora")
        let (status, output) = try runLesson("peft", [
            "train", "--model", path("base"), "--init-adapter", path("adalora"), "--data", path("batch.json"),
            "--optimizer", "sgd", "--lr", "0.5", "--steps", "12", "--out", out.path,
        ])
        #expect(status == 0, "\(output.suffix(2000))")
        #expect(output.contains("starting from the ADALORA adapter"))
        #expect(output.contains("adalora step 5/12 (budgeting): budget 13, kept 13 of 24 triplets"))
        #expect(output.contains("adalora step 10/12 (final allocation): budget 8, kept 8 of 24 triplets; "
            + "ranks 0.q_proj 1, 0.v_proj 3, 1.q_proj 1, 1.v_proj 3"))
        let golden = Golden.folder("adalora-final")
        let ours = try SafeTensorsFile.read(contentsOf: out.appendingPathComponent("adapter_model.safetensors"))
        let theirs = try SafeTensorsFile.read(contentsOf: golden.appendingPathComponent("adapter_model.safetensors"))
        #expect(Set(ours.tensors.keys) == Set(theirs.tensors.keys))
        for (key, reference) in theirs.tensors {
            guard let saved = ours[key], saved.shape == reference.shape else {
                Issue.record("\(key): \(ours[key]?.shape ?? []) vs \(reference.shape)"); continue
            }
            #expect(maxRelDiff(saved.values, reference.values) < 1e-4, "\(key)")
        }
        #expect(try rankPattern(out) == rankPattern(golden))
        // the saved adapter gives the trace's final logits through `peft forward`
        let report = out.deletingLastPathComponent().appendingPathComponent("forward.safetensors")
        let (s2, o2) = try runLesson("peft", ["forward", "--model", path("base"), "--adapter", out.path,
                                              "--batch", path("batch.json"), "--out", report.path])
        #expect(s2 == 0, "\(o2)")
        let logits = try SafeTensorsFile.read(contentsOf: report)["logits"]!.values
        let expected = try Golden.expected("adalora-steps.safetensors")["final_logits"]!.values
        #expect(maxAbsDiff(logits, expected) < 1e-4)
    }

    @Test func peftTrainAdaLoraFromScratchAndItsErrors() throws {
        let out = temporaryFolder().appendingPathComponent("fresh")
        let common = ["train", "--model", path("base"), "--method", "adalora", "--data", path("batch.json"),
                      "--out", out.path]
        let (status, output) = try runLesson("peft", common + ["--init-r", "6", "--target-r", "2", "--tinit", "2",
                                                               "--tfinal", "3", "--delta-t", "2", "--steps", "12"])
        #expect(status == 0, "\(output.suffix(2000))")
        #expect(output.contains("(final fine-tuning): budget 8, kept 8 of 24 triplets"))
        let pattern = try #require(try rankPattern(out))
        #expect(pattern.count == 4 && pattern.values.allSatisfy { $0.count == 6 })
        #expect(pattern.values.reduce(0) { $0 + $1.filter { $0 }.count } == 8)
        let file = out.appendingPathComponent("adapter_config.json")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: file))
        #expect((config as? [String: Any])?["total_step"] as? Int == 12)
        for (flags, message) in [(["--target-r", "16"], "target_r (16) is larger than init_r (12)"),
                                 (["--tinit", "6", "--tfinal", "6", "--steps", "12"],
                                  "tinit (6) + tfinal (6) must be less than total_step (12)"),
                                 (["--steps", "0"], "AdaLoRA does not work when total_step is 0"),
                                 (["--use-dora"], "ADALORA does not support DoRA")] {
            let (s, o) = try runLesson("peft", common + flags)
            #expect(s != 0 && o.contains(message), "\(flags): \(o)")
        }
    }

    @Test func benchReportsTheAllocatorsShareOfAStep() throws {
        let (status, output) = try runLesson("peft", ["bench", "--method", "adalora", "--steps", "2", "--batch", "2",
                                                      "--seq", "16"])
        #expect(status == 0 && output.contains("swift adalora tokens/s"), "\(output)")
        #expect(output.contains("rank allocator: ") && output.contains("% of a step"), "\(output)")
    }
}
