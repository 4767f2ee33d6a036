// PromptEncoderFile.swift — `prompt_encoder.safetensors`, the one file this project writes
// beside PEFT's: the weights of a prompt encoder's network (prefix tuning's projection,
// P-tuning's MLP or LSTM), under PEFT's parameter names (`prompt_encoder.embedding.weight`,
// `prompt_encoder.mlp_head.0.weight`, …).
//
// PEFT saves only the encoder's output, `prompt_embeddings`, in adapter_model.safetensors and
// reloads it as a fixed table: the network is gone and training cannot resume. This file keeps
// it, so that an adapter trained here loads back with its encoder, trainable as before; Python's
// peft ignores the file. Without it, loading does what PEFT does.

import Foundation
import Llama
import SafeTensors
import TensorKit

public enum PromptEncoderFile {
    /// The file's name inside an adapter folder.
    public static let name = "prompt_encoder.safetensors"

    /// Writes `parameters` (an encoder's `namedParameters`) to `folder`/prompt_encoder.safetensors.
    static func write(_ parameters: [(name: String, tensor: Tensor)], to folder: URL) throws {
        var file = SafeTensorsFile()
        for (key, t) in parameters { file[key] = StoredTensor(shape: t.shape, values: t.array) }
        try file.write(to: folder.appendingPathComponent(name))
    }

    /// The encoder of the adapter in `folder`:
    /// - with prompt_encoder.safetensors, `rebuild()` (the encoder the config describes) filled
    ///   from it, every tensor trainable as it was before saving;
    /// - without it, the saved `prompt_embeddings` [n, W] as a fixed table, as PEFT reloads it.
    /// Either way `prompt_embeddings` must have the shape `shape` that the config and the model
    /// imply (`implied` says how, for the error message).
    static func encoder(in folder: URL, weights: SafeTensorsFile, shape: [Int], implied: String,
                        placement: PromptPlacement,
                        rebuild: () throws -> any PromptEncoder) throws -> any PromptEncoder {
        let adapterFile = folder.appendingPathComponent(AdapterFolder.weightsName)
        let key = PromptEmbedding.savedKey
        guard let stored = weights[key] else {
            throw FileFormatError(file: adapterFile.path, tensor: key,
                                  problem: "missing: PEFT saves a prompt method's prompt under this key; "
                                    + "the folder holds \(weights.tensors.keys.sorted())")
        }
        guard stored.shape == shape else {
            throw FileFormatError(file: adapterFile.path, tensor: key,
                                  problem: "has shape \(stored.shape), but \(implied) imply \(shape): load the adapter "
                                    + "onto the base model it was trained for, or correct adapter_config.json")
        }
        AdapterFolder.warnUnused(Set(weights.tensors.keys).subtracting([key]), file: adapterFile)
        let saved = Tensor(shape: stored.shape, values: stored.values)                        // [n, W]
        let url = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            return StoredPromptTable(saved, placement: placement)
        }
        let encoder = try rebuild()
        try load(encoder, from: url)
        let output = withoutGrad { encoder.prompt(for: TokenBatch(inputIds: [[0]])) }          // [n, W]
        let difference = zip(output.array, saved.array).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
        if difference > 1e-4 {
            printToStandardError("warning: \(url.path): the encoder does not reproduce prompt_embeddings of "
                + "\(adapterFile.lastPathComponent) (max |Δ| = \(difference)): the two files come from different "
                + "runs; using the encoder (delete \(name) to use prompt_embeddings, as PEFT does)")
        }
        return encoder
    }

    /// Copies every tensor of `encoder` from the file at `url`, by name, checking shapes.
    static func load(_ encoder: any PromptEncoder, from url: URL) throws {
        let file = try SafeTensorsFile.read(contentsOf: url)
        for (key, tensor) in encoder.namedParameters {
            guard let stored = file[key] else {
                throw FileFormatError(file: url.path, tensor: key,
                                      problem: "missing, but the encoder that adapter_config.json describes has it: "
                                        + "the file belongs to another configuration; delete it to load the saved "
                                        + "prompt_embeddings as PEFT does")
            }
            guard stored.shape == tensor.shape else {
                throw FileFormatError(file: url.path, tensor: key,
                                      problem: "has shape \(stored.shape), but adapter_config.json and the model imply "
                                        + "\(tensor.shape): the file belongs to another configuration or model; delete "
                                        + "it to load the saved prompt_embeddings as PEFT does")
            }
            stored.values.withUnsafeBufferPointer { tensor.data.update(from: $0.baseAddress!, count: tensor.count) }
        }
        AdapterFolder.warnUnused(Set(file.tensors.keys).subtracting(encoder.namedParameters.map(\.name)), file: url)
    }
}
