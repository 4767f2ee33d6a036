// BitsAndBytesConfig.swift — the `quantization_config` object of a 4-bit `config.json`, as
// transformers' `BitsAndBytesConfig` reads and writes it.
//
// Only 4-bit bitsandbytes checkpoints with uint8 storage are supported; everything else is an
// error that says what the file holds and what this project reads.

import Foundation
import SafeTensors

/// transformers' `BitsAndBytesConfig` for `load_in_4bit`.
public struct BitsAndBytesConfig: Equatable, Sendable {
    /// `bnb_4bit_quant_type`.
    public var quantType: FourBitType
    /// `bnb_4bit_use_double_quant`.
    public var useDoubleQuant: Bool
    /// `bnb_4bit_compute_dtype`; this project always computes in float32.
    public var computeDtype: String
    /// `llm_int8_skip_modules`: modules left in float (transformers also never quantizes lm_head).
    public var skipModules: [String]?

    public init(quantType: FourBitType = .nf4, useDoubleQuant: Bool = false, computeDtype: String = "float32",
                skipModules: [String]? = nil) {
        self.quantType = quantType; self.useDoubleQuant = useDoubleQuant
        self.computeDtype = computeDtype; self.skipModules = skipModules
    }

    /// The settings of the weights it describes, for a given block size (64 unless the
    /// quant_state says otherwise).
    public func settings(blockSize: Int = 64) -> QuantizationSettings {
        QuantizationSettings(type: quantType, blockSize: blockSize, doubleQuantization: useDoubleQuant)
    }

    /// Reads a parsed `quantization_config`; `file` names config.json in errors.
    public init(json: [String: Any], file: String) throws {
        func fail(_ problem: String) -> FileFormatError {
            FileFormatError(file: file, problem: "quantization_config: " + problem)
        }
        func flag(_ key: String) throws -> Bool? {
            guard let v = json[key], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, String(cString: n.objCType) == "c" else {
                throw fail("\(key) must be true or false, got \(v)")
            }
            return n.boolValue
        }
        if let method = json["quant_method"] as? String, method != "bitsandbytes" {
            throw fail("quant_method '\(method)' is not supported: this project reads bitsandbytes 4-bit checkpoints "
                + "(quant_method \"bitsandbytes\", load_in_4bit true); dequantize the model in Python first")
        }
        if try flag("load_in_8bit") == true || flag("_load_in_8bit") == true {
            throw fail("load_in_8bit: 8-bit (LLM.int8) checkpoints are not supported, only 4-bit ones (load_in_4bit); "
                + "save the model with BitsAndBytesConfig(load_in_4bit=True) or in float32")
        }
        guard try flag("load_in_4bit") ?? flag("_load_in_4bit") ?? false else {
            throw fail("load_in_4bit is not true: only 4-bit bitsandbytes checkpoints are supported")
        }
        let typeName = json["bnb_4bit_quant_type"] as? String ?? "fp4"
        guard let type = FourBitType(rawValue: typeName) else {
            throw fail("bnb_4bit_quant_type '\(typeName)' is unknown; "
                + "bitsandbytes' 4-bit types are \"nf4\" and \"fp4\"")
        }
        if let storage = json["bnb_4bit_quant_storage"] as? String, storage != "uint8" {
            throw fail("bnb_4bit_quant_storage '\(storage)' is not supported: only uint8 storage (two codes a byte)")
        }
        var compute = "float32"
        if let value = json["bnb_4bit_compute_dtype"], !(value is NSNull) {
            guard let name = value as? String else {
                throw fail("bnb_4bit_compute_dtype must be a string, got \(value)")
            }
            compute = name
        }
        var skip: [String]? = nil
        if let value = json["llm_int8_skip_modules"], !(value is NSNull) {
            guard let names = value as? [String] else {
                throw fail("llm_int8_skip_modules must be a list of module names")
            }
            skip = names
        }
        self.init(quantType: type, useDoubleQuant: try flag("bnb_4bit_use_double_quant") ?? false,
                  computeDtype: compute, skipModules: skip)
    }

    /// The object transformers 5 writes into config.json (keys sorted when written).
    public var json: PythonJSON {
        .object([
            ("_load_in_4bit", .bool(true)), ("_load_in_8bit", .bool(false)),
            ("bnb_4bit_compute_dtype", .string(computeDtype)), ("bnb_4bit_quant_storage", .string("uint8")),
            ("bnb_4bit_quant_type", .string(quantType.rawValue)), ("bnb_4bit_use_double_quant", .bool(useDoubleQuant)),
            ("llm_int8_enable_fp32_cpu_offload", .bool(false)), ("llm_int8_has_fp16_weight", .bool(false)),
            ("llm_int8_skip_modules", skipModules.map { .array($0.map(PythonJSON.string)) } ?? .null),
            ("llm_int8_threshold", .float(6.0)), ("load_in_4bit", .bool(true)), ("load_in_8bit", .bool(false)),
            ("quant_method", .string("bitsandbytes")),
        ])
    }
}
