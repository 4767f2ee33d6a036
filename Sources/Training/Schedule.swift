// Schedule.swift — learning-rate schedules as `transformers` defines them.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// A learning-rate multiplier as a function of the step (0-based), in [0, 1].
public enum LearningRateSchedule: Sendable, Equatable {
    /// Always 1.
    case constant
    /// Linear warm-up over `warmup` steps, then linear decay to 0 at `total`
    /// (`get_linear_schedule_with_warmup`).
    case linear(warmup: Int, total: Int)
    /// Linear warm-up, then half a cosine down to 0 at `total` (`get_cosine_schedule_with_warmup`).
    case cosine(warmup: Int, total: Int)

    public func multiplier(at step: Int) -> Float {
        switch self {
        case .constant: return 1
        case .linear(let warmup, let total):
            if step < warmup { return Float(step) / Float(max(1, warmup)) }
            return max(0, Float(total - step) / Float(max(1, total - warmup)))
        case .cosine(let warmup, let total):
            if step < warmup { return Float(step) / Float(max(1, warmup)) }
            let progress = Float(step - warmup) / Float(max(1, total - warmup))
            return max(0, 0.5 * (1 + cosf(Float.pi * progress)))
        }
    }
}
