// ThreadLocal.swift — one object per thread (pthread-specific storage), made on first use and
// released when the thread exits. The profiler keeps each thread's open regions in one, the
// tensor memory counters each thread's live and peak bytes.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

/// A `Value` per thread: `value` is this thread's, made by `make` on the thread's first use.
final class ThreadLocal<Value: AnyObject>: @unchecked Sendable {
    private let key: pthread_key_t
    private let make: @Sendable () -> Value

    init(_ make: @escaping @Sendable () -> Value) {
        var key = pthread_key_t()
        pthread_key_create(&key) { p in                              // the thread's object, at its exit
            let object: UnsafeMutableRawPointer? = p                   // optional on Glibc, not on Darwin
            if let object { Unmanaged<AnyObject>.fromOpaque(object).release() }
        }
        self.key = key
        self.make = make
    }

    var value: Value {
        if let p = pthread_getspecific(key) { return Unmanaged<Value>.fromOpaque(p).takeUnretainedValue() }
        let object = make()
        pthread_setspecific(key, Unmanaged.passRetained(object).toOpaque())
        return object
    }
}
