// Damaged 4-bit model folders (config.json with its quantization_config, model.safetensors with
// the packed codes, 8-bit statistics and quant_state JSON) give a clear error or a usable
// model — never a crash — through the same harness as every loader.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

@Suite struct QuantizedCheckpointFuzzTests {
    static let variants = ProcessInfo.processInfo.environment["PEFT_FUZZ_VARIANTS"].flatMap { Int($0) } ?? 300
    static let seed = ProcessInfo.processInfo.environment["PEFT_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20_241_130

    /// Loads the 4-bit folder the damaged file sits in and runs two tokens through it.
    static func loadAndRun(_ url: URL) throws {
        let model = try loadModel(from: url.deletingLastPathComponent())
        let vocabulary = model.config.vocabSize
        let logits = withoutGrad { model([0, 1 % vocabulary], batch: 1) }
        guard logits.shape == [1, 2, vocabulary] else { throw InvalidLoaderResult("logits \(logits.shape)") }
    }

    static let cases: [LoaderFuzzCase] = {
        let folder = Golden.folder("qlora-base-4bit")
        let files = ["config.json", "model.safetensors"].reduce(into: [String: Data]()) { files, name in
            files[name] = (try? Data(contentsOf: folder.appendingPathComponent(name))) ?? Data()
        }
        return files.keys.sorted().map { file in
            LoaderFuzzCase("4-bit folder: \(file)", file: file, valid: files[file] ?? Data(),
                           beside: files.filter { $0.key != file }) { try loadAndRun($0) }
        }
    }()

    @Test(arguments: cases)
    func damagedFourBitFoldersGiveClearErrors(_ fuzzCase: LoaderFuzzCase) {
        let report = fuzzCase.fuzz(variants: Self.variants, seed: Self.seed) { Generator(seed: $0) }
        #expect(report.failures.isEmpty, "\(report.failures.joined(separator: "\n"))")
    }
}
