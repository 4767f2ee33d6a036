// DequantizationScratch.swift — the float buffers a 4-bit layer dequantizes its weight into for
// one product, reused from product to product.
//
// A layer owns no float copy of its weight: each product borrows a buffer, fills it, runs one
// sgemm and gives it back. In a training step products run one after another, so one buffer
// (as large as the largest layer) serves every layer; concurrent callers (tests running in
// parallel) each get their own. Resident float memory for the weights is therefore one layer,
// not the model.

import Foundation

/// A pool of float buffers lent out for one product at a time.
public final class DequantizationScratch: @unchecked Sendable {
    /// The pool the 4-bit layers share.
    public static let shared = DequantizationScratch()

    private let lock = NSLock()
    private var idle: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []

    /// Runs `body` with a buffer of at least `count` floats (contents undefined), then takes it back.
    public func withBuffer<T>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> T) rethrows -> T {
        let buffer = borrow(count)
        defer { giveBack(buffer) }
        return try body(buffer.pointer)
    }

    private func borrow(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        lock.lock()
        let best = idle.indices.max { idle[$0].capacity < idle[$1].capacity }
        let found = best.map { idle.remove(at: $0) }
        lock.unlock()
        if let found, found.capacity >= count { return found }
        found?.pointer.deallocate()  // too small: replaced by a larger one
        return (.allocate(capacity: max(count, 1)), max(count, 1))
    }

    private func giveBack(_ buffer: (pointer: UnsafeMutablePointer<Float>, capacity: Int)) {
        lock.lock()
        idle.append(buffer)
        lock.unlock()
    }

    /// Bytes the idle buffers hold.
    public var idleBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return idle.reduce(0) { $0 + 4 * $1.capacity }
    }

    /// Frees every idle buffer.
    public func releaseAll() {
        lock.lock()
        let buffers = idle
        idle = []
        lock.unlock()
        for b in buffers { b.pointer.deallocate() }
    }
}
