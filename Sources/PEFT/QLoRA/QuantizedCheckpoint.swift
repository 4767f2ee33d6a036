// QuantizedCheckpoint.swift — a LLaMA folder in transformers' bitsandbytes 4-bit layout: read it
// into a model whose projections are `Linear4bit`, and write one byte for byte as transformers'
// `save_pretrained` does.
//
// config.json gains `quantization_config` (BitsAndBytesConfig). model.safetensors keeps
// embeddings, norms and lm_head as F32 under their usual names; each 4-bit projection <m> becomes
//   <m>.weight                                   U8  [(out·in+1)/2, 1]   packed codes
//   <m>.weight.absmax                            U8  [blocks] (double quantization) or F32 [blocks]
//   <m>.weight.nested_absmax                     F32 [⌈blocks/256⌉]      (double quantization only)
//   <m>.weight.quant_map                         F32 [16]                the 4-bit code
//   <m>.weight.nested_quant_map                  F32 [256]               (double quantization only)
//   <m>.weight.quant_state.bitsandbytes__<type>  U8  [bytes]             QuantState JSON

import Foundation
import Llama
import SafeTensors
import TensorKit

/// Reading and writing bitsandbytes 4-bit model folders.
public enum QuantizedCheckpoint {
    /// The folder's `quantization_config`, or nil for a float checkpoint.
    public static func quantizationConfig(in folder: URL) throws -> BitsAndBytesConfig? {
        let url = folder.appendingPathComponent("config.json")
        guard let json = try readJSONObject(url)["quantization_config"], !(json is NSNull) else { return nil }
        guard let object = json as? [String: Any] else {
            throw FileFormatError(file: url.path, problem: "quantization_config must be an object")
        }
        return try BitsAndBytesConfig(json: object, file: url.path)
    }

