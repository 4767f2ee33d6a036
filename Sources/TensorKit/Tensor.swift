// Tensor.swift — a Float32 tensor, contiguous and row-major, with reverse-mode autograd.
//
// Autograd is a tape of small closures, one per op (micrograd's design): an op computes its
// output, then `record` stores a closure that, given dL/d(output), adds (+=) its contribution
// to dL/d(input) for every input that requires a gradient. `backward()` sorts the graph
// topologically and runs the closures in reverse. An input that needs no gradient gets no
// backward work at all: a frozen weight's gradient is never computed.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif

public final class Tensor {
    /// The extent of each axis, outermost first.
    public let shape: [Int]
    /// The number of elements, the product of `shape`.
    public let count: Int
    /// The values, row-major. Owned by the tensor.
    public let data: UnsafeMutablePointer<Float>
    /// dL/d(self), allocated (zeroed) the first time a gradient flows here.
    public private(set) var grad: UnsafeMutablePointer<Float>?
    /// Whether gradients flow to this tensor. Set it on leaves (parameters); ops derive it.
    public var requiresGrad: Bool

    private var parents: [Tensor] = []
    private var backwardFn: ((UnsafeMutablePointer<Float>) -> Void)?
    /// The profiler category the op ran under (its backward is booked as "<category> backward").
    private var category: String?

    /// A zero-filled tensor.
    public init(zeros shape: [Int], requiresGrad: Bool = false) {
        _ = heapConfigured
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.data = .allocate(capacity: max(count, 1))
        self.data.initialize(repeating: 0, count: max(count, 1))
        self.requiresGrad = requiresGrad
        TensorMemory.allocated(count)
    }

    /// A tensor holding `values` (row-major) with the given shape.
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        self.init(zeros: shape, requiresGrad: requiresGrad)
        precondition(values.count == count, "\(values.count) values do not fill shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    /// A one-element tensor of shape [1] (as the golden files store the loss).
    public convenience init(scalar: Float) {
        self.init(shape: [1], values: [scalar])
    }

    /// An uninitialised tensor for op outputs that write every element.
    init(uninitialized shape: [Int]) {
        _ = heapConfigured
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.data = .allocate(capacity: max(count, 1))
        self.requiresGrad = false
        TensorMemory.allocated(count)
    }

    deinit {
        data.deallocate()
        TensorMemory.freed(count)
        if let grad { grad.deallocate(); TensorMemory.freed(count) }
    }

    // MARK: Values

    /// The values as an array (row-major).
    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }
    /// The gradient as an array, or nil if no gradient has flowed here.
    public var gradArray: [Float]? { grad.map { Array(UnsafeBufferPointer(start: $0, count: count)) } }
    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item needs a one-element tensor, shape is \(shape)")
        return data[0]
    }
    /// Number of axes.
    public var rank: Int { shape.count }
    /// Bytes the values occupy (Float32).
    public var storageBytes: Int { 4 * count }

    /// A copy that shares nothing and records no history.
    public func detached(requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.data.update(from: data, count: count)
        t.requiresGrad = requiresGrad
        return t
    }

    /// Overwrites the values with `other`'s (same element count); no history is recorded.
    public func copyValues(from other: Tensor) {
        precondition(other.count == count, "copyValues: \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }

    // MARK: Gradients

    /// The gradient buffer, allocated and zeroed on first use.
    @inline(__always)
    public func gradBuffer() -> UnsafeMutablePointer<Float> {
        if let g = grad { return g }
        let g = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        g.initialize(repeating: 0, count: max(count, 1))
        grad = g
        TensorMemory.allocated(count)
        return g
    }

    /// The gradient buffer for an op about to give every element its contribution, and whether
    /// the buffer is new. A new buffer is not zeroed: the op writes `0 + v` (or `0 − v`) into each
    /// element — the very bits that `+= v` gives on a zeroed buffer, −0 included — and saves a pass
    /// that zeroes memory and a read of it. An existing buffer (another op's gradient already
    /// arrived) is added to as usual.
    @inline(__always)
    func gradBufferToFill() -> (pointer: UnsafeMutablePointer<Float>, fresh: Bool) {
        if let g = grad { return (g, false) }
        let g = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        grad = g
        TensorMemory.allocated(count)
        return (g, true)
    }

    /// Forgets the gradient (the next backward starts from zero).
    public func zeroGrad() {
        guard let g = grad else { return }
        g.deallocate()
        TensorMemory.freed(count)
        grad = nil
    }

    /// Stores the backward closure of the op that produced `self` from `inputs`.
    /// Nothing is stored when no input requires a gradient or when grad mode is off.
    @inline(__always)
    func record(_ inputs: [Tensor], _ backward: @escaping (_ gradOut: UnsafeMutablePointer<Float>) -> Void) {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return }
        requiresGrad = true
        parents = inputs
        backwardFn = backward
        if Profiler.isEnabled { category = Profiler.currentCategory }
    }

    /// Back-propagates from this scalar: dL/dL = 1, then every op's closure in reverse
    /// topological order. Gradients accumulate (+=) into leaves until `zeroGrad()`.
    /// The graph is released afterwards, as PyTorch does.
    public func backward() {
        precondition(count == 1, "backward() starts from a scalar; shape is \(shape)")
        precondition(requiresGrad, "backward(): nothing in this graph requires a gradient")
        // Iterative depth-first topological sort (graphs can be deep).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            if !visited.insert(ObjectIdentifier(node)).inserted { continue }
            stack.append((node, true))
            for p in node.parents where p.requiresGrad && !visited.contains(ObjectIdentifier(p)) {
                stack.append((p, false))
            }
        }
        gradBuffer()[0] += 1
        for node in order.reversed() {
            guard let fn = node.backwardFn, let g = node.grad else { continue }
            if let category = node.category { Profiler.measure(category + " backward") { fn(g) } } else { fn(g) }
            // Release the graph: intermediate gradients and closures are no longer needed.
            node.backwardFn = nil
            node.parents = []
            node.zeroGrad()
        }
    }
}

