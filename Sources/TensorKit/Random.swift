// Random.swift — the one seeded generator every random choice draws from.
//
// SplitMix64 (Steele, Lea & Flood 2014): state += 0x9E3779B97F4A7C15, then two xor-shift-
// multiply rounds. Same seed, same stream, on every machine: runs are reproducible.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// A seeded SplitMix64 generator. A reference type so that one stream can be shared by
/// model initialisation, dropout and data shuffling.
public final class Generator: RandomNumberGenerator {
    private var state: UInt64
    /// The seed the generator started from.
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        self.state = seed
    }

    public func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 24 random bits.
    @inline(__always)
    public func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [low, high).
    public func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

    /// Standard normal by Box–Muller.
    public func normal() -> Float {
        let u1 = Double((next() >> 11) + 1) * (1.0 / 9_007_199_254_740_993.0)  // (0, 1]
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<bound.
    public func int(below bound: Int) -> Int {
        precondition(bound > 0, "int(below:) needs a positive bound")
        return Int(next() % UInt64(bound))
    }
}

extension Tensor {
    /// Values drawn from N(mean, std²).
    public static func randn(_ shape: [Int], std: Float = 1, mean: Float = 0,
                             generator: Generator, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(zeros: shape, requiresGrad: requiresGrad)
        for i in 0..<t.count { t.data[i] = mean + std * generator.normal() }
        return t
    }

    /// Values drawn from U(low, high).
    public static func uniform(_ shape: [Int], low: Float, high: Float,
                               generator: Generator, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(zeros: shape, requiresGrad: requiresGrad)
        for i in 0..<t.count { t.data[i] = generator.uniform(low, high) }
        return t
    }

    /// A tensor filled with one value.
    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(zeros: shape, requiresGrad: requiresGrad)
        t.data.update(repeating: value, count: t.count)
        return t
    }
}
