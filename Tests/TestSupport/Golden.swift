// Golden.swift — where the fixtures from the Python reference stack live, and the comparisons
// every conformance test makes (shared by the test targets).

import Foundation
import Llama
import SafeTensors

public enum Golden {
    /// `../shared/golden` beside the package (or `$PEFT_GOLDEN`).
    public static let root: URL = {
        if let env = ProcessInfo.processInfo.environment["PEFT_GOLDEN"] { return URL(fileURLWithPath: env) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/golden")
    }()
    /// The tiny LLaMA and its fixtures.
    public static let tiny = root.appendingPathComponent("llama-tiny")

    /// A file of `llama-tiny/` (an expected_*.safetensors).
    public static func expected(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile.read(contentsOf: tiny.appendingPathComponent(name))
    }
    /// The base model.
    public static func base() throws -> LlamaModel { try LlamaModel.load(from: tiny.appendingPathComponent("base")) }
    /// `batch.json`.
    public static func batch() throws -> TokenBatch {
        try TokenBatch.load(contentsOf: tiny.appendingPathComponent("batch.json"), vocabSize: 97)
    }
    /// An adapter folder of `llama-tiny/`.
    public static func folder(_ name: String) -> URL { tiny.appendingPathComponent(name) }
}

/// Largest |a − b|.
public func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Largest |a − b| relative to the largest |b| (the fixtures' gradient tolerance).
public func maxRelDiff(_ a: [Float], _ b: [Float]) -> Float {
    maxAbsDiff(a, b) / max(b.map(abs).max() ?? 0, 1e-12)
}

/// A fresh folder under the system's temporary directory.
public func temporaryFolder() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("peft-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
