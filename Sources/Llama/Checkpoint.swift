// Checkpoint.swift — load and save a model folder in the Hugging Face layout:
// `config.json` + `model.safetensors` (or shards listed in `model.safetensors.index.json`).

import Foundation
import SafeTensors
import TensorKit

extension LlamaModel {
    /// Loads a `LlamaForCausalLM` folder saved by `transformers` or by this project.
    /// Every parameter must be present with its exact shape; a tied `lm_head` may be absent.
    /// The shapes are checked against the config before the model is built, so a config that
    /// does not match its weights is an error, never a huge allocation.
    public static func load(from folder: URL) throws -> LlamaModel {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw FileFormatError(file: folder.path,
                                  problem: "no such model folder (expected config.json and model.safetensors inside)")
        }
        let config = try LlamaConfig.load(contentsOf: folder.appendingPathComponent("config.json"))
        let weights = try readWeights(in: folder)
        try checkShapes(weights, against: config)
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
                throw FileFormatError(file: file, tensor: name,
                                      problem: "has shape \(stored.shape) but the config implies \(parameter.shape)")
            }
            stored.values.withUnsafeBufferPointer {
                parameter.data.update(from: $0.baseAddress!, count: parameter.count)
            }
            unused.remove(name)
        }
        if config.tieWordEmbeddings { unused.remove("lm_head.weight") }
        unused = unused.filter { !$0.hasSuffix("rotary_emb.inv_freq") }
        if !unused.isEmpty {
            printToStandardError("warning: \(file): \(unused.count) tensors are not used by a LLaMA model: "
                + "\(unused.sorted().prefix(5).joined(separator: ", "))")
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

/// The tensors of a model folder, the file they were read from (`model.safetensors` or the
/// index), and for a sharded folder the shard file of each tensor.
private struct FolderWeights {
    var tensors: [String: StoredTensor]
    var file: String
    var shardOf: [String: String] = [:]
}

/// The tensors of a model folder (one `model.safetensors`, or the shards of an index) and the file
/// to name in errors: what `LlamaModel.load` reads; loaders of other layouts (4-bit) read it too.
public func readModelTensors(in folder: URL) throws -> (tensors: [String: StoredTensor], file: String) {
    let weights = try readWeights(in: folder)
    return (weights.tensors, weights.file)
}

/// The weights of a model folder: one `model.safetensors`, or the shards of an index.
private func readWeights(in folder: URL) throws -> FolderWeights {
    let single = folder.appendingPathComponent("model.safetensors")
    if FileManager.default.fileExists(atPath: single.path) {
        return FolderWeights(tensors: try SafeTensorsFile.read(contentsOf: single).tensors, file: single.path)
    }
    let index = folder.appendingPathComponent("model.safetensors.index.json")
    guard FileManager.default.fileExists(atPath: index.path) else {
        throw FileFormatError(file: folder.path,
                              problem: "no model.safetensors (nor model.safetensors.index.json) in the model folder")
    }
    func fail(_ problem: String, _ tensor: String? = nil) -> FileFormatError {
        FileFormatError(file: index.path, tensor: tensor, problem: problem)
    }
    let json: Any
    do { json = try JSONSerialization.jsonObject(with: Data(contentsOf: index)) } catch {
        throw fail("not a safetensors index: not valid JSON (\(jsonSyntaxProblem(error))); fix it or save the "
                   + "model again")
    }
    guard let map = (json as? [String: Any])?["weight_map"] as? [String: Any] else {
        throw fail("not a safetensors index (no weight_map object); it needs {\"weight_map\": {tensor: shard file}}")
    }
    var shardOf: [String: String] = [:]
    for (tensor, value) in map {
        guard let shard = value as? String, !shard.isEmpty, shard != ".", shard != "..",
              !shard.contains("/"), !shard.contains("\0") else {
            throw fail("weight_map gives \(abbreviated(value)) as the shard, not a file name in the model folder; "
                       + "write the shard's file name, e.g. \"model-00001-of-00002.safetensors\"", tensor)
        }
        shardOf[tensor] = shard
    }
    var tensors: [String: StoredTensor] = [:]
    for shard in Set(shardOf.values).sorted() {
        let url = folder.appendingPathComponent(shard)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw fail("weight_map names the shard \(shard), which is not in the model folder; copy it there or "
                       + "correct the name")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile.read(contentsOf: url) } catch let error as FileFormatError {
            var error = error
            error.problem += " (a shard listed in \(index.lastPathComponent))"
            throw error
        }
        for (tensor, owner) in shardOf where owner == shard {
            guard let stored = file[tensor] else {
                throw fail("weight_map places this tensor in \(shard), which does not hold it; correct the weight_map "
                           + "or the shard", tensor)
            }
            tensors[tensor] = stored
        }
    }
    return FolderWeights(tensors: tensors, file: index.path, shardOf: shardOf)
}

