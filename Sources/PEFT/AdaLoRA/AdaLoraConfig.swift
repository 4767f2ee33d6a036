// AdaLoraConfig.swift — AdaLoRA's settings with PEFT's names and defaults (`peft.AdaLoraConfig`,
// a subclass of `LoraConfig`), Zhang et al. 2023, "Adaptive Budget Allocation for
// Parameter-Efficient Fine-Tuning".
//
// Every adapted matrix starts with `init_r` singular triplets (A row, E value, B column). A rank
// allocator scores the triplets while training and zeroes the singular values of the weakest,
// shrinking the total budget from `init_r`·n to `target_r`·n on a cubic schedule:
//   steps 0…tinit: warm-up, no pruning;  tinit…T−tfinal: budgeting;  after T−tfinal: fixed ranks.

import Foundation
import Llama
import SafeTensors

/// PEFT's `AdaLoraConfig`, field for field (Swift names; the JSON keys are PEFT's).
public struct AdaLoraConfig: PeftConfig, Equatable {
    public static let peftType = PeftType.adalora

    /// `lora_alpha`, `lora_dropout`, `target_modules`, `layers_to_transform`, `bias`: the fields
    /// shared with LoRA. The update is scaled by lora_alpha / (init_r + 1e-5).
    public var shared = LoraSharedSettings()
    /// `init_r`: the triplets every adapted matrix starts with. Default 12.
    public var initR = 12
    /// `target_r`: the average triplets per matrix left at the end. Default 8.
    public var targetR = 8
    /// `tinit`: warm-up steps before any pruning. Default 0.
    public var tinit = 0
    /// `tfinal`: final steps that train with the ranks fixed. Default 0.
    public var tfinal = 0
    /// `deltaT`: prune every deltaT steps during budgeting. Default 1.
    public var deltaT = 1
    /// `beta1`: the EMA factor of the sensitivity Ī. Default 0.85.
    public var beta1: Double = 0.85
    /// `beta2`: the EMA factor of the uncertainty U. Default 0.85.
    public var beta2: Double = 0.85
    /// `orth_reg_weight`: the weight of the orthogonality penalty added to the loss. Default 0.5.
    public var orthRegWeight: Double = 0.5
    /// `total_step`: the training steps the budget schedule spans (required).
    public var totalStep: Int? = nil
    /// `rank_pattern`: which of the `init_r` triplets each matrix keeps, set by the allocator, keyed
    /// like `model.layers.0.self_attn.q_proj.lora_E`; nil until the first pruning.
    public var rankPattern: [String: [Bool]]? = nil
    /// `init_lora_weights`: true (PEFT's start: E = 0, A and B ~ N(0, 0.02²), so the adapted model
    /// equals the base) or false (A, E, B ~ N(0, 1), as `torch.randn`). Default true.
    public var initLoraWeights = true
    /// `base_model_name_or_path`, written to the adapter file for the reader's information.
    public var baseModelNameOrPath: String? = nil

    public init(initR: Int = 12, targetR: Int = 8, tinit: Int = 0, tfinal: Int = 0, deltaT: Int = 1,
                beta1: Double = 0.85, beta2: Double = 0.85, orthRegWeight: Double = 0.5, totalStep: Int? = nil,
                rankPattern: [String: [Bool]]? = nil, loraAlpha: Double = 8, loraDropout: Float = 0,
                targetModules: TargetModules = .names(["q_proj", "v_proj"]), layersToTransform: [Int]? = nil,
                initLoraWeights: Bool = true) {
        self.initR = initR; self.targetR = targetR; self.tinit = tinit; self.tfinal = tfinal; self.deltaT = deltaT
        self.beta1 = beta1; self.beta2 = beta2; self.orthRegWeight = orthRegWeight; self.totalStep = totalStep
        self.rankPattern = rankPattern; self.initLoraWeights = initLoraWeights
        shared = LoraSharedSettings(loraAlpha: loraAlpha, loraDropout: loraDropout, targetModules: targetModules,
                                    layersToTransform: layersToTransform)
    }

    /// `lora_alpha`.
    public var loraAlpha: Double { get { shared.loraAlpha } set { shared.loraAlpha = newValue } }
    /// `lora_dropout`.
    public var loraDropout: Float { get { shared.loraDropout } set { shared.loraDropout = newValue } }
    /// `target_modules`.
    public var targetModules: TargetModules { get { shared.targetModules } set { shared.targetModules = newValue } }
    /// `layers_to_transform`.
    public var layersToTransform: [Int]? {
        get { shared.layersToTransform }
        set { shared.layersToTransform = newValue }
    }

    /// The update's scale, as PEFT computes it in float32: lora_alpha / (ranknum + 1e-5), ranknum = init_r.
    public var scaling: Float { Float(loraAlpha) / (Float(initR) + 1e-5) }

    /// The rank-pattern key of a module: `<module>.lora_E`.
    public static func rankPatternKey(_ module: String) -> String { module + ".lora_E" }