/// Whether ops record their backward closures. Turn it off for evaluation with `withoutGrad`.
/// A task-local flag, so concurrent tasks (and tests) never see each other's setting.
public enum GradMode {
    @TaskLocal static var enabledFlag = true
    public static var isEnabled: Bool { enabledFlag }
}

/// Runs `body` without recording any history (inference, evaluation, weight surgery).
public func withoutGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$enabledFlag.withValue(false) { try body() }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = array.prefix(8).map { String(format: "%.4f", $0) }.joined(separator: ", ")
        return "Tensor\(shape)[\(shown)\(count > 8 ? ", …" : "")]"
    }
}

@inline(__always)
func String(format: String, _ value: Float) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    _ = withVaList([Double(value)]) { vsnprintf(&buffer, 64, format, $0) }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Keeps large tensors on the heap instead of fresh mmap'd pages: a training step frees and
/// reallocates the same sizes every time, and first-touch page faults on new mappings would
/// otherwise cost more than the arithmetic of most elementwise ops.
let heapConfigured: Bool = {
    #if canImport(Glibc)
    typealias MalloptFn = @convention(c) (Int32, Int32) -> Int32
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {  // RTLD_DEFAULT
        let mallopt = unsafeBitCast(symbol, to: MalloptFn.self)
        _ = mallopt(-3, 1 << 30)   // M_MMAP_THRESHOLD
        _ = mallopt(-1, 1 << 30)   // M_TRIM_THRESHOLD
        _ = mallopt(-2, 64 << 20)  // M_TOP_PAD
    }
    #endif
    return true
}()

/// Bytes held by tensor values, gradients and scratch buffers (`Buffer`), and the peak since the
/// last reset, counted per thread: what this thread allocated less what it freed. A measurement
/// (`MemoryBreakdown.measure` in Notebook) therefore sees its own forward and backward only, even
/// while other training runs (`sideBySide`) or tests allocate on other threads. Ops allocate their
/// outputs and kept buffers on the caller, before any parallel loop; the scratch a loop's parts use
/// is raw memory, not counted (it would count on whichever thread ran a part).
public enum TensorMemory {
    private final class Counter { var live = 0, peak = 0 }
    private static let counters = ThreadLocal { Counter() }
    private static var counter: Counter { counters.value }

    /// Bytes this thread holds now (negative if it freed more than it allocated: memory made elsewhere).
    public static var liveBytes: Int { counter.live }
    /// The most this thread held since `resetPeak()`.
    public static var peakBytes: Int { counter.peak }

    @inline(__always) static func allocated(_ count: Int) {
        let c = counter
        c.live += 4 * count
        if c.live > c.peak { c.peak = c.live }
    }
    @inline(__always) static func freed(_ count: Int) { counter.live -= 4 * count }

    /// Starts a new peak measurement on this thread from its current live bytes.
    public static func resetPeak() { let c = counter; c.peak = c.live }
}
