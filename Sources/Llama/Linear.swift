// Linear.swift — linear layers, and the named slots that hold them.
//
// The model never calls a weight directly: each projection lives in a `LinearSlot`, reachable
// by its dotted Hugging Face module name (`model.layers.0.self_attn.q_proj`). A PEFT method
// finds slots by name and puts a wrapper around the layer inside; the model code is unchanged.
//
// Two protocols: `LinearLayer` is anything that can stand in a slot; `BaseLinear` is a layer
// that owns its weight — the float `Linear`, or a quantized layer — and offers its products as
// raw kernels, so that an adapter's fused op can call them inside its own forward and backward.

import TensorKit

/// Anything that maps [..., in] to [..., out] where a linear layer stood.
public protocol LinearLayer: AnyObject {
    /// The layer that owns the weight: the layer itself, or the one an adapter wraps.
    var base: any BaseLinear { get }
    /// y = f(x), [..., in] → [..., out].
    func callAsFunction(_ x: Tensor) -> Tensor
}

/// A linear layer that owns its weight W [out, in] (and an optional bias), in whatever storage:
/// what an adapter wraps. The kernels work on raw rows and record nothing on the tape.
public protocol BaseLinear: LinearLayer {
    var inFeatures: Int { get }
    var outFeatures: Int { get }
    var bias: Tensor? { get }
    /// y[rows, out] = x[rows, in]·Wᵀ (+ bias), overwriting y.
    func multiply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>)
    /// dx[rows, in] += dy[rows, out]·W.
    func multiplyTransposed(_ dy: UnsafePointer<Float>, rows: Int, accumulatingInto dx: UnsafeMutablePointer<Float>)
    /// W as a new float32 tensor [out, in] (a quantized layer dequantizes).
    func denseWeight() -> Tensor
    /// W ← W + Δ, for merging an adapter (a quantized layer dequantizes, adds and quantizes).
    func addToWeight(_ delta: Tensor)
    /// The tensors it holds under their Hugging Face suffixes ("weight", "bias"), if they are
    /// float tensors that can train; empty for a quantized layer.
    var namedTensors: [(suffix: String, tensor: Tensor)] { get }
    /// Number of weights and biases (as a model counts parameters).
    var parameterCount: Int { get }
    /// Bytes its weight and bias occupy in memory.
    var storageBytes: Int { get }
}

extension BaseLinear {
    public var base: any BaseLinear { self }
}

extension LinearLayer {
    public var inFeatures: Int { base.inFeatures }
    public var outFeatures: Int { base.outFeatures }
}

/// y = x·Wᵀ + b with `weight` [out, in], as `torch.nn.Linear`.
public final class Linear: BaseLinear {
    public var weight: Tensor
    public var bias: Tensor?

    public init(weight: Tensor, bias: Tensor? = nil) {
        precondition(weight.rank == 2, "a linear weight is [out, in], got \(weight.shape)")
        self.weight = weight
        self.bias = bias
    }

    /// A layer initialised N(0, std²), bias zero, as `transformers` initialises LLaMA.
    public convenience init(inFeatures: Int, outFeatures: Int, bias: Bool = false, std: Float, generator: Generator) {
        self.init(weight: .randn([outFeatures, inFeatures], std: std, generator: generator, requiresGrad: true),
                  bias: bias ? Tensor(zeros: [outFeatures], requiresGrad: true) : nil)
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }

    public func multiply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let (inF, outF) = (inFeatures, outFeatures)
        BLAS.shared.sgemm(transA: false, transB: true, m: rows, n: outF, k: inF,
                          a: x, lda: inF, b: weight.data, ldb: inF, c: y, ldc: outF)          // y = x·Wᵀ
        if let bias { for r in 0..<rows { let row = y + r * outF; for j in 0..<outF { row[j] += bias.data[j] } } }
    }

    public func multiplyTransposed(_ dy: UnsafePointer<Float>, rows: Int,
                                   accumulatingInto dx: UnsafeMutablePointer<Float>) {
        let (inF, outF) = (inFeatures, outFeatures)
        BLAS.shared.sgemm(transA: false, transB: false, m: rows, n: inF, k: outF,
                          a: dy, lda: outF, b: weight.data, ldb: inF, beta: 1, c: dx, ldc: inF)  // dx += dy·W
    }

    public func denseWeight() -> Tensor { weight.detached() }

    public func addToWeight(_ delta: Tensor) {
        precondition(delta.shape == weight.shape, "addToWeight: \(delta.shape) into \(weight.shape)")
        for i in 0..<weight.count { weight.data[i] += delta.data[i] }
    }

    public var namedTensors: [(suffix: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }
    public var parameterCount: Int { weight.count + (bias?.count ?? 0) }
    public var storageBytes: Int { weight.storageBytes + (bias?.storageBytes ?? 0) }
}

/// A place in the model that holds a linear layer, known by its module name.
public final class LinearSlot {
    /// The dotted module name, as Hugging Face writes it.
    public let name: String
    /// What runs here: the base layer, or an adapter wrapped around it.
    public var layer: any LinearLayer

    public init(name: String, layer: any LinearLayer) {
        self.name = name
        self.layer = layer
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layer(x) }
}
