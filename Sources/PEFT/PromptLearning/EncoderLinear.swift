// EncoderLinear.swift — the `torch.nn.Linear` layers inside prompt encoders (prefix tuning's
// projection, P-tuning's MLP head): started as PyTorch starts them, named as PEFT names them.

import Llama
import TensorKit

extension Linear {
    /// `torch.nn.Linear(inFeatures, outFeatures)` as PyTorch initialises it: Kaiming-uniform with
    /// a = √5 for the weight, which is U(−1/√in, 1/√in), and the same bound for the bias.
    ///   W [out, in], b [out] ~ U(−1/√in, 1/√in)
    static func torchDefault(inFeatures: Int, outFeatures: Int, generator: Generator) -> Linear {
        let bound = 1 / Float(inFeatures).squareRoot()
        let weight = Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, generator: generator,
                                    requiresGrad: true)                                          // [out, in]
        let bias = Tensor.uniform([outFeatures], low: -bound, high: bound, generator: generator,
                                  requiresGrad: true)                                            // [out]
        return Linear(weight: weight, bias: bias)
    }

    /// The layer's tensors under PEFT's module name: `prompt_encoder.mlp_head.0` →
    /// `prompt_encoder.mlp_head.0.weight`, `prompt_encoder.mlp_head.0.bias`.
    func named(_ module: String) -> [(name: String, tensor: Tensor)] {
        namedTensors.map { ("\(module).\($0.suffix)", $0.tensor) }
    }
}
