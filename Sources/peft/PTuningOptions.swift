// PTuningOptions.swift — `peft train --method p-tuning`: P-tuning's flags, PEFT's
// `PromptEncoderConfig` fields.

import ArgumentParser
import PEFT

/// P-tuning's own flags; `--num-virtual-tokens` and `--encoder-hidden-size` are shared by the
/// prompt methods (`PromptOptions`).
struct PTuningOptions: ParsableArguments {
    @Option(help: "P-tuning: the prompt encoder, mlp or lstm (encoder_reparameterization_type).")
    var encoderReparameterizationType = "mlp"
    @Option(help: "P-tuning: the LSTM's layers (encoder_num_layers; the MLP always has three linear layers).")
    var encoderNumLayers = 2
    @Option(help: "P-tuning: dropout between the LSTM's layers while training (encoder_dropout).")
    var encoderDropout = 0.0

    /// `--method p-tuning`.
    func config(numVirtualTokens: Int, encoderHiddenSize: Int?) throws -> PromptEncoderConfig {
        guard let type = PromptEncoderReparameterizationType(name: encoderReparameterizationType) else {
            throw ValidationError("--encoder-reparameterization-type must be mlp or lstm, "
                + "not \(encoderReparameterizationType)")
        }
        return PromptEncoderConfig(numVirtualTokens: numVirtualTokens, encoderReparameterizationType: type,
                                   encoderHiddenSize: encoderHiddenSize, encoderNumLayers: encoderNumLayers,
                                   encoderDropout: encoderDropout)
    }
}
