// Damaged adapter files (adapter_config.json of every method, adapter_model.safetensors) give a
// clear error or a valid adapter — never a crash — through the same harness as every loader.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

@Suite struct AdapterFuzzTests {
    static let variants = ProcessInfo.processInfo.environment["PEFT_FUZZ_VARIANTS"].flatMap { Int($0) } ?? 300
    static let seed = ProcessInfo.processInfo.environment["PEFT_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20_241_129

    /// Loads the adapter folder the damaged file sits in onto the golden base, and runs it.
    static func loadAndRun(_ url: URL) throws {
        let tuner = try AdapterFolder.load(from: url.deletingLastPathComponent(), onto: try Golden.base())
        var batch = try Golden.batch()
        batch.taskIds = [2, 0]  // multitask prompts read a task per row (the fixtures' ids); other methods ignore it
        try tuner.check(batch)
        let logits = withoutGrad { tuner.logits(batch) }
        guard logits.shape == [2, 10, 97] else { throw InvalidLoaderResult("logits \(logits.shape)") }
    }

    static func folder(_ name: String) -> [String: Data] {
        let url = Golden.folder(name)
        return [AdapterFolder.configName, AdapterFolder.weightsName].reduce(into: [:]) { files, file in
            files[file] = (try? Data(contentsOf: url.appendingPathComponent(file))) ?? Data()
        }
    }

    static let names = ["lora", "dora", "rslora", "qlora", "prompt", "prefix", "prefix-proj", "ptuning-mlp",
                        "ptuning-lstm", "adalora", "adalora-final", "mpt", "mpt-r2"]

    static let cases: [LoaderFuzzCase] = names.flatMap { name -> [LoaderFuzzCase] in
        let files = folder(name)
        return [AdapterFolder.configName, AdapterFolder.weightsName].map { file in
            LoaderFuzzCase("\(name): \(file)", file: file, valid: files[file] ?? Data(),
                           beside: files.filter { $0.key != file }) { try loadAndRun($0) }
        }
    }

    @Test(arguments: cases)
    func damagedAdapterFilesGiveClearErrors(_ fuzzCase: LoaderFuzzCase) {
        let report = fuzzCase.fuzz(variants: Self.variants, seed: Self.seed) { Generator(seed: $0) }
        #expect(report.failures.isEmpty, "\(report.failures.joined(separator: "\n"))")
    }
}
