// lesson-mpt — multitask prompt tuning (MPT): one prompt shared by several tasks, rescaled per
// task by a rank-one matrix; trained on source tasks, then adapted to a held-out task. Measured
// against prompt tuning from scratch, prompt transfer from one task, and one prompt per task.
//
//   swift run lesson-mpt            (2:07 measured alone on 2 threads with the base cached)
//   swift run lesson-mpt --quick    (seconds; what the tests run)
//   swift run lesson-mpt --tune     (sweeps the learning rates again and rewrites tuning.json)

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

@main
struct LessonMPT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lesson-mpt",
        abstract: "Multitask prompt tuning: the decomposition, source training on several tasks, adaptation to a "
            + "held-out task, storage as tasks grow, and the paper's claim against per-task prompts.",
        discussion: """
        Trains a shared prompt with rank-one task factors (PEFT's MULTITASK_PROMPT_TUNING) on three question tasks, \
        then adapts it to a fourth with 8 to 60 examples, against a random start, prompt tuning, prompt transfer from \
        one source task and one prompt per task; learning rates chosen on the validation split \
        (Lessons/lesson-mpt/tuning.json), five seeds each, 95% intervals. The report and figures go to \
        Figures/lesson-mpt (or --out).
        """)

    @OptionGroup var options: LessonOptions
    @Option(help: "Virtual tokens n of every prompt (num_virtual_tokens).") var virtualTokens = 10
    @Option(help: "The rank r of MPT's task matrices (num_ranks).") var rank = 1
    @Option(help: "The source tasks, comma-separated; the i-th has task id i.") var sources = "qa-city,qa-job,qa-color"
    @Option(help: "The held-out target task.") var target = "qa-pet"
    @Option(help: "Target training-set sizes, comma-separated (default 8,20,60; 8,60 with --quick).") var sizes: String?
    @Option(help: "Steps of the source stage (default 300; 20 with --quick). --steps sets the target stage's (60).")
    var sourceSteps: Int?

    /// The learning rates swept for every prompt here (they start far from a good prompt).
    static let rates: [Float] = [3e-2, 1e-1, 3e-1]

    func run() throws {
        let lesson = "lesson-mpt"
        let nb = Notebook(lesson: lesson, title: "Multitask prompt tuning", folder: options.folder(for: lesson),
                          introduction: """
            Prompt tuning learns n "virtual token" vectors per task and puts them in front of the input of a frozen \
            model. Multitask prompt tuning (MPT; Wang et al., "Multitask Prompt Tuning Enables Parameter-Efficient \
            Transfer Learning", arXiv 2303.02861, March 2023, published at ICLR 2023) learns one prompt P shared by \
            several source tasks and gives task k only a rank-one matrix u_k·v_kᵀ that rescales P entry by entry: \
            P_k = P ⊙ (u_k·v_kᵀ). The shared prompt is then the starting point for a new target task. The source \
            tutorial dates MPT to "May 2023, after a gap of two years" of soft-prompt methods; the paper appeared in \
            March 2023 (ICLR was held in May), and soft-prompt work did not pause: P-tuning v2 (2021), SPoT and \
            ATTEMPT (2022) came in between, and MPT compares itself with the last two. This notebook builds MPT with \
            PEFT's MultitaskPromptTuningConfig on a small LLaMA and checks, with five seeds and intervals, what the \
            sharing buys.
            """)
        let base = try BaseModel.load(try options.baseChoice(), rebuild: options.rebuildBase)
        let splits = options.splitSizes(trainLimit: 256)
        let sourceNames = sources.split(separator: ",").map { String($0) }
        guard sourceNames.count >= 2, !sourceNames.contains(target) else {
            throw LessonError("give at least two source tasks, and a target that is not one of them")
        }
        let sourceTasks = try sourceNames.enumerated().map {
            try base.world.task($1, sizes: splits, seed: options.seed).withTaskId($0)
        }
        let targetTask = try base.world.task(target, sizes: splits, seed: options.seed).withTaskId(0)
        let mixture = try mixtureTask(sourceTasks)
        let n = virtualTokens, width = base.model.config.hiddenSize, k = sourceTasks.count
        let stepsOfSource = sourceSteps ?? (options.quick ? 20 : 300)
        let stepsOfTarget = options.steps(full: 60, quick: 10)
        let source = Experiment(lesson: lesson, options: options, base: base, task: mixture, steps: stepsOfSource)
        // Prompt tuning's TEXT init reads its text as PEFT does, with the tokenizer's special tokens.
        let tokenize = { [tokenizer = base.tokenizer] (text: String) in
            tokenizer.encode(text, addingSpecialTokens: true)
        }
        let context = { (seed: UInt64) in
            TunerContext(generator: Generator(seed: seed), tokenize: tokenize)
        }

        // 1. The decomposition
        nb.section("The decomposition, with this model's shapes", """
            The tasks: \(sourceNames.joined(separator: ", ")) are the source tasks (task ids 0 to \(k - 1)) and \
            \(target) is held out as the target. Each asks one kind of fact about people the base model read about \
            in pretraining ("Question: What pet does Ida have?\\nAnswer:"), and is scored by rank classification: \
            the model's most likely answer among the values that fact can take. They share a format and a skill and \
            differ in what is asked, which is the situation sharing can help in. A task id travels with every \
            example: MPT reads it to pick the task's factors. The Hadamard product ⊙ multiplies two matrices of the \
            same shape entry by entry; a rank-one matrix u·vᵀ (an outer product) is described by its two vectors.
            """)
        let sourceConfig = MultitaskPromptTuningConfig(numVirtualTokens: n, numTasks: k, numRanks: rank)
        let probe = try sourceConfig.makeTuner(wrapping: base.copy(), context: context(options.seed))
        guard let probeEncoder = (probe as? PromptLearningModel)?.encoder as? MultitaskPromptEmbedding else {
            throw LessonError("MPT built no multitask encoder")
        }
        nb.code(formulaText(n: n, width: width, tasks: k))
        nb.table(parameterTable(n: n, width: width))
        let start = startMagnitude(probeEncoder)
        nb.say("""
            PEFT's report for the source model: `\(probe.trainableReport)`. A task adds r·(n + C) = \
            \(rank * (n + width)) values where a prompt of its own would take n·C = \(n * width): the "l + d at rank \
            1" of the paper. PEFT starts E from N(0, 1) and both factors from N(0, 0.02), so every task matrix starts \
            near zero and so does every prompt: measured, the prompts are \(String(format: "%.1e", start)) times \
            the size of E at the start (RMS). The model first sees a blank prompt, and the factors must grow before \
            E can matter.
            """)
        nb.say("""
            The tutorial's picture (a student preparing exams in maths, history and science: first general knowledge \
            useful to every course, then revision per course, then the exam) matches the two parts — P is the general \
            knowledge, u_k·v_kᵀ the revision for course k — with two corrections. The course-specific part does not \
            add notes to the general ones: it multiplies them entry by entry, so it can only reweight what P holds \
            (and silence entries where u_k or v_k is near 0). And meeting a new course is not just "applying" what \
            was learnt: the target stage (section 3) is training again.
            """)

        // 2. Source training
        nb.section("Source training on \(k) tasks", """
            Source training fits P and every task's factors on the mixture of the source tasks' training sets \
            (\(mixture.train.count) questions), each batch mixing tasks, each row reading its own task's prompt. \
            The paper distils P from single-task teacher prompts (it first trains one prompt per task, then trains \
            the decomposition to match the teachers' outputs — knowledge distillation, with a KL-divergence term — \
            while also fitting the labels). PEFT ships only the decomposition, and here it is trained directly on \
            the labels: one stage instead of two, and the teachers are measured as a method of their own — one \
            prompt per task, trained \
            in the same run on the same batches, each task's rows reading only its own prompt. \
            \(source.seeds.count) seed(s) of \(stepsOfSource) steps, batch 16, AdamW with warm-up and cosine decay, \
            each method at the learning rate chosen on the validation split.
            """)
        let rates = LessonMPT.rates
        let mptMethod = Method.peft("MPT (P + rank-\(rank) factors)", base, sourceConfig,
                                    key: "mpt source n\(n) r\(rank)", learningRates: rates, defaultLearningRate: 1e-1)
        let perTask = Method("one prompt per task", key: "per-task prompts n\(n)", learningRates: rates,
                             defaultLearningRate: 1e-1) { seed in
            PromptLearningModel(model: base.copy(), config: PromptTuningConfig(numVirtualTokens: n),
                                encoder: PerTaskPrompts(tasks: k, virtualTokens: n, width: width,
                                                        generator: Generator(seed: seed)))
        }
        let sources = try source.run([mptMethod, perTask], keep: source.seeds.count)
        let (mptSource, perTaskSource) = (sources[0], sources[1])
        source.reportTuning(in: nb, figureName: "learning-rates-source")
        let frozenSource = source.frozenBase()
        nb.table(source.scoreTable([mptSource, perTaskSource, frozenSource], against: perTaskSource))
        let breakdown = taskBreakdown(source, tasks: sourceTasks, [mptSource, perTaskSource, frozenSource])
        nb.table(breakdown.table)
        nb.figure(breakdown.figure)
        var sourceLoss = Figure(name: "loss-source", title: "Source training loss, first seed", xLabel: "step",
                                yLabel: "loss on the answer tokens (log scale)",
                                kind: .lines([mptSource, perTaskSource].map { $0.lossSeries(steps: stepsOfSource) }))
        sourceLoss.logY = true
        nb.figure(sourceLoss)
        let sourceVerdict = source.compare(mptSource, perTaskSource)
        let largestText = breakdown.largest.map {
            "The largest difference per task is on \($0.task): \($0.comparison.text)."
        } ?? ""
        nb.say("""
            On the source tasks, MPT against one prompt per task: \(sourceVerdict.text), paired over the same test \
            questions and seeds, with \(formatCount(mptSource.trainableParameters)) trainable values against \
            \(formatCount(perTaskSource.trainableParameters)). \(largestText) Forgetting, for a prompt, is the \
            held-out pretraining loss with the prompt in front: the base's weights are untouched, and without the \
            prompt the model is the base exactly.
            """)
        let rankText = taskMatrixRanks(mptSource)
        nb.say("Each trained task matrix u_k·v_kᵀ has rank \(rank) by construction; measured by SVD on the first seed: "
            + rankText + ".")

        // The sources every target method starts from: each evaluation seed's own, saved as PEFT saves them.
        var sourceFiles: [UInt64: URL] = [:], sourcePrompts: [UInt64: PerTaskPrompts] = [:]
        for (run, tuner) in zip(mptSource.runs, mptSource.tuners) {
            let folder = temporaryFolder("lesson-mpt-source-\(run.seed)")
            try tuner.save(to: folder)
            sourceFiles[run.seed] = folder.appendingPathComponent("adapter_model.safetensors")
        }
        for (run, tuner) in zip(perTaskSource.runs, perTaskSource.tuners) {
            sourcePrompts[run.seed] = (tuner as? PromptLearningModel)?.encoder as? PerTaskPrompts
        }
        let firstSeed = source.seeds[0]
        guard let firstFile = sourceFiles[firstSeed], let firstPrompts = sourcePrompts[firstSeed],
              let firstSource = mptSource.tuners.first else { throw LessonError("the source stage kept no tuners") }
        // The learning-rate sweeps' seeds have no source of their own: they use the first seed's.
        let sourceFile = { (seed: UInt64) in sourceFiles[seed] ?? firstFile }
        let sourcePrompt = { (seed: UInt64) in sourcePrompts[seed] ?? firstPrompts }

        // 3. Target adaptation
        nb.section("Adaptation to the held-out task", """
            The target stage starts a new prompt for \(target) and trains it on the target's examples; only the \
            start differs between methods. MPT's three starts from a source read the source stage's \
            adapter_model.safetensors (prompt_tuning_init_state_dict_path): AVERAGE_SOURCE_TASKS copies P and the \
            mean of the tasks' factors, EXACT_SOURCE_TASK copies P and one source task's factors, \
            ONLY_SOURCE_SHARED copies P and starts the factors afresh. Against them: MPT from RANDOM (no source), \
            prompt tuning from a random start, and prompt transfer (SPoT-style: start prompt tuning from one source \
            task's own prompt, taken from the one-prompt-per-task run). Which source task to copy is chosen on the \
            target's validation split, never its test split (SPoT, Vu et al., ACL 2022, retrieves the source by a \
            similarity of prompts instead): each source task's prompt, untrained on the target, \
            answers the target's validation questions, and the best one is used (first seed's sources).
            """)
        let selection = try chooseSourceTask(targetTask, names: sourceNames, mpt: firstSource, prompts: firstPrompts,
                                             base: base, virtualTokens: n)
        nb.table(selection.table)
        let kMPT = selection.mpt, kPrompt = selection.prompt
        func mptTarget(_ name: String, key: String, _ initialization: MultitaskPromptTuningInit, task: Int = 0)
            -> Method {
            Method(name, key: key, learningRates: rates, defaultLearningRate: 1e-1) { seed in
                var config = MultitaskPromptTuningConfig(
                    numVirtualTokens: n, numTasks: 1, numRanks: rank, promptTuningInit: initialization,
                    promptTuningInitStateDictPath: initialization.readsSourceCheckpoint ? sourceFile(seed).path : nil,
                    promptTuningInitTask: task)
                config.baseModelNameOrPath = base.folder.path
                return try config.makeTuner(wrapping: base.copy(), context: context(seed))
            }
        }
        let average = mptTarget("MPT from the source average", key: "mpt average n\(n) r\(rank)", .averageSourceTasks)
        let exact = mptTarget("MPT from \(sourceNames[kMPT])", key: "mpt exact \(sourceNames[kMPT]) n\(n) r\(rank)",
                              .exactSourceTask, task: kMPT)
        let shared = mptTarget("MPT from P only", key: "mpt shared n\(n) r\(rank)", .onlySourceShared)
        let random = mptTarget("MPT, no source", key: "mpt random n\(n) r\(rank)", .random)
        var promptTuning = Method.peft("prompt tuning", base, PromptTuningConfig(numVirtualTokens: n),
                                       key: "prompt tuning n\(n)", learningRates: rates, defaultLearningRate: 1e-1)
        promptTuning.name = "prompt tuning, random start"
        let transfer = Method("prompt transfer from \(sourceNames[kPrompt])",
                              key: "prompt transfer \(sourceNames[kPrompt]) n\(n)", learningRates: rates,
                              defaultLearningRate: 1e-1) { seed in
            let tuner = try PromptTuningConfig(numVirtualTokens: n).makeTuner(wrapping: base.copy(),
                                                                              context: context(seed))
            tuner.trainableParameters[0].copyValues(from: sourcePrompt(seed).table(kPrompt))
            return tuner
        }
        let targetMethods = [exact, average, random, promptTuning, transfer]
        let sizeList = try trainingSizes(available: targetTask.train.count)
        var experiments: [Experiment] = [], results: [[MethodResult]] = []
        for size in sizeList {
            let experiment = Experiment(lesson: lesson, options: options, base: base,
                                        task: targetTask.withTrainingExamples(size), steps: stepsOfTarget)
            experiments.append(experiment)
            results.append(try experiment.run(targetMethods))
        }
        guard let smallest = experiments.first, let largest = experiments.last, let atSmallest = results.first,
              let atLargest = results.last else { throw LessonError("no target sizes") }
        let people = Set(targetTask.train.map(\.entity)).count
        nb.say("""
            The target has \(targetTask.train.count) training questions about \(people) people; the runs use the \
            first \(sizeList.first ?? 0) to \(sizeList.last ?? 0) of them, \(stepsOfTarget) steps each (a batch holds \
            at most 16 examples, so small sets are seen many times), and are scored on the same \
            \(targetTask.test.count) test questions about people no target or source training question mentions.
            """)
        nb.table(sizeTable(experiments, results, sizes: sizeList))
        nb.figure(sizeFigure(experiments, results, sizes: sizeList))
        nb.table(verdictTable(experiments, results, sizes: sizeList))
        var targetLoss = Figure(name: "loss-target",
                                title: "Target training loss with \(sizeList.last ?? 0) examples, first seed",
                                xLabel: "step", yLabel: "loss on the answer tokens (log scale)",
                                kind: .lines(atLargest.map { $0.lossSeries(steps: stepsOfTarget) }))
        targetLoss.logY = true
        nb.figure(targetLoss)
        nb.say(adaptationSummary(smallest, atSmallest, largest, atLargest, sizes: sizeList))

        // Before any target training, and the four ways to start
        let untrained = try exact.prepare(firstSeed)
        let before = evaluate(targetTask, on: targetTask.test, tokenizer: base.tokenizer,
                              logits: untrained.logits).value
        nb.say("""
            Adaptation is training, not only applying (the tutorial's exam "uses the general prompt and adjusts it \
            to the task"): started from \(sourceNames[kMPT])'s factors and not trained on \(target) at all, the \
            prompt scores \(String(format: "%.3f", before)) on the target's test (first seed), against \
            \(smallest.interval(atSmallest[0]).text()) after \(stepsOfTarget) steps on \(sizeList[0]) examples.
            """)
        let onlyShared = try smallest.run(shared)
        let inits = [atSmallest[0], atSmallest[1], onlyShared, atSmallest[2]]
        nb.table(smallest.scoreTable(inits, against: atSmallest[2]))
        nb.figure(smallest.scoreFigure(name: "inits", title: "The four starts of MPT, \(sizeList[0]) target examples",
                                       inits))
        let symmetry = factorSymmetry(mptSource)
        let seedCount = "\(symmetry.seeds) seed" + (symmetry.seeds == 1 ? "" : "s")
        nb.say("""
            What the average starts from: a rank-one matrix u·vᵀ does not fix its factors — (−u)·(−vᵀ) and \
            (2u)·(vᵀ/2) are the same matrix — and nothing in source training ties one task's factors to another's, \
            while PEFT averages u and v separately. Measured on the trained sources (\(seedCount)): the \
            cosine between two tasks' u vectors ranges over \(symmetry.cosines); the matrix the average builds, \
            mean(u)·mean(v)ᵀ, has \(symmetry.ratio) of the size (Frobenius norm) of a task's matrix — for unrelated \
            factors one expects about 1/K = \(String(format: "%.0f%%", 100 / Double(k))) — and its cosine with the \
            tasks' matrices ranges over \(symmetry.alignment). So AVERAGE_SOURCE_TASKS starts the target from a \
            shrunken blend that is no source task's prompt; EXACT_SOURCE_TASK starts from one task's prompt as it \
            was trained.
            """)

        // Against steps
        let budgets = [max(1, stepsOfTarget / 4), max(2, stepsOfTarget / 2), stepsOfTarget]
        let tracked = [0, 3, 4]  // MPT from the chosen source, prompt tuning, prompt transfer
        let chosen = tracked.map { targetMethods[$0].fixed(at: atSmallest[$0].learningRate) }
        let shorter = try budgets.map { steps in  // [budget][tracked method]; the full budget's runs exist already
            steps == stepsOfTarget ? tracked.map { atSmallest[$0] } : try smallest.run(chosen, steps: steps)
        }
        let curves = tracked.indices.map { i in budgets.indices.map { shorter[$0][i] } }
        nb.figure(stepsFigure(smallest, curves, budgets: budgets, size: sizeList[0]))
        nb.say(stepsSummary(smallest, curves, budgets: budgets))
        if !options.quick {  // --quick: the source's note says it once
            nb.say("The learning rates of the target runs, chosen on the target's validation split for each size:")
            for (index, experiment) in experiments.enumerated() {
                experiment.reportTuning(in: nb, figureName: "learning-rates-\(sizeList[index])")
            }
        }

        // 4. Storage
        nb.section("Stored parameters as the number of tasks grows", """
            What must be stored to serve K tasks from one frozen base, counted from this model's shapes (n = \(n), \
            C = \(width)): MPT trained on all K tasks together keeps one P and K pairs of factors; separate prompts \
            keep K prompts; LoRA (r = 8 on q_proj and v_proj, the lesson-lora setting) keeps K adapters. A target \
            task adapted on its own (section 3) trains and stores its own copy of P as well, so it costs a prompt \
            plus its factors.
            """)
        let loraPerTask = try LoraModel(wrapping: base.copy(), config: LoraConfig(r: 8, loraAlpha: 16),
                                        generator: Generator(seed: 0)).trainableCount
        let storage = storageTable(n: n, width: width, loraPerTask: loraPerTask)
        nb.table(storage.table)
        nb.figure(storage.figure)
        let promptFolder = temporaryFolder("lesson-mpt-prompt")
        try PromptTuningConfig(numVirtualTokens: n).makeTuner(wrapping: base.copy(), context: context(0))
            .save(to: promptFolder)
        nb.say("""
            Measured on disk: the source adapter for \(k) tasks takes \
            \(formatBytes(folderSize(firstFile.deletingLastPathComponent()))) (adapter_model.safetensors and \
            adapter_config.json, PEFT's keys prompt_embeddings, prefix_task_cols, prefix_task_rows); one prompt-tuning \
            adapter takes \(formatBytes(folderSize(promptFolder))), so \(k) of them \
            \(formatBytes(k * folderSize(promptFolder))). At rank 1, from \(storage.crossover) tasks on, MPT stores \
            less than half of what separate prompts need; separate prompts always store about \
            \(String(format: "%.0f", Double(loraPerTask) / Double(n * width)))× less than LoRA here.
            """)

        // 5. The paper's claim
        nb.section("Does MPT beat per-task prompts here?", """
            The paper's abstract: MPT "outperforms the state-of-the-art methods, including the full finetuning \
            baseline in some cases, despite only tuning 0.035% as many task-specific parameters", measured with \
            T5-Base on 23 NLP datasets, with a distilled source prompt. The tutorial repeats the \
            contrast with methods that "learn a separate soft prompt per task". Here the two readings of the claim, \
            at this scale, with the intervals above:
            """)
        nb.table(claimTable(source, mptSource, perTaskSource, experiments, results, sizes: sizeList))
        nb.say(claimSummary(sourceVerdict, experiments, results, sizes: sizeList))

        // 6. Exercises
        nb.section("Exercises", """
            Basic. (1) `swift run lesson-mpt --rank 2`: two directions per task; the source scores and the AVERAGE \
            start should change little, the parameter count by r·(n + C) per task. (2) `--virtual-tokens 20`: \
            doubles P; expect little change in scores and twice the storage of every prompt method. (3) Train and \
            load the stages with the command-line tool: `swift run peft train --model \
            .cache/base-models/small-corpus\(World.corpusVersion) --method mpt --data qa-city,qa-job,qa-color \
            --num-virtual-tokens 10 --lr 0.1 --out source`, then `--data qa-pet --prompt-tuning-init \
            exact-source-task --prompt-tuning-init-task 1 --prompt-tuning-init-state-dict-path \
            source/adapter_model.safetensors --out target`; load `target` in Python with \
            `PeftModel.from_pretrained` and pass task_ids (scripts/check_adapter_interop.py): the logits agree to \
            about 1e-6. Intermediate. (4) `--sources qa-job,qa-color --target qa-city`: a target with 15 answers \
            and the hardest recall; does any start help? (5) Implement the paper's distillation: train one prompt \
            per task (the teachers, section 2), then train MPT on the mixture with the loss CE + KL(teacher ‖ \
            student) on the answer tokens; compare its source scores and EXACT start with the direct training used \
            here. Open. (6) Fix the factor symmetry before averaging: scale each task's u to unit norm and flip its \
            sign so that u·mean(u) > 0 (moving the scale into v), then average. Does AVERAGE_SOURCE_TASKS become \
            a good start? (7) The best source task was chosen on validation: is it the task whose question wording is \
            closest to the target's?
            """)
        nb.finish()
    }

    /// --sizes, or 8, 20 and all (8 and all with --quick), capped at the examples there are.
    func trainingSizes(available: Int) throws -> [Int] {
        let list = try sizes.map { text in
            try text.split(separator: ",").map { item -> Int in
                guard let value = Int(item), value > 0 else {
                    throw LessonError("--sizes takes positive whole numbers")
                }
                return value
            }
        } ?? (options.quick ? [8, available] : [8, 20, available])
        return Array(Set(list.map { min($0, available) })).sorted()
    }
}

