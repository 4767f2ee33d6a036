// Every autograd op against finite differences, on random shapes, broadcasting edge cases
// included.

import Testing
import TestSupport
import TensorKit
import Foundation

@Suite struct ElementwiseGradients {
    @Test(arguments: [
        ([3, 4], [3, 4]), ([3, 4], [4]), ([3, 4], [3, 1]), ([2, 3, 4], [1, 3, 1]), ([4], [2, 3, 4]),
        ([1], [2, 5]), ([2, 1, 4], [3, 1]), ([5, 1], [1, 6]),
    ])
    func binaryOpsBroadcast(shapes: ([Int], [Int])) {
        let gen = Generator(seed: 7)
        let a = randn(shapes.0, gen), b = Tensor.uniform(shapes.1, low: 0.5, high: 2, generator: gen)
        gradCheck([a, b]) { $0[0] + $0[1] }
        gradCheck([a, b]) { $0[0] - $0[1] }
        gradCheck([a, b]) { $0[0] * $0[1] }
        gradCheck([a, b]) { $0[0] / $0[1] }
    }

    @Test func sameTensorOnBothSides() {
        let x = randn([3, 5], Generator(seed: 3))
        gradCheck([x]) { $0[0] * $0[0] + $0[0] }
    }

    @Test func scalarOps() {
        let x = randn([4, 3], Generator(seed: 2))
        gradCheck([x]) { 3 * $0[0] + 1.5 }
        gradCheck([x]) { -$0[0] - 2 }
    }

    @Test func activations() {
        let gen = Generator(seed: 11)
        let x = randn([3, 7], gen)
        gradCheck([x]) { exp($0[0]) }
        gradCheck([x]) { tanh($0[0]) }
        gradCheck([x]) { sigmoid($0[0]) }
        gradCheck([x]) { silu($0[0]) }
        gradCheck([x]) { gelu($0[0]) }
        gradCheck([x]) { square($0[0]) }
        let positive = Tensor.uniform([3, 7], low: 0.5, high: 3, generator: gen)
        gradCheck([positive]) { log($0[0]) }
        gradCheck([positive]) { sqrt($0[0]) }
        // ReLU away from its kink at 0
        let away = Tensor(shape: [8], values: [-2, -1, -0.5, -0.3, 0.3, 0.5, 1, 2])
        gradCheck([away]) { relu($0[0]) }
    }

    @Test func swigluMatchesSiluTimesUp() {
        let gen = Generator(seed: 12)
        let gate = randn([4, 9], gen), up = randn([4, 9], gen)
        gradCheck([gate, up]) { swiglu(gate: $0[0], up: $0[1]) }
        // the same values as the two ops it replaces, bit for bit, and the same gradient when
        // only one side trains
        #expect(swiglu(gate: gate, up: up).array == (silu(gate) * up).array)
        for trainsGate in [true, false] {
            let (g1, u1) = (gate.detached(requiresGrad: trainsGate), up.detached(requiresGrad: !trainsGate))
            let (g2, u2) = (gate.detached(requiresGrad: trainsGate), up.detached(requiresGrad: !trainsGate))
            let w = randn([4, 9], gen)
            (swiglu(gate: g1, up: u1) * w).sum().backward()
            (silu(g2) * u2 * w).sum().backward()
            let (fused, plain) = trainsGate ? (g1.gradArray!, g2.gradArray!) : (u1.gradArray!, u2.gradArray!)
            #expect(fused == plain)
            #expect((trainsGate ? u1.grad : g1.grad) == nil)
        }
    }

    @Test func activationValues() {
        let x = Tensor(shape: [3], values: [-1, 0, 2])
        #expect(relu(x).array == [0, 0, 2])
        #expect(abs(silu(x).array[2] - 2 / (1 + expf(-2))) < 1e-6)
        #expect(abs(gelu(x).array[0] - (-0.15865525)) < 1e-6)  // −Φ(−1)
    }
}

