// ResidentMemory.swift — the process's resident memory (VmRSS: pages in RAM now) and its peak
// (VmHWM), read from /proc/self/status, and a per-step trace of it over a training run.

import Foundation

/// Resident memory as Linux reports it in /proc/self/status.
public enum ResidentMemory {
    /// VmRSS in bytes: the pages of this process in RAM now (nil where /proc is missing).
    public static func current() -> Int? { statusField("VmRSS:") }
    /// VmHWM in bytes: the largest VmRSS so far.
    public static func peak() -> Int? { statusField("VmHWM:") }

    private static func statusField(_ name: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
        }
        return nil
    }
}

/// VmRSS sampled once per training step (call `record()` from the loop's progress callback).
public final class ResidentMemoryTrace {
    /// Bytes resident after each recorded step.
    public private(set) var samples: [Int] = []

    public init() {}

    /// Appends the current VmRSS (nothing where it cannot be read).
    public func record() { if let rss = ResidentMemory.current() { samples.append(rss) } }

    /// The largest sample, in bytes.
    public var peak: Int { samples.max() ?? 0 }
}
