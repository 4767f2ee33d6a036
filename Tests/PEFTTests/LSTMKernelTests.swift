// P-tuning's fused LSTM recurrence against the op-by-op graph it replaced: the same values and the
// same gradients to the bit, in both directions (the finite-difference check of the whole LSTM is
// BidirectionalLSTMTests').

@testable import PEFT
import Testing
import TensorKit
import TestSupport

@Suite struct LSTMKernelTests {
    /// The recurrence as tensor ops: slices, a linear, sigmoid, tanh, products and sums per step.
    func opByOp(_ inputGates: Tensor, weightHH: Tensor, biasHH: Tensor, reverse: Bool) -> Tensor {
        let h = weightHH.shape[1], steps = inputGates.shape[0]
        var hidden = Tensor(zeros: [1, h]), cell = Tensor(zeros: [1, h])                  // [1, h]
        var outputs = [Tensor](repeating: hidden, count: steps)
        for t in reverse ? Array((0..<steps).reversed()) : Array(0..<steps) {
            let z = inputGates.slice(axis: 0, t..<t + 1) + linear(hidden, weight: weightHH, bias: biasHH)  // [1, 4h]
            let i = sigmoid(z.slice(axis: 1, 0..<h)), f = sigmoid(z.slice(axis: 1, h..<2 * h))
            let g = tanh(z.slice(axis: 1, 2 * h..<3 * h)), o = sigmoid(z.slice(axis: 1, 3 * h..<4 * h))
            cell = f * cell + i * g
            hidden = o * tanh(cell)
            outputs[t] = hidden
        }
        return concat(outputs, axis: 0)                                                    // [T, h]
    }

    /// Random G [T, 4h], W_hh [4h, h], b_hh [4h] and an upstream gradient [T, h].
    func inputs(steps: Int, h: Int, seed: UInt64) -> (gates: Tensor, weight: Tensor, bias: Tensor, upstream: Tensor) {
        let gen = Generator(seed: seed)
        return (randn([steps, 4 * h], gen), randn([4 * h, h], gen, std: 0.3), randn([4 * h], gen, std: 0.3),
                randn([steps, h], gen))
    }

    /// Runs the fused op or the op-by-op graph and calls backward `times` times.
    func run(fused: Bool, _ x: (gates: Tensor, weight: Tensor, bias: Tensor, upstream: Tensor), reverse: Bool,
             times: Int = 1) -> Tensor {
        var out = x.gates
        for _ in 0..<times {
            out = fused ? lstmDirection(x.gates, weightHH: x.weight, biasHH: x.bias, reverse: reverse)
                : opByOp(x.gates, weightHH: x.weight, biasHH: x.bias, reverse: reverse)
            (out * x.upstream).sum().backward()
        }
        return out
    }

    @Test(arguments: [false, true])
    func fusedEqualsTheOpByOpGraphToTheBit(reverse: Bool) {
        let x = inputs(steps: 20, h: 16, seed: 9)
        let (gates, weight, bias) = (x.gates, x.weight, x.bias)
        var results: [[[Float]]] = []
        for fused in [false, true] {
            for t in [gates, weight, bias] { t.requiresGrad = true; t.zeroGrad() }
            let out = run(fused: fused, x, reverse: reverse)
            results.append([out.array] + [gates, weight, bias].map { $0.gradArray ?? [] })
        }
        for (k, name) in ["output", "dL/dG", "dL/dW_hh", "dL/db_hh"].enumerated() {
            #expect(results[0][k].count > 0 && results[0][k].map(\.bitPattern) == results[1][k].map(\.bitPattern),
                    "\(name) differs")
        }
    }

    /// A frozen bias gets no gradient, and a second backward adds to the first (+=), in both versions alike.
    @Test func frozenInputsAndAccumulationMatchToo() {
        let (steps, h) = (7, 8)
        let x = inputs(steps: steps, h: h, seed: 4)
        let (gates, weight, bias) = (x.gates, x.weight, x.bias)
        var results: [[[Float]]] = []
        for fused in [false, true] {
            for t in [gates, weight] { t.requiresGrad = true; t.zeroGrad() }
            bias.requiresGrad = false
            _ = run(fused: fused, x, reverse: true, times: 2)
            #expect(bias.grad == nil)
            results.append([gates, weight].map { $0.gradArray ?? [] })
        }
        #expect(results[0][0].count == steps * 4 * h && results[0][1].count == 4 * h * h)
        #expect(results[0].map { $0.map(\.bitPattern) } == results[1].map { $0.map(\.bitPattern) })
    }
}
