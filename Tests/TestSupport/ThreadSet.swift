// ThreadSet.swift — which threads ran something, for tests of work that goes side by side.

import Foundation

/// The distinct threads that called `note()`.
public final class ThreadSet: @unchecked Sendable {
    private let lock = NSLock()
    private var seen = Set<UInt>()
    public init() {}
    public func note() { lock.withLock { _ = seen.insert(UInt(bitPattern: Int(bitPattern: pthread_self()))) } }
    public var count: Int { lock.withLock { seen.count } }
}
