// PromptMethods.swift — the prompt-learning methods as `Method`s with the learning-rate grids that
// suit them, shared by every lesson that runs them (lesson-soft-prompts, lesson-prompt-tuning,
// lesson-overview), so that the same setting has the same tuning key everywhere and a committed
// sweep can be reused.

import PEFT

extension Method {
    /// AdamW moves every value by about the learning rate per step, so a raw table's rate is set by the
    /// scale it starts at: tables drawn from N(0, 1) (P-tuning v2, prompt tuning's RANDOM start) take
    /// large steps, as Lester et al.'s 0.3; tables copied from the token embeddings (values of a few
    /// hundredths here) and the networks of prefix tuning and P-tuning take `promptRates`.
    public static let tableRates: [Float] = [1e-2, 3e-2, 1e-1, 3e-1]

    /// Prompt tuning with n virtual tokens; by default initialised from sampled vocabulary rows
    /// (Lester's second best, and the one that needs no wording).
    public static func promptTuning(_ base: BaseModel, n: Int, initialisation: PromptTuningInit = .sampleVocab,
                                    text: String? = nil, label: String? = nil) -> Method {
        let config = PromptTuningConfig(numVirtualTokens: n, promptTuningInit: initialisation,
                                        promptTuningInitText: text)
        let what = text.map { "TEXT '\($0)'" } ?? initialisation.rawValue
        let random = initialisation == .random
        return .peft(label ?? "prompt tuning", base, config, key: "prompt tuning n=\(n) \(what)",
                     learningRates: random ? tableRates : promptRates, defaultLearningRate: random ? 1e-1 : 3e-2)
    }

    /// Prefix tuning with PEFT's projection (Embedding → Linear → tanh → Linear) over n virtual tokens.
    public static func prefixTuning(_ base: BaseModel, n: Int) -> Method {
        .peft("prefix tuning", base, PrefixTuningConfig(numVirtualTokens: n, prefixProjection: true),
              key: "prefix tuning n=\(n) projection", learningRates: promptRates, defaultLearningRate: 1e-2)
    }

    /// P-tuning with the MLP or LSTM prompt encoder over n virtual tokens.
    public static func pTuning(_ base: BaseModel, n: Int, _ type: PromptEncoderReparameterizationType) -> Method {
        .peft("P-tuning (\(type.rawValue))", base,
              PromptEncoderConfig(numVirtualTokens: n, encoderReparameterizationType: type),
              key: "p-tuning n=\(n) \(type.rawValue)", learningRates: promptRates, defaultLearningRate: 1e-2)
    }

    /// P-tuning v2 (deep prompts): in PEFT, prefix tuning without the projection.
    public static func pTuningV2(_ base: BaseModel, n: Int) -> Method {
        .peft("P-tuning v2", base, PrefixTuningConfig.pTuningV2(numVirtualTokens: n), key: "p-tuning v2 n=\(n)",
              learningRates: tableRates, defaultLearningRate: 1e-1)
    }
}
