// SideBySide.swift — independent training runs side by side, one per core.
//
// A training run of the lessons' size keeps two cores busy only part of the time: its products
// are small, and a step is a few hundred short parallel loops between serial stretches of the
// tape. Measured on the 2-core machine the lessons were written on: a LoRA run on sentiment took
// 7.5 s on two threads and 10.0 s on one; two one-thread runs side by side took 10.1 s each. So two
// runs side by side give about 1.45 times the throughput of the same runs one after another.
//
// The numbers do not change. Every run already owns its model copy, optimizer and generator; the
// loops inside a job run on the job's own thread, cut into the same parts as when they ran in
// parallel (the partition is the caller's, never the pool's). When a thread has no run left to
// start (at the end of every batch), it takes parts of the loops of a run still going
// (`parallelJobs`): the same parts, on more threads. A run therefore computes the same bits beside
// another run as alone, and results are gathered in job order, whatever finished first.

import Foundation
import Synchronization
import TensorKit
import Training

/// Runs `jobs` side by side on the worker pool's threads (one job per thread at a time, the
/// next job taken by whichever thread is free) and returns their results in job order. As one
/// after another would: the first error in job order is rethrown, and once a job has failed no
/// job after it starts (jobs before it, already running or not, still run: one of them may fail
/// first). One progress line counts finished jobs; the jobs' own progress lines are muted. A single
/// job, a pool with one thread, or `oneAtATime` runs the jobs one after another with their own
/// progress lines and every core each. The caller's `withoutGrad` holds inside every job.
///
/// - Parameters:
///   - title: what the jobs are, for the progress line ("Wq: 5 seeds").
///   - labels: one per job, shown when it finishes.
///   - oneAtATime: run the jobs one after another (`--one-at-a-time`).
///   - job: runs job `i`; returns its result and, for the progress line, its training log.
public func sideBySide<T>(_ title: String, labels: [String], oneAtATime: Bool = false,
                          _ job: (Int) throws -> (result: T, log: TrainingLog?)) throws -> [T] {
    if labels.count <= 1 || parallelThreads <= 1 || oneAtATime {
        return try labels.indices.map { try job($0).result }
    }
    sideBySideRuns.store(true, ordering: .relaxed)
    let outcomes = Outcomes<T>(count: labels.count)
    let board = RunBoard(title, total: labels.count)
    let firstFailure = Atomic<Int>(Int.max)
    let recording = GradMode.isEnabled  // task-locals do not reach the pool's threads: bind it again there
    parallelJobs(labels.count) { i in
        guard i < firstFailure.load(ordering: .acquiring) else { return }  // as a loop would have stopped
        let outcome: Result<(result: T, log: TrainingLog?), any Error> = Progress.$isMuted.withValue(true) {
            recording ? Result { try job(i) } : withoutGrad { Result { try job(i) } }
        }
        let finished = try? outcome.get()
        if finished == nil { firstFailure.min(i, ordering: .acquiringAndReleasing) }
        board.finished(labels[i], log: finished?.log, failed: finished == nil)
        outcomes.set(i, outcome.map(\.result))
    }
    // Every job before the first failure ran and succeeded; the jobs after it may have been skipped.
    let failed = firstFailure.load(ordering: .acquiring)
    if failed < labels.count, case .failure(let error)? = outcomes.get(failed) { throw error }
    return try labels.indices.map { i in
        guard let outcome = outcomes.get(i) else { throw LessonError("run \(i) of '\(title)' did not finish") }
        return try outcome.get()
    }
}

/// Whether any jobs of this process ran side by side (the report's footer says so).
public var ranSideBySide: Bool { sideBySideRuns.load(ordering: .relaxed) }
private let sideBySideRuns = Atomic<Bool>(false)

/// The jobs' results, each slot written once by the thread that ran the job.
private final class Outcomes<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<T, any Error>?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ outcome: Result<T, any Error>) { lock.withLock { slots[i] = outcome } }
    func get(_ i: Int) -> Result<T, any Error>? { lock.withLock { slots[i] } }
}

/// One line for a group of runs side by side: how many finished, the last one's loss and speed,
/// and the time left at the rate so far. On a terminal it updates in place; in a log, one line
/// per finished run.
final class RunBoard {
    private let title: String, total: Int
    private let start = Date()
    private let interactive = isatty(1) != 0
    private let done = Mutex(0)

    init(_ title: String, total: Int) {
        self.title = title
        self.total = total
        let line = "  \(title): \(total) runs, \(parallelThreads) side by side"
        print(interactive ? "\r" + line : line, terminator: interactive ? "" : "\n")
        fflush(nil)
    }

    func finished(_ label: String, log: TrainingLog?, failed: Bool) {
        done.withLock { done in
            done += 1
            let elapsed = Date().timeIntervalSince(start)
            let left = elapsed / Double(done) * Double(total - done)
            var line = "  \(title): \(done)/\(total) runs done · \(label)"
            if failed {
                line += " (failed)"
            } else if let log, let loss = log.losses.last {
                line += String(format: " (loss %.4f, %@ tok/s)", loss, formatCount(Int(log.tokensPerSecond)))
            }
            line += done < total ? " · \(formatDuration(left)) left" : " · \(formatDuration(elapsed))"
            if interactive {
                print("\r" + line + "   ", terminator: done == total ? "\n" : "")
            } else {
                print(line)
            }
            fflush(nil)
        }
    }
}