    public func validate() throws {
        try shared.validate()
        if initR <= 0 { throw PEFTError("init_r must be a positive integer, got \(initR); try 12 (PEFT's default)") }
        if targetR < 0 { throw PEFTError("target_r must be 0 or more, got \(targetR)") }
        if targetR > initR {
            throw PEFTError("target_r (\(targetR)) is larger than init_r (\(initR)): AdaLoRA only prunes triplets, "
                + "it never adds them; choose target_r ≤ init_r")
        }
        guard let totalStep, totalStep > 0 else {
            let given = totalStep.map(String.init) ?? "None"
            throw PEFTError("AdaLoRA does not work when total_step is \(given): the budget "
                + "schedule needs the number of training steps; supply a value > 0 (peft train takes it from --steps)")
        }
        if tinit < 0 || tfinal < 0 { throw PEFTError("tinit and tfinal must be 0 or more, got \(tinit) and \(tfinal)") }
        if tinit >= totalStep - tfinal {
            throw PEFTError("tinit (\(tinit)) + tfinal (\(tfinal)) must be less than total_step (\(totalStep)): the "
                + "schedule leaves no budgeting phase; decrease tfinal/tinit or increase total_step")
        }
        if deltaT <= 0 { throw PEFTError("deltaT must be a positive number of steps, got \(deltaT)") }
        for (name, beta) in [("beta1", beta1), ("beta2", beta2)] where !(beta > 0 && beta < 1) {
            throw PEFTError("\(name) must be in (0, 1), got \(beta); PEFT's default is 0.85")
        }
        if !(orthRegWeight > 0) {
            throw PEFTError("orth_reg_weight should be greater than 0, got \(orthRegWeight); PEFT's default is 0.5")
        }
        for (key, kept) in rankPattern ?? [:] where kept.count != initR {
            throw PEFTError("rank_pattern['\(key)'] has \(kept.count) entries but init_r is \(initR): a rank pattern "
                + "says for each of the init_r triplets whether it is kept")
        }
    }

    public func makeTuner(wrapping model: LlamaModel, context: TunerContext) throws -> any Tuner {
        try AdaLoraModel(wrapping: model, config: self, generator: context.generator)
    }

    public func loadTuner(onto model: LlamaModel, weights: SafeTensorsFile, folder: URL) throws -> any Tuner {
        try AdaLoraModel.load(self, weights: weights, file: folder.appendingPathComponent(AdapterFolder.weightsName),
                              onto: model)
    }

    // MARK: adapter_config.json

    enum CodingKeys: String, CodingKey, CaseIterable {
        case initR = "init_r", targetR = "target_r", tinit, tfinal, deltaT, beta1, beta2
        case orthRegWeight = "orth_reg_weight", totalStep = "total_step", rankPattern = "rank_pattern"
        case initLoraWeights = "init_lora_weights", useDora = "use_dora"
    }

    public static let fileKeys = Set(CodingKeys.allCases.map(\.rawValue)).union(LoraSharedSettings.fileKeys)

    /// Keys PEFT writes that do not change what an AdaLoRA computes (its `r` is ignored: `init_r` is the rank).
    public static let ignoredKeys = LoraConfig.ignoredKeys.union(["r", "alpha_pattern", "use_rslora"])

    public init(from decoder: Decoder) throws {
        self.init()
        shared = try LoraSharedSettings(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.update(&initR, .initR)
        try c.update(&targetR, .targetR)
        try c.update(&tinit, .tinit)
        try c.update(&tfinal, .tfinal)
        try c.update(&deltaT, .deltaT)
        try c.update(&beta1, .beta1)
        try c.update(&beta2, .beta2)
        try c.update(&orthRegWeight, .orthRegWeight)
        try c.update(&totalStep, .totalStep)
        try c.update(&rankPattern, .rankPattern)
        if let flag = try? c.decodeIfPresent(Bool.self, forKey: .initLoraWeights) {
            initLoraWeights = flag
        } else if try c.decodeIfPresent(String.self, forKey: .initLoraWeights) != nil {
            initLoraWeights = true  // PEFT tests the value's truth: any named initialisation means its own start
        }
        if try c.decodeIfPresent(Bool.self, forKey: .useDora) == true {
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.useDora],
                                                    debugDescription: "ADALORA does not support DoRA; set it to false"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        try shared.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(initR, forKey: .initR)
        try c.encode(targetR, forKey: .targetR)
        try c.encode(tinit, forKey: .tinit)
        try c.encode(tfinal, forKey: .tfinal)
        try c.encode(deltaT, forKey: .deltaT)
        try c.encode(beta1, forKey: .beta1)
        try c.encode(beta2, forKey: .beta2)
        try c.encode(orthRegWeight, forKey: .orthRegWeight)
        try c.encode(totalStep, forKey: .totalStep)
        try c.encode(rankPattern, forKey: .rankPattern)
        try c.encode(initLoraWeights, forKey: .initLoraWeights)
        try c.encode(false, forKey: .useDora)
    }
}
