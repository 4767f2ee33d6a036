// Ops that write a new gradient buffer instead of zeroing it and adding (`gradBufferToFill`) must
// leave the bits that adding into zeros leaves. Each such op's backward runs twice here: once with
// its inputs' gradients new (the op fills them) and once with them already allocated, as zeros (the
// op adds). The gradient that reaches the op is zero in places, and a zero times a negative value
// is −0: adding it to a zero gives +0, so a fill that wrote v instead of 0 + v would differ there
// (checked: writing v in the fill of the product, of SwiGLU or of RoPE fails this test).

import Testing
import TestSupport
import TensorKit

@Suite struct FreshGradientTests {
    /// Random values with zeros in runs of four (one in three runs): so that whole head vectors
    /// are zero too, which RoPE's rotation turns into −0 where cos(pos·θ) < 0.
    static func upstream(_ shape: [Int], seed: UInt64) -> Tensor {
        let t = randn(shape, Generator(seed: seed))
        for i in 0..<t.count where (i / 4) % 3 == 0 { t.data[i] = 0 }
        return t
    }

    /// The bit patterns of each input's gradient of Σ f(inputs) ⊙ w, with the inputs' gradient
    /// buffers new (a leaf's starts empty, as an op's input's does in a model) or, with `allocated`,
    /// made (zeroed) before backward.
    static func gradientBits(_ inputs: [Tensor], allocated: Bool, _ f: ([Tensor]) -> Tensor) -> [[UInt32]] {
        let xs = inputs.map { $0.detached(requiresGrad: true) }
        if allocated { for x in xs { _ = x.gradBuffer() } }
        let y = f(xs)
        (y * upstream(y.shape, seed: 5)).sum().backward()
        return xs.map { $0.gradArray!.map(\.bitPattern) }
    }

    static func expectSameBits(_ inputs: [Tensor], _ f: @escaping ([Tensor]) -> Tensor) {
        let filled = gradientBits(inputs, allocated: false, f), added = gradientBits(inputs, allocated: true, f)
        for (input, (a, b)) in zip(filled, added).enumerated() {
            let differing = zip(a, b).filter { $0 != $1 }.count
            #expect(differing == 0, "input \(input): \(differing) of \(a.count) gradient values differ in their bits")
        }
    }

    @Test func elementwiseOpsFillAsTheyAdd() {
        let gen = Generator(seed: 31)
        let a = randn([6, 10], gen), b = Tensor.uniform([6, 10], low: 0.5, high: 2, generator: gen)
        let c = randn([6, 10], gen)  // signed: a zero gradient times it is ±0
        Self.expectSameBits([a, b]) { $0[0] + $0[1] }
        Self.expectSameBits([a, b]) { $0[0] - $0[1] }
        Self.expectSameBits([a, c]) { $0[0] * $0[1] }
        Self.expectSameBits([a, b]) { $0[0] / $0[1] }
        // one tensor on both sides: filled once, then added to
        Self.expectSameBits([a]) { $0[0] + $0[0] }
        Self.expectSameBits([a]) { $0[0] - $0[0] }
        Self.expectSameBits([c]) { $0[0] * $0[0] }
        Self.expectSameBits([a, b]) { swiglu(gate: $0[0], up: $0[1]) }
        Self.expectSameBits([a]) { swiglu(gate: $0[0], up: $0[0]) }
    }

    @Test func ropeAndAttentionFillAsTheyAdd() {
        let gen = Generator(seed: 32)
        let (b, t, heads, d) = (2, 5, 2, 4)
        let q = randn([b, t, heads * d], gen), k = randn([b, t, heads * d], gen), v = randn([b, t, heads * d], gen)
        let pk = randn([b, 3, heads * d], gen), pv = randn([b, 3, heads * d], gen)
        Self.expectSameBits([q]) { rope($0[0], heads: heads, theta: 10_000) }
        Self.expectSameBits([q, k, v, pk, pv]) {
            causalAttention(q: $0[0], k: $0[1], v: $0[2], heads: heads, kvHeads: heads,
                            prefixKey: $0[3], prefixValue: $0[4], lengths: [5, 3])
        }
    }
}
