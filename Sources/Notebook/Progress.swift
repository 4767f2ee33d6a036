// Progress.swift — one updating line on a terminal, plain periodic lines otherwise.

import Foundation
import TensorKit

public final class Progress {
    /// Silences every `Progress` on this thread while bound to true (runs side by side report
    /// through one board instead: `sideBySide`).
    @TaskLocal public static var isMuted = false

    let label: String, total: Int
    let interactive = isatty(1) != 0
    let start = Date()
    var lastPrint = Date.distantPast
    var lastPercent = -1

    public init(_ label: String, total: Int) {
        self.label = label
        self.total = max(total, 1)
    }

    /// Reports step `step` (1-based) with its loss and the tokens processed so far.
    public func update(step: Int, loss: Float, tokens: Int) {
        if Progress.isMuted { return }
        let elapsed = Date().timeIntervalSince(start)
        let left = elapsed / Double(step) * Double(total - step)
        let rate = Double(tokens) / max(elapsed, 1e-9)
        let line = String(format: "  %@  step %d/%d  loss %.4f  %@ tok/s  %@ left", label, step, total, loss,
                          formatCount(Int(rate)), formatDuration(left))
        if interactive {
            if Date().timeIntervalSince(lastPrint) > 0.2 || step == total {
                print("\r" + line + "   ", terminator: step == total ? "\n" : "")
                fflush(nil)  // flush stdout (nil flushes every stream)
                lastPrint = Date()
            }
        } else {
            let percent = step * 10 / total
            if percent != lastPercent && (percent % 2 == 0 || step == total) {
                print(line); fflush(nil); lastPercent = percent
            }
        }
    }
}
