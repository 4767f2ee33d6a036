// MultitaskPromptEmbedding.swift — multitask prompt tuning's encoder (PEFT's
// `MultitaskPromptEmbedding`): one shared prompt E and, per task, a low-rank matrix that rescales
// it entry by entry.
//
//   prompt of task t = E ⊙ (cols[t] · rows[t])     E [n, C], cols [K, n, r], rows [K, r, C]
//
// At rank 1, cols[t] is a column u_t of n numbers and rows[t] a row v_t of C numbers: a task costs
// n + C values on top of the shared n·C. Every row of a batch reads its own task's prompt, so
// the prompt is [B, n, C].

import Foundation
import Llama
import SafeTensors
import TensorKit

public final class MultitaskPromptEmbedding: PromptEncoder {
    /// `prompt_encoder.embedding.weight` [n, C]: the shared prompt E (saved as `prompt_embeddings`).
    public let embedding: Tensor
    /// `prompt_encoder.prefix_task_cols` [K, n, r]: each task's column factors.
    public let taskCols: Tensor
    /// `prompt_encoder.prefix_task_rows` [K, r, C]: each task's row factors.
    public let taskRows: Tensor
    public var placement: PromptPlacement { .prepended }
    public var numVirtualTokens: Int { embedding.shape[0] }
    /// K, the number of tasks.
    public var numTasks: Int { taskCols.shape[0] }
    /// r, the rank of each task's matrix.
    public var numRanks: Int { taskCols.shape[2] }

    /// The keys PEFT saves the task factors under (beside `prompt_embeddings`).
    static let colsKey = "prefix_task_cols", rowsKey = "prefix_task_rows"

    /// Zero tensors of the shapes a config implies, to be filled from a file.
    init(numVirtualTokens n: Int, width: Int, tasks: Int, ranks: Int) {
        embedding = Tensor(zeros: [n, width], requiresGrad: true)
        taskCols = Tensor(zeros: [tasks, n, ranks], requiresGrad: true)
        taskRows = Tensor(zeros: [tasks, ranks, width], requiresGrad: true)
    }

    /// The encoder initialised as `config.promptTuningInit` says, drawing in PEFT's order: E
    /// ~ N(0, 1) (`nn.Embedding`), then cols and rows ~ N(0, 0.02); then TEXT replaces E by the
    /// text's token embeddings, and the three source options copy from the source checkpoint.
    init(config: MultitaskPromptTuningConfig, model: LlamaModel, context: TunerContext) throws {
        let n = config.numVirtualTokens, width = model.config.hiddenSize
        let (tasks, ranks) = (config.numTasks, config.numRanks)
        let g = context.generator
        embedding = .randn([n, width], generator: g, requiresGrad: true)                                // [n, C]
        taskCols = .randn([tasks, n, ranks], std: 0.02, generator: g, requiresGrad: true)               // [K, n, r]
        taskRows = .randn([tasks, ranks, width], std: 0.02, generator: g, requiresGrad: true)           // [K, r, C]
        switch config.promptTuningInit {
        case .random:
            break
        case .text:
            guard let tokenize = context.tokenize else {
                throw PEFTError("prompt_tuning_init TEXT needs the base model's tokenizer (tokenizer.json in the model "
                    + "folder)")
            }
            let ids = tokenize(config.promptTuningInitText ?? "")
            guard !ids.isEmpty else {
                throw PEFTError("prompt_tuning_init_text encodes to no tokens; give it some words")
            }
            let rows = PromptEmbedding.rows(textInitializationIds(ids, count: n), of: model.embedTokens)   // [n, C]
            embedding.copyValues(from: rows)
        case .averageSourceTasks, .exactSourceTask, .onlySourceShared:
            let source = try MultitaskSourceCheckpoint(config: config, width: width)
            embedding.copyValues(from: source.shared)
            if let (cols, rows) = source.taskFactors {
                taskCols.copyValues(from: cols)
                taskRows.copyValues(from: rows)
            }
        }
    }

    /// The prompt of every row, [B, n, C]: E ⊙ (cols[t_b] · rows[t_b]). `check(batch)` must have
    /// passed: every row has a task id in 0..<K.
    public func prompt(for batch: TokenBatch) -> Tensor {
        guard let taskIds = batch.taskIds else {
            preconditionFailure("multitask prompt tuning needs batch.taskIds; call check(batch) first")
        }
        return multitaskPrompts(shared: embedding, cols: taskCols, rows: taskRows, taskIds: taskIds)    // [B, n, C]
    }

    /// Every row needs a task id, and every task id must be one of the K tasks.
    public func check(_ batch: TokenBatch) throws {
        guard let taskIds = batch.taskIds else {
            throw PEFTError("multitask prompt tuning needs a task id for every row, and this batch has none: give "
                + "each example its task (a task per data file, a \"task_id\" field per record, --task-ids for "
                + "peft forward, or \"task_ids\" in a batch file); with one task, every id is 0")
        }
        guard taskIds.count == batch.batchSize else {
            throw PEFTError("the batch has \(batch.batchSize) rows but \(taskIds.count) task ids; give one per row")
        }
        if let bad = taskIds.first(where: { !(0..<numTasks).contains($0) }) {
            throw PEFTError("task id \(bad) is outside 0..<\(numTasks): the adapter has num_tasks = \(numTasks) "
                + "(tasks are numbered from 0); use a task it was trained for, or train with more tasks")
        }
    }

    public var namedParameters: [(name: String, tensor: Tensor)] {
        [("prompt_encoder.embedding.weight", embedding), ("prompt_encoder.\(Self.colsKey)", taskCols),
         ("prompt_encoder.\(Self.rowsKey)", taskRows)]
    }

    /// PEFT's file: the shared E as `prompt_embeddings`, and the task factors.
    public func savedTensors() -> [String: Tensor] {
        [PromptEmbedding.savedKey: embedding, Self.colsKey: taskCols, Self.rowsKey: taskRows]
    }

    /// Task t's matrix W_t = cols[t] · rows[t], [n, C] (row-major), for inspection.
    public func taskMatrix(_ t: Int) -> [Float] {
        let (n, r, width) = (numVirtualTokens, numRanks, embedding.shape[1])
        let c = taskCols.data + t * n * r, v = taskRows.data + t * r * width
        return (0..<(n * width)).map { index in
            let (i, j) = (index / width, index % width)
            return (0..<r).reduce(Float(0)) { $0 + c[i * r + $1] * v[$1 * width + j] }
        }
    }
}
