// lesson-soft-prompts — from a hard prompt (a written instruction to a frozen model) to soft
// prompts (trained virtual tokens), measured: prompt tuning, prefix tuning, P-tuning (MLP and
// LSTM) and P-tuning v2 against LoRA and full fine-tuning on a classification and a generation
// task; then the papers' claims one by one: the gap to full fine-tuning as the base grows
// (Lester et al., Figure 1), initialisation and prompt length (Figure 3), prefixes in every
// layer and the reparametrisation (Li and Liang), P-tuning's encoder and v2's deep prompts, and
// what the adapter files hold.
//
//   swift run lesson-soft-prompts            (5:56 measured alone on 2 threads with the bases cached; the
//                                             first run also pretrains the tiny base, 12 s, and the medium one,
//                                             11:42; see section 7)
//   swift run lesson-soft-prompts --quick    (seconds; what the tests run)
//   swift run lesson-soft-prompts --tune     (sweeps the learning rates again and rewrites tuning.json)

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

// The sections' helpers live beside this file (Comparison.swift, Claims.swift,
// PrefixAndPTuning.swift), so the command is started here rather than by @main.
LessonSoftPrompts.main()

struct LessonSoftPrompts: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lesson-soft-prompts",
        abstract: "Hard prompts, prompt tuning, prefix tuning, P-tuning (MLP, LSTM) and P-tuning v2 against LoRA "
            + "and full fine-tuning; the papers' claims on scale, initialisation, length, depth and reparametrisation.",
        discussion: """
        Trains PEFT's prompt tuning, prefix tuning and P-tuning (P-tuning v2 as prefix tuning without the projection; \
        multitask prompt tuning is lesson-mpt's), LoRA and full fine-tuning on a classification task and a \
        generation task, each at the learning rate chosen on the validation split (Lessons/lesson-soft-prompts/\
        tuning.json), five seeds each, and reports trainable parameters, scores with 95% intervals, speed, memory and \
        forgetting beside a written instruction to the frozen base. Then: prompt tuning against full fine-tuning on \
        three base sizes, three initialisations, prompt lengths from 1 to 50, prefixes in every layer against the \
        input only, with and without the reparametrisation, and what each adapter folder holds. The report and \
        figures go to Figures/lesson-soft-prompts (or --out).
        """)

    @OptionGroup var options: LessonOptions
    @Option(help: "The classification task: sentiment or topic.") var classification = "topic"
    @Option(help: "The generation task: qa or data-to-text.") var generation = "qa"
    @Option(help: "Virtual tokens of every prompt method in the comparison (n).") var virtualTokens = 20
    @Option(help: "Prompt lengths of the length sweep, comma-separated.") var lengths = "1,5,20,50"
    @Option(help: """
        Base presets of the size sweep, comma-separated, each pretrained once and then cached (default: \
        tiny,small,medium; with --quick only the quick base).
        """)
    var sizes: String?
    @Option(help: "Seeds of the secondary sweeps (sizes, initialisation, length); the comparison uses --seeds.")
    var sweepSeeds = 3

    func run() throws {
        let lesson = "lesson-soft-prompts"
        let nb = Notebook(lesson: lesson, title: "Soft prompts: from a written instruction to trained virtual tokens",
                          folder: options.folder(for: lesson), introduction: introduction)

        // 1. Setup
        nb.section("The base, the two tasks and what each method trains", """
            One cached base model, frozen for every prompt method; two tasks. The classification task \
            (\(classification)) is scored by rank classification: the option whose tokens the model finds most \
            likely after the prompt. The generation task (\(generation)) is scored by greedy decoding and exact match. \
            A virtual token is a position the model reads that has no token id: its vector is trained instead of \
            looked up. Every prompt method below uses n = \(virtualTokens) of them, so they differ only in where \
            the vectors go and how they are produced.
            """)
        let stepPlan = options.steps(full: 150, quick: 30)
        let cls = try Experiment.start(lesson, options: options, task: classification, trainLimit: 256, testLimit: 200,
                                       steps: (stepPlan, stepPlan))
        let gen = try Experiment.start(lesson, options: options, task: generation, trainLimit: 256,
                                       steps: (stepPlan, stepPlan))
        let base = cls.base
        for experiment in [cls, gen] { experiment.describeSetup(in: nb) }
        nb.code(([cls, gen].map { e in e.task.train.prefix(2).map { $0.prompt + $0.answer }.joined(separator: "\n\n") })
            .joined(separator: "\n\n"))
        let clsLineup = Lineup(base: base, task: cls.task, n: virtualTokens)
        let genLineup = Lineup(base: base, task: gen.task, n: virtualTokens)
        nb.code(formulas(base.model, n: virtualTokens))
        nb.table(try methodTable(clsLineup, batch: cls.probeBatch))
        nb.say("""
            Nothing here projects or rewrites the input, whatever the source tutorial says (「在模型输入层增加可学习的投影层\
            」, a learnable projection layer at the input, E8): the real tokens' embeddings are the base's own, \
            bit for bit, and the n new vectors sit in front of them (prompt tuning, P-tuning) or beside the keys and \
            values of every attention layer (prefix tuning, P-tuning v2). The networks that exist (prefix tuning's \
            MLP, P-tuning's MLP or LSTM) map the virtual tokens' own embeddings, never the input, and are thrown away \
            when PEFT saves (section 12).
            """)

        // 2. The hard prompt
        nb.section("A hard prompt: a written instruction to the frozen base", """
            Prompting (「Prompting通过包含一段描述任务或展示任务示例的文本提示，为特定的下游任务调整一个冻结的预训练模型」, S1.1) \
            adapts a frozen model with text. Here the instruction's tokens are put in front of every prompt and the \
            frozen base is scored exactly like the trained methods. Expect nothing: this base has seen about \
            \(formatCount(base.pretrainingCorpusTokens)) tokens of generated biographies, stories, reviews and news, \
            never an instruction, so it has no reason to follow one. Instruction following is what very large \
            pretraining (and instruction tuning) buys; the baselines say what "nothing" looks like.
            """)
        let hard = [cls, gen].map { e in hardPrompt(e, instruction: instruction(for: e.task.name)) }
        let frozen = [cls, gen].map { $0.frozenBase() }
        for (i, e) in [cls, gen].enumerated() {
            nb.code("instruction (\(e.task.name)): \(instruction(for: e.task.name))\n\n"
                + instruction(for: e.task.name) + "\n" + e.task.test[0].prompt + e.task.test[0].answer)
            nb.table(e.scoreTable([hard[i], frozen[i]]))
            nb.say(hardVerdict(e, hard: hard[i], frozen: frozen[i]))
        }

        // 3–4. The comparison on each task
        var main: [String: [MethodResult]] = [:]
        for (e, lineup, hardResult, frozenResult) in [(cls, clsLineup, hard[0], frozen[0]),
                                                      (gen, genLineup, hard[1], frozen[1])] {
            nb.section("Soft prompts against LoRA and full fine-tuning: \(e.task.name)", """
                Seven trained methods on \(e.task.name), each at the learning rate chosen for it on the validation \
                split (two tuning seeds per rate; tables that start from N(0, 1) get a grid of larger rates, around \
                Lester et al.'s 0.3, since AdamW moves each value by about the rate per step; a grid whose best rate \
                sits at its edge is extended beyond it), then \(e.seeds.count) \
                seed(s) of \(e.steps) steps, batch 16, AdamW with warm-up and cosine decay, and the test split once.
                """)
            let results = try e.run(lineup.all, keep: 2)
            main[e.task.name] = results
            e.reportTuning(in: nb, figureName: "learning-rates-\(e.task.name)")
            let full = results[results.count - 1]
            nb.table(e.scoreTable(results + [hardResult, frozenResult], against: full))
            nb.figure(scoreAgainstParameters(e, results, hard: hardResult))
            var losses = Figure(name: "loss-\(e.task.name)", title: "Training loss on \(e.task.name), first seed",
                                xLabel: "step", yLabel: "loss on the answer tokens (log scale)",
                                kind: .lines(results.map { $0.lossSeries(steps: e.steps) }))
            losses.logY = true
            if let level = uniformGuessLoss(e) {
                losses.references = [.init("a uniform guess among the labels", y: level)]
            }
            nb.figure(losses)
            nb.say(comparisonVerdict(e, results))
        }
        let clsResults = main[cls.task.name] ?? [], genResults = main[gen.task.name] ?? []

        // 5. More steps
        try longerRunSection(nb, cls, clsResults)

        // 6. Cost
        nb.section("What they cost: memory, speed, forgetting", """
            The tutorial's promise for prompt tuning is parameter efficiency that 「降低了计算成本和训练时间」 (lowers \
            compute and training time, P4.2, S2.3). Memory of one training step on the same 16 \(cls.task.name) \
            examples, measured: weights, a gradient and AdamW's two moments per trainable value, and the activations \
            backward needs. Speed is what the runs above measured: real (not virtual) tokens per second of training.
            """)
        let fresh = try clsLineup.all.map { ($0.name, try $0.prepare(options.seed)) }
        let memory = memoryTable(fresh, batch: cls.probeBatch)
        nb.table(memory.table)
        nb.table(speedTable([cls, gen], [clsResults, genResults]))
        nb.say(costVerdict(clsResults, genResults, memory: memory.rows))
        nb.say(forgettingText([cls, gen], [clsResults, genResults], base: base))
        for e in [cls, gen] {
            if let figure = e.forgettingFigure(name: "forgetting-\(e.task.name)",
                                               title: "Validation score against forgetting, one point per "
                                                + "learning rate (\(e.task.name))") {
                nb.figure(figure)
            }
        }
        if !options.quick {
            nb.say("Each point is one learning rate of a sweep (two seeds): read along a horizontal line to compare "
                + "forgetting at the same validation score, where the methods reach it.")
        }

        // 7. Scale
        let sweepTask = gen, sweepResults = genResults
        let seedsOfSweeps = Array(sweepTask.seeds.prefix(max(1, min(sweepSeeds, sweepTask.seeds.count))))
        try scaleSection(nb, main: sweepTask, mainPrompt: sweepResults[Slot.prompt], mainFull: sweepResults[Slot.full],
                         seeds: seedsOfSweeps)

        // 8. Initialisation
        let lineup = sweepTask === cls ? clsLineup : genLineup
        let inits = try initialisationSection(nb, sweepTask, lineup, shared: sweepResults[0], seeds: seedsOfSweeps)

        // 9. Length
        try lengthSection(nb, sweepTask, lineup, shared: sweepResults[0], seeds: seedsOfSweeps)

        // 10. Prefix tuning
        prefixSection(nb, [cls, gen], [clsResults, genResults])

        // 11. P-tuning
        pTuningSection(nb, [cls, gen], [clsResults, genResults], sweep: sweepTask, randomStart: inits.random,
                       seeds: seedsOfSweeps)

        // 12. Files
        try filesSection(nb, sweepTask, sweepResults)

        nb.section("Exercises", exercises)
        nb.finish()
    }

    var introduction: String {
        """
        Prompting steers a frozen model with text: an instruction or a few examples in front of the input, a hard \
        prompt (「硬提示」). A soft prompt (「软提示」) keeps the model frozen too, but its prompt is made of vectors \
        trained by gradient descent, not of words. Four such methods come out of three PEFT configs, all \
        implemented here to PEFT's numbers: prompt tuning (Lester, Al-Rfou and Constant, EMNLP 2021; \
        `PromptTuningConfig`) puts n trained embeddings in front of the input; prefix tuning (Li and Liang, ACL 2021; \
        `PrefixTuningConfig` with `prefix_projection=True`) puts n trained keys and values in front of every \
        attention layer and trains them through an MLP that is dropped afterwards; P-tuning (Liu et al., "GPT \
        Understands, Too", 2021; `PromptEncoderConfig`) produces the input prompt with an MLP or a bidirectional \
        LSTM; P-tuning v2 (Liu et al., ACL 2022) is prefix tuning's deep prompts without the MLP, which in PEFT is \
        `PrefixTuningConfig` with its default `prefix_projection=False`. (PEFT's fourth prompt config, multitask \
        prompt tuning, is lesson-mpt's.) The source tutorial files them under 「添加参数」 (adding \
        parameters). It also calls prefix tuning 「是Prompt Tuning的一种变体」, a variant of prompt tuning: the history \
        runs the other way — prefix tuning appeared first (arXiv 2101.00190, January 2021) and Lester et al. call \
        prompt tuning "a simplification of the recently proposed prefix tuning" (E4). And it dates P-tuning v2 to 2023 \
        (E2): arXiv 2110.07602, October 2021, ACL 2022. This notebook trains all of them beside LoRA and full \
        fine-tuning on the same tasks and checks the papers' claims at this (very small) scale.
        """
    }

    var exercises: String {
        """
        An exercise that changes a setting has no committed learning rates, so its run sweeps them first (two seeds \
        per rate and method) and takes several times as long as the lesson. Basic. (1) `swift run \
        lesson-soft-prompts --virtual-tokens 5`: every prompt method with a quarter of the length. Prompt tuning and \
        P-tuning v2 then train a quarter of the values; prefix tuning's MLP and P-tuning's encoders keep their size, \
        since they do not depend on n (their embedding table shrinks). Expect prompt tuning to change about as much \
        as section 9's length sweep shows between n = 5 and 20, and compare the methods whose trainable count barely \
        moves with those that lose three quarters. (2) `--classification sentiment`: a task whose labels hinge on \
        negation and contrast. Expect every soft prompt near the no-learning floor (on sentiment, what always giving \
        the test split's most common answer scores) and only the methods that change \
        weights to move; compare the training loss with the test score to see memorisation. Intermediate. (3) \
        `--generation data-to-text`: a task that needs capacity (a whole sentence per record). Expect exact match \
        near 0 for every soft prompt and LoRA at this budget; then `--steps 600`, which trains every method four \
        times as long (and sweeps every learning rate again for 600 steps): does any soft prompt leave 0? (4) Train \
        a P-tuning adapter from the command line, `swift run peft train --model \
        .cache/base-models/small-corpus\(World.corpusVersion) --data qa --method p-tuning \
        --encoder-reparameterization-type lstm --out pt`, then `ls -l pt`: expect adapter_model.safetensors to hold \
        only prompt_embeddings [20, 128], and Python's `PeftModel.from_pretrained` to give the same logits. Open. \
        (5) Prompt tuning's learning rate: the comparison's sampled-vocabulary prompt is swept over \
        `Method.promptRates` (Sources/Notebook/Method.swift), extended past the grid's edge when the best rate sits \
        there (tuning.json shows which rates were tried). Add 1 and 3 to that grid and rerun with `--tune`: do rates \
        above Lester's 0.3 help a 0.9M-parameter base? Read the answer off the sweep figure of section 3. (6) Which \
        of the learned prompt vectors (section 8's table) still sit next to their initial tokens after training, and \
        what does that say about the tutorial's claim that soft prompts are unreadable (S1.5)?
        """
    }
}