/// Checks every parameter shape the config implies against the stored tensors, before a model is
/// built: a config whose sizes disagree with its weights (say a `vocab_size` of 10^12) is an
/// error naming the tensor, both shapes and the config field, not a terabyte allocation.
private func checkShapes(_ weights: FolderWeights, against config: LlamaConfig) throws {
    try config.forEachParameterShape { parameter in
        let file = weights.shardOf[parameter.name].map { URL(fileURLWithPath: weights.file)
            .deletingLastPathComponent().appendingPathComponent($0).path } ?? weights.file
        let weightsName = URL(fileURLWithPath: file).lastPathComponent
        guard let stored = weights.tensors[parameter.name] else {
            throw FileFormatError(
                file: weights.file, tensor: parameter.name,
                problem: "missing from the checkpoint, though config.json implies it"
                    + (parameter.origin.map { " (\($0))" } ?? "")
                    + ": the config does not match the weights, or the checkpoint is incomplete; "
                    + "use the config.json saved with these weights")
        }
        guard stored.shape != parameter.shape else { return }
        let differing = stored.shape.count == parameter.shape.count
            ? parameter.axes.indices.filter { stored.shape[$0] != parameter.shape[$0] }.map { parameter.axes[$0] }
            : parameter.axes
        throw FileFormatError(
            file: file, tensor: parameter.name,
            problem: "config.json implies [\(parameter.axes.joined(separator: ", "))] = \(parameter.shape) but "
                + "\(weightsName) holds \(stored.shape): the config does not match the weights; correct "
                + "\(Array(Set(differing)).sorted().joined(separator: " and ")) in config.json, or use the weights "
                + "saved with it")
    }
}

/// A batch of token ids and labels, as in the golden `batch.json`:
/// `{"input_ids": [[...], ...], "labels": [[...], ...]}` (labels optional: then = input_ids;
/// `"task_ids": [...]`, one per row, optional: for multitask prompt tuning).
public struct TokenBatch: Equatable, Sendable {
    /// [B, T] row-major.
    public var inputIds: [Int]
    /// [B, T] row-major; −100 marks positions without a loss.
    public var labels: [Int]
    public var batchSize: Int
    /// The task of each row, for multitask prompt tuning (nil when the method needs none).
    public var taskIds: [Int]?
    /// The real tokens of each row when the rows are right-padded (nil: every position is real).
    /// Positions past a row's length are padding: with causal attention no real token reads
    /// them, so a forward that needs the logits at real positions only may skip them.
    public var lengths: [Int]?
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
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
            throw fail("not a valid JSON object (\(jsonSyntaxProblem(error))); fix the syntax or write the batch again")
        }
        guard let json = parsed as? [String: Any] else {
            throw fail("not a valid JSON object: expected {\"input_ids\": [[…], …], \"labels\": [[…], …]}")
        }
        func rows(_ key: String) throws -> [[Int]]? {
            guard let value = json[key] else { return nil }
            guard let list = value as? [Any] else { throw fail("\(key) must be a list of lists of integers") }
            var rows: [[Int]] = []
            rows.reserveCapacity(list.count)
            for (r, row) in list.enumerated() {
                guard let items = row as? [Any] else {
                    throw fail("\(key) must be a list of lists of integers (row \(r) is not a list)")
                }
                var ids: [Int] = []
                ids.reserveCapacity(items.count)
                for (c, item) in items.enumerated() {
                    guard let id = jsonInteger(item) else {
                        throw fail("\(key)[\(r)][\(c)] is \(abbreviated(item)), not an integer; token ids are whole "
                                   + "numbers (−100 for no loss in labels)")
                    }
                    ids.append(id)
                }
                rows.append(ids)
            }
            return rows
        }
        guard let ids = try rows("input_ids"), !ids.isEmpty else { throw fail("input_ids is missing or empty") }
        let t = ids[0].count
        guard t > 0, ids.allSatisfy({ $0.count == t }) else {
            throw fail("input_ids rows must all have the same, non-zero length")
        }
        for (r, row) in ids.enumerated() {
            if let bad = row.first(where: { $0 < 0 || $0 >= vocabSize }) {
                throw fail("input_ids[\(r)] holds \(bad), outside the vocabulary 0..<\(vocabSize)")
            }
        }
        let labels = try rows("labels")
        if let labels {
            guard labels.count == ids.count, labels.allSatisfy({ $0.count == t }) else {
                throw fail("labels must have the shape of input_ids [\(ids.count), \(t)]")
            }
            for (r, row) in labels.enumerated() {
                if let bad = row.first(where: { $0 != -100 && ($0 < 0 || $0 >= vocabSize) }) {
                    throw fail("labels[\(r)] holds \(bad): neither −100 nor a token id")
                }
            }
        }
        var taskIds: [Int]? = nil
        if let value = json["task_ids"], !(value is NSNull) {
            guard let list = value as? [Any], list.count == ids.count,
                  case let parsed = list.compactMap(jsonInteger), parsed.count == ids.count,
                  parsed.allSatisfy({ $0 >= 0 }) else {
                throw fail("task_ids must be a list of \(ids.count) whole numbers ≥ 0, one task per row of input_ids")
            }
            taskIds = parsed
        }
        return TokenBatch(inputIds: ids, labels: labels, taskIds: taskIds)
    }
}
