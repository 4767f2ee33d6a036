// LoraModel.swift — `get_peft_model` for LoRA: find the target linear layers by name, wrap
// each in a LoraLinear, freeze the base. Plus PEFT's report, adapter switching, merging, and
// the adapter files.

import Foundation
import Llama
import SafeTensors
import TensorKit
import Training

public final class LoraModel {
    public let model: LlamaModel
    public let config: LoraConfig
    /// The adapted layers, in model order, with their module names.
    public let adapters: [(name: String, layer: LoraLinear)]

    /// Wraps the layers of `model` that `config.targetModules` selects and freezes everything
    /// else. Throws if nothing matches, if a rank exceeds a layer, or for impossible settings.
    public init(wrapping model: LlamaModel, config: LoraConfig, generator: Generator) throws {
        try config.validate()
        self.model = model
        self.config = config
        let slots = try LoraModel.targets(in: model, config: config)
        model.setTrainable(false)
        var adapters: [(String, LoraLinear)] = []
        for slot in slots {
            guard let linear = slot.layer as? Linear else {
                throw PEFTError("\(slot.name) is already adapted; merge_and_unload() it before adding another LoRA")
            }
            let (r, alpha) = config.rankAndAlpha(for: slot.name)
            let (out, inF) = (linear.weight.shape[0], linear.weight.shape[1])
            guard r <= min(out, inF) else {
                throw PEFTError("r = \(r) is larger than \(slot.name) allows: a [\(out), \(inF)] layer has rank at most \(min(out, inF)); choose r ≤ \(min(out, inF))")
            }
            let layer = LoraLinear(base: linear, r: r, alpha: alpha, config: config, generator: generator)
            slot.layer = layer
            adapters.append((slot.name, layer))
        }
        self.adapters = adapters
    }

    /// The slots `config` selects (PEFT's matching rules), or an error naming what exists.
    public static func targets(in model: LlamaModel, config: LoraConfig) throws -> [LinearSlot] {
        let slots = model.linearSlots
        func layerIndex(_ name: String) -> Int? {
            let parts = name.split(separator: ".")
            guard let i = parts.firstIndex(of: "layers"), i + 1 < parts.count else { return nil }
            return Int(parts[i + 1])
        }
        var chosen: [LinearSlot]
        switch config.targetModules {
        case .names(let names):
            chosen = slots.filter { s in names.contains { s.name == $0 || s.name.hasSuffix("." + $0) } }
        case .regex(let pattern):
            guard let re = try? NSRegularExpression(pattern: "^(?:\(pattern))$") else { throw PEFTError("target_modules regex '\(pattern)' does not compile") }
            chosen = slots.filter { re.firstMatch(in: $0.name, range: NSRange($0.name.startIndex..., in: $0.name)) != nil }
        case .allLinear:
            chosen = slots.filter { $0.name != "lm_head" }
        }
        if let layers = config.layersToTransform {
            let bad = layers.filter { $0 < 0 || $0 >= model.layers.count }
            if !bad.isEmpty { throw PEFTError("layers_to_transform \(bad) is out of range: the model has layers 0…\(model.layers.count - 1)") }
            chosen = chosen.filter { layerIndex($0.name).map(layers.contains) ?? false }
        }
        if chosen.isEmpty {
            let asked: String
            switch config.targetModules {
            case .names(let n): asked = "{" + n.map { "'\($0)'" }.joined(separator: ", ") + "}"
            case .regex(let r): asked = "'\(r)'"
            case .allLinear: asked = "'all-linear'"
            }
            let kinds = Array(Set(slots.map { String($0.name.split(separator: ".").last!) })).sorted()
            throw PEFTError("Target modules \(asked) not found in the base model. Please check the target modules and try again. "
                + "This model's linear modules are: \(kinds.joined(separator: ", ")) (e.g. \(slots.first!.name))"
                + (config.layersToTransform.map { " and layers_to_transform is \($0)" } ?? "") + ".")
        }
        return chosen
    }

    // MARK: Parameters

    /// Every adapter tensor under the key PEFT saves it with.
    public var namedAdapterParameters: [(key: String, tensor: Tensor)] {
        adapters.flatMap { name, layer -> [(String, Tensor)] in
            let p = "base_model.model.\(name)."
            var out = [(p + "lora_A.weight", layer.loraA), (p + "lora_B.weight", layer.loraB)]
            if let m = layer.magnitude { out.append((p + "lora_magnitude_vector", m)) }
            return out
        }
    }

    /// The trainable tensors (A, B and DoRA magnitudes).
    public var trainableParameters: [Tensor] { namedAdapterParameters.map(\.tensor) }
    public var trainableCount: Int { trainableParameters.reduce(0) { $0 + $1.count } }
    /// Base plus adapter parameters (PEFT's "all params").
    public var totalCount: Int { model.parameterCount + trainableCount }

