// `peft train` records its run beside the adapter (training_args.json) and `peft export` writes that run
// for Hugging Face PEFT, LLaMA-Factory and ms-swift from the command line; a method a framework lacks is
// an error that names both, and no file is written. What each file holds is ExportTests' job; that the
// exported script trains an adapter `peft forward` loads is checked by hand (scripts/check_export_roundtrip.py).

import Foundation
import Testing
import TestSupport

@Suite struct ExportCommandTests {
    func path(_ name: String) -> String { Golden.tiny.appendingPathComponent(name).path }

    func peft(_ arguments: [String]) throws -> (status: Int32, output: String) { try runLesson("peft", arguments) }

    func record(_ folder: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent("training_args.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func peftTrainRecordsItsRunAndExportWritesItForEachFramework() throws {
        let folder = temporaryFolder()
        let adapter = folder.appendingPathComponent("qlora")
        let trained = try peft(["train", "--model", path("base"), "--data", path("batch.json"), "--method", "qlora",
                                "--paged-optimizer", "--steps", "3", "--lr", "0.01", "--out", adapter.path])
        #expect(trained.status == 0, "\(trained.output.suffix(1500))")
        let args = try record(adapter)
        #expect(args["method"] as? String == "qlora" && args["max_steps"] as? Int == 3)
        #expect(args["learning_rate"] as? Double == 0.01 && args["optim"] as? String == "paged_adamw_32bit")
        #expect(args["data_format"] as? String == "token_batch" && args["per_device_train_batch_size"] as? Int == 2)
        #expect(args["lr_scheduler_type"] as? String == "constant" && args["max_grad_norm"] is NSNull)
        #expect(args["model_name_or_path"] as? String == path("base") && args["cutoff_len"] as? Int == 64)
        let quantization = try #require(args["quantization"] as? [String: Any])
        #expect(quantization["quant_type"] as? String == "nf4" && quantization["block_size"] as? Int == 64)

        for (target, name, needle) in [("peft", "train.py", "bitsandbytes.optim.PagedAdamW32bit("),
                                       ("llamafactory", "run.yaml", "\nquantization_bit: 4\n"),
                                       ("swift", "run.sh", "    --quant_bits 4 \\\n")] {
            let out = folder.appendingPathComponent(name)
            let (status, output) = try peft(["export", "--adapter", adapter.path, "--to", target, "--out", out.path])
            #expect(status == 0, "--to \(target): \(output)")
            #expect(output.contains("note: the run trained on a pre-tokenised batch"), "\(output)")
            #expect(output.contains("→ \(out.path)"))
            let text = try String(contentsOf: out, encoding: .utf8)
            #expect(text.contains(needle), "--to \(target) lacks \(needle)")
            #expect(text.contains("constant"), "--to \(target) lost the constant schedule")
            let mode = try FileManager.default.attributesOfItem(atPath: out.path)[.posixPermissions] as? Int
            #expect((mode ?? 0) & 0o100 == (target == "llamafactory" ? 0 : 0o100), "--to \(target): mode \(mode ?? 0)")
        }
    }

    @Test func aMethodTheFrameworkLacksIsAnErrorAndWritesNothing() throws {
        let folder = temporaryFolder()
        for (adapter, target, message) in [
            ("prompt", "llamafactory", "LLaMA-Factory cannot repeat this run: PROMPT_TUNING is a prompt method"),
            ("prefix", "swift", "ms-swift cannot repeat this run: PREFIX_TUNING is a prompt method"),
            ("adalora", "llamafactory", "AdaLoRA is not one of LLaMA-Factory's methods"),
        ] {
            let out = folder.appendingPathComponent("\(adapter).\(target)")
            let (status, output) = try peft(["export", "--adapter", path(adapter), "--to", target, "--out", out.path])
            #expect(status == 1 && output.contains(message) && output.contains("Use --to peft"), "\(output)")
            #expect(!FileManager.default.fileExists(atPath: out.path))
        }
        // The golden adapters were written without training_args.json: the export assumes peft train's
        // defaults and says so.
        let out = folder.appendingPathComponent("prompt.py")
        let (status, output) = try peft(["export", "--adapter", path("prompt"), "--to", "peft", "--out", out.path])
        #expect(status == 0 && output.contains("has no training_args.json"), "\(output)")
        #expect(try String(contentsOf: out, encoding: .utf8).contains("PromptTuningConfig("))
        let unknown = try peft(["export", "--adapter", path("prompt"), "--to", "axolotl", "--out", out.path])
        #expect(unknown.status != 0 && unknown.output.contains("axolotl"), "\(unknown.output)")
    }
}
