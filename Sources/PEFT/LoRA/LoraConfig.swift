// LoraConfig.swift — LoRA's settings with PEFT's names and defaults (`peft.LoraConfig`).

import Foundation
import Llama
import SafeTensors

/// How the adapter weights start: PEFT's `init_lora_weights` (true, false or a method's name).
public enum LoraInit: String, Sendable, Codable {
    /// `true`: A ~ Kaiming-uniform (U(−1/√in, 1/√in)), B = 0 — the adapted model equals the base.
    case standard = "true"
    /// `"gaussian"`: A ~ N(0, (1/r)²), B = 0.
    case gaussian
    /// `"pissa"`: A and B from the top-r singular triplets of W; W keeps the residual.
    case pissa
    /// `false`: A and B both random (for tests: the adapter changes the output from the start).
    case random = "false"

    /// From a command-line word: true, false, gaussian or pissa.
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let flag = try? c.decode(Bool.self) { self = flag ? .standard : .random; return }
        let name = try c.decode(String.self)
        guard let value = LoraInit(rawValue: name.lowercased()), value != .standard, value != .random else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription:
                "init_lora_weights '\(name)' is not supported here (true, false, \"gaussian\" or \"pissa\")"))
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .standard: try c.encode(true)
        case .random: try c.encode(false)
        case .gaussian, .pissa: try c.encode(rawValue)
        }
    }
}

/// PEFT's `LoraConfig`, field for field (Swift names; the JSON keys are PEFT's snake_case).
public struct LoraConfig: PeftConfig, Equatable {
    public static let peftType = PeftType.lora

    /// `r`: the rank of the update B·A. Default 8.
    public var r = 8
    /// `lora_alpha`, `lora_dropout`, `target_modules`, `layers_to_transform`, `bias`: the fields
    /// AdaLoRA shares (the update is scaled by alpha / r, or alpha / √r with rsLoRA).
    public var shared = LoraSharedSettings()
    /// `rank_pattern`: per-module rank, keyed by a name suffix or regex.
    public var rankPattern: [String: Int] = [:]
    /// `alpha_pattern`: per-module alpha, keyed like `rank_pattern`.
    public var alphaPattern: [String: Double] = [:]
    /// `use_rslora`: scale by alpha / √r (rank-stabilised LoRA). Default false.
    public var useRslora = false
    /// `init_lora_weights`. Default true (B = 0).
    public var initLoraWeights = LoraInit.standard
    /// `use_dora`: weight-decomposed LoRA (a learned magnitude per output row). Default false.
    public var useDora = false
    /// `base_model_name_or_path`, written to the adapter file for the reader's information.
    public var baseModelNameOrPath: String? = nil

    public init(r: Int = 8, loraAlpha: Double = 8, loraDropout: Float = 0,
                targetModules: TargetModules = .names(["q_proj", "v_proj"]), layersToTransform: [Int]? = nil,
                rankPattern: [String: Int] = [:], alphaPattern: [String: Double] = [:], useRslora: Bool = false,
                initLoraWeights: LoraInit = .standard, useDora: Bool = false) {
        self.r = r
        self.shared = LoraSharedSettings(loraAlpha: loraAlpha, loraDropout: loraDropout, targetModules: targetModules,
                                         layersToTransform: layersToTransform)
        self.rankPattern = rankPattern; self.alphaPattern = alphaPattern
        self.useRslora = useRslora; self.initLoraWeights = initLoraWeights; self.useDora = useDora
    }

    /// `lora_alpha`: the update is scaled by alpha / r (or alpha / √r with rsLoRA). Default 8.
    public var loraAlpha: Double { get { shared.loraAlpha } set { shared.loraAlpha = newValue } }
    /// `lora_dropout`: dropout on the adapter's input while training. Default 0.
    public var loraDropout: Float { get { shared.loraDropout } set { shared.loraDropout = newValue } }
    /// `target_modules`: which linear layers get an adapter. Default for LLaMA: q_proj and v_proj.
    public var targetModules: TargetModules { get { shared.targetModules } set { shared.targetModules = newValue } }
    /// `layers_to_transform`: only these layer indices (nil: all).
    public var layersToTransform: [Int]? {
        get { shared.layersToTransform }
        set { shared.layersToTransform = newValue }
    }
    /// `bias`: which biases train; only "none" is supported.
    public var bias: String { get { shared.bias } set { shared.bias = newValue } }

    /// The rank and alpha of one module, after `rank_pattern` / `alpha_pattern`.
    public func rankAndAlpha(for module: String) -> (r: Int, alpha: Double) {
        (patternValue(rankPattern, module) ?? r, patternValue(alphaPattern, module) ?? loraAlpha)
    }

    /// The update's scale: alpha / r, or alpha / √r with rsLoRA.
    public func scaling(r: Int, alpha: Double) -> Float {
        Float(useRslora ? alpha / Double(r).squareRoot() : alpha / Double(r))
    }

    public func validate() throws {
        if r <= 0 { throw PEFTError("r must be a positive integer, got \(r)") }
        if let bad = rankPattern.first(where: { $0.value <= 0 }) {
            throw PEFTError("rank_pattern['\(bad.key)'] must be positive, got \(bad.value)")
        }
        try shared.validate()
        if useDora && initLoraWeights == .pissa {
            throw PEFTError("use_dora with init_lora_weights \"pissa\" is not supported")
        }
    }

    public func makeTuner(wrapping model: LlamaModel, context: TunerContext) throws -> any Tuner {
        try LoraModel(wrapping: model, config: self, generator: context.generator)
    }

    public func loadTuner(onto model: LlamaModel, weights: SafeTensorsFile, folder: URL) throws -> any Tuner {
        try LoraModel.load(self, weights: weights, file: folder.appendingPathComponent(AdapterFolder.weightsName),
                           onto: model)
    }

    // MARK: adapter_config.json

    enum CodingKeys: String, CodingKey, CaseIterable {
        case r, rankPattern = "rank_pattern", alphaPattern = "alpha_pattern"
        case useRslora = "use_rslora", initLoraWeights = "init_lora_weights", useDora = "use_dora"
    }

    public static let fileKeys = Set(CodingKeys.allCases.map(\.rawValue)).union(LoraSharedSettings.fileKeys)

    /// Keys PEFT writes that do not change what a LoRA computes here.
    public static let ignoredKeys: Set<String> = [
        "fan_in_fan_out", "layers_pattern", "megatron_config", "megatron_core", "loftq_config",
        "layer_replication", "exclude_modules", "lora_bias", "use_qalora", "qalora_group_size", "target_parameters",
        "trainable_token_indices", "eva_config", "corda_config", "alora_invocation_tokens", "arrow_config",
        "ensure_weight_tying", "kasa_config", "lora_ga_config", "monteclora_config", "use_bdlora", "velora_config",
    ]

    public init(from decoder: Decoder) throws {
        self.init()
        shared = try LoraSharedSettings(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.update(&r, .r)
        try c.update(&rankPattern, .rankPattern)
        try c.update(&alphaPattern, .alphaPattern)
        try c.update(&useRslora, .useRslora)
        try c.update(&initLoraWeights, .initLoraWeights)
        try c.update(&useDora, .useDora)
    }

    public func encode(to encoder: Encoder) throws {
        try shared.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(r, forKey: .r)
        try c.encode(rankPattern, forKey: .rankPattern)
        try c.encode(alphaPattern, forKey: .alphaPattern)
        try c.encode(useRslora, forKey: .useRslora)
        try c.encode(initLoraWeights, forKey: .initLoraWeights)
        try c.encode(useDora, forKey: .useDora)
    }
}
