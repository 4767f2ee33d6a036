// PTuningEncoder.swift — P-tuning's encoder (PEFT's `PromptEncoder` class, Liu et al. 2021,
// "GPT Understands, Too"): n virtual-token embeddings reparameterised by a network, the output
// prepended to the token embeddings.
//
//   MLP:   prompt = W₃·relu(W₂·relu(W₁·E + b₁) + b₂) + b₃
//          W₁ [h, d], W₂ [h, h], W₃ [d, h]    (always three layers: `encoder_num_layers` is ignored)
//   LSTM:  prompt = W₂·relu(W₁·BiLSTM(E) + b₁) + b₂
//          BiLSTM: `encoder_num_layers` bidirectional layers of width h, so [n, 2h];
//          W₁ [2h, 2h], W₂ [d, 2h]
// with E [n, d] (`prompt_encoder.embedding.weight`) and d the model's hidden size. PEFT saves
// only the output, [n, d]; the network's weights go to prompt_encoder.safetensors here.

import Foundation
import Llama
import TensorKit

public final class PTuningEncoder: PromptEncoder {
    /// `prompt_encoder.embedding.weight` [n, d].
    public let embedding: Tensor
    /// `prompt_encoder.lstm_head` (LSTM encoder only).
    public let lstm: BidirectionalLSTM?
    /// `prompt_encoder.mlp_head.0, .2(, .4)`: the linear layers, ReLU between them.
    public let mlp: [Linear]
    public var placement: PromptPlacement { .prepended }
    public var numVirtualTokens: Int { embedding.shape[0] }

    /// A fresh encoder for `config` (its sizes completed from the model), started as PyTorch
    /// starts its modules: E ~ N(0, 1) (`nn.Embedding`), each linear layer W, b ~ U(−1/√in, 1/√in)
    /// (`nn.Linear`), every LSTM tensor U(−1/√h, 1/√h) (`nn.LSTM`).
    init(config: PromptEncoderConfig, generator: Generator) {
        let n = config.numVirtualTokens, d = config.virtualTokens.tokenDim ?? 0
        let h = config.encoderHiddenSize ?? d
        func layer(_ inputs: Int, _ outputs: Int) -> Linear {
            .torchDefault(inFeatures: inputs, outFeatures: outputs, generator: generator)
        }
        embedding = .randn([n, d], generator: generator, requiresGrad: true)                        // [n, d]
        switch config.encoderReparameterizationType {
        case .mlp:
            lstm = nil
            mlp = [layer(d, h), layer(h, h), layer(h, d)]
        case .lstm:
            lstm = BidirectionalLSTM(inputSize: d, hiddenSize: h, numLayers: config.encoderNumLayers,
                                     dropout: Float(config.encoderDropout), generator: generator)
            mlp = [layer(2 * h, 2 * h), layer(2 * h, d)]
        }
    }

    /// The prompt [n, d]: the MLP head over E, or over the LSTM's output.
    func encoded() -> Tensor {
        var x = lstm.map { $0(embedding) } ?? embedding                                          // [n, d] or [n, 2h]
        for (i, layer) in mlp.enumerated() {
            x = layer(x)                                                                         // [n, h|2h|d]
            if i < mlp.count - 1 { x = relu(x) }
        }
        return x                                                                                 // [n, d]
    }

    public func prompt(for batch: TokenBatch) -> Tensor { encoded() }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("prompt_encoder.embedding.weight", embedding)]
            + (lstm?.named("prompt_encoder.lstm_head") ?? [])
            + mlp.enumerated().flatMap { i, layer in layer.named("prompt_encoder.mlp_head.\(2 * i)") }
    }

    /// PEFT's `prompt_embeddings`: the encoder's output [n, d].
    public func savedTensors() -> [String: Tensor] {
        [PromptEmbedding.savedKey: withoutGrad { encoded() }.detached()]
    }

    public var isTraining: Bool {
        get { lstm?.isTraining ?? false }
        set { lstm?.isTraining = newValue }
    }

    /// The network's weights, which PEFT does not save, so that training can resume.
    public func saveExtras(to folder: URL) throws {
        try PromptEncoderFile.write(namedParameters, to: folder)
    }
}
