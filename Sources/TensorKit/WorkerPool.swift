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
// A worker takes indices until they run out (in a loop of jobs, it then helps: below), then checks
// in. No worker can touch a loop's counter after the caller has returned, so the next loop may
// reuse it. The partition of the work is the
// caller's (`parallelRanges`), not the pool's, so results do not depend on which thread ran what.
// One loop runs at a time: a loop started while another is running (from a worker, or from
// another thread, as parallel tests do) runs on its caller's thread alone, cut into the same
// parts. So whole jobs can be the loop (training runs side by side, one per thread: `parallelJobs`):
// the loops inside each job then run serially on its thread and compute exactly what they would in
// parallel.
//
// Except at the end of a loop of jobs. A thread that finds no job left would wait while the others
// finish theirs (the last run of an odd count can take seconds). It helps instead: a loop started
// by a thread that is running a job, while some thread is idle, is published on a second slot
// (`inner…`; one loop at a time, so with more threads one job at a time gets the help), and the
// idle threads take its parts beside the job's own thread. The parts are the same, so the numbers are
// too. The slot's protocol: the owner publishes the body, then makes `innerState` odd (open); a
// helper registers in `innerActive`, then reads `innerState`, and takes parts only if it is odd; the
// owner, out of parts, makes it even (closed) and waits until `innerActive` is 0 before returning.
// Registering before reading, and closing before waiting (both sequentially consistent), means the
// owner never returns while a helper can still run its body.

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
    private var isJobLoop = false                 // the current loop's parts are whole jobs
    private let jobsLeft = Atomic<Int>(0)         // jobs of the current loop not yet finished
    private let idleThreads = Atomic<Int>(0)      // threads out of jobs, waiting for the others
    private let innerTaken = Atomic<Bool>(false)  // a job holds the slot for idle threads
    private let innerState = Atomic<Int>(0)       // odd while the slot's loop is open to helpers
    private let innerActive = Atomic<Int>(0)      // helpers inside the slot's loop
    private let innerNext = Atomic<Int>(0)        // the slot loop's next index
    private var innerCount = 0
    private var innerBody: ((Int) -> Void)?
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
    /// With `jobs`, each part is a whole job that runs loops of its own: a thread out of jobs then
    /// helps with those loops until the last job has finished.
    func run(_ n: Int, jobs: Bool = false, _ body: (Int) -> Void) {
        guard workers > 0, n > 1 else {
            for i in 0..<n { body(i) }
            return
        }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            if !jobs && pthread_getspecific(Self.runningJob) != nil && runWithIdleThreads(n, body) { return }
            for i in 0..<n { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            self.body = escapable
            count = n
            isJobLoop = jobs
            jobsLeft.store(n, ordering: .relaxed)
            next.store(0, ordering: .relaxed)
            checkedIn.store(0, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex); pthread_cond_broadcast(wake); pthread_mutex_unlock(mutex)
            }
            takeIndices()
            if jobs { Profiler.measure("parallel wait") { helpUntilJobsAreDone() } }  // parts it runs: booked apart
            Profiler.measure("parallel wait") {  // the caller's spin is CPU time too: booked, not hidden
                var spins = 0
                while checkedIn.load(ordering: .acquiring) < workers {
                    spins += 1
                    if spins > 200_000 {
                        usleep(100)  // a long part on a worker: wait, do not spin
                    } else if spins > 1000 {
                        sched_yield()  // a worker that lost its core: give it ours
                    }
                }
            }
            self.body = nil
            isJobLoop = false
        }
        busy.store(false, ordering: .releasing)
    }

    private func takeIndices() {
        let n = count, f = body!, jobs = isJobLoop
        while true {
            let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= n { return }
            if jobs {
                pthread_setspecific(Self.runningJob, UnsafeRawPointer(bitPattern: 1))
                f(i)
                pthread_setspecific(Self.runningJob, nil)
                jobsLeft.subtract(1, ordering: .releasing)
            } else {
                f(i)
            }
        }
    }

    /// Set (non-nil) on a thread while it runs a job of a loop of jobs: only such a thread's loops
    /// may take the idle threads' help (a parallel test's loop on another thread may not).
    private static let runningJob: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// A thread out of jobs: takes parts of the loops the other jobs publish until every job is done.
    private func helpUntilJobsAreDone() {
        idleThreads.add(1, ordering: .sequentiallyConsistent)
        var spins = 0
        while jobsLeft.load(ordering: .acquiring) > 0 {
            if helpWithInnerLoop() {
                spins = 0
            } else {
                spins += 1
                if spins > 200_000 {
                    usleep(50)  // a long stretch without loops: stop burning the core
                } else if spins > 1000 {
                    sched_yield()  // a lone job's serial stretch: let others have the core
                }
            }
        }
        idleThreads.subtract(1, ordering: .relaxed)
    }

    /// Runs a loop started inside a job (the pool is busy with the loop of jobs) with the threads
    /// that are out of jobs: publishes it on the slot, takes parts itself, closes the slot and waits
    /// for the helpers. False (nothing run) when no thread is idle or another job holds the slot.
    private func runWithIdleThreads(_ n: Int, _ body: (Int) -> Void) -> Bool {
        guard idleThreads.load(ordering: .relaxed) > 0,
              innerTaken.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        withoutActuallyEscaping(body) { f in
            innerBody = f
            innerCount = n
            innerNext.store(0, ordering: .relaxed)
            innerState.add(1, ordering: .sequentiallyConsistent)  // odd: open
            takeInnerParts(f, n)
            innerState.add(1, ordering: .sequentiallyConsistent)  // even: closed to newcomers
            var spins = 0
            while innerActive.load(ordering: .sequentiallyConsistent) > 0 {  // helpers finish their parts
                spins += 1
                if spins > 1000 { sched_yield() }  // a helper lost its core: give it ours
            }
            innerBody = nil
        }
        innerTaken.store(false, ordering: .releasing)
        return true
    }

    /// Takes parts of the slot's loop if one is open; true if it was.
    private func helpWithInnerLoop() -> Bool {
        guard innerState.load(ordering: .relaxed) & 1 == 1 else { return false }
        innerActive.add(1, ordering: .sequentiallyConsistent)
        defer { innerActive.subtract(1, ordering: .releasing) }
        guard innerState.load(ordering: .sequentiallyConsistent) & 1 == 1, let f = innerBody else { return false }
        takeInnerParts(f, innerCount)
        return true
    }

    /// Runs parts of the slot's loop (owner and helpers alike) until none is left.
    private func takeInnerParts(_ f: (Int) -> Void, _ n: Int) {
        while true {
            let i = innerNext.wrappingAdd(1, ordering: .relaxed).oldValue
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
            if isJobLoop { helpUntilJobsAreDone() }
            checkedIn.add(1, ordering: .releasing)
        }
    }
}

/// Runs `job(i)` for every i in 0..<n, one job per thread at a time (the next job taken by
/// whichever thread is free); returns when all are done. The parallel loops inside a job run on
/// its own thread, cut into the parts they would have in parallel, except when a thread has run
/// out of jobs: then it takes some of those parts. Either way a job computes the same numbers.
public func parallelJobs(_ n: Int, _ job: (Int) -> Void) {
    WorkerPool.shared.run(n, jobs: true, job)
}

/// The threads a parallel loop can run on: the caller and the worker pool's threads. This many
/// jobs can run side by side.
public var parallelThreads: Int { WorkerPool.shared.workers + 1 }

/// CPUs online, at least 1 (Glibc's Swift module does not offer sched_getaffinity).
private func usableProcessors() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
