// Golden.swift — where the fixtures from the Python reference stack live, and comparisons.

import Foundation
import SafeTensors
import Testing

enum Golden {
    /// `../shared/golden` beside the package (or `$PEFT_GOLDEN`).
    static let root: URL = {
        if let env = ProcessInfo.processInfo.environment["PEFT_GOLDEN"] { return URL(fileURLWithPath: env) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/golden")
    }()
    static let tiny = root.appendingPathComponent("llama-tiny")

    static func expected(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile.read(contentsOf: tiny.appendingPathComponent(name))
    }
}

/// Largest |a − b|.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Largest |a − b| relative to the largest |b| (the fixtures' gradient tolerance).
func maxRelDiff(_ a: [Float], _ b: [Float]) -> Float {
    maxAbsDiff(a, b) / max(b.map(abs).max() ?? 0, 1e-12)
}

func temporaryFolder() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("peft-tests-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
