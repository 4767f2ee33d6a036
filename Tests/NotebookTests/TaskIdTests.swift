// Task ids travel with the data: from examples through encoding and padding into every batch a
// tuner sees in training, evaluation (both metrics) and the held-out windows — whatever the method.

import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import Testing
import TensorKit
import Training

@Suite struct TaskIdTests {
    @Test func paddedBatchesCarryTheRowsTasks() {
        let a = EncodedExample(ids: [1, 2, 3], labels: [-100, 2, 3], taskId: 2)
        let b = EncodedExample(ids: [4, 5], labels: [-100, 5], taskId: 0)
        #expect(TokenBatch(padding: [a, b], padId: 9).taskIds == [2, 0])
        #expect(TokenBatch(padding: [a, EncodedExample(ids: [4], labels: [4])], padId: 9).taskIds == nil)
        #expect(TokenBatch(windows: [[1, 2], [3, 4]], taskId: 1).taskIds == [1, 1])
        #expect(TokenBatch(windows: [[1, 2]]).taskIds == nil)
    }

    @Test func evaluationHandsEveryRowItsTask() throws {
        let tokenizer = Tokenizer.train(on: World().pretrainingDocuments(count: 300, generator: Generator(seed: 1)),
                                        vocabularySize: 300)
        let world = World()
        for (name, id) in [("sentiment", 3), ("qa-pet", 2), ("qa", 1)] {  // rank classification (2 kinds), generation
            let task = try world.task(name, sizes: .quick).withTaskId(id)
            var seen: [[Int]?] = []
            let logits: LogitsFunction = { batch in
                seen.append(batch.taskIds)
                return Tensor(zeros: [batch.batchSize, batch.sequenceLength, tokenizer.vocabularySize])
            }
            _ = evaluate(task, on: Array(task.test.prefix(5)), tokenizer: tokenizer, logits: logits)
            #expect(!seen.isEmpty && seen.allSatisfy { $0?.allSatisfy { $0 == id } ?? false }, "\(name)")
            #expect(tokenizer.encode(task.train[0]).taskId == id)
        }
    }

    @Test func trainingDataWithSomeTasksMissingIsAClearError() throws {
        let config = LlamaConfig(vocabSize: 20, hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 1,
                                 numAttentionHeads: 2)
        let model = LlamaModel(config: config, generator: Generator(seed: 1))
        let tuner = try MultitaskPromptTuningConfig(numVirtualTokens: 2, numTasks: 2)
            .makeTuner(wrapping: model, context: TunerContext(generator: Generator(seed: 2)))
        let data = [EncodedExample(ids: [1, 2], labels: [-100, 2], taskId: 1),
                    EncodedExample(ids: [3, 4], labels: [-100, 4])]
        let error = #expect(throws: LessonError.self) {
            try fineTune(tuner, label: "t", optimizer: AdamW(tuner.parameterGroups(weightDecay: 0), learningRate: 0.1),
                         data: data, padId: 0, settings: TrainingSettings(steps: 1, learningRate: 0.1))
        }
        #expect(error?.description.contains("1 of 2 training examples carry a task id") == true)
    }
}
