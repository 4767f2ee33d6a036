// PrefixEncoder.swift — prefix tuning's encoder (PEFT's `PrefixEncoder`, Li & Liang 2021): the
// keys and values of n virtual tokens for every layer, as one [n, layers·2·kvWidth] table, or
// produced from a narrower table by a two-layer MLP (`prefix_projection`).
//
//   without the projection:  P = E                                  E [n, layers·2·kvWidth]
//   with the projection:     P = W₂·tanh(W₁·E + b₁) + b₂            E [n, kvWidth] (`token_dim`),
//                            W₁ [h, kvWidth], W₂ [layers·2·kvWidth, h]
//
// Column ((2·layer + j)·Hkv + head)·headDim + d of P is the key (j = 0) or value (j = 1) of that
// layer and key/value head; `PromptLearningModel` splits it per layer. The keys are not rotated.
// P-tuning v2 (deep prompts) is this encoder without the projection.

import Foundation
import Llama
import TensorKit

public final class PrefixEncoder: PromptEncoder {
    /// `prompt_encoder.embedding.weight`: [n, layers·2·kvWidth], or [n, kvWidth] with the projection.
    public let embedding: Tensor
    /// `prompt_encoder.transform.0` Linear(kvWidth → h) and `.2` Linear(h → layers·2·kvWidth)
    /// with tanh between; empty without `prefix_projection`.
    public let transform: [Linear]
    public var placement: PromptPlacement { .keyValuePrefix }
    public var numVirtualTokens: Int { embedding.shape[0] }

    /// A fresh encoder for `config` (its sizes completed from the model), started as PEFT starts
    /// it: E ~ N(0, 1) (`nn.Embedding`), the linear layers as `nn.Linear`; with `init_weights`
    /// "zero", E (or the last linear layer) is zero, so the prefix starts as zeros.
    init(config: PrefixTuningConfig, generator: Generator) {
        let n = config.numVirtualTokens, width = config.virtualTokens.tokenDim ?? 0
        let output = config.prefixWidth
        if config.prefixProjection {
            let hidden = config.encoderHiddenSize ?? width
            embedding = .randn([n, width], generator: generator, requiresGrad: true)                 // [n, kv]
            let first = Linear.torchDefault(inFeatures: width, outFeatures: hidden, generator: generator)
            let second = Linear.torchDefault(inFeatures: hidden, outFeatures: output, generator: generator)
            if config.initWeights == .zero {
                second.weight.data.update(repeating: 0, count: second.weight.count)
                second.bias.map { $0.data.update(repeating: 0, count: $0.count) }
            }
            transform = [first, second]
        } else {
            embedding = config.initWeights == .zero
                ? Tensor(zeros: [n, output], requiresGrad: true)
                : .randn([n, output], generator: generator, requiresGrad: true)                      // [n, L·2·kv]
            transform = []
        }
    }

    /// P, [n, layers·2·kvWidth]: E, or transform.2(tanh(transform.0(E))).
    func encoded() -> Tensor {
        guard transform.count == 2 else { return embedding }                                     // [n, L·2·kv]
        return transform[1](tanh(transform[0](embedding)))                                       // [n, L·2·kv]
    }

    public func prompt(for batch: TokenBatch) -> Tensor { encoded() }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("prompt_encoder.embedding.weight", embedding)]
            + transform.enumerated().flatMap { i, layer in layer.named("prompt_encoder.transform.\(2 * i)") }
    }

    /// PEFT's `prompt_embeddings`: the encoder's output P [n, layers·2·kvWidth].
    public func savedTensors() -> [String: Tensor] {
        [PromptEmbedding.savedKey: withoutGrad { encoded() }.detached()]
    }

    /// With the projection, its weights go to prompt_encoder.safetensors (PEFT drops them).
    /// Without it, P = E is all there is, and adapter_model.safetensors already holds it.
    public func saveExtras(to folder: URL) throws {
        guard !transform.isEmpty else { return }
        try PromptEncoderFile.write(namedParameters, to: folder)
    }
}