/// The source tasks as one task: training sets and test sets concatenated (in task order), each
/// example keeping its task id, scored by rank classification among its own fact's values.
func mixtureTask(_ tasks: [TaskData]) throws -> TaskData {
    var options: [String: [String]] = [:]
    for task in tasks {
        guard case .choiceByKind(let own) = task.metric else {
            throw LessonError("\(task.name) is not scored by rank classification per kind; mix tasks like qa-city")
        }
        options.merge(own) { first, _ in first }
    }
    return TaskData(name: tasks.map(\.name).joined(separator: "+"),
                    summary: "the mixture of " + tasks.map(\.name).joined(separator: ", "),
                    metric: .choiceByKind(options), train: tasks.flatMap(\.train),
                    validation: tasks.flatMap(\.validation), test: tasks.flatMap(\.test))
}

/// The formula with this model's shapes.
func formulaText(n: Int, width: Int, tasks: Int) -> String {
    """
    prompt of task t = P ⊙ (cols[t] · rows[t])
                     = prompt_embeddings ⊙ (prefix_task_cols[t] · prefix_task_rows[t])   (PEFT's keys)
    P     prompt_embeddings   [\(n), \(width)]      shared by every task: \(formatCount(n * width)) values
    cols  prefix_task_cols    [\(tasks), \(n), r]    u_t, one column of n per rank
    rows  prefix_task_rows    [\(tasks), r, \(width)]   v_t, one row of C per rank
    cols[t] · rows[t]         [\(n), \(width)]      rank ≤ r; at r = 1 it is u_t·v_tᵀ, n + C = \(n + width) values
    every row b of a batch reads its task t_b; the model reads [prompt; embed(input)]
    """
}

