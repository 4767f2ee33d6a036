// AdapterFolder.swift — what PEFT's `save_pretrained` writes and `PeftModel.from_pretrained`
// reads: adapter_config.json and adapter_model.safetensors, for any method.

import Foundation
import Llama
import SafeTensors
import TensorKit

/// An adapter folder in PEFT's layout.
public enum AdapterFolder {
    public static let configName = "adapter_config.json"
    public static let weightsName = "adapter_model.safetensors"

    /// Writes `config` and `tensors` (keys as PEFT saves them, without the adapter name), each
    /// file atomically.
    public static func write(_ config: any PeftConfig, tensors: [String: Tensor], to folder: URL) throws {
        var file = SafeTensorsFile()
        for (key, t) in tensors { file[key] = StoredTensor(shape: t.shape, values: t.array) }
        try writeAtomically(try AdapterConfigFile.json(config), to: folder.appendingPathComponent(configName))
        try file.write(to: folder.appendingPathComponent(weightsName))
    }

    /// The config of the adapter in `folder`, whatever its method.
    public static func config(in folder: URL) throws -> any PeftConfig {
        try AdapterConfigFile.read(contentsOf: folder.appendingPathComponent(configName))
    }

    /// Loads the adapter in `folder` onto `model`, dispatching on its `peft_type`. A config that
    /// does not fit the model (a rank larger than a layer, another model's sizes) is an error
    /// naming adapter_config.json.
    public static func load(from folder: URL, onto model: LlamaModel) throws -> any Tuner {
        let config = try config(in: folder)
        let weights = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent(weightsName))
        do { return try config.loadTuner(onto: model, weights: weights, folder: folder) } catch let error as PEFTError {
            throw FileFormatError(file: folder.appendingPathComponent(configName).path, problem: error.description)
        }
    }

    /// `stored` copied into `tensor`, or an error naming the file, the key and both shapes.
    static func copy(_ stored: StoredTensor?, into tensor: Tensor, key: String, file: URL) throws {
        try checkShape(stored, tensor.shape, key: key, file: file)
        stored?.values.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: tensor.count) }
    }

    /// An error naming the file, the key and both shapes unless `stored` exists with `shape` — to
    /// call before allocating anything of that shape.
    static func checkShape(_ stored: StoredTensor?, _ shape: [Int], key: String, file: URL) throws {
        guard let stored else {
            throw FileFormatError(file: file.path, tensor: key, problem: "missing from the adapter")
        }
        guard stored.shape == shape else {
            throw FileFormatError(file: file.path, tensor: key,
                                  problem: "has shape \(stored.shape), but \(configName) and the "
                                      + "model imply \(shape): the weights and the config do not belong together")
        }
    }

    /// Warns about tensors of the file that no parameter used.
    static func warnUnused(_ unused: Set<String>, file: URL) {
        guard !unused.isEmpty else { return }
        printToStandardError("warning: \(file.path): \(unused.count) tensors were not used: "
            + unused.sorted().prefix(3).joined(separator: ", "))
    }
}
