// Profiler.swift — where the time goes: exclusive CPU time per category, on every thread, for
// benchmarks.
//
// Off by default (one branch per measured region). Regions nest; time is charged to the
// innermost one only. Each thread keeps its own stack of open regions and is charged its own CPU
// time (CLOCK_THREAD_CPUTIME_ID), so a thread asleep costs nothing, and work that a parallel
// loop hands to other threads is charged there: a worker starts inside the category that was open
// where the loop began (`parallelFor` passes it on), and a product it runs is booked as "matmul
// NT" (by operand layout), not as the attention or norm that called it. A loop's caller spinning
// for its workers is booked as "parallel wait"; workers spinning between loops are not booked.
// The categories add up to the CPU time spent in measured regions on every thread.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

public enum Profiler {
    nonisolated(unsafe) public static var isEnabled = false

    /// CPU seconds per category, summed over every thread.
    public static var seconds: [String: Double] {
        lock.lock(); defer { lock.unlock() }
        return totals
    }

    nonisolated(unsafe) private static var totals: [String: Double] = [:]
    private static let lock = Lock()

    /// One thread's open regions: category and the CPU time its nested regions took.
    private final class Stack {
        var open: [(category: String, children: Double)] = []
    }
    private static let stacks = ThreadLocal { Stack() }
    private static var stack: Stack { stacks.value }

    /// Clears the counters.
    public static func reset() {
        lock.lock(); totals = [:]; lock.unlock()
    }

    /// The innermost open category on this thread (what a parallel loop hands to its workers).
    public static var currentCategory: String? {
        isEnabled ? stack.open.last?.category : nil
    }

    /// Runs `body`, charging this thread's CPU time in it (less nested regions) to `category`.
    @inline(__always)
    public static func measure<T>(_ category: String, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let s = stack
        let start = threadTime()
        s.open.append((category, 0))
        defer {
            let elapsed = threadTime() - start
            let children = s.open.removeLast().children
            lock.lock(); totals[category, default: 0] += elapsed - children; lock.unlock()
            if !s.open.isEmpty { s.open[s.open.count - 1].children += elapsed }
        }
        return try body()
    }

    /// Monotonic wall-clock seconds.
    public static func now() -> Double { clock(CLOCK_MONOTONIC) }

    /// CPU seconds this thread has used.
    public static func threadTime() -> Double { clock(CLOCK_THREAD_CPUTIME_ID) }

    private static func clock(_ id: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(id, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}

/// A pthread mutex in a class (stable address).
final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { mutex.initialize(to: pthread_mutex_t()); pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}
