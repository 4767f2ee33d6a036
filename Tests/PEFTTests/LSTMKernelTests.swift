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

    @Test(arguments: [false, true])
    func fusedEqualsTheOpByOpGraphToTheBit(reverse: Bool) {
        let (steps, h) = (20, 16)
        let gen = Generator(seed: 9)
        let gates = randn([steps, 4 * h], gen), weight = randn([4 * h, h], gen, std: 0.3)
        let bias = randn([4 * h], gen, std: 0.3), upstream = randn([steps, h], gen)
        var results: [[[Float]]] = []
        for fused in [false, true] {
            for x in [gates, weight, bias] { x.requiresGrad = true; x.zeroGrad() }
            let out = fused ? lstmDirection(gates, weightHH: weight, biasHH: bias, reverse: reverse)
                : opByOp(gates, weightHH: weight, biasHH: bias, reverse: reverse)
            (out * upstream).sum().backward()
            results.append([out.array] + [gates, weight, bias].map { $0.gradArray ?? [] })
        }
        for (k, name) in ["output", "dL/dG", "dL/dW_hh", "dL/db_hh"].enumerated() {
            #expect(results[0][k].count > 0 && results[0][k].map(\.bitPattern) == results[1][k].map(\.bitPattern),
                    "\(name) differs")
        }
    }
}
