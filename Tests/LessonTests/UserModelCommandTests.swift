// Your own model, as a student brings it: a Hugging Face LLaMA-architecture folder with its own tokenizer.json
// and generation_config.json, used by `peft train --model DIR` and by a lesson's `--base DIR --quick`. Folders
// that cannot work stop with an error naming the problem and the fix, before any training.

import Foundation
import Testing
import TestSupport

@Suite struct UserModelCommandTests {
    /// A LLaMA 3 style folder: byte-level BPE with a regex Split, "<|begin_of_text|>" in front, two end tokens.
    static func llama3Folder() throws -> URL {
        try UserModelFolder.make(tokenizer: "llama3", bosTokenId: 0, eosTokenId: 1,
                                 generation: ["bos_token_id": 0, "eos_token_id": [1, 4]])
    }

    @Test(arguments: ["llama2", "llama3", "smollm"])
    func peftTrainTrainsOnAUserFolder(kind: String) throws {
        let folder = kind == "llama3" ? try Self.llama3Folder() : try UserModelFolder.make(tokenizer: kind)
        let out = temporaryFolder().appendingPathComponent("adapter")
        let (status, output) = try runLesson("peft", ["train", "--model", folder.path, "--data", "qa", "--steps", "8",
                                                      "--batch-size", "4", "--out", out.path])
        #expect(status == 0, "peft train failed:\n\(output.suffix(2000))")
        #expect(output.contains("trained 8 steps") && output.contains("validation exact match"), "\(output)")
        for file in ["adapter_config.json", "adapter_model.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file)")
        }
        let tokens = try runLesson("peft", ["tokenize", "--model", folder.path, "Alice lives in Zürich"])
        #expect(tokens.status == 0 && tokens.output.contains("tokenizer: BPE with"), "\(tokens.output)")
    }

    @Test func aLessonRunsOnAUserFolder() throws {
        let folder = try Self.llama3Folder()
        let out = temporaryFolder().appendingPathComponent("lesson-lora")
        let (status, output) = try runLesson("lesson-lora", ["--base", folder.path, "--quick", "--steps", "10",
                                                             "--out", out.path])
        #expect(status == 0, "lesson failed:\n\(output.suffix(2000))")
        let report = try String(contentsOf: out.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(report.contains("Base: your model from \(folder.path)"), "\(report.prefix(1500))")
        #expect(report.contains("loss on the world's held-out text") && report.contains("adds <|begin_of_text|>"))
        #expect(!report.contains("nan") && !report.contains("NaN"))
    }

    @Test func badFoldersAreClearErrors() throws {
        let noTokenizer = try UserModelFolder.make(tokenizer: nil, vocabSize: 400)
        let tooSmall = try UserModelFolder.make(tokenizer: "llama2", vocabSize: 300)
        let unsupported = try UserModelFolder.make(tokenizer: "refused/wordpiece", vocabSize: 400)
        let cases: [(URL, [String])] = [
            (noTokenizer, ["has no tokenizer.json", "copy the tokenizer.json saved with this model"]),
            (tooSmall, ["tokenizer.json has ids up to 561", "vocab_size is 300", "use the tokenizer saved"]),
            (unsupported, ["model.type WordPiece is not supported", "cannot reproduce exactly"]),
        ]
        for (folder, expected) in cases {
            let out = temporaryFolder().appendingPathComponent("never")
            let train = try runLesson("peft", ["train", "--model", folder.path, "--data", "qa", "--steps", "2",
                                               "--out", out.path])
            let lesson = try runLesson("lesson-lora", ["--base", folder.path, "--quick", "--out", out.path])
            for (status, output) in [train, lesson] {
                #expect(status != 0)
                let error = output.split(separator: "\n").last { $0.hasPrefix("Error:") }.map(String.init) ?? ""
                #expect(error.contains(folder.path) && expected.allSatisfy(error.contains), "\(output.suffix(800))")
            }
            #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_config.json").path))
        }
    }
}