// MARK: - The methods

/// The lesson's methods on one base and task: every prompt method of PEFT with n virtual tokens,
/// LoRA and full fine-tuning.
struct Lineup {
    let base: BaseModel
    let task: TaskData
    let n: Int

    /// Prompt tuning; by default initialised from sampled vocabulary rows.
    func promptTuning(n count: Int? = nil, initialisation: PromptTuningInit = .sampleVocab, text: String? = nil,
                      label: String? = nil) -> Method {
        .promptTuning(base, n: count ?? n, initialisation: initialisation, text: text, label: label)
    }

    var prefixTuning: Method { .prefixTuning(base, n: n) }

    func pTuning(_ type: PromptEncoderReparameterizationType) -> Method { .pTuning(base, n: n, type) }

    var pTuningV2: Method { .pTuningV2(base, n: n) }

    var lora: Method {
        .lora("LoRA r=8 (q,v)", base, LoraConfig(r: 8, loraAlpha: 16), key: "lora 8 16.0 q_proj,v_proj")
    }

    var full: Method { .selective("full fine-tuning", base) { .full($0) } }

    /// The comparison's order: prompt methods, LoRA, full fine-tuning last.
    var all: [Method] { [promptTuning(), prefixTuning, pTuning(.mlp), pTuning(.lstm), pTuningV2, lora, full] }
}

