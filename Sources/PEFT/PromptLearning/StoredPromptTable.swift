// StoredPromptTable.swift — a prefix-tuning or P-tuning adapter as PEFT reloads it: the saved
// encoder output `prompt_embeddings` used as it is, with no projection, MLP or LSTM.
//
//   prompt = P [n, W]   (W = hidden for P-tuning, layers·2·kvWidth for prefix tuning)
//
// PEFT's `from_pretrained` builds the prompt encoder in inference mode: an `nn.Embedding`
// holding `prompt_embeddings` and nothing else, so the one tensor is named
// `prompt_encoder.embedding.weight` (PEFT's `prompt_encoder.default.embedding.weight` without
// the adapter name). PEFT refuses to train it further; here it can (its gradient is dL/dP).

import Foundation
import Llama
import TensorKit

public final class StoredPromptTable: PromptEncoder {
    /// `prompt_encoder.embedding.weight` [n, W]: the saved prompt itself.
    public let embedding: Tensor
    public let placement: PromptPlacement
    public var numVirtualTokens: Int { embedding.shape[0] }

    /// A trainable table holding `prompt` (copied), placed as `placement` says.
    init(_ prompt: Tensor, placement: PromptPlacement) {
        embedding = prompt.detached(requiresGrad: true)
        self.placement = placement
    }

    public func prompt(for batch: TokenBatch) -> Tensor { embedding }                       // [n, W]

    public var namedParameters: [(name: String, tensor: Tensor)] { [("prompt_encoder.embedding.weight", embedding)] }

    public func savedTensors() -> [String: Tensor] { [PromptEmbedding.savedKey: embedding] }
}
