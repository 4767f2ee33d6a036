// UserData.swift — bring your own data: plain text for pretraining, Alpaca-style instruction
// records (`instruction`, `input`, `output`, and an optional `task_id` for multitask prompt
// tuning) as a JSON array or JSON Lines for fine-tuning.

import Foundation
import SafeTensors
import TensorKit

/// The prompt template for instruction records (a compact form of Alpaca's):
/// "Instruction: …\nInput: …\nResponse:" → " output". `Input:` is left out when empty.
public func alpacaExample(instruction: String, input: String, output: String) -> Example {
    let body = input.isEmpty ? "Instruction: \(instruction)\nResponse:"
                             : "Instruction: \(instruction)\nInput: \(input)\nResponse:"
    return Example(prompt: body, answer: " " + output)
}

/// Reads Alpaca records from a `.json` array or a `.jsonl` file (one object per line). A record
/// may carry `task_id` (a whole number ≥ 0): the example's task, for multitask prompt tuning.
/// Errors name the file, the line (JSONL) or record, and what is wrong.
public func loadAlpaca(contentsOf url: URL) throws -> [Example] {
    func fail(_ problem: String) -> FileFormatError { FileFormatError(file: url.path, problem: problem) }
    guard let data = try? Data(contentsOf: url) else { throw fail("no such file or not readable") }
    guard var text = String(data: data, encoding: .utf8) else { throw fail("is not UTF-8 text; save it as UTF-8") }
    if text.hasPrefix("\u{FEFF}") { text.removeFirst() }  // a byte-order mark, as some Windows editors write
    func record(_ object: Any, _ where_: String) throws -> Example {
        guard let dict = object as? [String: Any] else {
            throw fail("\(where_): expected an object with instruction, input, output")
        }
        guard let instruction = dict["instruction"] as? String, !instruction.isEmpty else {
            throw fail("\(where_): missing or empty \"instruction\" (a string)")
        }
        guard let output = dict["output"] as? String, !output.isEmpty else {
            throw fail("\(where_): missing or empty \"output\" (a string)")
        }
        let input = dict["input"] as? String ?? ""
        if dict["input"] != nil && !(dict["input"] is String) { throw fail("\(where_): \"input\" must be a string") }
        var example = alpacaExample(instruction: instruction, input: input, output: output)
        if let value = dict["task_id"], !(value is NSNull) {
            guard let id = jsonInteger(value), id >= 0 else {
                throw fail("\(where_): \"task_id\" must be a whole number ≥ 0 (the example's task), not \(value)")
            }
            example.taskId = id
        }
        return example
    }
    var examples: [Example] = []
    let trimmed = text.drop { $0.isWhitespace }
    if trimmed.first == "[" {
        guard let list = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [Any] else {
            throw fail("is not valid JSON (expected an array of {instruction, input, output} records)")
        }
        for (i, item) in list.enumerated() { examples.append(try record(item, "record \(i + 1)")) }
    } else {
        // "\r\n" is one Character in Swift: split on it too, so Windows line ends work.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        for (n, line) in lines.enumerated() {
            if line.allSatisfy({ $0.isWhitespace }) { continue }
            let object: Any
            do { object = try JSONSerialization.jsonObject(with: Data(line.utf8)) } catch {
                throw fail("line \(n + 1): not valid JSON (\(jsonSyntaxProblem(error))); each line must be one "
                           + "{\"instruction\", \"input\", \"output\"} record")
            }
            examples.append(try record(object, "line \(n + 1)"))
        }
    }
    if examples.isEmpty { throw fail("holds no examples (expected instruction records)") }
    return examples
}

/// Reads a plain-text pretraining corpus: documents separated by blank lines.
public func loadTextCorpus(contentsOf url: URL) throws -> [String] {
    guard let data = try? Data(contentsOf: url) else {
        throw FileFormatError(file: url.path, problem: "no such file or not readable")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw FileFormatError(file: url.path, problem: "is not UTF-8 text; save it as UTF-8")
    }
    let documents = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n")
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    if documents.isEmpty { throw FileFormatError(file: url.path, problem: "holds no text") }
    return documents
}

/// A task made of user examples: 90% train, 10% validation (and the same as test), scored by
/// exact match of the generated first line.
public func userTask(name: String, examples: [Example], seed: UInt64) -> TaskData {
    let g = Generator(seed: seed)
    let shuffled = g.shuffled(examples)
    let cut = max(1, shuffled.count * 9 / 10)
    let held = cut < shuffled.count ? Array(shuffled[cut...]) : Array(shuffled.suffix(1))
    return TaskData(name: name, summary: "your instruction data (\(examples.count) records)",
                    metric: .exactMatch(maxTokens: 32),
                    train: Array(shuffled[..<cut]), validation: held, test: held)
}
