// PeftConfig.swift — what every method's configuration is, and the registry that turns an
// `adapter_config.json` into the right one by its `peft_type`.
//
// A config is a Codable value with PEFT's field names (snake_case in the file) and defaults. It
// validates itself, wraps a model with fresh adapter weights (`makeTuner`), and puts saved
// weights back onto a model (`loadTuner`). The bookkeeping keys every PEFT adapter file holds —
// `peft_type`, `task_type`, `base_model_name_or_path`, `inference_mode` — are written and read
// here, once for all methods.

import Foundation
import Llama
import SafeTensors
import TensorKit

/// PEFT's `peft_type`: which method an adapter folder holds.
public enum PeftType: String, Codable, Sendable, CaseIterable {
    case lora = "LORA"
    case adalora = "ADALORA"
    case promptTuning = "PROMPT_TUNING"
    case prefixTuning = "PREFIX_TUNING"
    case pTuning = "P_TUNING"
    case multitaskPromptTuning = "MULTITASK_PROMPT_TUNING"
}

/// What a method needs, beyond its config, to build fresh adapter weights.
public struct TunerContext {
    /// Every random choice of the initialisation draws from it.
    public var generator: Generator
    /// The base model's tokenizer, for initialisations from text (prompt tuning's `TEXT`): the ids of
    /// `tokenizer(text)["input_ids"]`, with the special tokens the tokenizer adds (LLaMA's `<s>`).
    public var tokenize: ((String) -> [Int])?

    public init(generator: Generator, tokenize: ((String) -> [Int])? = nil) {
        self.generator = generator
        self.tokenize = tokenize
    }
}

/// A PEFT method's configuration (PEFT's `PeftConfig` subclasses), read from and written to
/// `adapter_config.json` with PEFT's keys.
public protocol PeftConfig: Codable, Sendable {
    /// The `peft_type` this config is written under.
    static var peftType: PeftType { get }
    /// The file keys this config reads (its CodingKeys).
    static var fileKeys: Set<String> { get }
    /// Keys PEFT writes that do not change what the method computes here (no warning for them).
    static var ignoredKeys: Set<String> { get }
    /// `base_model_name_or_path`, written for the reader's information.
    var baseModelNameOrPath: String? { get set }
    /// Throws for settings that cannot work, naming the field and the fix.
    func validate() throws
    /// Wraps `model` with this method's adapter, its weights freshly initialised.
    func makeTuner(wrapping model: LlamaModel, context: TunerContext) throws -> any Tuner
    /// Wraps `model` with this method's adapter and the saved `weights` (adapter_model.safetensors
    /// in `folder`, which may hold more files of the method).
    func loadTuner(onto model: LlamaModel, weights: SafeTensorsFile, folder: URL) throws -> any Tuner
}

extension PeftConfig {
    public static var ignoredKeys: Set<String> { [] }
}

/// The config types by `peft_type`. A new method adds its config here.
public enum PeftRegistry {
    public static let configTypes: [PeftType: any PeftConfig.Type] = [
        .lora: LoraConfig.self,
        .adalora: AdaLoraConfig.self,
        .promptTuning: PromptTuningConfig.self,
        .prefixTuning: PrefixTuningConfig.self,
        .pTuning: PromptEncoderConfig.self,
        .multitaskPromptTuning: MultitaskPromptTuningConfig.self,
    ]

    /// The config type for `type`, or an error naming the methods this project implements.
    public static func configType(for type: PeftType, file: String) throws -> any PeftConfig.Type {
        guard let found = configTypes[type] else {
            let known = configTypes.keys.map(\.rawValue).sorted().joined(separator: ", ")
            throw FileFormatError(file: file,
                                  problem: "peft_type \(type.rawValue) is not implemented here yet (known: \(known))")
        }
        return found
    }
}

/// The keys every PEFT adapter_config.json holds, whatever the method.
enum CommonKey: String, CodingKey, CaseIterable {
    case peftType = "peft_type", taskType = "task_type", baseModelNameOrPath = "base_model_name_or_path"
    case inferenceMode = "inference_mode", revision, autoMapping = "auto_mapping", peftVersion = "peft_version"
    case modulesToSave = "modules_to_save"
}

/// `adapter_config.json`: a method's config plus the common keys.
public enum AdapterConfigFile {
    /// The JSON text PEFT would write: keys sorted, indent 2.
    public static func json(_ config: any PeftConfig) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(Envelope(config: config))
        data.append(0x0A)
        return data
    }

    /// Reads `adapter_config.json`. Only `peft_type` is required; the method's own fields take
    /// PEFT's defaults when absent; unknown keys are ignored with a warning.
    public static func read(contentsOf url: URL,
                            warn: (String) -> Void = printToStandardError) throws -> any PeftConfig {
        func fail(_ problem: String) -> FileFormatError { FileFormatError(file: url.path, problem: problem) }
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw fail("no such file: an adapter folder needs adapter_config.json "
                + "(as PEFT's save_pretrained writes it)")
        }
        guard let data = try? Data(contentsOf: url) else { throw fail("cannot be read") }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("not a valid JSON object")
        }
        guard let typeName = object[CommonKey.peftType.rawValue] as? String else {
            throw fail("no peft_type: not a PEFT adapter config")
        }
        guard let type = PeftType(rawValue: typeName) else {
            let known = PeftType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("peft_type \(typeName) is not a PEFT method this project knows (\(known))")
        }
        let configType = try PeftRegistry.configType(for: type, file: url.path)
        var config: any PeftConfig
        do { config = try JSONDecoder().decode(configType, from: data) } catch let error as DecodingError {
            throw FileFormatError(file: url.path, decoding: error)
        }
        config.baseModelNameOrPath = object[CommonKey.baseModelNameOrPath.rawValue] as? String
        let known = configType.fileKeys.union(CommonKey.allCases.map(\.rawValue)).union(configType.ignoredKeys)
        let unknown = object.keys.filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty { warn("warning: \(url.path): ignoring unknown keys \(unknown.joined(separator: ", "))") }
        do { try config.validate() } catch let error as PEFTError { throw fail(error.description) }
        return config
    }

    /// The config's own keys and the common ones, in one JSON object.
    private struct Envelope: Encodable {
        let config: any PeftConfig
        func encode(to encoder: Encoder) throws {
            try config.encode(to: encoder)
            var c = encoder.container(keyedBy: CommonKey.self)
            try c.encode(type(of: config).peftType, forKey: .peftType)
            try c.encode("CAUSAL_LM", forKey: .taskType)
            try c.encode(config.baseModelNameOrPath, forKey: .baseModelNameOrPath)
            try c.encode(true, forKey: .inferenceMode)
            try c.encodeNil(forKey: .revision)
            try c.encodeNil(forKey: .autoMapping)
            try c.encodeNil(forKey: .modulesToSave)
        }
    }
}

extension KeyedDecodingContainer {
    /// Overwrites `value` with the file's value for `key` when the key is present and not null;
    /// otherwise `value` keeps its default (how PEFT treats a missing field).
    func update<T: Decodable>(_ value: inout T, _ key: Key) throws {
        if let v = try decodeIfPresent(T.self, forKey: key) { value = v }
    }

    /// Like `update`, for an optional field: a present value replaces it, null or absent keep it.
    func update<T: Decodable>(_ value: inout T?, _ key: Key) throws {
        if let v = try decodeIfPresent(T.self, forKey: key) { value = v }
    }
}