/// Values per task: a prompt of its own against MPT's factors, at ranks 1, 2 and 4.
func parameterTable(n: Int, width: Int) -> Table {
    var table = Table(["what a task adds", "values", "share of a prompt"])
    table.add(["its own prompt (prompt tuning), n·C", formatCount(n * width), "100%"])
    for r in [1, 2, 4] {
        table.add(["MPT task factors at r = \(r), r·(n + C)", formatCount(r * (n + width)),
                   String(format: "%.1f%%", 100 * Double(r * (n + width)) / Double(n * width))])
    }
    return table
}

/// RMS of the prompt of task 0 over the RMS of E, at the start.
func startMagnitude(_ encoder: MultitaskPromptEmbedding) -> Double {
    let prompt = withoutGrad { encoder.prompt(for: TokenBatch(inputIds: [[0]], taskIds: [0])) }.array
    func rms(_ v: [Float]) -> Double { (v.map { Double($0 * $0) }.reduce(0, +) / Double(max(v.count, 1))).squareRoot() }
    return rms(prompt) / max(rms(encoder.embedding.array), 1e-12)
}

/// Per source task: each method's score with its interval, its difference to one prompt per task,
/// and the task's chance and majority baselines; and the same as bars.
func taskBreakdown(_ experiment: Experiment, tasks: [TaskData], _ results: [MethodResult])
    -> (table: Table, figure: Figure, largest: (task: String, comparison: Comparison)?) {
    var largest: (task: String, comparison: Comparison)? = nil
    var table = Table(["task", "chance", "majority"] + results.map { "\($0.name) [95% CI]" }
        + ["MPT − one prompt per task"])
    var bars = results.map { _ in [Double]() }, intervals = results.map { _ in [Figure.Interval]() }
    var offset = 0
    for task in tasks {
        let range = offset..<(offset + task.test.count)
        offset += task.test.count
        let entities = task.test.map(\.entity)
        let scores = results.map { r in
            ItemScores(seeds: r.runs.map { Array($0.itemScores[range]) }, entityNames: entities)
        }
        let cis = scores.map { experiment.bootstrap.interval($0) }
        for (i, ci) in cis.enumerated() { bars[i].append(ci.estimate); intervals[i].append((ci.low, ci.high)) }
        let b = task.baselines
        let difference = experiment.bootstrap.compare(scores[0], scores[1])
        if largest.map({ abs(difference.difference.estimate) > abs($0.comparison.difference.estimate) }) ?? true {
            largest = (task.name, difference)
        }
        table.add([task.name, String(format: "%.3f", b.chance), String(format: "%.3f", b.majority)]
            + cis.map { $0.text() } + [difference.text])
    }
    let figure = Figure(name: "source-tasks", title: "Source tasks: test accuracy per task (95% CI)",
                        yLabel: "test accuracy",
                        kind: .bars(categories: tasks.map(\.name),
                                    zip(results, zip(bars, intervals)).map { .init($0.name, $1.0, intervals: $1.1) }))
    return (table, figure, largest)
}