@Suite struct ShapeGradients {
    @Test func reshapePermuteTranspose() {
        let gen = Generator(seed: 5)
        let x = randn([2, 3, 4], gen)
        gradCheck([x]) { $0[0].reshaped([6, 4]) }
        gradCheck([x]) { $0[0].reshaped([4, -1]) }
        gradCheck([x]) { $0[0].permuted([2, 0, 1]) }
        gradCheck([x]) { $0[0].transposed(0, 2) }
        let y = randn([2, 3, 4, 5], gen)
        gradCheck([y]) { $0[0].permuted([0, 2, 1, 3]) }
        #expect(x.permuted([2, 0, 1]).shape == [4, 2, 3])
    }

    @Test func concatAndSlice() {
        let gen = Generator(seed: 6)
        let a = randn([2, 3, 4], gen), b = randn([2, 1, 4], gen), c = randn([2, 5, 4], gen)
        gradCheck([a, b, c]) { concat($0, axis: 1) }
        gradCheck([a, a]) { concat($0, axis: -1) }
        gradCheck([c]) { $0[0].slice(axis: 1, 1..<4) }
        gradCheck([c]) { $0[0].slice(axis: 0, 1..<2) }
        gradCheck([c]) { $0[0].slice(axis: 2, 0..<1) }
        let s = c.slice(axis: 1, 2..<3)
        #expect(s.array == Array(c.array[8..<12]) + Array(c.array[28..<32]))
        // rows(at:) reads [2, 5, 4] as 10 rows of 4; a repeated row gets both gradients
        gradCheck([c]) { $0[0].rows(at: [7, 0, 7, 3]) }
        #expect(c.rows(at: [7, 2]).array == Array(c.array[28..<32]) + Array(c.array[8..<12]))
        #expect(c.rows(at: []).shape == [0, 4])
        // placingRows(at:in:) puts 3 rows into a zero [2, 3, 4] grid; the other rows stay zero
        let r = randn([3, 4], gen)
        gradCheck([r]) { $0[0].placingRows(at: [4, 0, 2], in: [2, 3, 4]) }
        let grid = r.placingRows(at: [4, 0, 2], in: [2, 3, 4])
        #expect(grid.rows(at: [4, 0, 2]).array == r.array)
        #expect(grid.rows(at: [1, 3, 5]).array.allSatisfy { $0 == 0 })
    }

    @Test func sumAndMean() {
        let gen = Generator(seed: 8)
        let x = randn([2, 3, 4], gen)
        gradCheck([x]) { $0[0].sum(axes: [1]) }
        gradCheck([x]) { $0[0].sum(axes: [0, 2], keepDims: true) }
        gradCheck([x]) { $0[0].mean(axes: [-1]) }
        gradCheck([x]) { $0[0].sum() }
        gradCheck([x]) { $0[0].mean() }
        #expect(abs(x.sum().item - x.array.reduce(0, +)) < 1e-4)
    }
}

@Suite struct ProductGradients {
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmul2D(transpose: (Bool, Bool)) {
        let gen = Generator(seed: 9)
        let a = randn(transpose.0 ? [4, 3] : [3, 4], gen), b = randn(transpose.1 ? [5, 4] : [4, 5], gen)
        gradCheck([a, b]) { matmul($0[0], $0[1], transposeA: transpose.0, transposeB: transpose.1) }
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmulBatched(transpose: (Bool, Bool)) {
        let gen = Generator(seed: 10)
        let a = randn(transpose.0 ? [2, 3, 4, 3] : [2, 3, 3, 4], gen)
        let b = randn(transpose.1 ? [2, 3, 5, 4] : [2, 3, 4, 5], gen)
        gradCheck([a, b]) { matmul($0[0], $0[1], transposeA: transpose.0, transposeB: transpose.1) }
        // a 2-D right-hand side shared by every batch
        let shared = randn(transpose.1 ? [5, 4] : [4, 5], gen)
        gradCheck([a, shared]) { matmul($0[0], $0[1], transposeA: transpose.0, transposeB: transpose.1) }
    }

    @Test func matmulValues() {
        let a = Tensor(shape: [2, 2], values: [1, 2, 3, 4]), b = Tensor(shape: [2, 2], values: [5, 6, 7, 8])
        #expect(matmul(a, b).array == [19, 22, 43, 50])
        #expect(matmul(a, b, transposeB: true).array == [17, 23, 39, 53])
    }

    @Test func linearLayer() {
        let gen = Generator(seed: 12)
        let x = randn([2, 3, 6], gen), w = randn([4, 6], gen), b = randn([4], gen)
        gradCheck([x, w, b]) { linear($0[0], weight: $0[1], bias: $0[2]) }
        gradCheck([x, w]) { linear($0[0], weight: $0[1]) }
    }

    @Test func frozenWeightGetsNoGradient() {
        let gen = Generator(seed: 13)
        let x = randn([3, 6], gen), w = randn([4, 6], gen)
        x.requiresGrad = true
        linear(x, weight: w).sum().backward()
        #expect(x.grad != nil)
        #expect(w.grad == nil)  // no weight-gradient product was run for the frozen weight
    }
}

@Suite struct NormalizationGradients {
    @Test func softmaxFamily() {
        let gen = Generator(seed: 14)
        let x = randn([3, 4, 6], gen, std: 2)
        gradCheck([x]) { softmax($0[0]) }
        gradCheck([x]) { logSoftmax($0[0]) }
        let big = Tensor(shape: [1, 3], values: [1000, 1001, 1002])
        let y = softmax(big).array
        #expect(y.allSatisfy { $0.isFinite } && abs(y.reduce(0, +) - 1) < 1e-6)
        #expect(logSoftmax(big).array.allSatisfy { $0.isFinite })
    }

