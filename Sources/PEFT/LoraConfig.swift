// LoraConfig.swift — LoRA's settings with PEFT's names and defaults, and adapter_config.json.

import Foundation
import SafeTensors

/// Which modules to adapt: PEFT's `target_modules`.
public enum TargetModules: Equatable, Sendable {
    /// A list: a module matches when its full name equals an entry or ends with "." + entry.
    case names([String])
    /// A single string: a regular expression that must match the whole module name.
    case regex(String)
    /// Every linear layer except the output head (`lm_head`).
    case allLinear
}

/// How the adapter weights start: PEFT's `init_lora_weights`.
public enum LoraInit: String, Sendable {
    /// `true`: A ~ Kaiming-uniform (U(−1/√in, 1/√in)), B = 0 — the adapted model equals the base.
    case standard = "true"
    /// `"gaussian"`: A ~ N(0, (1/r)²), B = 0.
    case gaussian
    /// `"pissa"`: A and B from the top-r singular triplets of W; W keeps the residual.
    case pissa
    /// `false`: A and B both random (for tests: the adapter changes the output from the start).
    case random = "false"
}

/// PEFT's `LoraConfig`, field for field (Swift names; the JSON keys are PEFT's snake_case).
public struct LoraConfig: Equatable, Sendable {
    /// `r`: the rank of the update B·A. Default 8.
    public var r: Int = 8
    /// `lora_alpha`: the update is scaled by alpha / r (or alpha / √r with rsLoRA). Default 8.
    public var loraAlpha: Double = 8
    /// `lora_dropout`: dropout on the adapter's input. Default 0.
    public var loraDropout: Float = 0
    /// `target_modules`: default for LLaMA: q_proj and v_proj.
    public var targetModules: TargetModules = .names(["q_proj", "v_proj"])
    /// `layers_to_transform`: only these layer indices (nil: all).
    public var layersToTransform: [Int]? = nil
    /// `rank_pattern`: per-module rank, keyed by a name suffix or regex.
    public var rankPattern: [String: Int] = [:]
    /// `alpha_pattern`: per-module alpha, keyed like `rank_pattern`.
    public var alphaPattern: [String: Double] = [:]
    /// `use_rslora`: scale by alpha / √r (rank-stabilised LoRA). Default false.
    public var useRslora = false
    /// `init_lora_weights`. Default `.standard` (B = 0).
    public var initLoraWeights: LoraInit = .standard
    /// `use_dora`: weight-decomposed LoRA (a learned magnitude per output row). Default false.
    public var useDora = false
    /// `bias`: only "none" is supported (LLaMA has no biases).
    public var bias = "none"
    /// `base_model_name_or_path`, written to the adapter file for the reader's information.
    public var baseModelNameOrPath: String? = nil

    public init(r: Int = 8, loraAlpha: Double = 8, loraDropout: Float = 0, targetModules: TargetModules = .names(["q_proj", "v_proj"]),
                layersToTransform: [Int]? = nil, rankPattern: [String: Int] = [:], alphaPattern: [String: Double] = [:],
                useRslora: Bool = false, initLoraWeights: LoraInit = .standard, useDora: Bool = false) {
        self.r = r; self.loraAlpha = loraAlpha; self.loraDropout = loraDropout; self.targetModules = targetModules
        self.layersToTransform = layersToTransform; self.rankPattern = rankPattern; self.alphaPattern = alphaPattern
        self.useRslora = useRslora; self.initLoraWeights = initLoraWeights; self.useDora = useDora
    }

    /// The rank and alpha of one module, after `rank_pattern` / `alpha_pattern`.
    public func rankAndAlpha(for module: String) -> (r: Int, alpha: Double) {
        (patternValue(rankPattern, module) ?? r, patternValue(alphaPattern, module) ?? loraAlpha)
    }

    /// alpha / r, or alpha / √r with rsLoRA.
    public func scaling(r: Int, alpha: Double) -> Float {
        Float(useRslora ? alpha / Double(r).squareRoot() : alpha / Double(r))
    }

    /// Impossible settings, as errors.
    public func validate() throws {
        if r <= 0 { throw PEFTError("r must be a positive integer, got \(r)") }
        if let bad = rankPattern.first(where: { $0.value <= 0 }) { throw PEFTError("rank_pattern['\(bad.key)'] must be positive, got \(bad.value)") }
        if !(loraDropout >= 0 && loraDropout < 1) { throw PEFTError("lora_dropout must be in [0, 1), got \(loraDropout)") }
        if !loraAlpha.isFinite || loraAlpha <= 0 { throw PEFTError("lora_alpha must be positive, got \(loraAlpha)") }
        if bias != "none" { throw PEFTError("bias '\(bias)' is not supported: LLaMA layers have no bias; use \"none\"") }
        if case .names(let n) = targetModules, n.isEmpty { throw PEFTError("target_modules is empty; name at least one module, e.g. [\"q_proj\", \"v_proj\"]") }
        if useDora && initLoraWeights == .pissa { throw PEFTError("use_dora with init_lora_weights \"pissa\" is not supported") }
    }

    // MARK: adapter_config.json