/// "σ₂/σ₁ = 3e-8 for qa-city, …" for the first seed's task matrices.
func taskMatrixRanks(_ result: MethodResult) -> String {
    guard let encoder = (result.tuners.first as? PromptLearningModel)?.encoder as? MultitaskPromptEmbedding else {
        return "not available"
    }
    let n = encoder.numVirtualTokens, width = encoder.embedding.shape[1]
    return (0..<encoder.numTasks).map { t in
        let s = SVD(encoder.taskMatrix(t), rows: n, columns: width).s
        let r = encoder.numRanks
        let next = r < s.count ? s[r] / max(s[0], 1e-30) : 0
        return String(format: "task %d: σ₁ = %.3g, σ_%d/σ₁ = %.1e", t, s[0], r + 1, next)
    }.joined(separator: "; ")
}

/// Each source task's prompt, untrained on the target, scored on the target's validation split:
/// the MPT task prompts (task k's factors) and the per-task prompts; the best of each.
func chooseSourceTask(_ target: TaskData, names: [String], mpt: any Tuner, prompts: PerTaskPrompts, base: BaseModel,
                      virtualTokens n: Int) throws -> (table: Table, mpt: Int, prompt: Int) {
    var table = Table(["source task", "MPT's prompt of that task", "that task's own prompt"])
    var mptScores: [Double] = [], promptScores: [Double] = []
    for (k, name) in names.enumerated() {
        let asTask = target.withTaskId(k)
        mptScores.append(evaluate(asTask, on: asTask.validation, tokenizer: base.tokenizer, logits: mpt.logits).value)
        let single = try PromptTuningConfig(numVirtualTokens: n)
            .makeTuner(wrapping: base.copy(), context: TunerContext(generator: Generator(seed: 0)))
        single.trainableParameters[0].copyValues(from: prompts.table(k))
        promptScores.append(evaluate(target, on: target.validation, tokenizer: base.tokenizer,
                                     logits: single.logits).value)
        table.add([name, String(format: "%.3f", mptScores[k]), String(format: "%.3f", promptScores[k])])
    }
    func best(_ v: [Double]) -> Int { v.indices.max { (v[$0], -$0) < (v[$1], -$1) } ?? 0 }
    table.add(["chosen", names[best(mptScores)], names[best(promptScores)]])
    return (table, best(mptScores), best(promptScores))
}