/// The instruction a person would write for each task.
func instruction(for task: String) -> String {
    switch task {
    case "sentiment": "Decide whether the review is positive or negative."
    case "topic": "Decide whether the text is about sports, food, weather, travel or music."
    case "qa": "Answer the question about the person with one word."
    default: "Write one sentence that states every field of the record."
    }
}

/// The frozen base with `instruction`'s tokens in front of every row: the real tokens take
/// positions k..<k+T, and only their logits are returned, so it is scored like any tuner.
func hardPrompt(_ experiment: Experiment, instruction: String) -> MethodResult {
    let ids = experiment.base.tokenizer.encode(instruction + "\n"), model = experiment.base.model
    return experiment.untrained("hard prompt") { batch in
        let k = ids.count, t = batch.sequenceLength
        var rows: [Int] = []
        rows.reserveCapacity(batch.batchSize * (k + t))
        for r in 0..<batch.batchSize { rows += ids + batch.inputIds[(r * t)..<((r + 1) * t)] }
        return model(rows, batch: batch.batchSize).slice(axis: 1, k..<(k + t))                // [B, T, V]
    }
}

/// The text a TEXT initialisation starts from when it stands for the "class labels": the options
/// of a choice task, or, for a generation task, its most common training answer of each kind.
func labelText(_ task: TaskData) -> String {
    if case .choice(let options) = task.metric {
        return options.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
    var counts: [String: [String: Int]] = [:], kinds: [String] = []
    for e in task.train {
        if counts[e.kind] == nil { kinds.append(e.kind) }
        counts[e.kind, default: [:]][e.answer.trimmingCharacters(in: .whitespaces), default: 0] += 1
    }
    return kinds.compactMap { counts[$0]?.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key }.joined(separator: " ")
}
