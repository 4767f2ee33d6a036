// BidirectionalLSTM.swift — `torch.nn.LSTM(input, h, num_layers, bidirectional=True,
// batch_first=True)` over one sequence: the input projection of every step as one linear, the
// recurrence as one op with its backward through time (LSTMKernel.swift).
//
// One direction, zero initial state h₀ = c₀ = 0, gates in PyTorch's row order i, f, g, o:
//   z_t = W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh            [4h] = [z_i; z_f; z_g; z_o]
//   i = σ(z_i),  f = σ(z_f),  g = tanh(z_g),  o = σ(z_o)
//   c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
// The `_reverse` direction runs t = T−1 … 0. A layer's output at t is [h_t(forward); h_t(reverse)]
// (2h wide) and is the next layer's input; between layers, dropout p while training (PyTorch's
// `dropout`, not after the last layer).

import TensorKit

public final class BidirectionalLSTM {
    /// One direction of one layer: PyTorch's `weight_ih_l{k}` [4h, in], `weight_hh_l{k}` [4h, h],
    /// `bias_ih_l{k}` [4h], `bias_hh_l{k}` [4h] (with `_reverse` for the backward direction).
    public struct Direction {
        public let weightIH: Tensor, weightHH: Tensor, biasIH: Tensor, biasHH: Tensor

        /// PyTorch's start: every tensor U(−1/√h, 1/√h).
        init(inputSize: Int, hiddenSize h: Int, generator: Generator) {
            let bound = 1 / Float(h).squareRoot()
            func draw(_ shape: [Int]) -> Tensor {
                .uniform(shape, low: -bound, high: bound, generator: generator, requiresGrad: true)
            }
            weightIH = draw([4 * h, inputSize]); weightHH = draw([4 * h, h])
            biasIH = draw([4 * h]); biasHH = draw([4 * h])
        }

        /// The tensors under PyTorch's names with `suffix` ("_l0", "_l0_reverse", …).
        func named(_ prefix: String, _ suffix: String) -> [(name: String, tensor: Tensor)] {
            [("\(prefix).weight_ih\(suffix)", weightIH), ("\(prefix).weight_hh\(suffix)", weightHH),
             ("\(prefix).bias_ih\(suffix)", biasIH), ("\(prefix).bias_hh\(suffix)", biasHH)]
        }
    }

    /// Per layer, the forward and the reverse direction.
    public let layers: [(forward: Direction, reverse: Direction)]
    /// h.
    public let hiddenSize: Int
    /// Dropout between layers while training (`encoder_dropout`).
    public let dropout: Float
    /// Training-only behaviour (the dropout) on or off.
    public var isTraining = false
    let generator: Generator

    /// `numLayers` bidirectional layers; the first reads `inputSize` features, the rest 2h.
    init(inputSize: Int, hiddenSize: Int, numLayers: Int, dropout: Float, generator: Generator) {
        self.hiddenSize = hiddenSize
        self.dropout = dropout
        self.generator = generator
        layers = (0..<numLayers).map { k in
            let width = k == 0 ? inputSize : 2 * hiddenSize
            let forward = Direction(inputSize: width, hiddenSize: hiddenSize, generator: generator)
            return (forward, Direction(inputSize: width, hiddenSize: hiddenSize, generator: generator))
        }
    }

    /// x [T, in] → [T, 2h], the last layer's outputs (PyTorch's `lstm(x)[0]` for one sequence).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var input = x                                                                            // [T, in]
        for (k, layer) in layers.enumerated() {
            let output = concat([run(input, layer.forward, reverse: false),
                                 run(input, layer.reverse, reverse: true)], axis: 1)            // [T, 2h]
            let last = k == layers.count - 1
            input = last ? output : TensorKit.dropout(output, p: dropout, generator: generator, training: isTraining)
        }
        return input
    }

    /// One direction over x [T, in] → [T, h], rows in time order.
    func run(_ x: Tensor, _ d: Direction, reverse: Bool) -> Tensor {
        let inputGates = linear(x, weight: d.weightIH, bias: d.biasIH)                           // [T, 4h]
        return lstmDirection(inputGates, weightHH: d.weightHH, biasHH: d.biasHH, reverse: reverse)  // [T, h]
    }

    /// Every tensor under PyTorch's names inside `prefix` (`prompt_encoder.lstm_head`), in
    /// PyTorch's order: layer 0 forward, layer 0 reverse, layer 1 forward, …
    func named(_ prefix: String) -> [(name: String, tensor: Tensor)] {
        layers.enumerated().flatMap { k, layer in
            layer.forward.named(prefix, "_l\(k)") + layer.reverse.named(prefix, "_l\(k)_reverse")
        }
    }
}