/// Methods × target sizes: test score with its interval, and the baselines of each size.
func sizeTable(_ experiments: [Experiment], _ results: [[MethodResult]], sizes: [Int]) -> Table {
    var table = Table(["method"] + sizes.map { "\($0) examples [95% CI]" })
    for m in results[0].indices {
        table.add([results[0][m].name] + zip(experiments, results).map { $0.interval($1[m]).text() })
    }
    table.add(["chance"] + experiments.map { String(format: "%.3f", $0.baselines.chance) })
    table.add(["majority answer of the training examples"]
        + experiments.map { String(format: "%.3f", $0.baselines.majority) })
    return table
}

/// Test score against the number of target examples, one line per method, with intervals.
func sizeFigure(_ experiments: [Experiment], _ results: [[MethodResult]], sizes: [Int]) -> Figure {
    let series = results[0].indices.map { m -> Figure.Series in
        let cis = zip(experiments, results).map { $0.interval($1[m]) }
        return .init(results[0][m].name, zip(sizes, cis).map { (Double($0), $1.estimate) },
                     intervals: cis.map { ($0.low, $0.high) })
    }
    var figure = Figure(name: "target-vs-examples", title: "Held-out target: test accuracy against target examples",
                        xLabel: "target training examples (log scale)", yLabel: "test accuracy (95% CI)",
                        kind: .lines(series))
    figure.logX = true
    figure.references = [.init("chance", y: experiments[0].baselines.chance)]
    return figure
}

