// FastMath's row kernels against the plain loops they replaced, bit for bit: the max in eight
// lanes and the exps computed apart from their ordered sum must not change a single value.

import FastMath
import Testing
import TestSupport
import TensorKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct RowKernelTests {
    /// The loops before: one running max, and each exp added as it is computed.
    static func plainLogSumExp(_ x: [Float]) -> Float {
        var m = -Float.infinity
        for v in x { m = max(m, v) }
        var s: Float = 0
        for v in x { s += fastExp(v - m) }
        return m + logf(s)
    }

    static func plainSoftmax(_ x: [Float]) -> [Float] {
        var m = -Float.infinity
        for v in x { m = max(m, v) }
        var y = x, s: Float = 0
        for i in y.indices { let e = fastExp(x[i] - m); y[i] = e; s += e }
        let inv = 1 / s
        for i in y.indices { y[i] *= inv }
        return y
    }

    /// Rows of lengths around the eight lanes and the 256-value blocks, with ties of +0 and −0 at
    /// the top, −∞ entries, and an all-(−∞)-but-one row.
    static var rows: [[Float]] {
        let gen = Generator(seed: 41)
        var rows = [1, 7, 8, 9, 31, 255, 256, 257, 600].map { n in (0..<n).map { _ in 4 * gen.normal() } }
        rows.append([-1, 0, -3, -0.0, -2, -0.0, 0, -5, -1])  // the largest is 0, as +0 and −0
        rows.append([-0.0, -1, -2, 0, -4, -5, -6, -7, -8, 0, -0.0])
        rows.append([-.infinity, -.infinity, 3, -.infinity])
        rows.append((0..<300).map { $0 % 3 == 0 ? -.infinity : Float($0 % 17) - 8 })
        return rows
    }

    @Test func logSumExpMatchesThePlainLoop() {
        for x in Self.rows {
            let fast = x.withUnsafeBufferPointer { logSumExp($0.baseAddress!, x.count) }
            #expect(fast.bitPattern == Self.plainLogSumExp(x).bitPattern, "row of \(x.count)")
        }
    }

    @Test func softmaxMatchesThePlainLoopInPlaceAndApart() {
        for x in Self.rows {
            let expected = Self.plainSoftmax(x).map(\.bitPattern)
            var apart = [Float](repeating: .nan, count: x.count)
            x.withUnsafeBufferPointer { src in
                apart.withUnsafeMutableBufferPointer { softmaxRow(src.baseAddress!, $0.baseAddress!, x.count) }
            }
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { softmaxRow($0.baseAddress!, $0.baseAddress!, x.count) }
            #expect(apart.map(\.bitPattern) == expected, "row of \(x.count), apart")
            #expect(inPlace.map(\.bitPattern) == expected, "row of \(x.count), in place")
        }
    }

    @Test func maxElementIsTheMax() {
        for x in Self.rows {
            let m = x.withUnsafeBufferPointer { maxElement($0.baseAddress!, x.count) }
            #expect(m == x.max()!, "row of \(x.count)")  // == : +0 and −0 are equal, the only freedom it has
        }
        #expect([Float]().withUnsafeBufferPointer { maxElement($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, 0) }
                == -.infinity)
    }
}
