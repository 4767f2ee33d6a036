// LayerAdapters.swift — what the methods that wrap linear layers share (LoRA, DoRA, AdaLoRA):
// a layer that adds a mergeable update to its base, and a tuner holding such layers by module
// name. Switching adapters off, train/eval mode, merging and unloading are written once here.

import Llama

/// A layer that wraps a base linear layer with an update that can be folded into its weight.
public protocol MergeableAdapterLayer: LinearLayer {
    /// When false the layer computes its base only (PEFT's `disable_adapter()`).
    var isEnabled: Bool { get set }
    /// Training-only behaviour (dropout) on or off.
    var isTraining: Bool { get set }
    /// Whether the update is folded into the base weight.
    var isMerged: Bool { get }
    /// Folds the update into the base weight.
    func merge()
    /// Takes it out again.
    func unmerge()
}

/// A tuner whose adapters wrap the model's linear slots.
public protocol LayerAdapterTuner: Tuner {
    associatedtype Layer: MergeableAdapterLayer
    /// The adapted layers, in model order, with their module names.
    var adapters: [(name: String, layer: Layer)] { get }
}

extension LayerAdapterTuner {
    public var isTraining: Bool {
        get { adapters.first?.layer.isTraining ?? false }
        set { for (_, l) in adapters { l.isTraining = newValue } }
    }

    public var canMerge: Bool { true }
    public func merge() { for (_, l) in adapters { l.merge() } }
    public func unmerge() { for (_, l) in adapters { l.unmerge() } }

    /// Merges every adapter and puts the base layers back: an ordinary model that costs what the
    /// base costs.
    @discardableResult
    public func mergeAndUnload() -> LlamaModel {
        for (_, l) in adapters { l.merge() }
        for slot in model.linearSlots { if let l = slot.layer as? Layer { slot.layer = l.base } }
        return model
    }

    /// Turns every adapter on or off (off: the base model's outputs, exactly).
    public func setAdaptersEnabled(_ enabled: Bool) { for (_, l) in adapters { l.isEnabled = enabled } }

    /// Runs `body` with the adapters off (PEFT's `with model.disable_adapter():`).
    public func withAdaptersDisabled<T>(_ body: () throws -> T) rethrows -> T {
        setAdaptersEnabled(false)
        defer { setAdaptersEnabled(true) }
        return try body()
    }
}
