// ResidentMemory.swift — the process's resident memory (VmRSS: pages in RAM now) and its peak
// (VmHWM), read from /proc/self/status, and a per-step trace of it over a training run: wrap the
// optimizer (`trace.recording(optimizer)`) and every step records VmRSS after the update, with
// no change to the training loop.

import Foundation
import TensorKit

/// Resident memory as Linux reports it in /proc/self/status.
public enum ResidentMemory {
    /// VmRSS in bytes: the pages of this process in RAM now (nil where /proc is missing).
    public static func current() -> Int? { statusField("VmRSS:") }
    /// VmHWM in bytes: the largest VmRSS so far.
    public static func peak() -> Int? { statusField("VmHWM:") }

    private static func statusField(_ name: String) -> Int? {
        guard let status = readProcFile("/proc/self/status") else { return nil }
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

extension ResidentMemoryTrace {
    /// An optimizer that runs `optimizer` and records VmRSS after each of its steps, then calls
    /// `afterEachStep` (for anything else a caller samples per step, such as an optimizer state's
    /// own resident bytes).
    public func recording(_ optimizer: any Optimizer, afterEachStep: (() -> Void)? = nil) -> any Optimizer {
        RecordingOptimizer(inner: optimizer, trace: self, afterEachStep: afterEachStep)
    }
}

/// Forwards every call to the wrapped optimizer and samples VmRSS after each step.
private final class RecordingOptimizer: Optimizer {
    let inner: any Optimizer
    let trace: ResidentMemoryTrace
    let afterEachStep: (() -> Void)?
    init(inner: any Optimizer, trace: ResidentMemoryTrace, afterEachStep: (() -> Void)?) {
        self.inner = inner
        self.trace = trace
        self.afterEachStep = afterEachStep
    }
    var groups: [ParameterGroup] { inner.groups }
    var learningRate: Float {
        get { inner.learningRate }
        set { inner.learningRate = newValue }
    }
    func step() {
        inner.step()
        trace.record()
        afterEachStep?()
    }
}
