// Profiler.swift — where the time goes: exclusive wall time per category, for benchmarks.
//
// Off by default (one branch per measured region). Regions nest; time is charged to the
// innermost one only, so categories add up to the measured total.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

public enum Profiler {
    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) public private(set) static var seconds: [String: Double] = [:]
    nonisolated(unsafe) private static var childTime: [Double] = []

    nonisolated(unsafe) private static var owner = pthread_self()

    /// Clears the counters; only the calling thread is measured from now on (work that other
    /// threads do inside a measured region is part of that region's wall time).
    public static func reset() { seconds = [:]; childTime = []; owner = pthread_self() }

    /// Runs `body`, charging its time (less nested regions) to `category`.
    @inline(__always)
    public static func measure<T>(_ category: String, _ body: () throws -> T) rethrows -> T {
        guard isEnabled, pthread_equal(pthread_self(), owner) != 0 else { return try body() }
        let start = now()
        childTime.append(0)
        let result = try body()
        let elapsed = now() - start
        let children = childTime.removeLast()
        seconds[category, default: 0] += elapsed - children
        if !childTime.isEmpty { childTime[childTime.count - 1] += elapsed }
        return result
    }

    /// Monotonic seconds.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
