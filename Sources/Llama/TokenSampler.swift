// TokenSampler.swift — how the next token is chosen from a row of logits: the argmax (greedy),
// or a draw from softmax(z / temperature) with a seeded generator, so that the same seed gives
// the same text.

import Foundation
import TensorKit

/// Chooses the next token from logits.
public final class TokenSampler {
    /// 0 for greedy decoding; otherwise the softmax temperature T (T < 1 sharpens, T > 1 flattens).
    public let temperature: Float
    private let generator: Generator?

    /// The argmax (the first one on a tie).
    public static var greedy: TokenSampler { TokenSampler(temperature: 0, generator: nil) }

    /// Draws from p_k = exp((z_k − max z)/T) / Σ_j exp((z_j − max z)/T) with `generator`; a
    /// temperature of 0 is greedy.
    public init(temperature: Float, generator: Generator?) {
        precondition(temperature >= 0 && temperature.isFinite, "a temperature is finite and ≥ 0, got \(temperature)")
        precondition(temperature == 0 || generator != nil, "sampling at temperature \(temperature) needs a generator")
        self.temperature = temperature
        self.generator = generator
    }

    /// The token for logits z [V] (`count` = V).
    public func next(_ z: UnsafePointer<Float>, count v: Int) -> Int {
        precondition(v > 0, "no logits to choose from")
        var best = 0
        for k in 1..<v where z[k] > z[best] { best = k }
        guard temperature > 0, let generator else { return best }
        // The inverse of the cumulative distribution at a uniform u in [0, 1), in double precision.
        let top = Double(z[best]), t = Double(temperature)
        var total = 0.0
        for k in 0..<v { total += exp((Double(z[k]) - top) / t) }
        let u = Double(generator.next() >> 11) * (1.0 / 9_007_199_254_740_992.0) * total
        var sum = 0.0
        for k in 0..<v {
            sum += exp((Double(z[k]) - top) / t)
            if u < sum { return k }
        }
        return best  // u fell past the last partial sum by rounding
    }
}
