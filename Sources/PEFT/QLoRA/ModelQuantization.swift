// ModelQuantization.swift — turning a float LLaMA into QLoRA's base and back: the seven
// projections of every decoder layer become `Linear4bit`; embeddings, norms and lm_head stay
// float32 (transformers never quantizes lm_head).

import Llama
import TensorKit

extension LlamaModel {
    /// Replaces every q, k, v, o, gate, up and down projection by a 4-bit layer with `settings`
    /// (what `from_pretrained(..., quantization_config=BitsAndBytesConfig(load_in_4bit=True))`
    /// does), except the module names in `skipping`. Their float weights are released.
    /// Throws if a slot already holds an adapter.
    public func quantizeLinearLayers(_ settings: QuantizationSettings, skipping: Set<String> = []) throws {
        try settings.validate()
        for slot in layers.flatMap(\.slots) where !skipping.contains(slot.name) {
            guard let base = slot.layer as? any BaseLinear else {
                throw PEFTError("\(slot.name) holds an adapter; quantize the base model before adding one")
            }
            if base is Linear4bit { continue }
            slot.layer = Linear4bit(quantizing: base, settings: settings)
        }
    }

    /// Replaces every 4-bit layer by a float `Linear` holding its dequantized weight (transformers'
    /// `model.dequantize()`): the full-precision copy an adapter can be merged into exactly.
    public func dequantizeLinearLayers() throws {
        for slot in linearSlots {
            guard let base = slot.layer as? any BaseLinear else {
                if slot.layer.base is Linear4bit {
                    throw PEFTError("\(slot.name) holds an adapter; dequantize the base model before adding one")
                }
                continue
            }
            guard let quantized = base as? Linear4bit else { continue }
            slot.layer = Linear(weight: quantized.denseWeight(), bias: quantized.bias?.detached())
        }
    }

    /// The 4-bit base layers with their module names (adapters looked through).
    public var quantizedLayers: [(name: String, layer: Linear4bit)] {
        linearSlots.compactMap { slot in (slot.layer.base as? Linear4bit).map { (slot.name, $0) } }
    }
}
