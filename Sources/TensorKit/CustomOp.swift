// CustomOp.swift — how code outside TensorKit defines an op with its own backward.
//
// A PEFT method's fused kernel (LoRA's, a quantized layer's) lives with the method, not here:
// it computes its output into the buffer `customOp` hands it and gives the closure that, from
// dL/d(output), adds (+=) its contributions into the inputs' `gradBuffer()`s. The tape treats it
// exactly like a built-in op.

extension Tensor {
    /// A tensor whose values the caller writes (every element, before reading any).
    public static func uninitialized(_ shape: [Int]) -> Tensor { Tensor(uninitialized: shape) }
}

/// Defines an op: `forward` fills the output of shape `shape`; `backward` receives
/// dL/d(output) and must add (+=) dL/d(input) into `input.gradBuffer()` for every input whose
/// `requiresGrad` is set (and do nothing for the others). No backward is recorded when no input
/// requires a gradient or when grad mode is off.
public func customOp(shape: [Int], inputs: [Tensor], forward: (_ output: UnsafeMutablePointer<Float>) -> Void,
                     backward: @escaping (_ gradOutput: UnsafeMutablePointer<Float>) -> Void) -> Tensor {
    let out = Tensor(uninitialized: shape)
    forward(out.data)
    out.record(inputs, backward)
    return out
}

/// A scratch buffer of `count` floats owned by whoever holds it (typically a backward closure, as
/// attention's probabilities), freed with it; counted in `TensorMemory` like a tensor.
public final class Buffer {
    public let pointer: UnsafeMutablePointer<Float>
    private let count: Int
    public init(count: Int) {
        pointer = .allocate(capacity: max(count, 1))
        self.count = count
        TensorMemory.allocated(count)
    }
    /// Takes ownership of `count` floats allocated with `UnsafeMutablePointer.allocate`.
    init(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        self.pointer = pointer
        self.count = count
        TensorMemory.allocated(count)
    }
    deinit {
        pointer.deallocate()
        TensorMemory.freed(count)
    }
}