/// Paired differences against prompt tuning from a random start, per size.
func verdictTable(_ experiments: [Experiment], _ results: [[MethodResult]], sizes: [Int]) -> Table {
    var table = Table(["against prompt tuning, random start"] + sizes.map { "\($0) examples" })
    for m in results[0].indices where m != 3 {
        table.add([results[0][m].name] + zip(experiments, results).map { $0.compare($1[m], $1[3]).text })
    }
    table.add(["MPT from the chosen source − prompt transfer"]
        + zip(experiments, results).map { $0.compare($1[0], $1[4]).text })
    return table
}

/// The sentences the size table supports.
func adaptationSummary(_ smallest: Experiment, _ atSmallest: [MethodResult], _ largest: Experiment,
                       _ atLargest: [MethodResult], sizes: [Int]) -> String {
    func line(_ e: Experiment, _ r: [MethodResult], _ size: Int) -> String {
        let exact = e.compare(r[0], r[3]), average = e.compare(r[1], r[3]), transfer = e.compare(r[4], r[3])
        return "with \(size) examples, MPT from the chosen source is \(exact.text) against prompt tuning from a "
            + "random start, the source average \(average.text), and prompt transfer \(transfer.text)"
    }
    return "At this scale, " + line(smallest, atSmallest, sizes.first ?? 0) + "; "
        + line(largest, atLargest, sizes.last ?? 0) + "."
}

