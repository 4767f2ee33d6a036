// Judging.swift — how an answer is compared with the reference, and the messages a student reads:
// the shape first, then the first wrong element with its expected and got values.

import Foundation

/// Comparisons that return nil when the answer is right, else one sentence naming the problem.
enum Judge {
    /// Floats agree when |got − expected| ≤ tolerance · max(1, |expected|).
    static let tolerance = 1e-4

    /// A matrix against the reference: shape (with what it should be, e.g. "n × out"), the
    /// number of values, then the first element off by more than the tolerance. `rowNote` explains
    /// a row index (e.g. which batch row and position it is).
    static func matrix(_ got: Matrix, expected: Matrix, shape meaning: String,
                       rowNote: (Int) -> String = { _ in "" }) -> String? {
        guard got.shape == expected.shape else {
            return "shape: expected \(expected.shape) (\(meaning)), got \(got.shape)"
        }
        guard got.values.count == got.rows * got.columns else {
            return "the result says \(got.shape) but holds \(got.values.count) values, "
                + "not rows · columns = \(got.rows * got.columns)"
        }
        for i in 0..<expected.rows {
            for j in 0..<expected.columns where !close(Double(got[i, j]), Double(expected[i, j])) {
                return "element [\(i), \(j)]\(rowNote(i)): expected \(expected[i, j]), got \(got[i, j])"
                    + " (tolerance \(tolerance) relative)"
            }
        }
        return nil
    }

    /// Integers or bytes that must be equal, element by element; `element` describes index k.
    static func exactly<T: Equatable>(_ got: [T], expected: [T], name: String, length meaning: String,
                                      element: (Int) -> String, show: (T) -> String = { "\($0)" }) -> String? {
        guard got.count == expected.count else {
            return "\(name): expected length \(expected.count) (\(meaning)), got length \(got.count)"
        }
        guard let k = expected.indices.first(where: { got[$0] != expected[$0] }) else { return nil }
        return "\(name) \(element(k)): expected \(show(expected[k])), got \(show(got[k]))"
    }

    /// Whether two numbers agree within the tolerance (NaN never does).
    static func close(_ got: Double, _ expected: Double) -> Bool {
        abs(got - expected) <= tolerance * max(1, abs(expected))
    }

    /// A Double with six significant digits.
    static func text(_ x: Double) -> String { String(format: "%.6g", x) }
}
