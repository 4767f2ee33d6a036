// WorkerPool.swift — the threads that parallel loops run on: kept warm between loops.
//
// A training step of the lessons' size runs a few hundred parallel loops of tens of microseconds
// each. Handing each one to Dispatch costs a futex wake and a sleep per thread per loop (15% of a
// lesson's time went to the kernel's scheduler). Here the workers spin for a short while after a
// loop, so the next one, a few microseconds later, finds them awake; after a longer pause they
// sleep on a condition variable and are woken by the next loop.
//
// The protocol: the caller publishes the loop (its body and length), bumps `generation`, takes
// indices from `next` itself, then waits until every worker has checked in for this generation.
// A worker takes indices until they run out, then checks in. No worker can touch a loop's counter
// after the caller has returned, so the next loop may reuse it. The partition of the work is the
// caller's (`parallelRanges`), not the pool's, so results do not depend on which thread ran what.
// One loop runs at a time: a loop started while another is running (from a worker, or from
// another thread, as parallel tests do) runs on its caller's thread alone, cut into the same
// parts. So whole jobs can be the loop (training runs side by side, one per thread): the loops
// inside each job then run serially on its thread and compute exactly what they would in parallel.

import Synchronization

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

final class WorkerPool: @unchecked Sendable {
    /// The process-wide pool: one thread fewer than the BLAS's threads (the caller is the other), and
    /// never more threads than CPUs online (every loop waits for every worker).
    static let shared = WorkerPool(workers: min(BLAS.shared.threads, usableProcessors()) - 1)

    private(set) var workers = 0
    private let busy = Atomic<Bool>(false)        // a loop is running
    private let generation = Atomic<Int>(0)       // bumped once per loop
    private let next = Atomic<Int>(0)             // the next index to take
    private let checkedIn = Atomic<Int>(0)        // workers done with the current loop
    private let sleeping = Atomic<Int>(0)         // workers waiting on the condition variable
    private var count = 0                         // the current loop's length
    private var body: ((Int) -> Void)?            // the current loop's body
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// Spins before a worker sleeps (about 50–100 µs).
    private static let spinLimit = 20_000

    init(workers: Int) {
        mutex.initialize(to: pthread_mutex_t()); pthread_mutex_init(mutex, nil)
        wake.initialize(to: pthread_cond_t()); pthread_cond_init(wake, nil)
        for _ in 0..<max(0, workers) {  // only the threads that started count: each loop waits for all of them
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self)
            // Whole training runs may execute here (runs side by side): the main thread's 8 MB of stack,
            // not the platform's default for secondary threads (512 KB on macOS).
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setstacksize(&attributes, 8 << 20)
            defer { pthread_attr_destroy(&attributes) }
            let started = pthread_create(&thread, &attributes, { raw in
                Unmanaged<WorkerPool>.fromOpaque(raw!).takeRetainedValue().workLoop()
                return nil
            }, context.toOpaque())
            guard started == 0 else { context.release(); break }
            pthread_detach(thread)
            self.workers += 1
        }
    }

    /// Runs `body(i)` for every i in 0..<n on the caller and the workers; returns when all are done.
    func run(_ n: Int, _ body: (Int) -> Void) {
        guard workers > 0, n > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else {
            for i in 0..<n { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            self.body = escapable
            count = n
            next.store(0, ordering: .relaxed)
            checkedIn.store(0, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex); pthread_cond_broadcast(wake); pthread_mutex_unlock(mutex)
            }
            takeIndices()
            Profiler.measure("parallel wait") {  // the caller's spin is CPU time too: booked, not hidden
                var spins = 0
                while checkedIn.load(ordering: .acquiring) < workers {
                    spins += 1
                    if spins > 200_000 {
                        usleep(100)  // a long job on a worker (training runs side by side): wait, do not spin
                    } else if spins > 1000 {
                        sched_yield()  // a worker that lost its core: give it ours
                    }
                }
            }
            self.body = nil
        }
        busy.store(false, ordering: .releasing)
    }

    private func takeIndices() {
        let n = count, f = body!
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= n { return }
            f(i)
        }
    }

    private func workLoop() {
        var seen = 0  // the generation at creation: a loop published before this thread starts is still seen
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.spinLimit { continue }
                pthread_mutex_lock(mutex)
                sleeping.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(wake, mutex) }
                sleeping.subtract(1, ordering: .relaxed)
                pthread_mutex_unlock(mutex)
            }
            seen = generation.load(ordering: .acquiring)
            takeIndices()
            checkedIn.add(1, ordering: .releasing)
        }
    }
}

/// The threads a parallel loop can run on: the caller and the worker pool's threads. This many
/// jobs can run side by side.
public var parallelThreads: Int { WorkerPool.shared.workers + 1 }

/// CPUs online, at least 1 (Glibc's Swift module does not offer sched_getaffinity).
private func usableProcessors() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
