// `peft generate` as a student uses it: a base pretrained for a few steps, an adapter trained on it,
// then text from both. Greedy decoding is deterministic and a longer run extends a shorter one
// (the key/value cache's steps agree with the prefill); a sampling seed repeats its text; bad
// input is a clear error. That the cache equals the full forward is CachedDecodingTests' job.

import Foundation
import Testing

@Suite(.serialized) struct GenerateCommandTests {
    static let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("peft-generate-\(UUID().uuidString)")
    static let base = folder.appendingPathComponent("base").path
    static let adapter = folder.appendingPathComponent("prompt").path
    static let prepared: Result<Void, any Error> = Result {
        for arguments in [["pretrain", "--preset", "quick", "--steps", "30", "--out", base],
                          ["train", "--model", base, "--data", "qa", "--method", "prompt-tuning", "--steps", "5",
                           "--out", adapter]] {
            let (status, output) = try runLesson("peft", arguments)
            guard status == 0 else { throw CommandFailure(output: output) }
        }
    }
    struct CommandFailure: Error { var output: String }

    /// The generated text (the first line of the output: the prompt and its continuation).
    func generate(_ extra: [String], adapter: Bool = false) throws -> (text: String, output: String) {
        try Self.prepared.get()
        var arguments = ["generate", "--model", Self.base, "--prompt", "Question: Where does"] + extra
        if adapter { arguments += ["--adapter", Self.adapter] }
        let (status, output) = try runLesson("peft", arguments)
        #expect(status == 0, "peft \(arguments.joined(separator: " ")):\n\(output.suffix(1500))")
        return (String(output.split(separator: "\n", omittingEmptySubsequences: false).dropLast(2)
            .joined(separator: "\n")), output)
    }

    @Test(arguments: [false, true]) func greedyIsDeterministicAndALongerRunExtendsAShorterOne(adapter: Bool) throws {
        let short = try generate(["--max-new-tokens", "2"], adapter: adapter)
        let long = try generate(["--max-new-tokens", "12"], adapter: adapter)
        #expect(short.output.contains("greedy, key/value cache"))
        #expect(long.text.hasPrefix(short.text) || long.output.contains("stopped at end of text"))
        #expect(try generate(["--max-new-tokens", "12"], adapter: adapter).text == long.text)
    }

    @Test func aSamplingSeedRepeatsItsText() throws {
        let sampled = ["--max-new-tokens", "16", "--temperature", "1"]
        let first = try generate(sampled + ["--seed", "3"], adapter: true)
        #expect(first.output.contains("sampled at temperature 1.0, seed 3"))
        #expect(try generate(sampled + ["--seed", "3"], adapter: true).text == first.text)
        #expect(try generate(sampled + ["--seed", "4"], adapter: true).text != first.text)
    }

    @Test func badInputIsAClearError() throws {
        try Self.prepared.get()
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/golden/llama-tiny")
        let cases: [([String], String)] = [
            (["--model", golden.appendingPathComponent("base").path, "--prompt", "x"], "has no tokenizer.json"),
            (["--model", Self.base, "--prompt", ""], "the prompt is empty"),
            (["--model", Self.base, "--prompt", "hi", "--max-new-tokens", "100000"], "max_position_embeddings"),
            (["--model", Self.base, "--prompt", "hi", "--temperature=-1"], "--temperature must be"),
            (["--model", Self.base, "--prompt", "hi", "--adapter", "/nonexistent"], "/nonexistent"),
        ]
        for (arguments, message) in cases {
            let (status, output) = try runLesson("peft", ["generate"] + arguments)
            #expect(status != 0 && output.contains(message), "\(arguments): \(output.suffix(600))")
            #expect(!output.contains("Fatal error"), "\(arguments) crashed")
        }
    }
}

/// `swift run figures`: it lists every lesson folder in the course's order and refuses unknown names
/// (running the lessons themselves is what the lessons' own tests do).
@Suite struct FiguresCommandTests {
    @Test func listsEveryLessonInTheCoursesOrder() throws {
        let (status, output) = try runLesson("figures", ["--list"])
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Lessons")
        let folders = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { !$0.hasPrefix(".") }
        let listed = output.split(separator: "\n").map(String.init)
        #expect(status == 0 && Set(listed) == Set(folders), "\(output)")
        #expect(listed.first == "lesson-lora")
    }

    @Test func anUnknownLessonIsAClearError() throws {
        let (status, output) = try runLesson("figures", ["--only", "lesson-nothing"])
        #expect(status != 0 && output.contains("unknown lesson(s) lesson-nothing") && output.contains("lesson-lora"))
    }
}
