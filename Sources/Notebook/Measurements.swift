// Measurements.swift — small measurements the lessons make besides training: inference speed,
// folder sizes, and the names of the tasks' metrics.

import Corpus
import Foundation
import Llama
import TensorKit

extension TaskData {
    /// "accuracy" or "exact match".
    public var metricName: String {
        switch metric { case .choice, .choiceByKind: "accuracy"; case .exactMatch, .slotCoverage: "exact match" }
    }
}

/// Inference throughput: tokens per second of `logits` over `repeats` forward passes of the
/// same batch (no gradients), after one warm-up pass; one value per repeat, so that the spread of
/// repeated timings can be shown next to any comparison.
public func inferenceTimings(_ logits: LogitsFunction, batch: TokenBatch, repeats: Int = 5) -> [Double] {
    withoutGrad {
        _ = logits(batch)
        return (0..<repeats).map { _ in
            let start = Date()
            _ = logits(batch)
            return Double(batch.inputIds.count) / Date().timeIntervalSince(start)
        }
    }
}

/// Total bytes of the regular files in a folder.
public func folderSize(_ url: URL) -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
    return names.reduce(0) { total, name in
        total + (((try? FileManager.default.attributesOfItem(
            atPath: url.appendingPathComponent(name).path))?[.size] as? Int) ?? 0)
    }
}

/// A fresh temporary folder.
public func temporaryFolder(_ prefix: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The median of some values (0 for none).
public func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
