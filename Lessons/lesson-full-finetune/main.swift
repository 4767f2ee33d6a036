// lesson-full-finetune — what full fine-tuning is, what it costs at this size and at 7B and 65B,
// what the cheapest PEFT family (training a chosen subset of the weights) keeps or loses, and
// when pretraining matters: with little data.
//
//   swift run lesson-full-finetune            (2:16 measured alone on 2 threads with the base cached)
//   swift run lesson-full-finetune --quick    (seconds; what the tests run)
//   swift run lesson-full-finetune --tune     (sweeps the learning rates again and rewrites tuning.json)

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

@main
struct LessonFullFinetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lesson-full-finetune",
        abstract: "Full fine-tuning against freeze-tuning, head-only training, training from scratch "
            + "and the frozen base.",
        discussion: """
        Trains a small pretrained LLaMA four ways on a knowledge task (qa) and a skill task (sentiment), each at the \
        learning rate chosen on the validation split (Lessons/lesson-full-finetune/tuning.json), five seeds each, then \
        shows trainable parameters, memory (measured, and computed for 7B and 65B models), test scores with 95% \
        intervals, forgetting, and how the value of pretraining changes with the amount of task data. About two and a \
        half minutes with the base cached. The report and figures go to Figures/lesson-full-finetune (or --out).
        """)

    @OptionGroup var options: LessonOptions
    @Option(help: "Tasks, comma-separated: qa, sentiment, topic, data-to-text.") var tasks = "qa,sentiment"
    @Option(help: "Blocks left trainable by freeze-tuning (counted from the top).") var trainableBlocks = 1
    @Option(help: "Training examples per task.") var trainExamples = 256
    @Option(help: "Training-set sizes of the little-data sweep, comma-separated.") var dataSizes = "16,64,256"
    @Option(help: "Task of the little-data sweep.") var dataTask = "sentiment"
    @Option(help: """
        Training budget of each size in the little-data sweep: epochs (the main runs' passes over the data, so fewer \
        steps for fewer examples) or steps (the main runs' steps for every size).
        """)
    var dataBudget: DataBudget = .epochs

    /// Steps of the main runs (full, --quick); the little-data sweep derives its own from them.
    static let mainSteps = (full: 200, quick: 40)

    func run() throws {
        let lesson = "lesson-full-finetune"
        let nb = Notebook(lesson: lesson, title: "Full fine-tuning, and choosing what to train",
                          folder: options.folder(for: lesson),
                          introduction: """
            Fine-tuning continues the training of a pretrained model on a small task-specific data set. Full \
            fine-tuning updates every parameter; parameter-efficient fine-tuning (PEFT) trains a small part. The \
            source tutorial sorts PEFT methods into three families, and the lessons follow it: selecting a subset of \
            the parameters (「选择参数子集」, usually the last layers: this lesson's freeze-tuning and head-only \
            training), reparametrisation (「重新参数化」, a low-rank form of the update: lesson-lora, lesson-rank, \
            lesson-targets, lesson-qlora, lesson-adalora) and adding parameters (「添加参数」, trainable tokens or layers: \
            lesson-soft-prompts, lesson-mpt). Subsets are not only the last layers: BitFit trains only the biases \
            (Ben Zaken et al., 2022). This notebook trains one small LLaMA four ways and measures what each costs and \
            gives.
            """)

        // 1. The base model
        nb.section("The pretrained base model", """
            Every lesson starts from the same base: a LLaMA-style decoder (RMSNorm, RoPE, SwiGLU) pretrained here on a \
            generated English-like corpus of biographies, stories, reviews, news and sums. It is built once and \
            cached. Its knowledge (who lives where, which words are positive) is what fine-tuning can reuse — the \
            tutorial's experienced chef, who learns sushi without relearning how to cook.
            """)
        let taskNames = tasks.split(separator: ",").map(String.init)
        guard !taskNames.isEmpty else { throw LessonError("--tasks names no task; try --tasks qa,sentiment") }
        let experiments = try taskNames.map {
            try Experiment.start(lesson, options: options, task: $0, trainLimit: trainExamples, steps: Self.mainSteps)
        }
        let base = experiments[0].base, config = base.model.config
        nb.table(Table(["base", "parameters", "layers", "hidden", "heads", "vocabulary", "held-out loss",
                        "pretraining time"], rows: [[
            base.name, formatCount(base.model.parameterCount), "\(config.numHiddenLayers)",
            "\(config.hiddenSize)", "\(config.numAttentionHeads)", "\(config.vocabSize)",
            String(format: "%.3f", base.heldOutLoss),
            base.isUserModel ? "—" : formatDuration(base.pretrainingSeconds)]]))
        if base.isUserModel {
            nb.say("""
                Here the base is your model from \(base.folder.path), not pretrained on this corpus: its held-out loss \
                is measured on the world's held-out text, and the qa task asks about people it has never read about.
                """)
        }
        var pretrainingFigure = Figure(name: "pretraining", title: "Pretraining loss of the base model", xLabel: "step",
                                       yLabel: "loss (log scale)",
                                       kind: .lines([.init("pretraining loss",
                                                           y: base.pretrainingLosses.map(Double.init),
                                                           xStart: 10, xStep: 10)]))
        pretrainingFigure.logY = true
        if !base.pretrainingLosses.isEmpty { nb.figure(pretrainingFigure) }

        // 2. The tasks
        nb.section("The tasks", """
            Two kinds of task. qa asks about people the training set never mentions: the answers exist only in the \
            pretraining text, so it tests whether fine-tuning can reach knowledge. sentiment asks for a skill: reading \
            negation ("not great") and contrast ("…, but …"). Text in, answer out; the loss covers the answer tokens \
            only.
            """)
        var taskTable = Table(["task", "what it asks", "train", "validation", "test", "metric", "chance", "majority",
                               "most common test answer"])
        for e in experiments {
            taskTable.add([e.task.name, e.task.summary, "\(e.task.train.count)", "\(e.task.validation.count)",
                           e.testDescription, e.task.metricName, String(format: "%.3f", e.baselines.chance),
                           String(format: "%.3f", e.baselines.majority), String(format: "%.3f", e.oneAnswerScore)])
        }
        nb.table(taskTable)
        nb.code(experiments.map { e in
            e.task.train.prefix(2).map { "\($0.prompt)\($0.answer)" }.joined(separator: "\n\n")
        }.joined(separator: "\n\n"))

        // 3. The four ways and their memory
        let k = min(trainableBlocks, config.numHiddenLayers)
        let ways: [Method] = [
            .selective("full fine-tuning", base) { .full($0) },
            .selective("freeze-tuning (top \(k))", base) { .topBlocks(k, of: $0) },
            .selective("head only", base) { .headOnly($0) },
            .selective("from scratch", base, fromScratch: true) { .full($0) },
        ]
        nb.section("Four ways to adapt the model, and what they hold in memory", """
            Full fine-tuning trains all \(formatCount(base.model.parameterCount)) parameters. Freeze-tuning trains the \
            top \(k) block(s); head-only trains the output layer (lm_head). From scratch trains the same architecture \
            from a random start: what the task's own data can teach. The frozen base is not trained at all. A frozen \
            parameter needs no gradient and no optimizer state, and back-propagation stops below the lowest trainable \
            layer. Measured on one training batch of 16 examples:
            """)
        let measured = memoryTable(try ways.map { ($0.name, try $0.prepare(options.seed)) },
                                   batch: experiments[0].probeBatch)
        nb.table(measured.table)
        let mb = { (bytes: Int) in Double(bytes) / 1_048_576 }
        var memoryFigure = Figure(name: "memory", title: "Training memory by kind (one batch of 16)", yLabel: "MB",
                                  kind: .bars(categories: ways.map(\.name), [
                                      .init("weights", measured.rows.map { mb($0.weights) }),
                                      .init("gradients", measured.rows.map { mb($0.gradients) }),
                                      .init("optimizer", measured.rows.map { mb($0.optimizerState) }),
                                      .init("activations", measured.rows.map { mb($0.activations) })]))
        memoryFigure.valueFormat = "%.1f"
        nb.figure(memoryFigure)
        nb.say("""
            The same arithmetic for real models, computed rather than measured (weights, gradients and AdamW's two \
            moments; activations depend on the batch and sequence length and are left out). In 32-bit everything takes \
            4 bytes; in the usual mixed precision the weights and gradients are 16-bit, AdamW keeps a 32-bit master \
            copy and two 32-bit moments for what trains:
            """)
        nb.table(scaledMemoryTable())

        // 4. Training and results, task by task
        var byTask: [(Experiment, [MethodResult])] = []
        for experiment in experiments {
            let task = experiment.task
            nb.section("Training on \(task.name)", """
                Every method sees the same batches in the same order (same seed), so the curves differ only by what is \
                trainable and where it started; each at its own learning rate, chosen on the validation split.
                """)
            experiment.describeSetup(in: nb)
            var results = try experiment.run(ways, keep: 0)
            experiment.reportTuning(in: nb, figureName: "learning-rates-\(task.name)")
            results.append(experiment.frozenBase())
            var lossFigure = Figure(name: "loss-\(task.name)", title: "Fine-tuning loss on \(task.name), first seed",
                                    xLabel: "step",
                                    yLabel: "loss on the answer tokens (log scale)",
                                    kind: .lines(results.dropLast().map { $0.lossSeries(steps: experiment.steps) }))
            lossFigure.logY = true
            nb.figure(lossFigure)
            nb.table(experiment.scoreTable(results, against: results[0]))
            nb.figure(experiment.scoreFigure(name: "scores-\(task.name)",
                                             title: "Test \(task.metricName) by method (\(task.name))", results))
            nb.say(pretrainingVerdict(experiment, results))
            byTask.append((experiment, results))
        }

        // 5. Forgetting
        nb.section("Catastrophic forgetting", """
            Fine-tuning on a narrow task can damage what pretraining taught. Measured directly: the language-model \
            loss on held-out pretraining text after each method, minus the base's \
            \(String(format: "%.3f", base.heldOutLoss)). The tutorial says PEFT 「减轻了大语言模型灾难性的遗忘」 (mitigates \
            catastrophic forgetting). A method that moves fewer weights can forget less simply because it learns less, \
            so the fair test compares forgetting at matched task score: each learning rate of the sweeps is one point \
            of the figures below.
            """)
        var forgetting = Table(["method"] + byTask.map { "forgetting after \($0.0.task.name)" }
                               + byTask.map { "vs full fine-tuning (\($0.0.task.name))" })
        for i in 0..<(ways.count) where ways[i].name != "from scratch" {
            forgetting.add([ways[i].name] + byTask.map { $0.0.forgetting($0.1[i]).text(signed: true) }
                           + byTask.map { i == 0 ? "—" : $0.0.compareForgetting($0.1[i], $0.1[0]).text })
        }
        nb.table(forgetting)
        for (experiment, _) in byTask {
            if let figure = experiment.forgettingFigure(
                name: "forgetting-\(experiment.task.name)",
                title: "Validation score against forgetting (\(experiment.task.name)), one point per learning rate") {
                nb.figure(figure)
            }
        }
        nb.say(forgettingVerdict(byTask))

        // 6. Little data
        try littleData(nb, base: base, main: byTask)

        nb.section("What to take away, and exercises", """
            Full fine-tuning pays gradient and optimizer memory for every parameter (three times the weights again \
            with AdamW) and moves every weight. Training a subset is cheap, and whether it reaches the full score \
            depends on where the task's knowledge lives; the tables above say how far it got here. LoRA (lesson-lora) \
            keeps the cost of a small subset while letting every layer change. Exercises. Basic: (1) `swift run \
            lesson-full-finetune --trainable-blocks 2`: expect score and forgetting both to move towards full \
            fine-tuning. (2) Why does "from scratch" score near the chance and majority baselines on qa? Look at the \
            answers it gives (`swift run peft train --data qa`) — the facts are nowhere in its training data. \
            Intermediate: (3) \
            `--data-sizes 8,32,128,512`: at which size do both models first clear what one answer given every time \
            scores, and does the pretrained model pull ahead anywhere beyond the noise? (4) `--data-budget \
            steps`: every size gets the main runs' \(experiments[0].steps) steps, so 16 examples are each seen \
            \(experiments[0].steps) times. Predict first: does repeating a few examples make up for having few? (5) \
            `--steps 600`: does forgetting keep growing with training, at the same learning rate? Open: (6) `--base \
            medium` (~5M parameters, pretrained once, several minutes): does a larger base gain more from pretraining?
            """)
        nb.finish()
    }

    /// Pretraining's effect (full against from scratch) and the subsets against full fine-tuning.
    func pretrainingVerdict(_ experiment: Experiment, _ results: [MethodResult]) -> String {
        let full = results[0], freeze = results[1], head = results[2], scratch = results[3]
        let pretraining = experiment.compare(full, scratch)
        let meaning: String
        switch pretraining.verdict {
        case .better: meaning = "pretraining helps beyond the noise"
        case .worse: meaning = "pretraining hurts here"
        case .withinNoise: meaning = "the task can be learned from its own examples at this size"
        }
        return "\(experiment.task.name): full fine-tuning against from scratch is \(pretraining.text) — \(meaning). "
            + "Against full fine-tuning, \(freeze.name) is \(experiment.compare(freeze, full).text) and head only "
            + "\(experiment.compare(head, full).text) (at this scale, budget and learning rate)."
    }

    /// Which subset forgot less than full fine-tuning, per task, by paired intervals.
    func forgettingVerdict(_ byTask: [(Experiment, [MethodResult])]) -> String {
        var less = 0, more = 0, unclear = 0
        for (experiment, results) in byTask {
            for subset in results[1...2] {
                switch experiment.compareForgetting(subset, results[0]).verdict {
                case .better: less += 1
                case .worse: more += 1
                case .withinNoise: unclear += 1
                }
            }
        }
        let total = less + more + unclear
        return "At the chosen learning rates, a subset method forgot less than full fine-tuning in \(less) of \(total) "
            + "comparisons, more in \(more), and could not be told apart in \(unclear). Fewer trained weights is not "
            + "the whole story: the output head alone is a small share of the weights, yet every prediction passes "
            + "through it, so changing it can move the held-out loss as much as changing everything, or more. "
            + "Compare the methods along the figures' horizontal lines (equal validation score) before crediting a "
            + "method with forgetting less."
    }

    /// Memory of full fine-tuning, freeze-tuning, head-only and LoRA for LLaMA-7B and 65B, computed.
    func scaledMemoryTable() -> Table {
        struct Shape { var name: String; var layers, hidden, intermediate, vocab: Int }
        let shapes = [Shape(name: "LLaMA-7B", layers: 32, hidden: 4096, intermediate: 11008, vocab: 32000),
                      Shape(name: "LLaMA-65B", layers: 80, hidden: 8192, intermediate: 22016, vocab: 32000)]
        var table = Table(["model", "method", "trainable", "32-bit: weights + grads + AdamW", "mixed precision"])
        for s in shapes {
            let block = 4 * s.hidden * s.hidden + 3 * s.hidden * s.intermediate + 2 * s.hidden
            let total = s.layers * block + 2 * s.vocab * s.hidden + s.hidden
            let lora = s.layers * 2 * 8 * 2 * s.hidden  // r = 8 on q_proj and v_proj
            for (method, trainable, extra) in [("full fine-tuning", total, 0), ("freeze-tuning (top 2)", 2 * block, 0),
                                               ("head only", s.vocab * s.hidden, 0),
                                               ("LoRA r=8 (q_proj, v_proj)", lora, lora)] {
                let all = Double(total + extra), t = Double(trainable)
                let fp32 = 4 * all + 4 * t + 8 * t                    // weights, gradients, two moments
                // 16-bit weights and grads, 32-bit master and moments
                let mixed = 2 * all + 2 * t + 4 * t + 8 * t
                table.add([s.name, method, formatCount(trainable), formatBytes(Int(fp32)), formatBytes(Int(mixed))])
            }
        }
        return table
    }

    /// Full fine-tuning of the base against training from scratch, as the training set grows. Each
    /// size trains for the main runs' number of epochs (`--data-budget epochs`) or steps (`steps`);
    /// a size and budget the main runs already trained reuses their results.
    func littleData(_ nb: Notebook, base: BaseModel, main byTask: [(Experiment, [MethodResult])]) throws {
        let sizes = dataSizes.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
        guard !sizes.isEmpty else { return }
        let mainRuns = byTask.first { $0.0.task.name == dataTask }  // the main runs on this task, if any
        let reference = try mainRuns?.0
            ?? Experiment.start("lesson-full-finetune", options: options, task: dataTask, trainLimit: trainExamples,
                                steps: Self.mainSteps)
        let epochs = Double(reference.steps * reference.batchSize) / Double(reference.task.train.count)
        let budget = dataBudget == .epochs ? """
            Every size trains for the main runs' \(String(format: "%g", (epochs * 10).rounded() / 10)) epochs (passes \
            over its data; with batches of \(reference.batchSize) that is \(Int(epochs.rounded())) steps for \
            \(reference.batchSize) examples), so a smaller set also gets fewer steps: \
            little data and little compute together, as the tutorial's phrase has it (`--data-budget steps` gives \
            every size the main runs' \(reference.steps) steps instead).
            """ : "Every size trains for the main runs' \(reference.steps) steps, so a smaller set is seen more often."
        nb.section("When does pretraining matter? Little data", """
            The tutorial describes fine-tuning as adapting a model 「通过少量的数据和计算资源」 (with a small amount of \
            data and compute). Pretraining should matter most exactly there: with few examples, a model must bring its \
            own knowledge of the language. Full fine-tuning of the base against the same model trained from scratch, \
            on \(dataTask) with \(sizes.map(String.init).joined(separator: ", ")) training examples. \(budget) Each \
            size and method has its own learning rate, chosen on the validation split.
            """)
        var rows: [[String]] = [], pretrained: [(Double, Double)] = [], scratch: [(Double, Double)] = []
        var pretrainedIntervals: [Figure.Interval] = [], scratchIntervals: [Figure.Interval] = []
        let references = reference.baselineReferences
        var reused: [Int] = []
        // per size: examples, pretrained against scratch, whether neither beats one answer given always, its score
        var outcomes: [(examples: Int, verdict: Verdict, neitherLearns: Bool, floor: Double)] = []
        for size in sizes {
            let experiment: Experiment, full: MethodResult, fresh: MethodResult, steps: Int
            if options.splitSizes(trainLimit: size).train == options.splitSizes(trainLimit: trainExamples).train,
               let (main, results) = mainRuns,
               let f = results.first(where: { $0.name == "full fine-tuning" }),
               let s = results.first(where: { $0.name == "from scratch" }) {
                (experiment, full, fresh, steps) = (main, f, s, main.steps)  // same data, steps, rates and seeds
                reused.append(experiment.task.train.count)
            } else {
                experiment = try Experiment.start("lesson-full-finetune", options: options, task: dataTask,
                                                  trainLimit: size, steps: (reference.steps, reference.steps))
                let examples = Double(experiment.task.train.count)
                steps = dataBudget == .steps ? reference.steps
                    : max(1, Int((epochs * examples / Double(reference.batchSize)).rounded()))
                let pair = try experiment.run([.selective("full fine-tuning, \(size) examples", base) { .full($0) },
                                               .selective("from scratch, \(size) examples", base, fromScratch: true) {
                                                   .full($0)
                                               }], steps: steps, keep: 0)
                (full, fresh) = (pair[0], pair[1])
            }
            let (a, b) = (experiment.interval(full), experiment.interval(fresh))
            let n = Double(experiment.task.train.count)
            pretrained.append((n, a.estimate)); pretrainedIntervals.append((a.low, a.high))
            scratch.append((n, b.estimate)); scratchIntervals.append((b.low, b.high))
            let comparison = experiment.compare(full, fresh)
            rows.append(["\(experiment.task.train.count)", "\(steps)", a.text(), b.text(), comparison.text])
            let floor = experiment.scoreWithoutLearning
            outcomes.append((experiment.task.train.count, comparison.verdict, a.low <= floor && b.low <= floor, floor))
        }
        nb.table(Table(["training examples", "steps", "pretrained, full fine-tuning", "from scratch", "difference"],
                       rows: rows))
        var figure = Figure(name: "little-data", title: "Test score against training-set size (\(dataTask), 95% CI)",
                            xLabel: "training examples (log scale)", yLabel: "test score",
                            kind: .lines([.init("pretrained base, full fine-tuning", pretrained,
                                                intervals: pretrainedIntervals),
                                          .init("from scratch", scratch, intervals: scratchIntervals)]))
        figure.logX = true
        figure.references = references
        nb.figure(figure)
        if !reused.isEmpty {
            nb.say("The row\(reused.count > 1 ? "s" : "") with \(reused.map(String.init).joined(separator: ", ")) "
                + "examples \(reused.count > 1 ? "are" : "is") the full fine-tuning and from-scratch runs of "
                + "\"Training on \(dataTask)\" above (same data, steps, learning rates and seeds), not a second "
                + "training.")
        }
        nb.say("Read the gap between the lines only where the models learned something, i.e. where an interval "
            + "clears the baselines and what one answer given every time scores: where the pretrained line is "
            + "higher, the examples alone cannot teach the task and the pretrained model's knowledge does the work; "
            + "where both learned and the intervals meet, the data suffices. "
            + littleDataVerdict(outcomes, meaning: reference.scoreWithoutLearningMeaning,
                                majority: reference.baselines.majority))
    }

    /// What the little-data table supports, from its paired intervals and the baselines.
    func littleDataVerdict(_ outcomes: [(examples: Int, verdict: Verdict, neitherLearns: Bool, floor: Double)],
                           meaning: String, majority: Double) -> String {
        let list = { (sizes: [Int]) in listText(sizes.map(String.init)) }
        let better = outcomes.filter { $0.verdict == .better }.map(\.examples)
        let worse = outcomes.filter { $0.verdict == .worse }.map(\.examples)
        let flat = outcomes.filter(\.neitherLearns).map(\.examples)
        var text = better.isEmpty ? "At no size does the pretrained model beat training from scratch beyond the noise"
                                  : "Here the pretrained model beats training from scratch beyond the noise with "
                                    + "\(list(better)) examples"
        text += worse.isEmpty ? "." : ", and loses to it with \(list(worse))."
        if let floor = outcomes.first?.floor, !flat.isEmpty {
            let note = floor > majority ? " (the tables' majority is the most common training answer)" : ""
            text += " With \(list(flat)) examples neither model's interval clears \(String(format: "%.3f", floor)), "
                + "\(meaning)\(note): neither is shown to have learned more than one fixed answer, so there is no gap "
                + "for pretraining to show."
        }
        text += better.isEmpty
            ? " The tutorial's claim that pretraining matters most with little data is not shown at this scale, budget "
                + "and learning rate; with so few steps this sweep cannot separate too little data from too little "
                + "training (exercise 4 separates them)."
            : " At this scale, budget and learning rate, that is where pretraining's knowledge did work the examples "
                + "could not."
        return text
    }
}

/// How the little-data sweep sizes each run's training.
enum DataBudget: String, ExpressibleByArgument, CaseIterable {
    /// The main runs' number of passes over the data: fewer examples, fewer steps.
    case epochs
    /// The main runs' number of steps, whatever the size.
    case steps
}