    /// The JSON PEFT writes (keys sorted, indent 2).
    public func json() -> String {
        func str(_ s: String) -> String { "\"\(s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\"" }
        func dict<V>(_ d: [String: V], _ f: (V) -> String) -> String {
            d.isEmpty ? "{}" : "{\n" + d.keys.sorted().map { "    \(str($0)): \(f(d[$0]!))" }.joined(separator: ",\n") + "\n  }"
        }
        let targets: String
        switch targetModules {
        case .names(let n): targets = "[\n" + n.sorted().map { "    " + str($0) }.joined(separator: ",\n") + "\n  ]"
        case .regex(let r): targets = str(r)
        case .allLinear: targets = str("all-linear")
        }
        let initValue = initLoraWeights == .standard ? "true" : initLoraWeights == .random ? "false" : str(initLoraWeights.rawValue)
        let fields: [(String, String)] = [
            ("alpha_pattern", dict(alphaPattern) { numberText($0) }), ("auto_mapping", "null"),
            ("base_model_name_or_path", baseModelNameOrPath.map(str) ?? "null"), ("bias", str(bias)),
            ("fan_in_fan_out", "false"), ("inference_mode", "true"), ("init_lora_weights", initValue),
            ("layers_pattern", "null"), ("layers_to_transform", layersToTransform.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" } ?? "null"),
            ("lora_alpha", numberText(loraAlpha)), ("lora_dropout", numberText(Double(loraDropout))),
            ("modules_to_save", "null"), ("peft_type", str("LORA")), ("r", "\(r)"),
            ("rank_pattern", dict(rankPattern) { "\($0)" }), ("revision", "null"), ("target_modules", targets),
            ("task_type", str("CAUSAL_LM")), ("use_dora", "\(useDora)"), ("use_rslora", "\(useRslora)"),
        ]
        return "{\n" + fields.map { "  \(str($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    /// Keys PEFT writes that do not change what a LoRA computes here.
    static let ignorable: Set<String> = [
        "auto_mapping", "base_model_name_or_path", "inference_mode", "task_type", "revision", "peft_version", "fan_in_fan_out",
        "layers_pattern", "modules_to_save", "megatron_config", "megatron_core", "loftq_config", "layer_replication",
        "exclude_modules", "lora_bias", "use_qalora", "qalora_group_size", "target_parameters", "trainable_token_indices",
        "eva_config", "corda_config", "alora_invocation_tokens", "arrow_config", "ensure_weight_tying", "kasa_config",
        "lora_ga_config", "monteclora_config", "use_bdlora", "velora_config",
    ]

    /// Reads `adapter_config.json`; only `peft_type` is required, unknown keys are ignored with a warning.
    public static func load(contentsOf url: URL, warn: (String) -> Void = { printWarning($0) }) throws -> LoraConfig {
        func fail(_ p: String) -> FileFormatError { FileFormatError(file: url.path, problem: p) }
        guard FileManager.default.fileExists(atPath: url.path) else { throw fail("no such file: an adapter folder needs adapter_config.json") }
        guard let json = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any] else { throw fail("not a valid JSON object") }
        guard let type = json["peft_type"] as? String else { throw fail("no peft_type: not a PEFT adapter config") }
        guard type == "LORA" else { throw fail("peft_type is \(type); this loader reads LoRA adapters (peft_type LORA)") }
        var c = LoraConfig()
        if let v = json["r"] { guard let n = v as? Int else { throw fail("r must be an integer") }; c.r = n }
        if let v = json["lora_alpha"] { guard let n = v as? NSNumber else { throw fail("lora_alpha must be a number") }; c.loraAlpha = n.doubleValue }
        if let v = json["lora_dropout"] as? NSNumber { c.loraDropout = v.floatValue }
        if let v = json["use_rslora"] as? Bool { c.useRslora = v }
        if let v = json["use_dora"] as? Bool { c.useDora = v }
        if let v = json["bias"] as? String { c.bias = v }
        if let v = json["base_model_name_or_path"] as? String { c.baseModelNameOrPath = v }
        switch json["target_modules"] {
        case let list as [String]: c.targetModules = .names(list)
        case let s as String: c.targetModules = s == "all-linear" ? .allLinear : .regex(s)
        case nil, is NSNull: break
        default: throw fail("target_modules must be a list of names or a string")
        }
        switch json["layers_to_transform"] {
        case let n as Int: c.layersToTransform = [n]
        case let list as [Int]: c.layersToTransform = list
        default: break
        }
        if let p = json["rank_pattern"] as? [String: Int] { c.rankPattern = p }
        if let p = json["alpha_pattern"] as? [String: NSNumber] { c.alphaPattern = p.mapValues(\.doubleValue) }
        switch json["init_lora_weights"] {
        case let b as Bool: c.initLoraWeights = b ? .standard : .random
        case let s as String: guard let i = LoraInit(rawValue: s.lowercased()) else { throw fail("init_lora_weights '\(s)' is not supported") }; c.initLoraWeights = i
        default: break
        }
        let known: Set<String> = ["peft_type", "r", "lora_alpha", "lora_dropout", "use_rslora", "use_dora", "bias", "target_modules",
                                  "layers_to_transform", "rank_pattern", "alpha_pattern", "init_lora_weights"]
        let unknown = json.keys.filter { !known.contains($0) && !ignorable.contains($0) }.sorted()
        if !unknown.isEmpty { warn("warning: \(url.path): ignoring unknown keys \(unknown.joined(separator: ", "))") }
        do { try c.validate() } catch let e as PEFTError { throw fail(e.description) }
        return c
    }
}

/// The value of the first pattern key that matches `module` (PEFT: `(.*\.)?key$`).
func patternValue<V>(_ pattern: [String: V], _ module: String) -> V? {
    for key in pattern.keys.sorted() {
        if module == key || module.hasSuffix("." + key) { return pattern[key] }
        if let re = try? NSRegularExpression(pattern: "^(.*\\.)?(\(key))$"),
           re.firstMatch(in: module, range: NSRange(module.startIndex..., in: module)) != nil { return pattern[key] }
    }
    return nil
}

func numberText(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)" }

/// A PEFT usage error, with what was asked and how to fix it.
public struct PEFTError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public func printWarning(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
