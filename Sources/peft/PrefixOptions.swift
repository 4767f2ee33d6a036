// PrefixOptions.swift — `peft train --method prefix-tuning | p-tuning-v2`: prefix tuning's flags,
// PEFT's `PrefixTuningConfig` fields. P-tuning v2 (deep prompts) is, in PEFT, prefix tuning
// without the projection; it is saved as PREFIX_TUNING.

import ArgumentParser
import PEFT

/// Prefix tuning's own flags; `--num-virtual-tokens` and `--encoder-hidden-size` are shared by
/// the prompt methods (`PromptOptions`).
struct PrefixOptions: ParsableArguments {
    @Flag(help: ArgumentHelp("Prefix tuning: produce the prefix with a two-layer MLP, Linear(kv, h) tanh "
        + "Linear(h, layers·2·kv) (prefix_projection; PEFT's file holds only its output)."))
    var prefixProjection = false

    /// `--method prefix-tuning`.
    func config(numVirtualTokens: Int, encoderHiddenSize: Int?) -> PrefixTuningConfig {
        PrefixTuningConfig(numVirtualTokens: numVirtualTokens, prefixProjection: prefixProjection,
                           encoderHiddenSize: encoderHiddenSize)
    }

    /// `--method p-tuning-v2`: deep prompts, prefix tuning with `prefix_projection` false.
    func pTuningV2Config(numVirtualTokens: Int) throws -> PrefixTuningConfig {
        if prefixProjection {
            throw ValidationError("P-tuning v2 is prefix tuning without the projection: drop --prefix-projection, "
                + "or use --method prefix-tuning --prefix-projection")
        }
        return PrefixTuningConfig.pTuningV2(numVirtualTokens: numVirtualTokens)
    }
}
