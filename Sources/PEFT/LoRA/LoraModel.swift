// LoraModel.swift — `get_peft_model` for LoRA: find the target linear layers by name, wrap
// each in a LoraLinear, freeze the base. Plus adapter switching, merging, LoRA+ groups and the
// adapter files.

import Foundation
import Llama
import SafeTensors
import TensorKit
import Training

public final class LoraModel: LayerAdapterTuner {
    public let model: LlamaModel
    public let config: LoraConfig
    /// The adapted layers, in model order, with their module names.
    public let adapters: [(name: String, layer: LoraLinear)]

    public var peftConfig: (any PeftConfig)? { config }

    /// Wraps the layers of `model` that `config.targetModules` selects and freezes everything
    /// else. Throws if nothing matches, if a rank exceeds a layer, or for impossible settings.
    public init(wrapping model: LlamaModel, config: LoraConfig, generator: Generator) throws {
        try config.validate()
        self.model = model
        self.config = config
        let slots = try config.shared.baseSlots(in: model)
        for slot in slots {
            let (r, _) = config.rankAndAlpha(for: slot.name)
            let (out, inF) = (slot.layer.outFeatures, slot.layer.inFeatures)
            guard r <= min(out, inF) else {
                throw PEFTError("r = \(r) is larger than \(slot.name) allows: a [\(out), \(inF)] layer has rank "
                    + "at most \(min(out, inF)); choose r ≤ \(min(out, inF))")
            }
        }
        model.setTrainable(false)
        adapters = slots.map { slot in
            let (r, alpha) = config.rankAndAlpha(for: slot.name)
            let layer = LoraLinear(base: slot.layer.base, r: r, alpha: alpha, config: config, generator: generator)
            slot.layer = layer
            return (slot.name, layer)
        }
    }

    /// The slots `config` selects (PEFT's matching rules), or an error naming what exists.
    public static func targets(in model: LlamaModel, config: LoraConfig) throws -> [LinearSlot] {
        try config.targetModules.slots(in: model, layers: config.layersToTransform)
    }

    // MARK: Tuner

    /// Every adapter tensor under the key PEFT saves it with.
    public var namedTrainableParameters: [(name: String, tensor: Tensor)] {
        adapters.flatMap { name, layer -> [(String, Tensor)] in
            let p = "base_model.model.\(name)."
            var out = [(p + "lora_A.weight", layer.loraA), (p + "lora_B.weight", layer.loraB)]
            if let m = layer.magnitude { out.append((p + "lora_magnitude_vector", m)) }
            return out
        }
    }

    /// LoRA+ (Hayou et al. 2024): B learns `ratio` times faster than A (ratio around 16).
    public func parameterGroups(loraPlusRatio ratio: Float, weightDecay: Float = 0) -> [ParameterGroup] {
        let a = adapters.map(\.layer.loraA) + adapters.compactMap(\.layer.magnitude), b = adapters.map(\.layer.loraB)
        return ratio == 1 ? [ParameterGroup(a + b, weightDecay: weightDecay)]
            : [ParameterGroup(a, weightDecay: weightDecay),
               ParameterGroup(b, learningRateScale: ratio, weightDecay: weightDecay)]
    }

    public func parameterGroups(weightDecay: Float) -> [ParameterGroup] {
        parameterGroups(loraPlusRatio: 1, weightDecay: weightDecay)
    }

    // MARK: Files

    /// Writes `adapter_config.json` and `adapter_model.safetensors` as PEFT's `save_pretrained`.
    public func save(to folder: URL) throws {
        try AdapterFolder.write(config, tensors: Dictionary(uniqueKeysWithValues: namedTrainableParameters), to: folder)
    }

    /// Loads a PEFT LoRA adapter folder onto `model` (which it wraps).
    public static func load(from folder: URL, onto model: LlamaModel) throws -> LoraModel {
        guard let lora = try AdapterFolder.load(from: folder, onto: model) as? LoraModel else {
            throw FileFormatError(file: folder.appendingPathComponent(AdapterFolder.configName).path,
                                  problem: "not a LoRA adapter (peft_type LORA)")
        }
        return lora
    }

    /// `config` with the tensors of `weights` (read from `file`) on `model`.
    static func load(_ config: LoraConfig, weights: SafeTensorsFile, file: URL,
                     onto model: LlamaModel) throws -> LoraModel {
        var fresh = config
        // A and B come from the file. A PiSSA adapter was trained on the residual W − s·B₀A₀ of the base's SVD,
        // which PEFT recomputes when it loads one onto the original base: so does this, before A and B are read.
        if fresh.initLoraWeights != .pissa { fresh.initLoraWeights = .standard }
        let lora = try LoraModel(wrapping: model, config: fresh, generator: Generator(seed: 0))
        var unused = Set(weights.tensors.keys)
        for (key, tensor) in lora.namedTrainableParameters {
            // PEFT saves without the adapter name; older files may carry ".default".
            let legacy = key.replacingOccurrences(of: ".weight", with: ".default.weight")
            let found = weights[key] != nil ? key : legacy
            try AdapterFolder.copy(weights[found], into: tensor, key: key, file: file)
            unused.remove(found)
        }
        AdapterFolder.warnUnused(unused, file: file)
        lora.isTraining = false
        return LoraModel(model: model, config: config, adapters: lora.adapters)
    }

    private init(model: LlamaModel, config: LoraConfig, adapters: [(name: String, layer: LoraLinear)]) {
        self.model = model; self.config = config; self.adapters = adapters
    }
}