    @Test func rmsAndLayerNorm() {
        let gen = Generator(seed: 15)
        let x = randn([2, 3, 8], gen), w = randn([8], gen), b = randn([8], gen)
        gradCheck([x, w]) { rmsNorm($0[0], weight: $0[1], eps: 1e-6) }
        gradCheck([x, w, b]) { layerNorm($0[0], weight: $0[1], bias: $0[2]) }
    }
}

@Suite struct LookupGradients {
    @Test func embeddingScatterAdd() {
        let gen = Generator(seed: 16)
        let w = randn([7, 5], gen)
        gradCheck([w]) { embedding([1, 3, 1, 6, 0, 1], shape: [2, 3], weight: $0[0]) }
    }

    @Test func crossEntropyIgnoresIndex() {
        let gen = Generator(seed: 17)
        let z = randn([2, 4, 9], gen, std: 2)
        let targets = [3, -100, 0, 8, 2, 2, -100, 5]
        gradCheck([z]) { crossEntropy($0[0], targets: targets) }
        // value: the mean over the 6 valid rows of −log softmax[target]
        let ls = logSoftmax(z).array
        var expected: Float = 0
        for (r, t) in targets.enumerated() where t != -100 { expected -= ls[r * 9 + t] }
        #expect(abs(crossEntropy(z, targets: targets).item - expected / 6) < 1e-5)
        #expect(crossEntropy(z, targets: [Int](repeating: -100, count: 8)).item == 0)
    }

    @Test func dropoutIsSeededAndUnbiased() {
        let x = Tensor.full([10000], 1)
        let a = dropout(x, p: 0.3, generator: Generator(seed: 1)).array
        let b = dropout(x, p: 0.3, generator: Generator(seed: 1)).array
        #expect(a == b)
        let zeros = a.filter { $0 == 0 }.count
        #expect(abs(Double(zeros) / 10000 - 0.3) < 0.02)
        #expect(abs(a.reduce(0, +) / 10000 - 1) < 0.05)
        let y = randn([4, 5], Generator(seed: 3))
        gradCheck([y]) { dropout($0[0], p: 0.4, generator: Generator(seed: 99)) }
        #expect(dropout(y, p: 0.5, generator: Generator(seed: 1), training: false) === y)
    }
}

@Suite struct AttentionGradients {
    @Test(arguments: [(4, 4, 0, false), (4, 2, 0, false), (2, 1, 3, false), (2, 2, 0, true), (4, 2, 2, true)])
    func causalAttentionMatchesDifferences(config: (Int, Int, Int, Bool)) {
        let (heads, kvHeads, prefix, masked) = config
        let gen = Generator(seed: 18)
        let (b, t, d) = (2, 5, 4)
        let q = randn([b, t, heads * d], gen), k = randn([b, t, kvHeads * d], gen), v = randn([b, t, kvHeads * d], gen)
        var inputs = [q, k, v]
        if prefix > 0 { inputs += [randn([b, prefix, kvHeads * d], gen), randn([b, prefix, kvHeads * d], gen)] }
        let mask: Tensor? = masked ? Tensor.uniform([b, t, prefix + t], low: -2, high: 0, generator: gen) : nil
        gradCheck(inputs) { x in
            causalAttention(q: x[0], k: x[1], v: x[2], heads: heads, kvHeads: kvHeads,
                            prefixKey: x.count > 3 ? x[3] : nil, prefixValue: x.count > 3 ? x[4] : nil, mask: mask)
        }
    }