    /// PEFT's `print_trainable_parameters()` line.
    public var trainableReport: String {
        String(format: "trainable params: %@ || all params: %@ || trainable%%: %.4f",
               commas(trainableCount), commas(totalCount), 100 * Double(trainableCount) / Double(totalCount))
    }

    /// LoRA+ (Hayou et al. 2024): B learns `ratio` times faster than A (ratio around 16).
    public func parameterGroups(loraPlusRatio ratio: Float = 1, weightDecay: Float = 0) -> [ParameterGroup] {
        let a = adapters.map(\.layer.loraA) + adapters.compactMap(\.layer.magnitude), b = adapters.map(\.layer.loraB)
        return ratio == 1 ? [ParameterGroup(a + b, weightDecay: weightDecay)]
            : [ParameterGroup(a, weightDecay: weightDecay), ParameterGroup(b, learningRateScale: ratio, weightDecay: weightDecay)]
    }

    // MARK: Switching and merging

    /// Turns every adapter on or off (off: the base model's outputs, exactly).
    public func setAdaptersEnabled(_ enabled: Bool) { for (_, l) in adapters { l.isEnabled = enabled } }

    /// Runs `body` with the adapters off (PEFT's `with model.disable_adapter():`).
    public func withAdaptersDisabled<T>(_ body: () throws -> T) rethrows -> T {
        setAdaptersEnabled(false)
        defer { setAdaptersEnabled(true) }
        return try body()
    }

    /// Dropout on (training) or off (evaluation).
    public func setTraining(_ training: Bool) { for (_, l) in adapters { l.isTraining = training } }

    public func merge() { for (_, l) in adapters { l.merge() } }
    public func unmerge() { for (_, l) in adapters { l.unmerge() } }

    /// Merges every adapter and puts plain linear layers back: the result is an ordinary model
    /// that costs what the base costs.
    public func mergeAndUnload() -> LlamaModel {
        merge()
        for slot in model.linearSlots { if let l = slot.layer as? LoraLinear { slot.layer = l.base } }
        return model
    }

    public func callAsFunction(_ ids: [Int], batch: Int) -> Tensor { model(ids, batch: batch) }

    // MARK: Files

    /// Writes `adapter_config.json` and `adapter_model.safetensors` as PEFT's `save_pretrained`.
    public func save(to folder: URL) throws {
        var file = SafeTensorsFile()
        for (key, t) in namedAdapterParameters { file[key] = StoredTensor(shape: t.shape, values: t.array) }
        try writeAtomically(Data(config.json().utf8), to: folder.appendingPathComponent("adapter_config.json"))
        try file.write(to: folder.appendingPathComponent("adapter_model.safetensors"))
    }

    /// Loads a PEFT LoRA adapter folder onto `model` (which it wraps).
    public static func load(from folder: URL, onto model: LlamaModel) throws -> LoraModel {
        let config = try LoraConfig.load(contentsOf: folder.appendingPathComponent("adapter_config.json"))
        let weightsURL = folder.appendingPathComponent("adapter_model.safetensors")
        let weights = try SafeTensorsFile.read(contentsOf: weightsURL)
        var init_ = config
        init_.initLoraWeights = .standard  // the values come from the file
        let lora = try LoraModel(wrapping: model, config: init_, generator: Generator(seed: 0))
        var unused = Set(weights.tensors.keys)
        for (key, tensor) in lora.namedAdapterParameters {
            // PEFT saves without the adapter name; older files may carry ".default".
            let stored = weights[key] ?? weights[key.replacingOccurrences(of: ".weight", with: ".default.weight")]
            guard let stored else { throw FileFormatError(file: weightsURL.path, tensor: key, problem: "missing from the adapter") }
            guard stored.shape == tensor.shape else {
                throw FileFormatError(file: weightsURL.path, tensor: key, problem: "has shape \(stored.shape), but the config and model imply \(tensor.shape)")
            }
            stored.values.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: tensor.count) }
            unused.remove(key)
        }
        if !unused.isEmpty { printWarning("warning: \(weightsURL.path): \(unused.count) tensors were not used: \(unused.sorted().prefix(3).joined(separator: ", "))") }
        return LoraModel(model: model, config: config, adapters: lora.adapters)
    }

    private init(model: LlamaModel, config: LoraConfig, adapters: [(name: String, layer: LoraLinear)]) {
        self.model = model; self.config = config; self.adapters = adapters
    }
}

func commas(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (i, c) in digits.enumerated() { if i > 0 && (digits.count - i) % 3 == 0 { out += "," }; out.append(c) }
    return out
}
