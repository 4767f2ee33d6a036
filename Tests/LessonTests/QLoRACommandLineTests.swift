// QLoRA through the `peft` command line: quantize writes transformers' bytes, forward on the 4-bit
// base with the golden adapter reproduces PEFT, merge re-quantizes (or merges into a float copy),
// train --method qlora and bench --method qlora run.

import Foundation
import SafeTensors
import Testing

@Suite(.serialized) struct QLoRACommandLineTests {
    let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/golden/llama-tiny")
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("peft-qlora-cli-\(UUID().uuidString)")

    func peft(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let (status, output) = try runLesson("peft", arguments)
        #expect(status == 0, "peft \(arguments.joined(separator: " ")):\n\(output.suffix(1500))",
                sourceLocation: sourceLocation)
        return output
    }
    func path(_ name: String) -> String { golden.appendingPathComponent(name).path }
    func temp(_ name: String) -> String { out.appendingPathComponent(name).path }
    func file(_ path: String) throws -> SafeTensorsFile {
        try SafeTensorsFile.read(contentsOf: URL(fileURLWithPath: path))
    }
    func maxDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    @Test func quantizeWritesWhatTransformersWrites() throws {
        let output = try peft(["quantize", "--model", path("base"), "--out", temp("q4"), "--quant-type", "nf4",
                               "--double-quant"])
        #expect(output.contains("quantized 14 linear layers"))
        for name in ["model.safetensors", "config.json"] {
            let ours = try Data(contentsOf: out.appendingPathComponent("q4/\(name)"))
            #expect(ours == (try Data(contentsOf: golden.appendingPathComponent("qlora-base-4bit/\(name)"))), "\(name)")
        }
        #expect(try peft(["info", temp("q4")]).contains("4-bit NF4 + double quantization (blocks of 64"))
    }

    @Test func forwardOnTheFourBitBaseReproducesPeft() throws {
        let output = try peft(["forward", "--model", path("qlora-base-4bit"), "--adapter", path("qlora"), "--grads",
                               "--batch", path("batch.json"), "--out", temp("qlora.safetensors")])
        #expect(output.contains("+ 28 gradients"))
        let report = try file(temp("qlora.safetensors")), expected = try file(path("expected_qlora.safetensors"))
        for key in ["logits", "loss", "merged_logits"] {
            #expect(maxDiff(report[key]!.values, expected[key]!.values) < 1e-4, "\(key)")
        }
        for key in expected.tensors.keys where key.hasPrefix("grad.") {
            let scale = expected[key]!.values.map(abs).max()!
            #expect(maxDiff(report[key]!.values, expected[key]!.values) / scale < 1e-4, "\(key)")
        }
        _ = try peft(["forward", "--model", path("qlora-base-4bit"), "--grads", "--batch", path("batch.json"),
                      "--out", temp("base.safetensors")])
        #expect(maxDiff(try file(temp("base.safetensors"))["logits"]!.values, expected["base_logits"]!.values) < 1e-4)
    }

    @Test func mergeRequantizesOrMergesIntoAFloatCopy() throws {
        let expected = try file(path("expected_qlora.safetensors"))
        let merge = ["merge", "--model", path("qlora-base-4bit"), "--adapter", path("qlora")]
        _ = try peft(merge + ["--out", temp("merged4")])
        _ = try peft(merge + ["--dequantize", "--out", temp("merged32")])
        for (folder, key) in [("merged4", "merged_logits"), ("merged32", "logits")] {
            let logits = temp("\(folder).safetensors")
            _ = try peft(["forward", "--model", temp(folder), "--batch", path("batch.json"), "--out", logits])
            #expect(maxDiff(try file(logits)["logits"]!.values, expected[key]!.values) < 1e-4, "\(folder)")
        }
        let config = try String(contentsOf: out.appendingPathComponent("merged4/config.json"), encoding: .utf8)
        #expect(config.contains("\"quantization_config\"") && config.contains("\"bnb_4bit_use_double_quant\": true"))
    }

    @Test func trainAndBenchRunQLoRA() throws {
        _ = try peft(["pretrain", "--preset", "quick", "--steps", "5", "--out", temp("pre")])
        let output = try peft(["train", "--model", temp("pre"), "--data", "sentiment", "--method", "qlora",
                               "--steps", "4", "--batch-size", "4", "--paged-optimizer", "--optimizer-resident-mb", "1",
                               "--out", temp("adapter")])
        #expect(output.contains("quantized 14 linear layers to NF4 + double quantization"))
        #expect(output.contains("trained 4 steps"))
        #expect(output.contains("resident memory (VmRSS after each optimizer step)"))
        // the adapter loads onto the base quantized by `peft quantize`, and training accepts a 4-bit folder
        _ = try peft(["quantize", "--model", temp("pre"), "--out", temp("pre4"), "--double-quant"])
        #expect(FileManager.default.fileExists(atPath: temp("pre4/tokenizer.json")))
        let lora = try peft(["train", "--model", temp("pre4"), "--data", "sentiment", "--steps", "2",
                             "--batch-size", "4", "--out", temp("adapter2")])
        #expect(lora.contains("trained 2 steps"))
        let bench = try peft(["bench", "--steps", "2", "--batch", "2", "--seq", "16", "--method", "qlora"])
        #expect(bench.contains("swift qlora tokens/s") && bench.contains("base quantized to NF4 + double quantization"))
    }
}
