// lesson-full-finetune — what full fine-tuning is, what it costs, and what the cheapest PEFT
// family (training a chosen subset of the parameters) keeps or loses.
//
//   swift run lesson-full-finetune            (about 3 minutes once the base model is cached)
//   swift run lesson-full-finetune --quick    (seconds; what the tests run)

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit
import Training

@main
struct LessonFullFinetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lesson-full-finetune",
        abstract: "Full fine-tuning against freeze-tuning, head-only training, training from scratch and the frozen base.",
        discussion: """
        Trains a small pretrained LLaMA five ways on a knowledge task (qa) and a skill task (sentiment) with \
        the same data and steps, then shows trainable parameters, memory, loss curves, test scores and how much \
        of the pretraining each method forgets. The report and figures go to Figures/lesson-full-finetune (or --out).
        """)

    @OptionGroup var options: LessonOptions
    @Option(help: "Tasks, comma-separated: qa, sentiment, topic, data-to-text.") var tasks = "qa,sentiment"
    @Option(help: "Blocks left trainable by freeze-tuning (counted from the top).") var trainableBlocks = 1
    @Option(help: "Training examples per task (a small set is where pretraining matters).") var trainExamples = 256

    func run() throws {
        let lesson = "lesson-full-finetune"
        let nb = Notebook(lesson: lesson, title: "Full fine-tuning, and choosing what to train", folder: options.folder(for: lesson), introduction: """
            Fine-tuning continues the training of a pretrained model on a small task-specific data set. Full \
            fine-tuning updates every parameter; parameter-efficient fine-tuning (PEFT) updates a small part. The \
            simplest PEFT family selects a subset of the existing parameters: the top blocks ("freeze-tuning") or \
            the output head. This notebook trains one small LLaMA five ways with the same data and steps, and \
            measures what each costs and what it gives.
            """)

        // 1. The base model
        nb.section("The pretrained base model", """
            Every lesson starts from the same base: a LLaMA-style decoder (RMSNorm, RoPE, SwiGLU) pretrained here \
            on a generated English-like corpus of biographies, stories, reviews, news and sums. It is built once and \
            cached. Its knowledge (who lives where, which words are positive) is what fine-tuning can reuse.
            """)
        let base = try BaseModel.load(try options.basePreset(), rebuild: options.rebuildBase)
        let config = base.model.config
        nb.table(Table(["base", "parameters", "layers", "hidden", "heads", "vocabulary", "held-out loss", "pretraining time"], rows: [[
            base.preset.name, formatCount(base.model.parameterCount), "\(config.numHiddenLayers)", "\(config.hiddenSize)",
            "\(config.numAttentionHeads)", "\(config.vocabSize)", String(format: "%.3f", base.heldOutLoss), formatDuration(base.pretrainingSeconds)]]))
        var pretrainingFigure = Figure(name: "pretraining", title: "Pretraining loss of the base model", xLabel: "step", yLabel: "loss (log scale)",
                                       kind: .lines([.init("pretraining loss", y: base.pretrainingLosses.map(Double.init), xStart: 10, xStep: 10)]))
        pretrainingFigure.logY = true
        nb.figure(pretrainingFigure)

        // 2. The tasks
        let sizes = options.splitSizes(trainLimit: trainExamples)
        let taskList = try tasks.split(separator: ",").map { try base.world.task(String($0), sizes: sizes, seed: options.seed) }
        nb.section("The tasks", """
            Two kinds of task. qa asks about people the training set never mentions: the answers exist only in the \
            pretraining text, so it tests whether fine-tuning can reach knowledge. sentiment asks for a skill: \
            reading negation ("not great") and contrast ("…, but …"). Text in, answer out; the loss covers the \
            answer tokens only.
            """)
        var taskTable = Table(["task", "what it asks", "train", "test", "metric"], rightAligned: [2, 3])
        for t in taskList { taskTable.add([t.name, t.summary, "\(t.train.count)", "\(t.test.count)", t.metricName]) }
        nb.table(taskTable)
        nb.code(taskList.map { t in t.train.prefix(2).map { "\($0.prompt)\($0.answer)" }.joined(separator: "\n\n") }.joined(separator: "\n\n"))

        // 3. The five ways
        let steps = options.steps(full: 250, quick: 40)
        let seedList = options.seedList()
        let k = min(trainableBlocks, config.numHiddenLayers)
        struct Way { var name: String; var fromScratch: Bool; var learningRate: Float; var pick: (LlamaModel) -> SelectiveFineTuning }
        let ways: [Way] = [
            Way(name: "full fine-tuning", fromScratch: false, learningRate: 1e-3) { .full($0) },
            Way(name: "freeze-tuning (top \(k))", fromScratch: false, learningRate: 1e-3) { .topBlocks(k, of: $0) },
            Way(name: "head only", fromScratch: false, learningRate: 3e-3) { .headOnly($0) },
            Way(name: "from scratch", fromScratch: true, learningRate: 1e-3) { .full($0) },
        ]
        nb.section("Five ways to adapt the model", """
            Full fine-tuning trains all \(formatCount(base.model.parameterCount)) parameters. Freeze-tuning trains the \
            top \(k) block(s); head-only trains the output layer (lm_head). From scratch uses the same architecture \
            and budget without pretraining; the frozen base is not trained at all. Each run: \(steps) steps of AdamW, \
            batch 16, warm-up then cosine decay, \(seedList.count) seed(s). A frozen parameter needs no gradient and \
            no optimizer state, and back-propagation stops below the lowest trainable layer:
            """)
        let probe = TokenBatch(padding: Array(taskList[0].train.prefix(16)).map { base.tokenizer.encode($0) }, padId: base.tokenizer.padId)
        let measured = memoryTable(ways.map { ($0.name, $0.pick(base.copy())) }, batch: probe)
        let memory = zip(ways.map(\.name), measured.rows).map { ($0, $1) }
        nb.table(measured.table)
        let mb = { (bytes: Int) in Double(bytes) / 1_048_576 }
        nb.figure(Figure(name: "memory", title: "Training memory by kind (a batch of 16)", yLabel: "MB",
                         kind: .bars(categories: memory.map(\.0), [
                            .init("weights", memory.map { mb($0.1.weights) }), .init("gradients", memory.map { mb($0.1.gradients) }),
                            .init("optimizer", memory.map { mb($0.1.optimizerState) }), .init("activations", memory.map { mb($0.1.activations) })])))

        // 4. Training and results, task by task
        var resultsByTask: [(TaskData, [MethodResult])] = []
        var experiments: [String: Experiment] = [:]
        for task in taskList {
            nb.section("Training on \(task.name)", "Every method sees the same batches in the same order (same seed), so the curves differ only by what is trainable and where it started.")
            let experiment = Experiment(lesson: lesson, options: options, base: base, task: task, steps: steps)
            experiments[task.name] = experiment
            var results: [MethodResult] = []
            for way in ways {
                let method = Method.selective(way.name, base, fromScratch: way.fromScratch, way.pick)
                results.append(try experiment.run(method, keep: 0))
            }
            results.append(experiment.frozenBase())
            var lossFigure = Figure(name: "loss-\(task.name)", title: "Fine-tuning loss on \(task.name)", xLabel: "step", yLabel: "loss on the answer tokens (log scale)",
                                    kind: .lines(results.filter { !$0.curve(window: 1).isEmpty }.map { .init($0.name, y: $0.curve(window: max(1, steps / 30)), xStart: Double(max(1, steps / 30)), xStep: Double(max(1, steps / 30))) }))
            lossFigure.logY = true
            nb.figure(lossFigure)
            resultsByTask.append((task, results))
        }

        // 5. Scores
        nb.section("Test scores", "Test examples were never trained on. \(seedList.count > 1 ? "Mean ± standard deviation over \(seedList.count) seeds." : "One seed.")")
        var scores = Table(["method"] + resultsByTask.map { "\($0.0.name) (\($0.0.metricName))" } + ["train time", "tokens/s"])
        for (i, way) in (ways.map(\.name) + ["frozen base"]).enumerated() {
            let rs = resultsByTask.map { $0.1[i] }
            scores.add([way] + zip(resultsByTask, rs).map { experiments[$0.0.name]!.interval($1).text() } + [rs[0].seconds > 0 ? formatDuration(rs[0].seconds) : "—", rs[0].tokensPerSecond > 0 ? formatCount(Int(rs[0].tokensPerSecond)) : "—"])
        }
        nb.table(scores)
        let names = ways.map(\.name) + ["frozen base"]
        nb.figure(Figure(name: "scores", title: "Test score by method and task", yLabel: "score",
                         kind: .bars(categories: names, resultsByTask.map { task, rs in
                            .init(task.name, rs.map(\.meanScore)) })))
        for (task, rs) in resultsByTask {
            let full = rs[0], scratch = rs[3], frozen = rs[4]
            let gain = full.meanScore - scratch.meanScore
            let c = experiments[task.name]!.compare(full, scratch).verdict
            let verdict = c == .better ? "pretraining clearly helps" : c == .worse ? "pretraining hurts here" : "the difference is within the noise of the seeds: at this scale the task can be learned from its own examples"
            nb.say(String(format: "%@: full fine-tuning %.3f, from scratch %.3f (%+.3f at equal steps: %@); the frozen base scores %.3f.",
                          task.name, full.meanScore, scratch.meanScore, gain, verdict, frozen.meanScore))
        }

        // 6. Forgetting
        nb.section("Catastrophic forgetting", """
            Fine-tuning on a narrow task can damage what pretraining taught. Measured directly: the language-model \
            loss on held-out pretraining text, \(String(format: "%.3f", base.heldOutLoss)) for the base, after each \
            method. The source material claims that parameter-efficient methods forget less than full fine-tuning.
            """)
        var forgetting = Table(["method"] + resultsByTask.map { "after \($0.0.name)" } + resultsByTask.map { "change (\($0.0.name))" })
        for (i, name) in names.enumerated() {
            let rs = resultsByTask.map { $0.1[i] }
            forgetting.add([name] + rs.map { String(format: "%.3f", $0.meanHeldOutLoss) } + rs.map { String(format: "%+.3f", $0.meanHeldOutLoss - Double(base.heldOutLoss)) })
        }
        nb.table(forgetting)
        nb.figure(Figure(name: "forgetting", title: "Held-out pretraining loss after fine-tuning (higher = more forgotten)", yLabel: "loss",
                         kind: .bars(categories: names.filter { $0 != "from scratch" }, resultsByTask.map { task, rs in
                            .init(task.name, rs.filter { $0.name != "from scratch" }.map(\.meanHeldOutLoss)) })))
        var held = 0, total = 0
        for (_, rs) in resultsByTask {
            for subset in rs[1...2] { total += 1; if subset.meanHeldOutLoss < rs[0].meanHeldOutLoss { held += 1 } }
        }
        nb.say(held == total
               ? "In all \(total) comparisons the subset methods forgot less than full fine-tuning: the claim holds here. They also changed fewer weights, which is the simplest explanation: what is frozen cannot be forgotten."
               : "The claim held in \(held) of \(total) comparisons; the table shows where it did not.")
        if let peak = processPeakMemory() { nb.say("Peak memory of this whole process: \(formatBytes(peak)).") }

        nb.section("What to take away, and exercises", """
            Full fine-tuning pays gradient and optimizer memory for every parameter (3× the weights on top of them \
            with AdamW) and moves every weight, so it both costs most and forgets most. Training a subset is cheap \
            but, at this scale, it cannot reach what the whole network knows. LoRA (next lesson) keeps the cost of a \
            small subset while letting every layer change. Exercises: (1) --trainable-blocks 2 and 3: how do score \
            and forgetting move with the trainable share? (2) why does "from scratch" score above zero on qa? (look \
            at which answers it gives) (3) --steps 1000: does forgetting keep growing? (4) --base tiny or medium: \
            does a larger base gain more from pretraining?
            """)
        nb.finish()
    }
}
