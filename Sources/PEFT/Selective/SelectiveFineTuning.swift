// SelectiveFineTuning.swift — the "select a subset" family: train some of the model's own
// parameters and freeze the rest. All of them is full fine-tuning; the top blocks is
// freeze-tuning; the output layer alone is head-only training. Nothing is added to the model,
// so there is no adapter: saving writes a whole model in the Hugging Face layout.

import Foundation
import Llama
import TensorKit

public final class SelectiveFineTuning: Tuner {
    public let model: LlamaModel
    /// The trained parameters under the model's own names.
    public let namedTrainableParameters: [(name: String, tensor: Tensor)]
    public var isTraining = true

    /// Trains the parameters of `model` that `isTrainable` picks by name; freezes the rest.
    public init(model: LlamaModel, trainable isTrainable: (String) -> Bool) {
        self.model = model
        model.setTrainable(false)
        namedTrainableParameters = model.namedParameters.filter { isTrainable($0.name) }
        for (_, t) in namedTrainableParameters { t.requiresGrad = true }
    }

    /// Full fine-tuning: every parameter trains.
    public static func full(_ model: LlamaModel) -> SelectiveFineTuning {
        SelectiveFineTuning(model: model) { _ in true }
    }

    /// Freeze-tuning: only the top `blocks` decoder layers train (their norms and projections).
    public static func topBlocks(_ blocks: Int, of model: LlamaModel) -> SelectiveFineTuning {
        let first = max(0, model.layers.count - blocks)
        return SelectiveFineTuning(model: model) { name in
            layerIndex(of: name).map { $0 >= first } ?? false
        }
    }

    /// Only the output layer (`lm_head`) trains.
    public static func headOnly(_ model: LlamaModel) -> SelectiveFineTuning {
        SelectiveFineTuning(model: model) { $0 == "lm_head.weight" }
    }

    /// A whole model in the Hugging Face layout (config.json, model.safetensors).
    public func save(to folder: URL) throws { try model.save(to: folder) }
}