    /// Row lengths (right padding): the padding queries give zeros and pass no gradient, the
    /// gradient matches differences, and every real output and every gradient is what the op
    /// computes without lengths when the padding's output gradient is zero (up to rounding: the
    /// products are smaller, and OpenBLAS cuts them into other blocks). With a mask too (per row,
    /// dropping some keys each query could see), both apply.
    @Test(arguments: [(2, 1, 0, false), (4, 2, 2, false), (4, 2, 2, true), (2, 2, 0, true)])
    func rowLengthsSkipOnlyThePadding(config: (Int, Int, Int, Bool)) {
        let (heads, kvHeads, prefix, masked) = config
        let gen = Generator(seed: 20)
        let (b, t, d) = (3, 6, 4), lengths = [6, 3, 0], s = prefix + t
        var inputs = [randn([b, t, heads * d], gen), randn([b, t, kvHeads * d], gen), randn([b, t, kvHeads * d], gen)]
        if prefix > 0 { inputs += [randn([b, prefix, kvHeads * d], gen), randn([b, prefix, kvHeads * d], gen)] }
        // [B, T, P+T]: each query keeps its own key and drops a third of the others
        let mask = masked ? Tensor(shape: [b, t, s], values: (0..<b * t * s).map { n in
            let (row, i, j) = (n / (t * s), n / s % t, n % s)
            return j != prefix + i && (row + i + j) % 3 == 1 ? -1e9 : 0
        }) : nil
        func attend(_ x: [Tensor], _ lengths: [Int]?) -> Tensor {
            causalAttention(q: x[0], k: x[1], v: x[2], heads: heads, kvHeads: kvHeads,
                            prefixKey: x.count > 3 ? x[3] : nil, prefixValue: x.count > 3 ? x[4] : nil,
                            mask: mask, lengths: lengths)
        }
        gradCheck(inputs) { attend($0, lengths) }

        let width = heads * d
        let real = (0..<b * t).map { $0 % t < lengths[$0 / t] }  // per [b, t] position
        let weight = Tensor(shape: [b, t, width], values: randn([b, t, width], gen).array.enumerated().map {
            real[$0.offset / width] ? $0.element : 0
        })
        func run(_ lengths: [Int]?) -> (out: [Float], grads: [[Float]]) {
            let xs = inputs.map { Tensor(shape: $0.shape, values: $0.array, requiresGrad: true) }
            let out = attend(xs, lengths)
            (out * weight).sum().backward()
            return (out.array, xs.map { $0.gradArray ?? [] })
        }
        let full = run(nil), skipped = run(lengths)
        for i in 0..<b * t * width {
            if real[i / width] {
                #expect(abs(skipped.out[i] - full.out[i]) <= 1e-5, "output \(i)")
            } else {
                #expect(skipped.out[i] == 0, "padding output \(i)")
            }
        }
        for (n, (a, e)) in zip(skipped.grads, full.grads).enumerated() {
            #expect(a.count == e.count && zip(a, e).allSatisfy { abs($0 - $1) <= 1e-5 }, "gradient of input \(n)")
        }
    }

