// ConfigFields.swift — any method's adapter_config.json as the fields a training run starts from,
// and those fields as Python literals. The export never asks which method it holds: it reads the
// config the way adapter_config.json writes it.

import Foundation
import PEFT
import SafeTensors

/// A JSON value, decoded without Foundation's number/boolean ambiguity.
public indirect enum JSONValue: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if
            let i = try? c.decode(Int.self) { self = .integer(i) } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) { self = .string(s) } else if
            let a = try? c.decode([JSONValue].self) { self = .array(a) } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// The value as Python source: True/False/None, ints, floats, JSON-escaped strings (valid Python
    /// literals), lists and dicts with sorted keys.
    public var python: String {
        switch self {
        case .null: "None"
        case .bool(let b): b ? "True" : "False"
        case .integer(let i): String(i)
        case .number(let d): pythonFloat(d)
        case .string(let s): jsonString(s)
        case .array(let a): "[" + a.map(\.python).joined(separator: ", ") + "]"
        case .object(let o):
            "{" + o.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)): \($0.value.python)" }
                .joined(separator: ", ") + "}"
        }
    }
}

/// `d` as a Python float literal: "0.002", "1e-08", "16.0" (`float("inf")` for the non-finite).
func pythonFloat(_ d: Double) -> String {
    guard d.isFinite else { return "float(\"\(d)\")" }
    let text = "\(d)"
    return text.contains(".") || text.contains("e") ? text : text + ".0"
}

/// A method's settings as adapter_config.json holds them, minus what training or the model fills in.
public struct ConfigFields: Sendable {
    /// The `peft_type`.
    public var peftType: PeftType
    /// The fields, by PEFT's names, sorted.
    public var fields: [(key: String, value: JSONValue)]

    /// Keys every adapter file holds that are not the method's settings (the Python side sets them itself).
    static let bookkeeping: Set<String> = [
        "peft_type", "task_type", "base_model_name_or_path", "inference_mode", "revision", "auto_mapping",
        "peft_version", "modules_to_save",
    ]

    /// Keys a run produces rather than starts from, by method: the model's sizes that `get_peft_model` fills in
    /// for prompt methods, and the ranks AdaLoRA's allocator kept (a fresh run starts with all of them).
    static func produced(by type: PeftType) -> Set<String> {
        switch type {
        case .adalora: ["rank_pattern"]
        case .promptTuning, .prefixTuning, .pTuning, .multitaskPromptTuning:
            ["token_dim", "num_transformer_submodules", "num_attention_heads", "num_layers"]
        case .lora: []
        }
    }

    /// The fields of `config`: its adapter_config.json without bookkeeping, produced values and nulls.
    public init(_ config: any PeftConfig) throws {
        peftType = type(of: config).peftType
        let object = try JSONDecoder().decode([String: JSONValue].self, from: AdapterConfigFile.json(config))
        let dropped = ConfigFields.bookkeeping.union(ConfigFields.produced(by: peftType))
        fields = object.filter { !dropped.contains($0.key) && $0.value != .null }.sorted { $0.key < $1.key }
            .map { (key: $0.key, value: $0.value) }
    }

    /// The field `key`, if the config has it.
    public subscript(key: String) -> JSONValue? { fields.first { $0.key == key }?.value }

    /// PEFT's config class for this method.
    public var pythonClass: String {
        switch peftType {
        case .lora: "LoraConfig"
        case .adalora: "AdaLoraConfig"
        case .promptTuning: "PromptTuningConfig"
        case .prefixTuning: "PrefixTuningConfig"
        case .pTuning: "PromptEncoderConfig"
        case .multitaskPromptTuning: "MultitaskPromptTuningConfig"
        }
    }
}