/// How far the arbitrary sign and scale of rank-one factors cancel when averaged.
func factorSymmetry(_ result: MethodResult) -> (cosines: String, ratio: String, alignment: String, seeds: Int) {
    var cosines: [Double] = [], ratios: [Double] = [], alignments: [Double] = []
    for tuner in result.tuners {
        guard let e = (tuner as? PromptLearningModel)?.encoder as? MultitaskPromptEmbedding else { continue }
        let (n, r, width, tasks) = (e.numVirtualTokens, e.numRanks, e.embedding.shape[1], e.numTasks)
        let cols = e.taskCols.array, rows = e.taskRows.array
        func column(_ t: Int) -> [Double] { (0..<(n * r)).map { Double(cols[t * n * r + $0]) } }
        for a in 0..<tasks { for b in (a + 1)..<tasks { cosines.append(cosine(column(a), column(b))) } }
        let meanCols = (0..<(n * r)).map { i in
            (0..<tasks).map { Double(cols[$0 * n * r + i]) }.reduce(0, +) / Double(tasks)
        }
        let meanRows = (0..<(r * width)).map { j in
            (0..<tasks).map { Double(rows[$0 * r * width + j]) }.reduce(0, +) / Double(tasks)
        }
        let averaged = (0..<(n * width)).map { index in
            (0..<r).reduce(0.0) { $0 + meanCols[(index / width) * r + $1] * meanRows[$1 * width + index % width] }
        }
        let matrices = (0..<tasks).map { t in e.taskMatrix(t).map(Double.init) }
        let typical = matrices.map { $0.map { $0 * $0 }.reduce(0, +).squareRoot() }
        let size = averaged.map { $0 * $0 }.reduce(0, +).squareRoot()
        ratios.append(size / max(typical.reduce(0, +) / Double(tasks), 1e-30))
        alignments += matrices.map { cosine(averaged, $0) }
    }
    let cosineText = cosines.isEmpty ? "—" : String(format: "%+.2f to %+.2f", cosines.min() ?? 0, cosines.max() ?? 0)
    let ratioText = ratios.isEmpty ? "—" : String(format: "%.0f%% (%.0f%% to %.0f%%)",
                                                   100 * ratios.reduce(0, +) / Double(ratios.count),
                                                   100 * (ratios.min() ?? 0), 100 * (ratios.max() ?? 0))
    let alignmentText = alignments.isEmpty ? "—" : String(format: "%+.2f to %+.2f", alignments.min() ?? 0,
                                                          alignments.max() ?? 0)
    return (cosineText, ratioText, alignmentText, ratios.count)
}

func cosine(_ a: [Double], _ b: [Double]) -> Double {
    let dot = zip(a, b).map(*).reduce(0, +)
    let norms = (a.map { $0 * $0 }.reduce(0, +) * b.map { $0 * $0 }.reduce(0, +)).squareRoot()
    return dot / max(norms, 1e-30)
}

/// Test score against training steps for the tracked methods, with intervals.
func stepsFigure(_ experiment: Experiment, _ curves: [[MethodResult]], budgets: [Int], size: Int) -> Figure {
    let series = curves.map { runs -> Figure.Series in
        let cis = runs.map { experiment.interval($0) }
        return .init(runs[0].name, zip(budgets, cis).map { (Double($0), $1.estimate) },
                     intervals: cis.map { ($0.low, $0.high) })
    }
    var figure = Figure(name: "target-vs-steps", title: "Held-out target with \(size) examples: accuracy against steps",
                        xLabel: "training steps (each run its own schedule)", yLabel: "test accuracy (95% CI)",
                        kind: .lines(series))
    figure.references = experiment.baselineReferences
    return figure
}

/// The sentence the steps figure supports.
func stepsSummary(_ experiment: Experiment, _ curves: [[MethodResult]], budgets: [Int]) -> String {
    guard curves.count == 3, let few = budgets.first else { return "" }
    let early = experiment.compare(curves[0][0], curves[1][0]), late = experiment.compare(curves[0][2], curves[1][2])
    return "Against steps (each budget a run of its own, warm-up and decay included, at the learning rate chosen for "
        + "\(budgets.last ?? 0) steps): after \(few) steps MPT from the chosen source is \(early.text) against prompt "
        + "tuning from a random start; after \(budgets.last ?? 0), \(late.text)."
}

/// Values stored for K tasks by each approach; the figure on log axes; the K from which MPT needs
/// less than half of separate prompts.
func storageTable(n: Int, width: Int, loraPerTask: Int) -> (table: Table, figure: Figure, crossover: Int) {
    let counts = [1, 2, 3, 5, 10, 20, 50, 100]
    func mpt(_ k: Int, r: Int) -> Int { n * width + k * r * (n + width) }
    var table = Table(["tasks K", "MPT, r = 1 (one P)", "MPT, r = 4", "MPT targets adapted one by one",
                       "one prompt per task", "one LoRA per task (r = 8, q,v)"])
    for k in counts {
        table.add(["\(k)", formatCount(mpt(k, r: 1)), formatCount(mpt(k, r: 4)),
                   formatCount(k * (n * width + n + width)), formatCount(k * n * width), formatCount(k * loraPerTask)])
    }
    let crossover = (1...1000).first { 2 * mpt($0, r: 1) < $0 * n * width } ?? 1000
    func line(_ name: String, _ values: (Int) -> Double) -> Figure.Series {
        .init(name, counts.map { (Double($0), values($0)) })
    }
    var figure = Figure(name: "storage", title: "Stored values for K tasks on one frozen base",
                        xLabel: "tasks K (log scale)", yLabel: "stored values (log scale)", kind: .lines([
                            line("MPT, r = 1") { Double(mpt($0, r: 1)) },
                            line("MPT, r = 4") { Double(mpt($0, r: 4)) },
                            line("one prompt per task") { Double($0 * n * width) },
                            line("one LoRA per task") { Double($0 * loraPerTask) },
                        ]))
    figure.logX = true
    figure.logY = true
    return (table, figure, crossover)
}