    /// Chosen queries only (the last layer of a forward read at a few positions): the gradient
    /// matches differences, and each output and every gradient is what `causalAttention` computes
    /// at those positions when the other positions' output gradient is zero. Row 1 has no query.
    @Test(arguments: [(2, 1, 0), (4, 2, 2), (2, 2, 3)])
    func chosenQueriesAreThoseOfTheFullAttention(config: (Int, Int, Int)) {
        let (heads, kvHeads, prefix) = config
        let gen = Generator(seed: 21)
        let (b, t, d) = (3, 6, 4), width = heads * d
        let rows = [0, 0, 0, 2, 2], positions = [0, 3, 5, 1, 4]
        let chosen = zip(rows, positions).map { $0 * t + $1 }
        var inputs = [randn([b, t, width], gen), randn([b, t, kvHeads * d], gen), randn([b, t, kvHeads * d], gen)]
        if prefix > 0 { inputs += [randn([b, prefix, kvHeads * d], gen), randn([b, prefix, kvHeads * d], gen)] }
        func attend(_ x: [Tensor], chosenOnly: Bool) -> Tensor {
            let (pk, pv) = x.count > 3 ? (x[3], x[4]) : (nil, nil)
            return chosenOnly
                ? causalAttention(queries: x[0].rows(at: chosen), rows: rows, positions: positions, k: x[1], v: x[2],
                                  heads: heads, kvHeads: kvHeads, prefixKey: pk, prefixValue: pv)     // [S, H·D]
                : causalAttention(q: x[0], k: x[1], v: x[2], heads: heads, kvHeads: kvHeads, prefixKey: pk,
                                  prefixValue: pv).rows(at: chosen)                                  // [S, H·D]
        }
        gradCheck(inputs) { attend($0, chosenOnly: true) }

        let weight = randn([chosen.count, width], gen)
        func run(chosenOnly: Bool) -> (out: [Float], grads: [[Float]]) {
            let xs = inputs.map { Tensor(shape: $0.shape, values: $0.array, requiresGrad: true) }
            let out = attend(xs, chosenOnly: chosenOnly)
            (out * weight).sum().backward()
            return (out.array, xs.map { $0.gradArray ?? [] })
        }
        let full = run(chosenOnly: false), chosenOnly = run(chosenOnly: true)
        #expect(chosenOnly.out.count == chosen.count * width)
        #expect(zip(chosenOnly.out, full.out).allSatisfy { abs($0 - $1) <= 1e-5 }, "outputs")
        for (n, (a, e)) in zip(chosenOnly.grads, full.grads).enumerated() {
            #expect(a.count == e.count && zip(a, e).allSatisfy { abs($0 - $1) <= 1e-5 }, "gradient of input \(n)")
        }
    }

    @Test func attentionIsCausalAndMatchesNaive() {
        let gen = Generator(seed: 19)
        let (t, d) = (4, 3)
        let q = randn([1, t, d], gen), k = randn([1, t, d], gen), v = randn([1, t, d], gen)
        let out = causalAttention(q: q, k: k, v: v, heads: 1, kvHeads: 1).array
        // naive: row i attends to keys 0…i
        for i in 0..<t {
            var w = [Float](repeating: 0, count: i + 1)
            for j in 0...i {
                for c in 0..<d { w[j] += q.array[i * d + c] * k.array[j * d + c] / Float(d).squareRoot() }
            }
            let m = w.max()!; let e = w.map { expf($0 - m) }; let s = e.reduce(0, +)
            for c in 0..<d {
                var o: Float = 0
                for j in 0...i { o += e[j] / s * v.array[j * d + c] }
                #expect(abs(o - out[i * d + c]) < 1e-5)
            }
        }
    }

    @Test func ropeRotatesAndInverts() {
        let gen = Generator(seed: 20)
        let x = randn([2, 3, 2 * 6], gen)
        gradCheck([x]) { rope($0[0], heads: 2, theta: 10000) }
        gradCheck([x]) { rope($0[0], heads: 2, theta: 500, offset: 4) }
        // position 0 is the identity; a rotation keeps each pair's norm
        let y = rope(x, heads: 2, theta: 10000)
        #expect(Array(y.array[0..<12]) == Array(x.array[0..<12]))
        let (a, b) = (x.array[12], x.array[15]), (c, e) = (y.array[12], y.array[15])
        #expect(abs((a * a + b * b) - (c * c + e * e)) < 1e-5)
    }
}