    /// Loads a 4-bit folder written by transformers (or by `save`): the projections that carry a
    /// quant_state become `Linear4bit`, every other tensor loads as float32. Throws a
    /// `FileFormatError` naming the file, the tensor and the problem for anything it cannot read.
    public static func load(from folder: URL) throws -> LlamaModel {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw FileFormatError(file: folder.path,
                                  problem: "no such model folder (expected config.json and model.safetensors inside)")
        }
        let configURL = folder.appendingPathComponent("config.json")
        let json = try readJSONObject(configURL)
        let config = try LlamaConfig(json: json, file: configURL.path)
        guard let bnb = try quantizationConfig(in: folder) else {
            throw FileFormatError(file: configURL.path, problem: "no quantization_config: not a 4-bit checkpoint "
                                  + "(load it with LlamaModel.load)")
        }
        if bnb.computeDtype != "float32" {
            printToStandardError("note: \(configURL.path): bnb_4bit_compute_dtype is \(bnb.computeDtype); the 4-bit "
                + "layers compute in float32 here, so logits differ slightly from transformers'")
        }
        var (tensors, file) = try readModelTensors(in: folder)
        try checkShapes(tensors, against: config, file: file)
        let model = LlamaModel(config: config, generator: Generator(seed: 0))
        for slot in model.layers.flatMap(\.slots) {
            let prefix = slot.name + ".weight.quant_state.bitsandbytes__"
            guard let stateKey = tensors.keys.first(where: { $0.hasPrefix(prefix) }) else {
                continue  // a float projection (llm_int8_skip_modules): loaded with the other tensors
            }
            let shape = [slot.layer.outFeatures, slot.layer.inFeatures]
            slot.layer = try readLayer(slot.name, stateKey: stateKey, shape: shape, configType: bnb.quantType,
                                       tensors: &tensors, file: file)
        }
        try model.loadWeights(tensors, file: file)
        return model
    }

    /// Checks every parameter the config implies against the stored tensors before a model is
    /// built (a config that disagrees with its weights is an error, never a huge allocation): a
    /// 4-bit projection by its packed byte count, every other tensor by its shape.
    private static func checkShapes(_ tensors: [String: StoredTensor], against config: LlamaConfig,
                                    file: String) throws {
        try config.forEachParameterShape { parameter in
            func fail(_ problem: String) -> FileFormatError {
                FileFormatError(file: file, tensor: parameter.name, problem: problem)
            }
            guard let stored = tensors[parameter.name] else {
                throw fail("missing from the checkpoint, though config.json implies it: the config does not match "
                    + "the weights, or the checkpoint is incomplete")
            }
            if tensors.keys.contains(where: { $0.hasPrefix(parameter.name + ".quant_state.bitsandbytes__") }) {
                var (n, overflow) = (1, false)
                for d in parameter.shape where !overflow { (n, overflow) = n.multipliedReportingOverflow(by: d) }
                guard !overflow, stored.values.count == (n + 1) / 2 else {
                    let needed = overflow ? "more than any file holds" : "\((n + 1) / 2)"
                    throw fail("holds \(stored.values.count) bytes, but a \(parameter.shape) weight packs into "
                        + "(n+1)/2 = \(needed): config.json does not match the weights")
                }
            } else if stored.shape != parameter.shape {
                let axes = parameter.axes.joined(separator: ", ")
                throw fail("has shape \(stored.shape) but config.json implies [\(axes)] = \(parameter.shape): "
                    + "the config does not match the weights")
            }
        }
    }

    /// Reads the six tensors of one 4-bit projection (removing them from `tensors`).
    private static func readLayer(_ module: String, stateKey: String, shape: [Int], configType: FourBitType,
                                  tensors: inout [String: StoredTensor], file: String) throws -> Linear4bit {
        let key = module + ".weight"
        func fail(_ tensor: String, _ problem: String) -> FileFormatError {
            FileFormatError(file: file, tensor: tensor, problem: problem)
        }
        func take(_ name: String, _ what: String) throws -> StoredTensor {
            guard let t = tensors.removeValue(forKey: name) else {
                throw fail(name, "missing: a 4-bit layer needs \(what) beside its quant_state")
            }
            return t
        }
        func bytes(_ t: StoredTensor, _ name: String) throws -> [UInt8] {
            guard let b = t.bytes else { throw fail(name, "must be a U8 tensor, found \(t.shape) float values") }
            return b
        }
        func floats(_ t: StoredTensor, _ name: String, count: Int) throws -> [Float] {
            guard t.bytes == nil else { throw fail(name, "must be a float tensor, found U8") }
            guard t.values.count == count else {
                throw fail(name, "has \(t.values.count) values where \(count) are needed")
            }
            return t.values
        }
        let suffix = stateKey.dropFirst(key.count + ".quant_state.bitsandbytes__".count)
        guard let keyType = FourBitType(rawValue: String(suffix)) else {
            throw fail(stateKey, "'\(suffix)' is not a bitsandbytes 4-bit type (nf4 or fp4)")
        }
        let stateTensor = try take(stateKey, "its quant_state")
        let state = try QuantState(bytes: try bytes(stateTensor, stateKey)) { fail(stateKey, $0) }
        guard state.quantType == keyType else {
            throw fail(stateKey, "the quant_state says \(state.quantType.rawValue) but its key says "
                + "\(keyType.rawValue): the file is damaged")
        }
        guard state.quantType == configType else {
            throw fail(stateKey, "the quant_state says \(state.quantType.rawValue) but config.json's "
                + "bnb_4bit_quant_type is \(configType.rawValue): the folder mixes two checkpoints")
        }
        guard FourBitQuantizer.blockSizes.contains(state.blockSize) else {
            throw fail(stateKey, "blocksize \(state.blockSize) cannot be read: bitsandbytes writes only "
                + FourBitQuantizer.blockSizes.map(String.init).joined(separator: ", "))
        }
        guard state.shape == shape else {
            throw fail(stateKey, "the quant_state's shape \(state.shape) differs from the \(shape) that config.json "
                + "implies")
        }
        if state.dtype != "float32" {
            printToStandardError("note: \(file): \(key) was \(state.dtype) before quantization; it is dequantized to "
                + "float32 here (transformers rounds to \(state.dtype)), so results may differ in the last bits")
        }
        let n = shape.reduce(1, *), blocks = (n + state.blockSize - 1) / state.blockSize
        let packed = try bytes(try take(key, "its packed codes"), key)
        guard packed.count == (n + 1) / 2 else {
            throw fail(key, "holds \(packed.count) bytes, but a \(shape) weight packs into (n+1)/2 = \((n + 1) / 2)")
        }
        let quantMap = try floats(try take(key + ".quant_map", "its quant_map"), key + ".quant_map", count: 16)
        guard quantMap.map(\.bitPattern) == state.quantType.code.map(\.bitPattern) else {
            throw fail(key + ".quant_map", "differs from bitsandbytes' \(state.quantType.rawValue) code table: "
                + "the file is damaged")
        }
        let absmaxKey = key + ".absmax"
        let absmaxTensor = try take(absmaxKey, "its absmax")
        guard absmaxTensor.values.count == blocks else {
            throw fail(absmaxKey, "has \(absmaxTensor.values.count) values, but a \(shape) weight in blocks of "
                + "\(state.blockSize) has \(blocks) blocks")
        }
        let absmax: AbsmaxStorage
        if let nested = state.nested {
            guard nested.blockSize > 0 else {
                throw fail(stateKey, "nested_blocksize must be positive, got \(nested.blockSize)")
            }
            let codes = try bytes(absmaxTensor, absmaxKey)
            let nestedCount = (blocks + nested.blockSize - 1) / nested.blockSize
            let scales = try floats(try take(key + ".nested_absmax", "its nested_absmax (double quantization)"),
                                    key + ".nested_absmax", count: nestedCount)
            let table = try floats(try take(key + ".nested_quant_map", "its nested_quant_map (double quantization)"),
                                   key + ".nested_quant_map", count: 256)
            absmax = .doubleQuantized(DoubleQuantizedAbsmax(codes: codes, nestedAbsmax: scales, offset: nested.offset,
                                                            nestedBlockSize: nested.blockSize, code: table))
        } else {
            absmax = .float32(try floats(absmaxTensor, absmaxKey, count: blocks))
        }
        let settings = QuantizationSettings(type: state.quantType, blockSize: state.blockSize,
                                            doubleQuantization: state.nested != nil,
                                            nestedBlockSize: state.nested?.blockSize ?? 256)
        let weight: QuantizedWeight
        do {
            weight = try QuantizedWeight(shape: shape, settings: settings, packed: packed, absmax: absmax)
        } catch let error as PEFTError {
            throw fail(key, error.description)
        }
        var bias: Tensor? = nil
        if let stored = tensors.removeValue(forKey: module + ".bias") {
            guard stored.shape == [shape[0]], stored.bytes == nil else {
                throw fail(module + ".bias", "has shape \(stored.shape) but the layer has \(shape[0]) outputs")
            }
            bias = Tensor(shape: stored.shape, values: stored.values)
        }
        return Linear4bit(weight: weight, bias: bias)
    }

    /// The tensors `save` writes for `model`: float parameters as F32, each 4-bit projection as
    /// its six keys.
    public static func tensors(of model: LlamaModel) -> SafeTensorsFile {
        var file = SafeTensorsFile()
        for (name, t) in model.namedParameters { file[name] = StoredTensor(shape: t.shape, values: t.array) }
        for (module, layer) in model.quantizedLayers {
            let key = module + ".weight", w = layer.weight
            file[key] = StoredTensor(shape: [w.packed.count, 1], bytes: w.packed)
            file[key + ".quant_map"] = StoredTensor(shape: [16], values: w.settings.type.code)
            var state = QuantState(quantType: w.settings.type, blockSize: w.settings.blockSize, shape: w.shape)
            switch w.absmax {
            case .float32(let values):
                file[key + ".absmax"] = StoredTensor(shape: [values.count], values: values)
            case .doubleQuantized(let d):
                file[key + ".absmax"] = StoredTensor(shape: [d.codes.count], bytes: d.codes)
                file[key + ".nested_absmax"] = StoredTensor(shape: [d.nestedAbsmax.count], values: d.nestedAbsmax)
                file[key + ".nested_quant_map"] = StoredTensor(shape: [d.code.count], values: d.code)
                state.nested = (d.nestedBlockSize, d.offset)
            }
            let json = state.bytes
            file[key + "." + QuantState.keySuffix(w.settings.type)] = StoredTensor(shape: [json.count], bytes: json)
            if let bias = layer.bias { file[module + ".bias"] = StoredTensor(shape: bias.shape, values: bias.array) }
        }
        return file
    }

    /// Writes `config.json` (the `base` config object — by default the model's own — with
    /// `quantization_config` set, as `json.dumps(indent=2, sort_keys=True)`) and
    /// `model.safetensors`, as transformers' `save_pretrained` of a 4-bit model.
    /// - Parameter base: the config.json object of the model this one was made from, so that
    ///   fields this project does not model survive unchanged.
    public static func save(_ model: LlamaModel, to folder: URL, base: PythonJSON? = nil) throws {
        let layers = model.quantizedLayers
        guard let first = layers.first?.layer.weight.settings else {
            throw PEFTError("the model has no 4-bit layers; save it with model.save(to:)")
        }
        if let other = layers.first(where: { $0.layer.weight.settings.type != first.type
            || $0.layer.weight.settings.doubleQuantization != first.doubleQuantization }) {
            throw PEFTError("\(other.name) is quantized differently from \(layers[0].name); one quantization_config "
                + "describes every layer, so quantize them all with the same type and double quantization")
        }
        let skipped = model.layers.flatMap(\.slots).map(\.name).filter { name in !layers.contains { $0.name == name } }
        let bnb = BitsAndBytesConfig(quantType: first.type, useDoubleQuant: first.doubleQuantization,
                                     skipModules: skipped.isEmpty ? nil : skipped)
        let own = PythonJSON(try JSONSerialization.jsonObject(with: Data(model.config.json().utf8))) ?? .object([])
        let config = (base ?? own).setting("quantization_config", to: bnb.json)
        try writeAtomically(Data((config.dumps(indent: 2, sortKeys: true) + "\n").utf8),
                            to: folder.appendingPathComponent("config.json"))
        try tensors(of: model).write(to: folder.appendingPathComponent("model.safetensors"))
    }

    /// The config.json object of a model folder (for `save(_:to:base:)`).
    public static func configObject(in folder: URL) throws -> PythonJSON {
        let url = folder.appendingPathComponent("config.json")
        guard let value = PythonJSON(try readJSONObject(url)) else {
            throw FileFormatError(file: url.path, problem: "holds values JSON cannot describe")
        }
        return value
    }

    private static func readJSONObject(_ url: URL) throws -> [String: Any] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FileFormatError(file: url.path,
                                  problem: "no such file: a model folder needs config.json (Hugging Face layout)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any] else {
            throw FileFormatError(file: url.path, problem: "not a valid JSON object")
        }
        return object
    }
}

/// Loads any model folder this project reads: a bitsandbytes 4-bit checkpoint (config.json has a
/// `quantization_config`) through `QuantizedCheckpoint`, a float one through `LlamaModel.load`.
public func loadModel(from folder: URL) throws -> LlamaModel {
    let config = folder.appendingPathComponent("config.json")
    let hasConfig = FileManager.default.fileExists(atPath: config.path)
    if hasConfig, try QuantizedCheckpoint.quantizationConfig(in: folder) != nil {
        return try QuantizedCheckpoint.load(from: folder)
    }
    return try LlamaModel.load(from: folder)
}
