// MultitaskSourceCheckpoint.swift — where a target prompt starts in multitask prompt tuning's
// second stage: the source training's adapter file (`prompt_tuning_init_state_dict_path`),
// read as PEFT's `MultitaskPromptEmbedding.__init__` reads it.
//
//   AVERAGE_SOURCE_TASKS   E ← E_src,  cols ← mean over tasks of cols_src,  rows ← mean of rows_src
//   EXACT_SOURCE_TASK      E ← E_src,  cols ← cols_src[k],  rows ← rows_src[k]   (k = prompt_tuning_init_task)
//   ONLY_SOURCE_SHARED     E ← E_src;  cols, rows keep their fresh N(0, 0.02) values
//
// PEFT averages the factors separately, so AVERAGE's task matrix is mean(cols)·mean(rows), not
// the mean of the source tasks' matrices. The first two load with `strict=True` into a target of
// one task: the target's num_tasks must be 1 and n, r and C must be the source's.

import Foundation
import SafeTensors
import TensorKit

struct MultitaskSourceCheckpoint {
    /// The source's shared prompt E [n, C].
    var shared: Tensor
    /// The target's one task's factors (cols [1, n, r], rows [1, r, C]); nil for ONLY_SOURCE_SHARED.
    var taskFactors: (cols: Tensor, rows: Tensor)?

    /// Reads the source named by `config` and derives the target's start, checking every shape
    /// against the target (n from the config, C = `width` from the model).
    init(config: MultitaskPromptTuningConfig, width: Int) throws {
        guard let given = config.promptTuningInitStateDictPath, !given.isEmpty else {
            throw PEFTError("prompt_tuning_init \(config.promptTuningInit.rawValue) starts from a source checkpoint: "
                + "set prompt_tuning_init_state_dict_path to the source adapter's adapter_model.safetensors")
        }
        let url = MultitaskSourceCheckpoint.file(given)
        guard url.pathExtension == "safetensors" else {
            throw FileFormatError(file: url.path, problem: "is not a .safetensors file; PEFT would read it with "
                + "torch.load, which this project cannot: save the source adapter as safetensors (PEFT's default)")
        }
        let file = try SafeTensorsFile.read(contentsOf: url)
        let n = config.numVirtualTokens
        func tensor(_ key: String) throws -> (StoredTensor, Tensor) {
            guard let stored = file[key] else {
                throw FileFormatError(file: url.path, tensor: key, problem: "missing: a multitask prompt tuning source "
                    + "holds prompt_embeddings, prefix_task_cols and prefix_task_rows; the file holds "
                    + "\(file.tensors.keys.sorted())")
            }
            return (stored, Tensor(shape: stored.shape, values: stored.values))
        }
        func mismatch(_ key: String, _ stored: [Int], _ wanted: String) -> FileFormatError {
            FileFormatError(file: url.path, tensor: key, problem: "has shape \(stored), but the target needs "
                + "\(wanted): the source was trained with other settings or another model; use the same "
                + "num_virtual_tokens" + (key == PromptEmbedding.savedKey ? "" : " and num_ranks")
                + " and the same base model as the source")
        }
        let (storedShared, shared) = try tensor(PromptEmbedding.savedKey)
        guard storedShared.shape == [n, width] else {
            throw mismatch(PromptEmbedding.savedKey, storedShared.shape,
                           "[\(n), \(width)] (num_virtual_tokens, hidden)")
        }
        self.shared = shared
        guard config.promptTuningInit != .onlySourceShared else { taskFactors = nil; return }
        guard config.numTasks == 1 else {
            throw PEFTError("prompt_tuning_init \(config.promptTuningInit.rawValue) gives the target one task's "
                + "factors (PEFT loads them strictly), so num_tasks must be 1, not \(config.numTasks); or use "
                + "ONLY_SOURCE_SHARED to start several target tasks from the shared prompt")
        }
        let (cols, colsTensor) = try tensor(MultitaskPromptEmbedding.colsKey)
        let (rows, rowsTensor) = try tensor(MultitaskPromptEmbedding.rowsKey)
        let r = config.numRanks
        guard cols.shape.count == 3, cols.shape[0] >= 1, cols.shape[1] == n, cols.shape[2] == r else {
            throw mismatch(MultitaskPromptEmbedding.colsKey, cols.shape,
                           "[tasks, \(n), \(r)] (num_virtual_tokens, num_ranks)")
        }
        let tasks = cols.shape[0]
        guard rows.shape == [tasks, r, width] else {
            throw mismatch(MultitaskPromptEmbedding.rowsKey, rows.shape,
                           "[\(tasks), \(r), \(width)] (the source's tasks, num_ranks, hidden)")
        }
        if config.promptTuningInit == .averageSourceTasks {
            taskFactors = (colsTensor.mean(axes: [0], keepDims: true),                 // [1, n, r]
                           rowsTensor.mean(axes: [0], keepDims: true))                 // [1, r, C]
        } else {
            let k = config.promptTuningInitTask
            guard (0..<tasks).contains(k) else {
                throw PEFTError("prompt_tuning_init_task is \(k), but the source in \(url.path) has \(tasks) task"
                    + (tasks == 1 ? "" : "s") + " (0..<\(tasks)); choose one of them")
            }
            taskFactors = (colsTensor.slice(axis: 0, k..<(k + 1)), rowsTensor.slice(axis: 0, k..<(k + 1)))
        }
    }

    /// The file a path names: the path itself, or adapter_model.safetensors inside a folder.
    static func file(_ path: String) -> URL {
        let url = URL(fileURLWithPath: path)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
            return url.appendingPathComponent(AdapterFolder.weightsName)
        }
        return url
    }
}
