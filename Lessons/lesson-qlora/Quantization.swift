// Quantization.swift — the measurements of lesson-qlora that look at the weights themselves:
// NF4's code recomputed from normal quantiles, histograms of block-normalised weights, how the 16
// codes are used, and reconstruction error with intervals.

import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

/// Φ⁻¹(p), the quantile of N(0, 1): Newton's method on Φ(x) = erfc(−x/√2)/2 from x = 0.
func normalQuantile(_ p: Double) -> Double {
    var x = 0.0
    for _ in 0..<100 {
        let cdf = 0.5 * erfc(-x / 2.0.squareRoot())
        let pdf = exp(-x * x / 2) / (2 * Double.pi).squareRoot()
        let step = (cdf - p) / pdf
        x -= step
        if abs(step) < 1e-15 { break }
    }
    return x
}

/// bitsandbytes' `create_normal_map(offset = 0.9677083, use_extra_value = True)` in double precision:
/// for each nibble, the probability p whose quantile it is (nil for the exact zero) and the value
/// Φ⁻¹(p) / Φ⁻¹(δ). Positive side: 8 probabilities evenly from δ down to 0.5 (0.5 itself left out);
/// negative side: 7 the same way, negated; then one zero.
func normalFloatCode(offset delta: Double = 0.9677083) -> [(p: Double?, value: Double)] {
    let scale = normalQuantile(delta)
    let positive = (0..<8).map { j -> (Double?, Double) in
        let p = delta + Double(j) * (0.5 - delta) / 8
        return (p, normalQuantile(p) / scale)
    }
    let negative = (0..<7).map { j -> (Double?, Double) in
        let p = delta + Double(j) * (0.5 - delta) / 7
        return (p, -normalQuantile(p) / scale)
    }
    return (negative + [(nil, 0)] + positive).sorted { $0.1 < $1.1 }
}

/// The decoder's linear weights (q, k, v, o, gate, up, down of every layer): name and values.
func decoderWeights(_ model: LlamaModel) -> [(name: String, values: [Float])] {
    model.layers.flatMap(\.slots).map { ($0.name, $0.layer.base.denseWeight().array) }
}

/// x / absmax of its block, for every element, blocks of `blockSize` consecutive elements.
func blockNormalised(_ x: [Float], blockSize: Int) -> [Float] {
    var out = [Float](repeating: 0, count: x.count)
    for start in stride(from: 0, to: x.count, by: blockSize) {
        let end = min(start + blockSize, x.count)
        let m = x[start..<end].reduce(Float(0)) { max($0, abs($1)) }
        if m > 0 { for i in start..<end { out[i] = x[i] / m } }
    }
    return out
}

/// E[(x − μ)⁴] / σ⁴ − 3: 0 for a normal distribution, larger for heavier tails.
func excessKurtosis(_ x: [Float]) -> Double {
    let n = Double(max(x.count, 1))
    let mean = x.reduce(0.0) { $0 + Double($1) } / n
    var m2 = 0.0, m4 = 0.0
    for v in x { let d = Double(v) - mean; m2 += d * d; m4 += d * d * d * d }
    m2 /= n; m4 /= n
    return m4 / max(m2 * m2, 1e-300) - 3
}

/// The density of `values` in `bins` equal bins over [−1, 1]: (bin centre, share / bin width).
func density(_ values: [Float], bins: Int) -> [(x: Double, y: Double)] {
    var counts = [Int](repeating: 0, count: bins)
    for v in values { counts[min(bins - 1, max(0, Int((Double(v) + 1) / 2 * Double(bins))))] += 1 }
    let width = 2 / Double(bins)
    return counts.enumerated().map { i, c in
        (-1 + (Double(i) + 0.5) * width, Double(c) / Double(max(values.count, 1)) / width)
    }
}

/// How a 4-bit quantizer uses its codes on `x`: the share of elements at each distinct value
/// (FP4's two zeros counted as one), in code order.
func codeShares(_ x: [Float], with quantizer: WeightQuantizer) -> [Double] {
    var counts: [Int: Int] = [:]
    switch quantizer {
    case .fourBit(let s):
        let packed = x.withUnsafeBufferPointer {
            FourBitQuantizer.quantize($0, blockSize: s.blockSize, type: s.type).packed
        }
        for i in x.indices {
            var nibble = i % 2 == 0 ? Int(packed[i / 2] >> 4) : Int(packed[i / 2] & 15)
            if s.type == .fp4 && nibble == 8 { nibble = 0 }  // −0 and +0 decode alike
            counts[nibble, default: 0] += 1
        }
    case .int4(let blockSize):
        for level in Int4Quantizer.quantize(x, blockSize: blockSize).levels { counts[Int(level), default: 0] += 1 }
    }
    return counts.keys.sorted().map { Double(counts[$0]!) / Double(max(x.count, 1)) }
}

/// Entropy in bits of a distribution given by its shares.
func entropyBits(_ shares: [Double]) -> Double { -shares.filter { $0 > 0 }.reduce(0) { $0 + $1 * log2($1) } }

/// A data set to quantize: one or more arrays quantized separately (a model's matrices), pooled.
struct QuantizationData {
    var name: String
    var parts: [[Float]]
    /// Mean of x² over every element (the error is reported relative to it).
    var meanSquare: Double {
        let n = parts.reduce(0) { $0 + $1.count }
        let sum = parts.reduce(0.0) { total, p in total + p.reduce(0.0) { $0 + Double($1) * Double($1) } }
        return sum / Double(max(n, 1))
    }
}

/// The squared error of every element after a round trip through `quantizer`, each part quantized
/// on its own (blocks never straddle two matrices).
func squaredErrors(_ data: QuantizationData, _ quantizer: WeightQuantizer) -> [Double] {
    data.parts.flatMap { x in zip(quantizer.roundTrip(x), x).map { Double($0 - $1) * Double($0 - $1) } }
}

/// The mean of `values` with a 95% normal interval (± 1.96 standard errors).
func meanInterval(_ values: [Double]) -> Interval {
    let n = Double(max(values.count, 1))
    let mean = values.reduce(0, +) / n
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(n - 1, 1)
    let half = 1.96 * (variance / n).squareRoot()
    return Interval(estimate: mean, low: mean - half, high: mean + half)
}

/// Element by element, a's squared error minus b's, with its interval (the same elements, paired).
func pairedDifference(_ a: [Double], _ b: [Double]) -> Interval { meanInterval(zip(a, b).map { $0 - $1 }) }

/// "lower than <other>", "higher than <other>" or "indistinguishable from <other>", from an
/// interval of a − b (the verdict is the interval's: does it exclude zero?).
func compared(_ d: Interval, to other: String) -> String {
    d.high < 0 ? "lower than \(other)" : d.low > 0 ? "higher than \(other)" : "indistinguishable from \(other)"
}

/// A copy of the base whose decoder linear weights went through `quantizer` and back: a float
/// model holding exactly the values a 4-bit layer would multiply by.
func roundTripped(_ base: BaseModel, _ quantizer: WeightQuantizer) -> LlamaModel {
    let model = base.copy()
    for slot in model.layers.flatMap(\.slots) {
        let w = slot.layer.base.denseWeight()
        slot.layer = Linear(weight: Tensor(shape: w.shape, values: quantizer.roundTrip(w.array)))
    }
    return model
}
