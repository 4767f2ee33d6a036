// GradCheck.swift — finite-difference gradient checking for any op.
//
// For inputs x and an op f, take the scalar L = Σ f(x) ⊙ R with a fixed random R. The analytic
// gradient comes from backward(); the numeric one from central differences
// (L(x + ε eᵢ) − L(x − ε eᵢ)) / 2ε, evaluated in Double over the op's Float outputs.

import Testing
import TensorKit

public struct GradCheckFailure: CustomStringConvertible {
    var input: Int, index: Int, analytic: Double, numeric: Double
    public var description: String { "input \(input)[\(index)]: analytic \(analytic) vs numeric \(numeric)" }
}

/// Checks every input's gradient (at most `samples` random positions per input).
/// Tolerance: |analytic − numeric| ≤ atol + rtol · max(1, max |analytic of that input|).
public func gradCheck(_ inputs: [Tensor], seed: UInt64 = 1, eps: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 1e-2,
               samples: Int = 40, sourceLocation: SourceLocation = #_sourceLocation,
               _ f: ([Tensor]) -> Tensor) {
    let gen = Generator(seed: seed)
    for x in inputs { x.requiresGrad = true; x.zeroGrad() }
    let probe = withoutGrad { f(inputs) }
    let r = Tensor.randn(probe.shape, generator: gen)
    func loss() -> Double {
        let out = withoutGrad { f(inputs) }
        var s = 0.0
        for i in 0..<out.count { s += Double(out.data[i]) * Double(r.data[i]) }
        return s
    }
    let l = (f(inputs) * r).sum()
    l.backward()
    var failures: [GradCheckFailure] = []
    for (n, x) in inputs.enumerated() {
        let analytic = x.gradArray ?? [Float](repeating: 0, count: x.count)
        let scale = max(1, analytic.map { Double(abs($0)) }.max() ?? 0)
        let positions = x.count <= samples ? Array(0..<x.count) : (0..<samples).map { _ in gen.int(below: x.count) }
        for i in positions {
            let saved = x.data[i]
            x.data[i] = saved + eps; let up = loss()
            x.data[i] = saved - eps; let down = loss()
            x.data[i] = saved
            let numeric = (up - down) / (2 * Double(eps))
            if abs(Double(analytic[i]) - numeric) > atol + rtol * scale {
                failures.append(GradCheckFailure(input: n, index: i, analytic: Double(analytic[i]), numeric: numeric))
            }
        }
    }
    #expect(failures.isEmpty, "gradient mismatches: \(failures.prefix(5))", sourceLocation: sourceLocation)
}

public func randn(_ shape: [Int], _ gen: Generator, std: Float = 1) -> Tensor {
    Tensor.randn(shape, std: std, generator: gen)
}
