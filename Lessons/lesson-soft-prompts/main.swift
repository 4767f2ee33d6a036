// lesson-soft-prompts — from a hard prompt (a written instruction to a frozen model) to soft
// prompts (trained virtual tokens), measured: prompt tuning, prefix tuning, P-tuning (MLP and
// LSTM) and P-tuning v2 against LoRA and full fine-tuning on a generation task, the input-only and
// the deep prompt on a classification task; what each costs; Li and Liang's claims on prefixes in
// every layer and the reparametrisation, P-tuning's encoder and v2's deep prompts; what the adapter
// files hold. Lester et al.'s claims on prompt tuning (scale, initialisation, length) are
// lesson-prompt-tuning's.
//
//   swift run lesson-soft-prompts            (2:41 measured alone on 2 threads with the base cached)
//   swift run lesson-soft-prompts --quick    (seconds; what the tests run)
//   swift run lesson-soft-prompts --tune     (sweeps the learning rates again and rewrites tuning.json)

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

// The sections' helpers live beside this file (Comparison.swift, PrefixAndPTuning.swift), so the
// command is started here rather than by @main.
LessonSoftPrompts.main()

struct LessonSoftPrompts: ParsableCommand {
    static let lesson = "lesson-soft-prompts"
    static let configuration = CommandConfiguration(
        commandName: lesson,
        abstract: "Hard prompts, prompt tuning, prefix tuning, P-tuning (MLP, LSTM) and P-tuning v2 against LoRA "
            + "and full fine-tuning; their cost; the papers' claims on depth, reparametrisation and encoders.",
        discussion: """
        Trains PEFT's prompt tuning, prefix tuning and P-tuning (P-tuning v2 as prefix tuning without the projection; \
        multitask prompt tuning is lesson-mpt's), LoRA and full fine-tuning on a generation task, and prompt tuning, \
        P-tuning v2 and LoRA (or all seven) on a classification task, each at the learning rate chosen on the \
        validation split (Lessons/lesson-soft-prompts/tuning.json), five seeds each, and reports trainable \
        parameters, scores with 95% intervals, speed, memory and forgetting beside a written instruction to the \
        frozen base. Then: prefixes \
        in every layer against the input only, with and without the reparametrisation, P-tuning's encoders, and what \
        each adapter folder holds. Prompt tuning's own claims (base size, initialisation, length) are \
        lesson-prompt-tuning's. The report and figures go to Figures/lesson-soft-prompts (or --out).
        """)

    @OptionGroup var options: LessonOptions
    @Option(help: "The generation task, where every method runs: qa or data-to-text.") var generation = "qa"
    @Option(help: "The classification task: topic or sentiment.") var classification = "topic"
    @Option(help: "Virtual tokens of every prompt method (n).") var virtualTokens = 20
    @Option(help: "Seeds of section 7's encoder-or-not comparison; the comparisons use --seeds.")
    var encoderSeeds = 3
    @Flag(help: "Run all seven methods on the classification task too, not only three (about a minute longer).")
    var allOnClassification = false

