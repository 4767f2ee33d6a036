// Multitask prompt tuning against Hugging Face peft: the golden `mpt` (rank 1) and `mpt-r2`
// adapters, with row 0 reading task 2 and row 1 task 0, give PEFT's logits, loss and gradients,
// and the task no row uses gets exactly zero gradient; the three ways a target starts from a
// source checkpoint follow PEFT's __init__; wrong task ids and mismatched sources are clear errors.

import Foundation
import Llama
@testable import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

/// The golden batch with the fixtures' task ids (row 0: task 2, row 1: task 0).
func multitaskBatch() throws -> TokenBatch {
    var batch = try Golden.batch()
    batch.taskIds = [2, 0]
    return batch
}

/// The golden `mpt` adapter's weights, the source checkpoint of the target-stage tests (3 tasks,
/// n = 5, r = 1, C = 32).
let goldenSource = Golden.folder("mpt").appendingPathComponent("adapter_model.safetensors")

@Suite struct MultitaskPromptTuningGoldenTests {
    @Test(arguments: ["mpt", "mpt-r2"])
    func adapterMatchesPeft(variant: String) throws {
        let model = try Golden.base()
        let tuner = try AdapterFolder.load(from: Golden.folder(variant), onto: model)
        let expected = try Golden.expected("expected_\(variant).safetensors")
        #expect(expected["task_ids"]!.values == [2, 0])
        let batch = try multitaskBatch()
        try tuner.check(batch)
        let report = try tuner.forwardReport(batch)
        #expect(report["logits"]!.shape == [2, 15, 97] && tuner.prependedPositions == 5 && !tuner.canMerge)
        expectMatches(report, expected)
        #expect(Set(report.tensors.keys.filter { $0.hasPrefix("grad.") })
                == Set(expected.tensors.keys.filter { $0.hasPrefix("grad.") }))
        for (name, p) in model.namedParameters { #expect(p.grad == nil, "frozen \(name) got a gradient") }
        // Task 1 is read by no row: its factors' gradients are exactly zero, here as in PEFT.
        let r = variant == "mpt" ? 1 : 2
        for (key, perTask) in [("prefix_task_cols", 5 * r), ("prefix_task_rows", r * 32)] {
            let ours = report["grad.prompt_encoder.\(key)"]!.values
            let theirs = expected["grad.prompt_encoder.\(key)"]!.values
            #expect(ours[perTask..<(2 * perTask)].allSatisfy { $0 == 0 }, "\(key): task 1's gradient is not zero")
            #expect(theirs[perTask..<(2 * perTask)].allSatisfy { $0 == 0 })
            #expect(ours[0..<perTask].contains { $0 != 0 } && ours[(2 * perTask)...].contains { $0 != 0 })
        }
    }

    @Test func eachRowReadsItsOwnTasksPrompt() throws {
        // Swapping the rows' tasks moves the logits well beyond the tolerance; a row's prompt is
        // E ⊙ (cols[t] · rows[t]) and nothing else.
        let tuner = try AdapterFolder.load(from: Golden.folder("mpt"), onto: try Golden.base())
        var batch = try multitaskBatch()
        let right = withoutGrad { tuner.forward(batch) }.array
        batch.taskIds = [0, 2]
        #expect(maxAbsDiff(withoutGrad { tuner.forward(batch) }.array, right) > 1e-2)
        guard let encoder = (tuner as? PromptLearningModel)?.encoder as? MultitaskPromptEmbedding else {
            Issue.record("not an MPT encoder"); return
        }
        let rows = try multitaskBatch()
        let prompt = withoutGrad { encoder.prompt(for: rows) }                                   // [2, 5, 32]
        let w2 = encoder.taskMatrix(2), e = encoder.embedding.array
        #expect(prompt.shape == [2, 5, 32])
        #expect(maxAbsDiff(Array(prompt.array[0..<160]), zip(e, w2).map { $0 * $1 }) < 1e-7)
    }

    @Test func gradientsAgreeWithFiniteDifferences() throws {
        let config = MultitaskPromptTuningConfig(numVirtualTokens: 3, numTasks: 3, numRanks: 2)
        let tuner = try config.makeTuner(wrapping: try Golden.base(),
                                         context: TunerContext(generator: Generator(seed: 4)))
        guard let encoder = (tuner as? PromptLearningModel)?.encoder as? MultitaskPromptEmbedding else {
            Issue.record("not an MPT encoder"); return
        }
        for t in [encoder.taskCols, encoder.taskRows] {  // of order 1, so that every term is visible
            for i in 0..<t.count { t.data[i] = 1 + 0.5 * Float(i % 7) / 7 }
        }
        let batch = TokenBatch(inputIds: [[1], [2], [3], [4]], taskIds: [2, 0, 2, 1])
        gradCheck([encoder.embedding, encoder.taskCols, encoder.taskRows]) { _ in encoder.prompt(for: batch) }
    }

