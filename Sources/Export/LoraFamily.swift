// LoraFamily.swift — the LoRA fields of any config in the LoRA family, read from adapter_config.json's
// keys (LoRA, and the fields AdaLoRA shares with it). LLaMA-Factory and ms-swift offer these methods
// only, so their exports start here; the prompt methods have no key in either.

import Foundation
import PEFT

/// What LLaMA-Factory's and ms-swift's LoRA options can say, read from a config's fields.
struct LoraFamilyFields {
    var r: Int?
    var loraAlpha: Double
    var loraDropout: Double
    /// target_modules: names, or one string (a regular expression, or "all-linear").
    var targetNames: [String]?
    var targetPattern: String?
    var layersToTransform: JSONValue?
    var rankPattern: JSONValue?
    var alphaPattern: JSONValue?
    var useRslora: Bool
    var useDora: Bool
    /// init_lora_weights: true, false, "gaussian", "pissa".
    var initLoraWeights: JSONValue?

    /// The fields of `fields`, or nil when the method is not in the LoRA family.
    init?(_ fields: ConfigFields) {
        guard [.lora, .adalora].contains(fields.peftType) else { return nil }
        func number(_ key: String, _ fallback: Double) -> Double {
            switch fields[key] {
            case .integer(let i)?: Double(i)
            case .number(let d)?: d
            default: fallback
            }
        }
        if case .integer(let rank)? = fields["r"] { r = rank }
        loraAlpha = number("lora_alpha", 8)
        loraDropout = number("lora_dropout", 0)
        switch fields["target_modules"] {
        case .array(let names)?: targetNames = names.compactMap { if case .string(let s) = $0 { s } else { nil } }
        case .string(let pattern)?: targetPattern = pattern
        default: targetNames = ["q_proj", "v_proj"]
        }
        layersToTransform = fields["layers_to_transform"]
        rankPattern = fields["rank_pattern"]
        alphaPattern = fields["alpha_pattern"]
        useRslora = fields["use_rslora"] == .bool(true)
        useDora = fields["use_dora"] == .bool(true)
        initLoraWeights = fields["init_lora_weights"]
    }

    /// A pattern dict that holds something (PEFT's per-module ranks or alphas).
    static func holdsEntries(_ value: JSONValue?) -> Bool {
        if case .object(let o)? = value { return !o.isEmpty }
        return false
    }

    /// init_lora_weights as a word: "true", "false", "gaussian", "pissa".
    var initialization: String {
        switch initLoraWeights {
        case .bool(let b)?: b ? "true" : "false"
        case .string(let s)?: s
        default: "true"
        }
    }

    /// Problems any framework without per-module patterns or layer selection has with these fields.
    func patternProblems(_ framework: String) -> [String] {
        var problems: [String] = []
        if let layers = layersToTransform {
            problems.append("layers_to_transform \(layers.python) has no \(framework) option (it adapts every layer)")
        }
        if LoraFamilyFields.holdsEntries(rankPattern) {
            problems.append("rank_pattern \(rankPattern?.python ?? "") (ranks per module) has no \(framework) option")
        }
        if LoraFamilyFields.holdsEntries(alphaPattern) {
            problems.append("alpha_pattern \(alphaPattern?.python ?? "") (alphas per module) has no \(framework) "
                + "option")
        }
        return problems
    }
}

/// `d` as a number for a YAML file PyYAML reads as a float ("0.002", "1.0e-8": PyYAML's YAML 1.1 needs
/// a dot in the mantissa and a sign in the exponent, or it reads a string).
func yamlFloat(_ d: Double) -> String {
    let text = pythonFloat(d)
    guard let e = text.firstIndex(of: "e") else { return text }
    var mantissa = String(text[..<e]), exponent = String(text[text.index(after: e)...])
    if !mantissa.contains(".") { mantissa += ".0" }
    if !exponent.hasPrefix("-") && !exponent.hasPrefix("+") { exponent = "+" + exponent }
    if let digits = Int(exponent.dropFirst()) { exponent = String(exponent.prefix(1)) + String(digits) }
    return mantissa + "e" + exponent
}

/// `d` as a command-line or YAML integer when it is one ("16"), else as a float ("12.5").
func compactNumber(_ d: Double) -> String {
    d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : pythonFloat(d)
}