    func run() throws {
        let nb = Notebook(lesson: Self.lesson,
                          title: "Soft prompts: from a written instruction to trained virtual tokens",
                          folder: options.folder(for: Self.lesson), introduction: introduction)

        // 1. Setup
        nb.section("The base, the two tasks and what each method trains", """
            One cached base model, frozen for every prompt method; two tasks. The generation task \
            (\(generation)), scored by greedy decoding and exact match, is where all seven methods run. The \
            classification task (\(classification)) is scored by rank classification: the option whose tokens the \
            model finds most likely after the prompt; \(allOnClassification ? "all seven run there too"
            : "there the input-only prompt, the deep prompt and LoRA run"). \
            A virtual token is a position the model reads that has no token id: its vector is trained instead of \
            looked up. Every prompt method below uses n = \(virtualTokens) of them, so they differ only in where \
            the vectors go and how they are produced.
            """)
        let stepPlan = options.steps(full: 150, quick: 30)
        let gen = try Experiment.start(Self.lesson, options: options, task: generation, trainLimit: 256,
                                       steps: (stepPlan, stepPlan))
        let cls = try Experiment.start(Self.lesson, options: options, task: classification, trainLimit: 256,
                                       testLimit: 200, steps: (stepPlan, stepPlan))
        let base = gen.base
        for experiment in [gen, cls] { experiment.describeSetup(in: nb) }
        nb.code(([gen, cls].map { e in e.task.train.prefix(2).map { $0.prompt + $0.answer }.joined(separator: "\n\n") })
            .joined(separator: "\n\n"))
        let genLineup = PromptLineup(base: base, task: gen.task, n: virtualTokens)
        let clsLineup = PromptLineup(base: base, task: cls.task, n: virtualTokens)
        nb.code(formulas(base.model, n: virtualTokens))
        nb.table(try methodTable(genLineup))
        nb.say("""
            Nothing here projects or rewrites the input, whatever the source tutorial says (「在模型输入层增加可学习的投影层\
            」, a learnable projection layer at the input, E8): the real tokens' embeddings are the base's own, \
            bit for bit, and the n new vectors sit in front of them (prompt tuning, P-tuning) or beside the keys and \
            values of every attention layer (prefix tuning, P-tuning v2). The networks that exist (prefix tuning's \
            MLP, P-tuning's MLP or LSTM) map the virtual tokens' own embeddings, never the input, and are thrown away \
            when PEFT saves (section 8).
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
        let hard = [gen, cls].map { e in hardPrompt(e, instruction: instruction(forTask: e.task.name)) }
        let frozen = [gen, cls].map { $0.frozenBase() }
        for (i, e) in [gen, cls].enumerated() {
            nb.code("instruction (\(e.task.name)): \(instruction(forTask: e.task.name))\n\n"
                + instruction(forTask: e.task.name) + "\n" + e.task.test[0].prompt + e.task.test[0].answer)
            nb.table(e.scoreTable([hard[i], frozen[i]]))
            nb.say(hardVerdict(e, hard: hard[i], frozen: frozen[i]))
        }

        // 3. Every method on the generation task
        nb.section("Soft prompts against LoRA and full fine-tuning: \(gen.task.name)", """
            Seven trained methods on \(gen.task.name), each at the learning rate chosen for it on the validation \
            split (two tuning seeds per rate; tables that start from N(0, 1) get a grid of larger rates, around \
            Lester et al.'s 0.3, since AdamW moves each value by about the rate per step; a grid whose best rate \
            sits at its edge is extended beyond it), then \(gen.seeds.count) \
            seed(s) of \(gen.steps) steps, batch 16, AdamW with warm-up and cosine decay, and the test split once.
            """)
        let main = Trained(gen, genLineup, try gen.run(genLineup.all, keep: 2))
        gen.reportTuning(in: nb, figureName: "learning-rates-\(gen.task.name)")
        nb.table(gen.scoreTable(main.results + [hard[0], frozen[0]], against: main.full))
        nb.figure(scoreAgainstParameters(gen, main.results, hard: hard[0]))
        nb.figure(lossFigure(main))
        nb.say(comparisonVerdict(main))

        // 4. The classification task
        let side = try classificationSection(nb, cls, clsLineup, hard: hard[1], frozen: frozen[1])

        // 5. Cost
        nb.section("What they cost: memory, speed, forgetting", """
            The tutorial's promise for prompt tuning is parameter efficiency that 「降低了计算成本和训练时间」 (lowers \
            compute and training time, P4.2, S2.3). Memory of one training step on the same 16 \(gen.task.name) \
            examples, measured: weights, a gradient and AdamW's two moments per trainable value, and the activations \
            backward needs. Speed is what the runs above measured: real (not virtual) tokens per second of training.
            """)
        let fresh = try genLineup.all.map { ($0.name, try $0.prepare(options.seed)) }
        let memory = memoryTable(fresh, batch: gen.probeBatch)
        nb.table(memory.table)
        nb.table(speedTable([main, side]))
        nb.say(costVerdict(main, side, memory: Dictionary(uniqueKeysWithValues: zip(fresh.map(\.0), memory.rows))))
        nb.say(forgettingText([main, side], base: base))
        for e in [gen, cls] {
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

        // 6. Prefix tuning
        prefixSection(nb, [main, side])

        // 7. P-tuning
        try pTuningSection(nb, [main, side], main: main)

        // 8. Files
        try filesSection(nb, main)

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
        fine-tuning and checks the papers' claims at this (very small) scale; prompt tuning's own claims (base size, \
        initialisation, prompt length) are the next lesson's, lesson-prompt-tuning.
        """
    }

    var exercises: String {
        """
        An exercise that changes a setting has no committed learning rates, so its run sweeps them first (two seeds \
        per rate and method) and takes several times as long as the lesson. Basic. (1) `swift run \
        lesson-soft-prompts --virtual-tokens 5`: every prompt method with a quarter of the length. Prompt tuning and \
        P-tuning v2 then train a quarter of the values; prefix tuning's MLP and P-tuning's encoders keep their size, \
        since they do not depend on n (their embedding table shrinks). Expect prompt tuning to change about as much \
        as lesson-prompt-tuning's length sweep shows between n = 5 and 20, and compare the methods whose trainable \
        count barely moves with those that lose three quarters. (2) `--classification sentiment`: a task whose \
        labels hinge on negation and contrast. Expect every soft prompt near the no-learning floor (on sentiment, \
        what always giving the test split's most common answer scores) and only LoRA to move; compare the training \
        loss with the test score to see memorisation. Intermediate. (3) `--generation data-to-text`: a task that \
        needs capacity (a whole sentence per record). Expect exact match near 0 for every soft prompt and LoRA at \
        this budget; then `--steps 600`, which trains every method four times as long (and sweeps every learning \
        rate again for 600 steps): does any soft prompt leave 0? (4) Train a P-tuning adapter from the command \
        line, `swift run peft train --model .cache/base-models/small-corpus\(World.corpusVersion) --data qa \
        --method p-tuning --encoder-reparameterization-type lstm --out pt`, then `ls -l pt`: expect \
        adapter_model.safetensors to hold only prompt_embeddings [20, 128], and Python's \
        `PeftModel.from_pretrained` to give the same logits. Open. (5) Section 4's soft prompts end their \
        \(options.steps(full: 150, quick: 30)) steps far below LoRA. With `--steps 500` (new sweeps for every method \
        and task), does P-tuning v2 reach LoRA's score on the classification task, and how many times LoRA's \
        training time does it take to get there? That is the tutorial's 「降低了…训练时间」 (P4.2) put to the test.
        """
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