    @Test func peftsConfigFilesReadWithoutWarningsAndRoundTrip() throws {
        for variant in ["mpt", "mpt-r2"] {
            var warnings: [String] = []
            let url = Golden.folder(variant).appendingPathComponent("adapter_config.json")
            let config = try AdapterConfigFile.read(contentsOf: url) { warnings.append($0) }
            #expect(warnings.isEmpty, "\(warnings)")
            let mpt = try #require(config as? MultitaskPromptTuningConfig)
            #expect(mpt.numTasks == 3 && mpt.numRanks == (variant == "mpt" ? 1 : 2) && mpt.promptTuningInit == .random)
            let copy = temporaryFolder().appendingPathComponent("adapter_config.json")
            try AdapterConfigFile.json(config).write(to: copy)
            let back = try AdapterConfigFile.read(contentsOf: copy)
            #expect(try AdapterConfigFile.json(back) == AdapterConfigFile.json(config))
        }
    }

    @Test func saveLoadRoundTripInPeftsLayout() throws {
        let config = MultitaskPromptTuningConfig(numVirtualTokens: 4, numTasks: 2, numRanks: 1)
        let tuner = try config.makeTuner(wrapping: try Golden.base(),
                                         context: TunerContext(generator: Generator(seed: 1)))
        let folder = temporaryFolder()
        try tuner.save(to: folder)
        let file = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        #expect(file.tensors.keys.sorted() == ["prefix_task_cols", "prefix_task_rows", "prompt_embeddings"])
        #expect(file["prompt_embeddings"]!.shape == [4, 32] && file["prefix_task_cols"]!.shape == [2, 4, 1]
                && file["prefix_task_rows"]!.shape == [2, 1, 32])
        let json = try String(contentsOf: folder.appendingPathComponent("adapter_config.json"), encoding: .utf8)
        for field in ["\"peft_type\" : \"MULTITASK_PROMPT_TUNING\"", "\"num_tasks\" : 2", "\"num_ranks\" : 1",
                      "\"prompt_tuning_init\" : \"RANDOM\"", "\"prompt_tuning_init_task\" : 0", "\"token_dim\" : 32"] {
            #expect(json.contains(field), "adapter_config.json lacks \(field)")
        }
        let reloaded = try AdapterFolder.load(from: folder, onto: try Golden.base())
        let batch = TokenBatch(inputIds: [[1, 2, 3], [4, 5, 6]], taskIds: [1, 0])
        #expect(withoutGrad { reloaded.forward(batch) }.array == withoutGrad { tuner.forward(batch) }.array)
        #expect(reloaded.namedTrainableParameters.map(\.name) == ["prompt_encoder.embedding.weight",
                                                                  "prompt_encoder.prefix_task_cols",
                                                                  "prompt_encoder.prefix_task_rows"])
    }

    @Test func randomStartIsPeftsAndAddsNPlusCPerTaskAtRankOne() throws {
        let config = MultitaskPromptTuningConfig(numVirtualTokens: 6, numTasks: 4)
        let tuner = try config.makeTuner(wrapping: try Golden.base(),
                                         context: TunerContext(generator: Generator(seed: 5)))
        func std(_ v: [Float]) -> Float {
            let mean = v.reduce(0, +) / Float(v.count)
            return (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(v.count)).squareRoot()
        }
        let p = tuner.trainableParameters
        #expect(abs(std(p[0].array) - 1) < 0.15)            // E ~ N(0, 1), nn.Embedding's start
        #expect(abs(std(p[1].array + p[2].array) - 0.02) < 0.005)  // cols, rows ~ N(0, 0.02)
        #expect(tuner.trainableCount == 6 * 32 + 4 * (6 + 32))
    }
}

@Suite struct MultitaskTaskIdTests {
    @Test func rowsWithoutTaskIdsOrWithUnknownTasksAreClearErrors() throws {
        let tuner = try AdapterFolder.load(from: Golden.folder("mpt"), onto: try Golden.base())
        var batch = try Golden.batch()
        let missing = #expect(throws: PEFTError.self) { try tuner.check(batch) }
        #expect(missing?.description.contains("needs a task id for every row") == true)
        batch.taskIds = [3, 0]
        let outside = #expect(throws: PEFTError.self) { try tuner.check(batch) }
        #expect(outside?.description.contains("task id 3 is outside 0..<3") == true)
        batch.taskIds = [0]
        let count = #expect(throws: PEFTError.self) { try tuner.check(batch) }
        #expect(count?.description.contains("2 rows but 1 task ids") == true)
    }

    @Test func batchFilesCarryTaskIds() throws {
        let url = temporaryFolder().appendingPathComponent("batch.json")
        try #"{"input_ids": [[1, 2], [3, 4]], "task_ids": [2, 0]}"#.write(to: url, atomically: true, encoding: .utf8)
        #expect(try TokenBatch.load(contentsOf: url, vocabSize: 97).taskIds == [2, 0])
        try #"{"input_ids": [[1, 2], [3, 4]], "task_ids": [2]}"#.write(to: url, atomically: true, encoding: .utf8)
        let error = #expect(throws: FileFormatError.self) { try TokenBatch.load(contentsOf: url, vocabSize: 97) }
        #expect(error?.problem.contains("task_ids must be a list of 2 whole numbers") == true)
    }
}

