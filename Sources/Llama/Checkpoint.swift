// Checkpoint.swift — load and save a model folder in the Hugging Face layout:
// `config.json` + `model.safetensors` (or shards listed in `model.safetensors.index.json`).

import Foundation
import SafeTensors
import TensorKit

extension LlamaModel {
    /// Loads a `LlamaForCausalLM` folder saved by `transformers` or by this project.
    /// Every parameter must be present with its exact shape; a tied `lm_head` may be absent.
    public static func load(from folder: URL) throws -> LlamaModel {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw FileFormatError(file: folder.path, problem: "no such model folder (expected config.json and model.safetensors inside)")
        }
        let config = try LlamaConfig.load(contentsOf: folder.appendingPathComponent("config.json"))
        let weights = try readWeights(in: folder)
        let model = LlamaModel(config: config, generator: Generator(seed: 0))
        try model.loadWeights(weights.tensors, file: weights.file)
        return model
    }

    /// Copies stored tensors into the parameters, checking names and shapes.
    public func loadWeights(_ tensors: [String: StoredTensor], file: String) throws {
        var unused = Set(tensors.keys)
        for (name, parameter) in namedParameters {
            guard let stored = tensors[name] else {
                throw FileFormatError(file: file, tensor: name, problem: "missing from the checkpoint")
            }
            guard stored.shape == parameter.shape else {
                throw FileFormatError(file: file, tensor: name, problem: "has shape \(stored.shape) but the config implies \(parameter.shape)")
            }
            stored.values.withUnsafeBufferPointer { parameter.data.update(from: $0.baseAddress!, count: parameter.count) }
            unused.remove(name)
        }
        if config.tieWordEmbeddings { unused.remove("lm_head.weight") }
        unused = unused.filter { !$0.hasSuffix("rotary_emb.inv_freq") }
        if !unused.isEmpty {
            printToStandardError("warning: \(file): \(unused.count) tensors are not used by a LLaMA model: \(unused.sorted().prefix(5).joined(separator: ", "))")
        }
    }

    /// Writes `config.json` and `model.safetensors` atomically (a tied head is stored once).
    public func save(to folder: URL) throws {
        var file = SafeTensorsFile()
        for (name, t) in namedParameters { file[name] = StoredTensor(shape: t.shape, values: t.array) }
        try writeAtomically(Data(config.json().utf8), to: folder.appendingPathComponent("config.json"))
        try file.write(to: folder.appendingPathComponent("model.safetensors"))
    }
}

/// The tensors of a model folder: one `model.safetensors`, or the shards of an index, with the
/// file to name in errors (what `LlamaModel.load` reads; quantized loaders read it too).
public func readWeights(in folder: URL) throws -> (tensors: [String: StoredTensor], file: String) {
    let single = folder.appendingPathComponent("model.safetensors")
    if FileManager.default.fileExists(atPath: single.path) {
        return (try SafeTensorsFile.read(contentsOf: single).tensors, single.path)
    }
    let index = folder.appendingPathComponent("model.safetensors.index.json")
    guard FileManager.default.fileExists(atPath: index.path) else {
        throw FileFormatError(file: folder.path, problem: "no model.safetensors (nor model.safetensors.index.json) in the model folder")
    }
    guard let json = (try? JSONSerialization.jsonObject(with: Data(contentsOf: index))) as? [String: Any],
          let map = json["weight_map"] as? [String: String] else {
        throw FileFormatError(file: index.path, problem: "not a safetensors index (no weight_map object)")
    }
    var tensors: [String: StoredTensor] = [:]
    for shard in Set(map.values).sorted() {
        tensors.merge(try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent(shard)).tensors) { a, _ in a }
    }
    return (tensors, index.path)
}

/// A batch of token ids and labels, as in the golden `batch.json`:
/// `{"input_ids": [[...], ...], "labels": [[...], ...]}` (labels optional: then = input_ids).
public struct TokenBatch: Equatable, Sendable {
    /// [B, T] row-major.
    public var inputIds: [Int]
    /// [B, T] row-major; −100 marks positions without a loss.
    public var labels: [Int]
    public var batchSize: Int
    /// The task of each row, for multitask prompt tuning (nil when the method needs none).
    public var taskIds: [Int]?
    public var sequenceLength: Int { inputIds.count / max(batchSize, 1) }

    public init(inputIds: [[Int]], labels: [[Int]]? = nil, taskIds: [Int]? = nil) {
        self.inputIds = inputIds.flatMap { $0 }
        self.labels = (labels ?? inputIds).flatMap { $0 }
        self.batchSize = inputIds.count
        self.taskIds = taskIds
    }

    /// Rows already laid out row-major: `ids` and `labels` [rows, T].
    public init(ids: [Int], labels: [Int], rows: Int, taskIds: [Int]? = nil) {
        precondition(rows > 0 && ids.count % rows == 0 && labels.count == ids.count, "\(ids.count) ids in \(rows) rows")
        self.inputIds = ids
        self.labels = labels
        self.batchSize = rows
        self.taskIds = taskIds
    }

    /// Reads and checks a batch file against a vocabulary size.
    public static func load(contentsOf url: URL, vocabSize: Int) throws -> TokenBatch {
        func fail(_ problem: String) -> FileFormatError { FileFormatError(file: url.path, problem: problem) }
        guard let data = try? Data(contentsOf: url) else { throw fail("cannot be read (no such file?)") }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { throw fail("not a valid JSON object") }
        func rows(_ key: String) throws -> [[Int]]? {
            guard let value = json[key] else { return nil }
            guard let list = value as? [[NSNumber]] else { throw fail("\(key) must be a list of lists of integers") }
            return list.map { $0.map(\.intValue) }
        }
        guard let ids = try rows("input_ids"), !ids.isEmpty else { throw fail("input_ids is missing or empty") }
        let t = ids[0].count
        guard t > 0, ids.allSatisfy({ $0.count == t }) else { throw fail("input_ids rows must all have the same, non-zero length") }
        for (r, row) in ids.enumerated() {
            if let bad = row.first(where: { $0 < 0 || $0 >= vocabSize }) { throw fail("input_ids[\(r)] holds \(bad), outside the vocabulary 0..<\(vocabSize)") }
        }
        let labels = try rows("labels")
        if let labels {
            guard labels.count == ids.count, labels.allSatisfy({ $0.count == t }) else { throw fail("labels must have the shape of input_ids [\(ids.count), \(t)]") }
            for (r, row) in labels.enumerated() {
                if let bad = row.first(where: { $0 != -100 && ($0 < 0 || $0 >= vocabSize) }) { throw fail("labels[\(r)] holds \(bad): neither −100 nor a token id") }
            }
        }
        return TokenBatch(inputIds: ids, labels: labels)
    }
}
