// LoraSharedSettings.swift — the fields of PEFT's `LoraConfig` that its subclasses inherit
// (AdaLoRA's `AdaLoraConfig(LoraConfig)`): which layers get an adapter and how its update is
// scaled and regularised. Read and written in the same JSON object as the method's own fields.

import Foundation
import Llama

/// `lora_alpha`, `lora_dropout`, `target_modules`, `layers_to_transform` and `bias`, with PEFT's
/// defaults, shared by every LoRA-family config.
public struct LoraSharedSettings: Codable, Equatable, Sendable {
    /// `lora_alpha`: the update's scale numerator (LoRA: alpha / r; AdaLoRA: alpha / init_r). Default 8.
    public var loraAlpha: Double = 8
    /// `lora_dropout`: dropout on the adapter's input while training. Default 0.
    public var loraDropout: Float = 0
    /// `target_modules`: which linear layers get an adapter. Default for LLaMA: q_proj and v_proj.
    public var targetModules = TargetModules.names(["q_proj", "v_proj"])
    /// `layers_to_transform`: only these layer indices (nil: all).
    public var layersToTransform: [Int]? = nil
    /// `bias`: which biases train; only "none" is supported.
    public var bias = "none"

    public init(loraAlpha: Double = 8, loraDropout: Float = 0,
                targetModules: TargetModules = .names(["q_proj", "v_proj"]), layersToTransform: [Int]? = nil) {
        self.loraAlpha = loraAlpha; self.loraDropout = loraDropout
        self.targetModules = targetModules; self.layersToTransform = layersToTransform
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case loraAlpha = "lora_alpha", loraDropout = "lora_dropout", targetModules = "target_modules"
        case layersToTransform = "layers_to_transform", bias
    }

    static let fileKeys = Set(CodingKeys.allCases.map(\.rawValue))

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.update(&loraAlpha, .loraAlpha)
        try c.update(&loraDropout, .loraDropout)
        try c.update(&targetModules, .targetModules)
        if let one = try? c.decodeIfPresent(Int.self, forKey: .layersToTransform) {
            layersToTransform = [one]  // PEFT accepts one index or a list
        } else {
            try c.update(&layersToTransform, .layersToTransform)
        }
        try c.update(&bias, .bias)
    }

    /// Throws for a dropout outside [0, 1), a non-positive alpha, a bias other than "none" or an
    /// empty target list.
    func validate() throws {
        if !(loraDropout >= 0 && loraDropout < 1) {
            throw PEFTError("lora_dropout must be in [0, 1), got \(loraDropout)")
        }
        if !loraAlpha.isFinite || loraAlpha <= 0 { throw PEFTError("lora_alpha must be positive, got \(loraAlpha)") }
        if bias != "none" {
            throw PEFTError("bias '\(bias)' is not supported: LLaMA layers have no bias; use \"none\"")
        }
        if case .names(let n) = targetModules, n.isEmpty {
            throw PEFTError("target_modules is empty; name at least one module, e.g. [\"q_proj\", \"v_proj\"]")
        }
    }

    /// The slots of `model` these settings select (PEFT's matching), each still holding a base
    /// layer; an error naming what exists when nothing matches or a slot is already adapted.
    func baseSlots(in model: LlamaModel) throws -> [LinearSlot] {
        let slots = try targetModules.slots(in: model, layers: layersToTransform)
        for slot in slots where !(slot.layer is any BaseLinear) {
            throw PEFTError("\(slot.name) is already adapted; merge_and_unload() it before adding another adapter")
        }
        return slots
    }
}
