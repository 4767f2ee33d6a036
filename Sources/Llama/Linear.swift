// Linear.swift — linear layers, and the named slots that hold them.
//
// The model never calls a weight directly: each projection lives in a `LinearSlot`, reachable
// by its dotted Hugging Face module name (`model.layers.0.self_attn.q_proj`). A PEFT method
// finds slots by name and puts a wrapper around the layer inside; the model code is unchanged.

import TensorKit

/// Anything that maps [..., in] to [..., out] where a linear layer stood.
public protocol LinearLayer: AnyObject {
    /// The original (frozen) linear layer underneath any adapters.
    var base: Linear { get }
    /// y = f(x), [..., in] → [..., out].
    func callAsFunction(_ x: Tensor) -> Tensor
}

extension LinearLayer {
    public var inFeatures: Int { base.weight.shape[1] }
    public var outFeatures: Int { base.weight.shape[0] }
}

/// y = x·Wᵀ + b with `weight` [out, in], as `torch.nn.Linear`.
public final class Linear: LinearLayer {
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

    public var base: Linear { self }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }
}

/// A place in the model that holds a linear layer, known by its module name.
public final class LinearSlot {
    /// The dotted module name, as Hugging Face writes it.
    public let name: String
    /// What runs here: the base `Linear`, or an adapter wrapped around it.
    public var layer: any LinearLayer

    public init(name: String, layer: any LinearLayer) {
        self.name = name
        self.layer = layer
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { layer(x) }
}
