// Loops of jobs (`parallelJobs`, what training runs side by side use): every part of every loop
// inside a job runs exactly once, and a thread that is out of jobs takes parts of the loops of the
// job still running.

import Foundation
import Synchronization
import Testing
import TensorKit
import TestSupport

@Suite struct WorkerPoolTests {
    /// Runs job j as `loops[j]` parallel loops of 4 parts; part p of loop l adds j·1e6 + l·10 + p to
    /// its own slot (a part run twice shows as a doubled value, a part missed as 0). Job 0 first
    /// waits (at most 0.2 s) until the last job has started, so that the two start on two
    /// threads when the pool is free. Returns the slots, the threads that ran jobs and the threads
    /// that ran parts of the last job's loops.
    private func runJobs(_ loops: [Int]) -> (values: [[Int]], jobThreads: Int, lastJobThreads: Int) {
        let slots = loops.map { UnsafeMutablePointer<Int>.allocate(capacity: $0 * 4) }
        defer { slots.forEach { $0.deallocate() } }
        for (j, s) in slots.enumerated() { s.initialize(repeating: 0, count: loops[j] * 4) }
        let jobThreads = ThreadSet(), lastJobThreads = ThreadSet()
        let lastStarted = Atomic<Bool>(false)
        parallelJobs(loops.count) { j in
            jobThreads.note()
            if j == loops.count - 1 { lastStarted.store(true, ordering: .releasing) }
            if j == 0 {
                let deadline = Date().addingTimeInterval(0.2)  // one after another, the last job never starts first
                while !lastStarted.load(ordering: .acquiring) && Date() < deadline { usleep(100) }
            }
            for l in 0..<loops[j] {
                parallelFor(4) { p in
                    var x = 0.0
                    for k in 0..<2000 { x += Double(k % 7) }  // a few microseconds of work per part
                    if x >= 0 { slots[j][l * 4 + p] += j * 1_000_000 + l * 10 + p }
                    if j == loops.count - 1 { lastJobThreads.note() }
                }
            }
        }
        let values = slots.enumerated().map { j, s in Array(UnsafeBufferPointer(start: s, count: loops[j] * 4)) }
        return (values, jobThreads.count, lastJobThreads.count)
    }

    private func expected(_ loops: [Int]) -> [[Int]] {
        loops.indices.map { j in (0..<loops[j]).flatMap { l in (0..<4).map { p in j * 1_000_000 + l * 10 + p } } }
    }

    @Test func everyPartOfEveryInnerLoopRunsOnce() {
        let loops = [40, 300, 5, 120, 700]
        #expect(runJobs(loops).values == expected(loops))
    }

    @Test(.enabled(if: parallelThreads > 1, "one thread: nobody to help"))
    func aThreadOutOfJobsHelpsTheLastJob() {
        // Job 0 ends as soon as job 1 has started elsewhere; job 1's loops then find that thread idle.
        // Other tests may hold the pool (then both jobs run one after another on this thread, and a
        // loop of job 1 may find the pool free): only a round whose two jobs ran on two threads counts.
        let loops = [1, 2000]
        var helped = 0
        for _ in 0..<20 where helped < 2 {
            let round = runJobs(loops)
            #expect(round.values == expected(loops))
            if round.jobThreads == 2 { helped = round.lastJobThreads } else { usleep(100_000) }
        }
        #expect(helped >= 2, "the last job's inner loops ran on more than one thread")
    }
}