@Suite struct MultitaskSourceInitTests {
    func target(_ initialization: MultitaskPromptTuningInit, tasks: Int = 1, ranks: Int = 1, n: Int = 5,
                task: Int = 0, path: String? = goldenSource.path) throws -> MultitaskPromptEmbedding {
        let config = MultitaskPromptTuningConfig(numVirtualTokens: n, numTasks: tasks, numRanks: ranks,
                                                 promptTuningInit: initialization, promptTuningInitStateDictPath: path,
                                                 promptTuningInitTask: task)
        let tuner = try config.makeTuner(wrapping: try Golden.base(),
                                         context: TunerContext(generator: Generator(seed: 8)))
        return try #require((tuner as? PromptLearningModel)?.encoder as? MultitaskPromptEmbedding)
    }

    @Test func averageOfTheSourceTasksFactors() throws {
        let source = try SafeTensorsFile.read(contentsOf: goldenSource)
        let e = try target(.averageSourceTasks)
        #expect(e.embedding.array == source["prompt_embeddings"]!.values)
        let cols = source["prefix_task_cols"]!.values, rows = source["prefix_task_rows"]!.values
        func meanOverTasks(_ v: [Float], _ size: Int) -> [Float] {
            (0..<size).map { (i: Int) -> Float in (v[i] + v[size + i] + v[2 * size + i]) / 3 }
        }
        let meanCols = meanOverTasks(cols, 5), meanRows = meanOverTasks(rows, 32)
        #expect(e.taskCols.shape == [1, 5, 1] && maxAbsDiff(e.taskCols.array, meanCols) < 1e-6)
        #expect(e.taskRows.shape == [1, 1, 32] && maxAbsDiff(e.taskRows.array, meanRows) < 1e-6)
    }

    @Test func exactSourceTaskCopiesOneTask() throws {
        let source = try SafeTensorsFile.read(contentsOf: goldenSource)
        let e = try target(.exactSourceTask, task: 2)
        #expect(e.embedding.array == source["prompt_embeddings"]!.values)
        #expect(e.taskCols.array == Array(source["prefix_task_cols"]!.values[10..<15]))
        #expect(e.taskRows.array == Array(source["prefix_task_rows"]!.values[64..<96]))
        // a folder names its adapter_model.safetensors, and the config records the file
        let folderStart = try target(.exactSourceTask, task: 2, path: Golden.folder("mpt").path)
        #expect(folderStart.taskRows.array == e.taskRows.array)
    }

    @Test func onlyTheSharedPromptKeepsFreshFactorsOfAnyShape() throws {
        let source = try SafeTensorsFile.read(contentsOf: goldenSource)
        let e = try target(.onlySourceShared, tasks: 4, ranks: 2)
        #expect(e.embedding.array == source["prompt_embeddings"]!.values)
        #expect(e.taskCols.shape == [4, 5, 2] && e.taskCols.array.allSatisfy { abs($0) < 0.15 })
    }

    @Test func mismatchedSourcesAreClearErrors() throws {
        func message(_ body: () throws -> Any) -> String {
            do { _ = try body(); return "" } catch { return "\(error)" }
        }
        #expect(message { try target(.averageSourceTasks, n: 4) }
                    .contains("has shape [5, 32], but the target needs [4, 32]"))
        #expect(message { try target(.averageSourceTasks, ranks: 2) }
                    .contains("'prefix_task_cols': has shape [3, 5, 1], but the target needs [tasks, 5, 2]"))
        #expect(message { try target(.exactSourceTask, tasks: 2) }.contains("num_tasks must be 1, not 2"))
        #expect(message { try target(.exactSourceTask, task: 3) }.contains("has 3 tasks (0..<3)"))
        #expect(message { try target(.averageSourceTasks, path: nil) }
                    .contains("prompt_tuning_init_state_dict_path needs to be specified with AVERAGE_SOURCE_TASKS"))
        #expect(message { try target(.onlySourceShared, path: "/tmp/source.bin") }
                    .contains("is not a .safetensors file"))
        #expect(message { try target(.onlySourceShared, path: Golden.folder("lora").path) }
                    .contains("'prompt_embeddings': missing"))
        // a model of another width
        let narrow = LlamaConfig(vocabSize: 97, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
                                 numAttentionHeads: 4)
        let other = LlamaModel(config: narrow, generator: Generator(seed: 2))
        let config = MultitaskPromptTuningConfig(numVirtualTokens: 5, promptTuningInit: .onlySourceShared,
                                                 promptTuningInitStateDictPath: goldenSource.path)
        let context = TunerContext(generator: Generator(seed: 1))
        #expect(message { try config.makeTuner(wrapping: other, context: context) }
                    .contains("but the target needs [5, 16]"))
    }
}