/// The claim's two readings: on the source tasks, and on the held-out target at every size.
func claimTable(_ source: Experiment, _ mpt: MethodResult, _ perTask: MethodResult, _ experiments: [Experiment],
                _ results: [[MethodResult]], sizes: [Int]) -> Table {
    var table = Table(["comparison", "MPT − per-task prompts [95% CI]", "verdict"])
    let c = source.compare(mpt, perTask)
    table.add(["source tasks: MPT vs one prompt per task", c.difference.text(signed: true), c.verdict.rawValue])
    for (size, (e, r)) in zip(sizes, zip(experiments, results)) {
        for m in [0, 1] {
            let d = e.compare(r[m], r[3])
            table.add(["target, \(size) examples: \(r[m].name) vs prompt tuning", d.difference.text(signed: true),
                       d.verdict.rawValue])
        }
    }
    return table
}

/// What holds of the claim, from the verdicts.
func claimSummary(_ sourceVerdict: Comparison, _ experiments: [Experiment], _ results: [[MethodResult]],
                  sizes: [Int]) -> String {
    let exact = zip(experiments, results).map { $0.compare($1[0], $1[3]).verdict }
    let average = zip(experiments, results).map { $0.compare($1[1], $1[3]).verdict }
    /// "better with 8 and 20 examples, within noise with 60" (each verdict that occurs, in that order).
    func bySize(_ verdicts: [Verdict]) -> String {
        let parts: [(Verdict, String)] = [(.better, "better"), (.withinNoise, "within noise"), (.worse, "worse")]
        return parts.compactMap { verdict, word -> String? in
            let list = zip(sizes, verdicts).filter { $0.1 == verdict }.map { "\($0.0)" }
            guard !list.isEmpty else { return nil }
            return "\(word) with \(listText(list)) example\(list == ["1"] ? "" : "s")"
        }.joined(separator: ", ")
    }
    var text: String
    switch sourceVerdict.verdict {
    case .better: text = "On the source tasks MPT scored higher than one prompt per task at this scale"
    case .worse: text = "On the source tasks MPT scored lower than one prompt per task at this scale"
    case .withinNoise: text = "On the source tasks MPT and one prompt per task cannot be told apart at this scale"
    }
    text += ", storing less. On the held-out target, against prompt tuning from a random start, MPT from the source "
        + "task chosen on validation was \(bySize(exact)); MPT from PEFT's average of the source tasks was "
        + "\(bySize(average))."
    let exactHelps = exact.contains(.better), averageHelps = average.contains(.better)
    if exactHelps && !averageHelps {
        text += " What helps here is the start, not the sharing as such: one source task's prompt carried the skill "
            + "over, the averaged start did not."
    } else if !exactHelps && !averageHelps {
        text += " Here no start from the source made a measurable difference."
    }
    return text
}

// MARK: One prompt per task
//
// The baseline multitask prompt tuning is measured against: one whole prompt per task, K tables
// of n × C values, each row of a batch reading its task's table.
//
//   prompt_b = P[t_b]          P [K, n, C]
//   dP[t] += Σ_{b: t_b = t} dL/dprompt_b
//
// Trained in one run on the mixture of tasks, it is prompt tuning done K times side by side: the
// same data, steps and batches as MPT, and no parameter shared between tasks.

final class PerTaskPrompts: PromptEncoder {
    /// [K, n, C]: the prompt of each task.
    let tables: Tensor
    var placement: PromptPlacement { .prepended }
    var numVirtualTokens: Int { tables.shape[1] }
    var numTasks: Int { tables.shape[0] }

    /// K prompts of n virtual tokens of width C, each entry N(0, 1) as prompt tuning's RANDOM start.
    init(tasks: Int, virtualTokens n: Int, width: Int, generator: Generator) {
        tables = .randn([tasks, n, width], generator: generator, requiresGrad: true)
    }

    /// Row b reads table t_b: [B, n, C].
    func prompt(for batch: TokenBatch) -> Tensor {
        guard let ids = batch.taskIds else {
            preconditionFailure("per-task prompts need batch.taskIds; call check(batch) first")
        }
        let (n, width) = (tables.shape[1], tables.shape[2])
        let size = n * width
        return customOp(shape: [ids.count, n, width], inputs: [tables]) { out in
            for (b, t) in ids.enumerated() { (out + b * size).update(from: self.tables.data + t * size, count: size) }
        } backward: { g in                                                                        // [B, n, C]
            guard self.tables.requiresGrad else { return }
            let d = self.tables.gradBuffer()
            for (b, t) in ids.enumerated() {
                let gb = g + b * size, dt = d + t * size
                for i in 0..<size { dt[i] += gb[i] }
            }
        }
    }

    func check(_ batch: TokenBatch) throws {
        guard let ids = batch.taskIds, ids.count == batch.batchSize,
              ids.allSatisfy({ (0..<numTasks).contains($0) }) else {
            throw LessonError("per-task prompts need a task id in 0..<\(numTasks) for every row")
        }
    }

    var namedParameters: [(name: String, tensor: Tensor)] { [("prompt_encoder.task_prompts", tables)] }

    func savedTensors() -> [String: Tensor] { ["task_prompts": tables] }

    /// Task k's prompt, [n, C] (a copy).
    func table(_ k: Int) -> Tensor {
        withoutGrad { tables.slice(axis: 0, k..<(k + 1)).reshaped([tables.shape[1], tables.shape[2]]) }
    }
}
