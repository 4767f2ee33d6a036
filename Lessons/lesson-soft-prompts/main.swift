// lesson-soft-prompts — from a hard prompt (a written instruction to a frozen model) to soft
// prompts (trained virtual tokens), measured: prompt tuning, prefix tuning, P-tuning (MLP and
// LSTM) and P-tuning v2 against LoRA and full fine-tuning on a classification and a generation
// task; then the papers' claims one by one: the gap to full fine-tuning as the base grows
// (Lester et al., Figure 1), initialisation and prompt length (Figure 3), prefixes in every
// layer and the reparametrisation (Li and Liang), P-tuning's encoder and v2's deep prompts, and
// what the adapter files hold.
//
//   swift run lesson-soft-prompts            (well over 5 minutes even with the bases cached; the first run
//                                             pretrains the tiny and medium bases, see section 7)
//   swift run lesson-soft-prompts --quick    (seconds; what the tests run)
//   swift run lesson-soft-prompts --tune     (sweeps the learning rates again and rewrites tuning.json)

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import SafeTensors
import TensorKit

@main
struct LessonSoftPrompts: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lesson-soft-prompts",
        abstract: "Hard prompts, prompt tuning, prefix tuning, P-tuning (MLP, LSTM) and P-tuning v2 against LoRA "
            + "and full fine-tuning; the papers' claims on scale, initialisation, length, depth and reparametrisation.",
        discussion: """
        Trains every prompt-learning method of PEFT, LoRA and full fine-tuning on a classification task and a \
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
                split (two tuning seeds per rate; tables that start from N(0, 1) get a grid of larger rates, up to \
                Lester et al.'s 0.3, since AdamW moves each value by about the rate per step), then \(e.seeds.count) \
                seed(s) of \(e.steps) steps, batch 16, AdamW with warm-up and cosine decay, and the test split once.
                """)
            let results = try lineup.all.map { try e.run($0, keep: 2) }
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
        nb.table(memoryTable(fresh, batch: cls.probeBatch).table)
        nb.table(speedTable([cls, gen], [clsResults, genResults]))
        nb.say(costVerdict(clsResults, genResults))
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
        trained by gradient descent, not of words. PEFT has four such methods, all implemented here to PEFT's \
        numbers: prompt tuning (Lester, Al-Rfou and Constant, EMNLP 2021) puts n trained embeddings in front of the \
        input; prefix tuning (Li and Liang, ACL 2021) puts n trained keys and values in front of every attention \
        layer and trains them through an MLP that is dropped afterwards; P-tuning (Liu et al., "GPT Understands, \
        Too", 2021) produces the input prompt with an MLP or a bidirectional LSTM; P-tuning v2 (Liu et al., ACL 2022) \
        is prefix tuning's deep prompts without the MLP. The source tutorial files them under 「添加参数」 (adding \
        parameters). It also calls prefix tuning 「是Prompt Tuning的一种变体」, a variant of prompt tuning: the history \
        runs the other way — prefix tuning appeared first (arXiv 2101.00190, January 2021) and Lester et al. call \
        prompt tuning "a simplification of the recently proposed prefix tuning" (E4). And it dates P-tuning v2 to 2023 \
        (E2): arXiv 2110.07602, October 2021, ACL 2022. This notebook trains all of them beside LoRA and full \
        fine-tuning on the same tasks and checks the papers' claims at this (very small) scale.
        """
    }

    var exercises: String {
        """
        Basic. (1) `swift run lesson-soft-prompts --virtual-tokens 5`: every prompt method with a quarter of the \
        length. Expect prompt tuning to move least (section 9) and the prefix methods to lose most, since their \
        parameters shrink fourfold. (2) `--classification sentiment`: a task whose labels hinge on negation and \
        contrast. Expect every soft prompt near the majority baseline and only the methods that change weights to \
        move; compare the training loss with the test score to see memorisation. Intermediate. (3) `--generation \
        data-to-text`: a task that needs capacity (a whole sentence per record). Expect exact match near 0 for every \
        soft prompt and LoRA at this budget; try `--steps 600` for full fine-tuning. (4) Train a P-tuning adapter \
        from the command line, `swift run peft train --model .cache/base-models/small-corpus\(World.corpusVersion) \
        --data qa --method p-tuning --encoder-reparameterization-type lstm --out pt`, then \
        `ls -l pt`: expect adapter_model.safetensors to hold only prompt_embeddings [20, 128], and Python's \
        `PeftModel.from_pretrained` to give the same logits. Open. (5) Prompt tuning's learning rate: rerun the \
        comparison with `--tune` and the grid in `Lineup.tableRates` shifted up (1, 3): do rates above Lester's 0.3 \
        help a 0.9M-parameter base? (6) Which of the learned prompt vectors (section 8's table) still sit next to \
        their initial tokens after training, and what does that say about the tutorial's claim that soft prompts \
        are unreadable (S1.5)?
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

    /// The grid of tables drawn from N(0, 1) (`Method.tableRates`).
    static let tableRates = Method.tableRates

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

// MARK: - Section 1: formulas and the methods' parts

/// The methods' formulas with this model's sizes.
func formulas(_ model: LlamaModel, n: Int) -> String {
    let c = model.config, kv = c.numKeyValueHeads * c.headDim, layers = c.numHiddenLayers
    return """
        hidden C = \(c.hiddenSize), layers L = \(layers), key/value width C_kv = \(kv), virtual tokens n = \(n)
        prompt tuning   x' = [P ; E(ids)]                    P [\(n), \(c.hiddenSize)] trained              (input only)
        P-tuning        x' = [f(P') ; E(ids)]                P' [\(n), \(c.hiddenSize)], f = MLP or BiLSTM + MLP
        prefix tuning   K'ₗ = [Kpₗ ; Kₗ], V'ₗ = [Vpₗ ; Vₗ]       in every layer l; [Kp, Vp] = MLP(P'), P' [\(n), \(kv)]
        P-tuning v2     the same deep prefix, trained directly: P [\(n), \(layers)·2·\(kv) = \(2 * layers * kv)]
        LoRA            h = W₀x + (α/r)·B·A·x                 on q_proj, v_proj, r = 8, α = 16
        real tokens: positions n..n+T−1 after a prepended prompt; prefix keys are not rotated (RoPE)
        """
}

/// What each method trains, where it goes and what PEFT saves, measured on fresh tuners.
func methodTable(_ lineup: Lineup, batch: TokenBatch) throws -> Table {
    var table = Table(["method", "PEFT", "where the vectors go", "trainable tensors", "trainable", "share",
                       "adapter_model.safetensors"])
    for method in lineup.all {
        let tuner = try method.prepare(0)
        let config = tuner.peftConfig.map { String(describing: type(of: $0)) } ?? "—"
        let tensors = tuner.namedTrainableParameters.count <= 3
            ? tuner.namedTrainableParameters.map { "\(shortName($0.name)) \($0.tensor.shape)" }.joined(separator: ", ")
            : "\(tuner.namedTrainableParameters.count) tensors"
        var saved = "the whole model"
        if let prompt = tuner as? PromptLearningModel {
            saved = try prompt.encoder.savedTensors().map { "\($0.key) \($0.value.shape)" }.sorted()
                .joined(separator: ", ")
        } else if tuner.peftConfig != nil {
            saved = "\(tuner.namedTrainableParameters.count) LoRA matrices"
        }
        table.add([method.name, config, placement(tuner), tensors, formatCount(tuner.trainableCount),
                   String(format: "%.3f%%", 100 * tuner.trainableShare), saved])
    }
    return table
}

func placement(_ tuner: any Tuner) -> String {
    guard let prompt = tuner as? PromptLearningModel else {
        return tuner.peftConfig == nil ? "every weight changes" : "beside q_proj and v_proj"
    }
    return prompt.encoder.placement == .prepended ? "in front of the input embeddings"
        : "keys and values in every layer"
}

/// "prompt_encoder.mlp_head.0.weight" → "mlp_head.0.weight".
func shortName(_ name: String) -> String {
    name.hasPrefix("prompt_encoder.") ? String(name.dropFirst("prompt_encoder.".count)) : name
}

// MARK: - Sections 2–5: the comparison

extension BaseModel {
    /// The pretraining corpus's size in tokens, from pretraining.json (0 if not recorded).
    var pretrainingCorpusTokens: Int {
        let url = folder.appendingPathComponent("pretraining.json")
        guard let data = try? Data(contentsOf: url),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return 0 }
        return json["corpus_tokens"] as? Int ?? 0
    }
}

/// Whether the interval of `r` lies above both baselines.
func aboveBaselines(_ e: Experiment, _ r: MethodResult) -> Bool {
    e.interval(r).low > max(e.baselines.chance, e.baselines.majority)
}

func hardVerdict(_ e: Experiment, hard: MethodResult, frozen: MethodResult) -> String {
    let b = e.baselines, c = e.compare(hard, frozen)
    let level = max(b.chance, b.majority)
    let against = e.interval(hard).high < level ? "below the better baseline (\(String(format: "%.3f", level)))"
        : aboveBaselines(e, hard) ? "above both baselines" : "not distinguishable from the baselines"
    return "On \(e.task.name) the instruction scores \(e.interval(hard).text()), \(against); against the same base "
        + "without it: \(c.text). "
        + (c.verdict == .withinNoise ? "The words change nothing measurable: this base cannot follow an instruction."
           : "The words change the base's output, but not by understanding: at this scale a prompt is more text to "
             + "continue, and any effect comes from the words' statistics, not from an instruction being obeyed.")
}

/// Score against trainable parameters: one point per trained method, the hard prompt and the
/// baselines as lines.
func scoreAgainstParameters(_ e: Experiment, _ results: [MethodResult], hard: MethodResult) -> Figure {
    let points = results.map { r -> Figure.Point in
        let i = e.interval(r)
        return Figure.Point(r.name, x: Double(r.trainableParameters), y: i.estimate, yInterval: (i.low, i.high))
    }
    var figure = Figure(name: "score-vs-parameters-\(e.task.name)",
                        title: "Test \(e.task.metricName) (\(e.task.name)) against trainable parameters",
                        xLabel: "trainable parameters (log scale)", yLabel: "test \(e.task.metricName) (95% CI)",
                        kind: .scatter(points))
    figure.logX = true
    figure.references = e.baselineReferences + [.init("hard prompt", y: e.interval(hard).estimate)]
    return figure
}

func comparisonVerdict(_ e: Experiment, _ results: [MethodResult]) -> String {
    guard let full = results.last, results.count > 2 else { return "" }
    let lora = results[results.count - 2]
    let prompts = Array(results.dropLast(2))
    let above = prompts.filter { aboveBaselines(e, $0) }.map(\.name)
    let best = prompts.max { $0.meanScore < $1.meanScore }!
    var parts: [String] = []
    parts.append(above.isEmpty
        ? "No soft prompt's interval clears the baselines on \(e.task.name) at this budget."
        : "Above both baselines on \(e.task.name): \(above.joined(separator: ", ")).")
    parts.append("The best soft prompt is \(best.name), \(e.interval(best).text()); against full fine-tuning "
        + "\(e.compare(best, full).text), against LoRA \(e.compare(best, lora).text).")
    let matching = prompts.filter { e.compare($0, full).verdict != .worse }.map(\.name)
    parts.append(matching.isEmpty
        ? "Every soft prompt scores below full fine-tuning here: the tutorial's 「与传统的训练整个模型的方法相当」 "
            + "(comparable to training the whole model, S1.7) does not hold at this scale (E6: Lester et al. find it "
            + "only beyond about 10 billion parameters)."
        : "Within noise of full fine-tuning or better: \(matching.joined(separator: ", ")).")
    parts.append("LoRA against full fine-tuning: \(e.compare(lora, full).text).")
    return parts.joined(separator: " ")
}

/// Training throughput and wall time per run on both tasks.
func speedTable(_ experiments: [Experiment], _ results: [[MethodResult]]) -> Table {
    var table = Table(["method"] + experiments.flatMap { ["\($0.task.name): tokens/s", "\($0.task.name): s per run"] })
    for (i, r) in (results.first ?? []).enumerated() {
        var row = [r.name]
        for list in results where i < list.count {
            row += [formatCount(Int(list[i].tokensPerSecond)), String(format: "%.1f", list[i].seconds)]
        }
        table.add(row)
    }
    return table
}

func costVerdict(_ cls: [MethodResult], _ gen: [MethodResult]) -> String {
    guard cls.count >= 7 else { return "" }
    let prompt = cls[0], lora = cls[5], full = cls[6]
    let ratio = Double(lora.trainableParameters) / Double(max(prompt.trainableParameters, 1))
    return """
        Prompt tuning trains \(String(format: "%.1f", ratio))× fewer values than LoRA, yet it processed \
        \(formatCount(Int(prompt.tokensPerSecond))) real tokens/s against LoRA's \
        \(formatCount(Int(lora.tokensPerSecond))) and full fine-tuning's \(formatCount(Int(full.tokensPerSecond))): \
        backward still runs through every frozen layer down to the input, and each row is n positions longer. \
        What shrinks is gradient and optimizer memory, which at this size is small beside the activations (table \
        above). Prefix methods lengthen only the keys and values, not the rows, so they cost less per step than \
        the prepending ones. So the tutorial's 「降低了计算成本和训练时间」 holds for memory, not for time per \
        step (timings on a shared machine; compare within a column).
        """
}

func forgettingText(_ experiments: [Experiment], _ results: [[MethodResult]], base: BaseModel) -> String {
    var parts: [String] = []
    for (e, list) in zip(experiments, results) {
        let items = list.map { "\($0.name) \(e.forgetting($0).text(signed: true))" }
        parts.append("\(e.task.name): " + items.joined(separator: "; "))
    }
    var identical = "—"
    if let tuner = results.first?.first?.tuners.first {
        let differing = zip(tuner.model.namedParameters, base.model.namedParameters).reduce(0) { n, pair in
            n + zip(pair.0.tensor.array, pair.1.tensor.array).filter { $0 != $1 }.count
        }
        identical = "\(differing)"
    }
    return "Forgetting, the held-out pretraining loss after training minus the base's (95% intervals): "
        + parts.joined(separator: ". ") + ". For the prompt methods this is measured with the prompt attached: the "
        + "weights underneath are the base's, bit for bit (values differing after training prompt tuning: "
        + "\(identical)), so removing the prompt forgets exactly nothing. What a prompt \"forgets\" is only how much "
        + "it bends the base's predictions on unrelated text while it is attached."
}

// MARK: - Section 6: scale

/// The first `seeds.count` seeds of a result (to pair it with a sweep that ran fewer).
func firstSeeds(_ r: MethodResult, _ count: Int) -> MethodResult {
    var c = r
    c.runs = Array(r.runs.prefix(count))
    return c
}

/// Per seed and item, `a` − `b`: the gap as the bootstrap reads it.
func gapScores(_ e: Experiment, _ a: MethodResult, _ b: MethodResult) -> ItemScores {
    let rows = zip(a.runs, b.runs).map { zip($0.itemScores, $1.itemScores).map { $0 - $1 } }
    return ItemScores(seeds: rows, entityNames: e.task.test.map(\.entity))
}

extension LessonSoftPrompts {
    func scaleSection(_ nb: Notebook, main: Experiment, mainPrompt: MethodResult, mainFull: MethodResult,
                      seeds: [UInt64]) throws {
        let names = (sizes ?? (options.quick ? main.base.name : "tiny,small,medium"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        nb.section("Does the gap close as the base grows?", """
            Lester et al.'s Figure 1: on SuperGLUE, prompt tuning trails model tuning (full fine-tuning) badly at \
            T5-Small and T5-Base and matches it at T5-XXL, 11 billion parameters — the tutorial's 「随着模型大小的增加\
            ，Prompt Tuning的性能也会提升」 (S1.7). Here: prompt tuning (n = \(virtualTokens), sampled-vocabulary \
            start) and full fine-tuning on \(main.task.name) on bases of \(names.joined(separator: ", ")), each at \
            its own tuned learning rate, \(seeds.count) seed(s) of \(main.steps) steps (the \(main.base.name) \
            base's runs are the comparison's first \(seeds.count) seeds). A base not in the cache is pretrained first, \
            once: the tiny one takes about two minutes on two quiet cores, the medium one (about 5M parameters, 1,800 \
            steps) much longer; both are then cached beside the default one.
            """)
        var rows: [(name: String, base: BaseModel, e: Experiment, prompt: MethodResult, full: MethodResult,
                    loadSeconds: Double)] = []
        for name in names {
            if name == main.base.name {
                rows.append((name, main.base, main, firstSeeds(mainPrompt, seeds.count),
                             firstSeeds(mainFull, seeds.count), 0))
                continue
            }
            var o = options
            o.base = name
            let started = Date()
            let e = try Experiment.start("lesson-soft-prompts", options: o, task: main.task.name, trainLimit: 256,
                                         steps: (main.steps, main.steps))
            let loaded = Date().timeIntervalSince(started)
            let lineup = Lineup(base: e.base, task: e.task, n: virtualTokens)
            let p = try e.run(lineup.promptTuning(), seeds: seeds, keep: 0)
            let f = try e.run(lineup.full, seeds: seeds, keep: 0)
            rows.append((name, e.base, e, p, f, loaded))
        }
        rows.sort { $0.base.model.parameterCount < $1.base.model.parameterCount }
        var table = Table(["base", "parameters", "pretraining", "prompt tuning", "lr", "full fine-tuning", "lr",
                           "prompt − full", "prompt's share"])
        for r in rows {
            let c = r.base.model.config
            let made = r.loadSeconds > 60 ? "\(formatDuration(r.base.pretrainingSeconds)) (this run)"
                : "\(formatDuration(r.base.pretrainingSeconds)) (cached)"
            table.add(["\(r.name) (\(c.numHiddenLayers) × \(c.hiddenSize))", formatCount(r.base.model.parameterCount),
                       made,
                       r.e.interval(r.prompt).text(), shortRate(r.prompt.learningRate), r.e.interval(r.full).text(),
                       shortRate(r.full.learningRate), r.e.compare(r.prompt, r.full).text,
                       String(format: "%.3f%%", 100 * r.prompt.trainableShare)])
        }
        nb.table(table)
        func series(_ name: String, _ pick: (MethodResult, MethodResult) -> MethodResult) -> Figure.Series {
            let intervals = rows.map { $0.e.interval(pick($0.prompt, $0.full)) }
            return .init(name, zip(rows, intervals).map { (Double($0.base.model.parameterCount), $1.estimate) },
                         intervals: intervals.map { ($0.low, $0.high) })
        }
        var figure = Figure(name: "scale",
                            title: "Prompt tuning against full fine-tuning as the base grows (\(main.task.name))",
                            xLabel: "base parameters (log scale)", yLabel: "test \(main.task.metricName) (95% CI)",
                            kind: .lines([series("prompt tuning") { p, _ in p },
                                          series("full fine-tuning") { _, f in f }]))
        figure.logX = true
        figure.references = main.baselineReferences
        nb.figure(figure)
        guard rows.count >= 2, let first = rows.first, let last = rows.last else {
            nb.say("With one base size there is no trend to read; the full run uses tiny, small and medium.")
            return
        }
        let change = main.bootstrap.compare(gapScores(last.e, last.prompt, last.full),
                                            gapScores(first.e, first.prompt, first.full))
        let size = Double(last.base.model.parameterCount)
        let gaps = rows.map { "\($0.name) \($0.e.compare($0.prompt, $0.full).difference.text(signed: true))" }
        let trend: String
        switch change.verdict {
        case .better:
            trend = "The gap is smaller on the \(last.name) base than on the \(first.name) one (\(change.text)): "
            + "the direction Lester et al. report, though nowhere near closing."
        case .worse:
            trend = "The gap is larger on the \(last.name) base than on the \(first.name) one (\(change.text)): "
                + "at these sizes the trend of Lester et al. does not appear; full fine-tuning gains more from the "
                + "bigger base."
        case .withinNoise:
            trend = "The gap on the \(last.name) base and on the \(first.name) one cannot be told apart "
            + "(\(change.text)): no trend at this scale."
        }
        nb.say("Prompt tuning − full fine-tuning: \(gaps.joined(separator: "; ")). \(trend) The largest base here is "
            + "\(formatCount(last.base.model.parameterCount)) parameters, about \(formatCount(Int(11e9 / size))) times "
            + "smaller than T5-XXL (11 billion), where Lester et al. see the gap close; the claim is about a range "
            + "this lesson cannot reach, "
            + "and what it shows is the small-model end of their Figure 1, where prompt tuning trails.")
    }

    // MARK: - Section 7: initialisation

    func initialisationSection(_ nb: Notebook, _ e: Experiment, _ lineup: Lineup, shared: MethodResult,
                               seeds: [UInt64]) throws -> (random: MethodResult, results: [MethodResult]) {
        let labels = labelText(e.task), words = instruction(for: e.task.name)
        let labelKind = e.task.metric.isChoice ? "class labels"
            : "most common answer of each kind, the nearest thing to class labels a generation task has"
        nb.section("Where the prompt starts: random, sampled vocabulary, text", """
            Lester et al.'s Figure 3(b): at small scale, starting the prompt from the embeddings of the class labels \
            beats sampled vocabulary, which beats a random start; the differences vanish at XXL. PEFT offers the \
            three (`prompt_tuning_init`): RANDOM draws each value from N(0, 1), as torch.nn.Embedding does — vectors \
            about \(String(format: "%.0f", randomToVocabularyRatio(e.base)))× longer than this base's token \
            embeddings; SAMPLE_VOCAB copies rows of the embedding matrix for random token ids; TEXT copies the \
            embeddings of a text's tokens, repeated or cut to n. Here the text is "\(labels)" (the \
            \(labelKind)) or the instruction "\(words)". On \(e.task.name), \(seeds.count) seed(s), \
            each start at its own tuned learning rate; SAMPLE_VOCAB is the comparison's prompt tuning.
            """)
        let random = try e.run(lineup.promptTuning(initialisation: .random, label: "random"), seeds: seeds, keep: 2)
        let vocab = firstSeeds(shared, seeds.count)
        var vocabNamed = vocab
        vocabNamed.name = "sampled vocabulary"
        let labelRun = try e.run(lineup.promptTuning(initialisation: .text, text: labels, label: "text: labels"),
                                 seeds: seeds, keep: 2)
        let instructionRun = try e.run(lineup.promptTuning(initialisation: .text, text: words,
                                                           label: "text: instruction"), seeds: seeds, keep: 2)
        let results = [random, vocabNamed, labelRun, instructionRun]
        nb.table(e.scoreTable(results, against: vocabNamed))
        nb.figure(e.scoreFigure(name: "initialisation", title: "Prompt tuning by initialisation (\(e.task.name))",
                                results))
        let labelVsRandom = e.compare(labelRun, random), labelVsVocab = e.compare(labelRun, vocabNamed)
        let vocabVsRandom = e.compare(vocabNamed, random)
        let order = labelVsVocab.verdict != .worse && vocabVsRandom.verdict == .better
        nb.say("Lester et al.'s order, labels ≥ sampled vocabulary > random: labels − sampled \(labelVsVocab.text); "
            + "sampled − random \(vocabVsRandom.text); labels − random \(labelVsRandom.text). "
            + (order ? "The order holds here, at this scale."
               : "The full order does not hold here; the intervals above say which parts do."))
        nb.say("""
            Are the trained vectors readable? For each start, the first seed's prompt: how far each vector moved \
            (cosine similarity between its start and its end) and whether its nearest token embedding (by cosine) is \
            still the one it started nearest to. The tutorial says soft prompts 「不可读」, cannot be read (S1.5); \
            Lester et al. found the nearest neighbours of class-label-initialised prompts often stay the labels.
            """)
        nb.table(try readability(e, [(random, lineup.promptTuning(initialisation: .random)),
                                     (vocabNamed, lineup.promptTuning()),
                                     (labelRun, lineup.promptTuning(initialisation: .text, text: labels)),
                                     (instructionRun, lineup.promptTuning(initialisation: .text, text: words))],
                                 seeds: seeds))
        return (random, results)
    }

    /// Per start: mean cosine between initial and trained vectors, the share whose nearest token is
    /// unchanged, and the first few nearest tokens after training.
    func readability(_ e: Experiment, _ runs: [(MethodResult, Method)], seeds: [UInt64]) throws -> Table {
        let table = e.base.model.embedTokens, tokenizer = e.base.tokenizer
        // The second seed when there is one: seed 0 also initialised the base's embedding table, so a seed-0
        // N(0, 1) prompt starts parallel to the never-trained byte tokens' rows.
        let index = min(1, seeds.count - 1), seed = seeds[index]
        var out = Table(["start (seed \(seed))", "cos(start, end)", "nearest token kept",
                         "nearest tokens after training (first 8)"])
        for (result, method) in runs {
            guard let trained = (index < result.tuners.count ? result.tuners[index] : result.tuners.first)
                    as? PromptLearningModel,
                  let end = trained.namedTrainableParameters.first?.tensor,
                  let start = (try method.prepare(seed) as? PromptLearningModel)?.namedTrainableParameters.first?.tensor
            else { continue }
            let n = end.shape[0], width = end.shape[1]
            var cosine = 0.0, kept = 0, shown: [String] = []
            for i in 0..<n {
                let a = Array(start.array[(i * width)..<((i + 1) * width)])
                let b = Array(end.array[(i * width)..<((i + 1) * width)])
                cosine += cos(a, b)
                let before = nearest(a, table), after = nearest(b, table)
                if before == after { kept += 1 }
                if shown.count < 8 { shown.append(tokenText(after, tokenizer)) }
            }
            out.add([result.name, String(format: "%.2f", cosine / Double(n)), "\(kept) of \(n)",
                     shown.joined(separator: " ")])
        }
        return out
    }

    // MARK: - Section 8: length

    func lengthSection(_ nb: Notebook, _ e: Experiment, _ lineup: Lineup, shared: MethodResult,
                       seeds: [UInt64]) throws {
        let list = lengths.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            .filter { $0 >= 1 && $0 < e.base.model.config.maxPositionEmbeddings / 2 }
        let listText = list.map(String.init).joined(separator: ", ")
        nb.section("How many virtual tokens?", """
            Lester et al.'s Figure 3(a): going beyond one token helps a lot, gains flatten around 20 tokens, and \
            beyond that the small models can even get worse. Prompt tuning with n = \(listText) \
            on \(e.task.name) (sampled-vocabulary start), \(seeds.count) seed(s) each, every length at the learning \
            rate tuned for n = \(virtualTokens) (\(shortRate(shared.learningRate)); Lester et al. too kept one set of \
            hyperparameters across lengths); n = \(virtualTokens) is the comparison's run.
            """)
        var results: [(n: Int, result: MethodResult)] = []
        for n in list {
            if n == virtualTokens {
                var r = firstSeeds(shared, seeds.count)
                r.name = "n = \(n)"
                results.append((n, r))
                continue
            }
            let method = lineup.promptTuning(n: n, label: "n = \(n)")
                .fixed(at: options.quick ? nil : shared.learningRate)
            results.append((n, try e.run(method, seeds: seeds, keep: 0)))
        }
        guard let best = results.max(by: { $0.result.meanScore < $1.result.meanScore }) else { return }
        var table = Table(["n", "trainable", "learning rate", "test \(e.task.metricName) [95% CI]",
                           "vs best (n = \(best.n))", "tokens/s"])
        for (n, r) in results {
            table.add(["\(n)", formatCount(r.trainableParameters), shortRate(r.learningRate), e.interval(r).text(),
                       n == best.n ? "—" : e.compare(r, best.result).text, formatCount(Int(r.tokensPerSecond))])
        }
        nb.table(table)
        let intervals = results.map { e.interval($0.result) }
        var figure = Figure(name: "length",
                            title: "Prompt tuning against the number of virtual tokens (\(e.task.name))",
                            xLabel: "virtual tokens n (log scale)", yLabel: "test \(e.task.metricName) (95% CI)",
                            kind: .lines([.init("prompt tuning",
                                                zip(results, intervals).map { (Double($0.n), $1.estimate) },
                                                intervals: intervals.map { ($0.low, $0.high) })]))
        figure.logX = true
        figure.references = e.baselineReferences
        nb.figure(figure)
        let tied = results.filter { $0.n == best.n || e.compare($0.result, best.result).verdict == .withinNoise }
            .map(\.n)
        let saturation = tied.min() ?? best.n
        nb.say("The best mean is n = \(best.n)'s; lengths within noise of it: "
            + "\(tied.map(String.init).joined(separator: ", ")). "
            + "So the score saturates by n = \(saturation) here (Lester et al.: about 20)"
            + (saturation <= 5 ? ", earlier than in the paper: with a budget this small a longer prompt has more to "
               + "learn in the same steps." : ".")
            + " Longer prompts cost throughput: every virtual token is one more position through every layer.")
    }
}

/// A token as the tables show it: quoted text, or ⟨eos⟩ / ⟨pad⟩ for the special tokens.
func tokenText(_ id: Int, _ tokenizer: Tokenizer) -> String {
    if id == tokenizer.eosId { return "⟨eos⟩" }
    if id == tokenizer.padId { return "⟨pad⟩" }
    let text = tokenizer.decode([id])
    if text.isEmpty || text.unicodeScalars.contains(where: { $0.value < 32 && $0 != "\n" || $0 == "\u{FFFD}" }) {
        return "⟨byte \(id)⟩"
    }
    return "'" + text.replacingOccurrences(of: "\n", with: "\\n") + "'"
}

/// The row of `table` [V, C] nearest to `v` by cosine.
func nearest(_ v: [Float], _ table: Tensor) -> Int {
    let width = table.shape[1]
    var best = 0, bestCosine = -Double.infinity
    for row in 0..<table.shape[0] {
        let c = cos(v, Array(UnsafeBufferPointer(start: table.data + row * width, count: width)))
        if c > bestCosine { bestCosine = c; best = row }
    }
    return best
}

/// Cosine similarity of two vectors.
func cos(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) { dot += Double(x * y); na += Double(x * x); nb += Double(y * y) }
    return dot / max((na * nb).squareRoot(), 1e-12)
}

/// How much longer an N(0, 1) vector is than the base's average token embedding.
func randomToVocabularyRatio(_ base: BaseModel) -> Double {
    let table = base.model.embedTokens, width = table.shape[1]
    var total = 0.0
    for row in 0..<table.shape[0] {
        var s = 0.0
        for j in 0..<width { let x = Double(table.data[row * width + j]); s += x * x }
        total += s.squareRoot()
    }
    return Double(width).squareRoot() / (total / Double(table.shape[0]))
}

extension Metric {
    var isChoice: Bool { if case .choice = self { return true } else { return false } }
}

// MARK: - Sections 9–10: prefix tuning and P-tuning

/// Indices of the comparison's methods in `Lineup.all`.
enum Slot {
    static let prompt = 0, prefix = 1, mlp = 2, lstm = 3, v2 = 4, lora = 5, full = 6
}

/// The standard deviation of the per-seed test scores.
func seedSpread(_ r: MethodResult) -> Double {
    let s = r.runs.map(\.score), m = s.reduce(0, +) / Double(max(s.count, 1))
    return (s.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(s.count - 1, 1))).squareRoot()
}

/// "0.41–0.80 over 1e-2…3e-1": the validation scores of a method's learning-rate sweep, if it had one.
func rateSensitivity(_ e: Experiment, _ name: String) -> String {
    guard let record = e.tuned.first(where: { $0.name == name })?.record, record.sweep.count > 1 else {
        return "no sweep (--quick)"
    }
    let scores = record.sweep.map(\.validationScore)
    return String(format: "%.2f–%.2f", scores.min() ?? 0, scores.max() ?? 0)
        + " over \(shortRate(record.sweep[0].learningRate))…"
        + shortRate(record.sweep[record.sweep.count - 1].learningRate)
}

/// Every seed's training loss, smoothed.
func seedCurves(_ r: MethodResult, steps: Int) -> [Figure.Series] {
    let window = max(1, steps / 30)
    return r.runs.map { run in
        .init("seed \(run.seed)", y: run.log.smoothed(window), xStart: Double(window), xStep: Double(window))
    }
}

func prefixSection(_ nb: Notebook, _ experiments: [Experiment], _ results: [[MethodResult]]) {
    nb.section("Prefix tuning: every layer, and the MLP that is thrown away", """
        Li and Liang's two design claims. Depth: a prefix in every layer "significantly" beats one at the embedding \
        layer only at equal length (their Table 5, "embedding-only"), which is also the tutorial's correct \
        distinction (「Prefix-Tuning的前缀参数被插入到模型的所有层中，而Prompt Tuning只将提示参数添加到模型的\
        embedding层」, S1.10). Reparametrisation: training the prefix directly "leads to unstable optimization and a \
        slight drop in performance", so they train it as MLP(P′) and keep only the result — PEFT's \
        `prefix_projection`, which the tutorial never mentions. Both questions are answered from the comparison's \
        runs: same n, same steps, each at its own tuned learning rate. P-tuning v2 is exactly prefix tuning without \
        the MLP, so it is the "direct" variant.
        """)
    var depth = Table(["task", "comparison (same n)", "every layer", "input only", "every layer − input only"])
    for (e, r) in zip(experiments, results) where r.count > Slot.full {
        depth.add([e.task.name, "trained directly: P-tuning v2 vs prompt tuning", e.interval(r[Slot.v2]).text(),
                   e.interval(r[Slot.prompt]).text(), e.compare(r[Slot.v2], r[Slot.prompt]).text])
        depth.add([e.task.name, "through an MLP: prefix tuning vs P-tuning (MLP)", e.interval(r[Slot.prefix]).text(),
                   e.interval(r[Slot.mlp]).text(), e.compare(r[Slot.prefix], r[Slot.mlp]).text])
    }
    nb.table(depth)
    let deeper = zip(experiments, results).filter { $1.count > Slot.full }.flatMap { e, r in
        [e.compare(r[Slot.v2], r[Slot.prompt]).verdict, e.compare(r[Slot.prefix], r[Slot.mlp]).verdict]
    }
    let wins = deeper.filter { $0 == .better }.count
    nb.say("Every layer beat input only in \(wins) of \(deeper.count) paired comparisons"
        + (wins == deeper.count ? ": Li and Liang's depth claim holds here." : wins == 0
           ? ": the depth claim does not show at this scale and budget."
           : "; where it does not, the intervals above say so.")
        + " (The two MLPs differ: prefix tuning's is Linear–tanh–Linear to every layer's keys and values, P-tuning's "
        + "three Linear layers with ReLU to the input; the pairs match the depth, not every detail.)")
    var table = Table(["task", "variant", "test score [95% CI]", "seed-to-seed SD", "validation over the lr grid",
                       "with MLP − direct"])
    var panels: [(title: String, series: [Figure.Series])] = []
    for (e, r) in zip(experiments, results) where r.count > Slot.full {
        let c = e.compare(r[Slot.prefix], r[Slot.v2])
        table.add([e.task.name, "with the MLP (prefix tuning)", e.interval(r[Slot.prefix]).text(),
                   String(format: "%.3f", seedSpread(r[Slot.prefix])), rateSensitivity(e, r[Slot.prefix].name), c.text])
        table.add([e.task.name, "direct (P-tuning v2)", e.interval(r[Slot.v2]).text(),
                   String(format: "%.3f", seedSpread(r[Slot.v2])), rateSensitivity(e, r[Slot.v2].name), "—"])
        panels.append(("\(e.task.name): with the MLP", seedCurves(r[Slot.prefix], steps: e.steps)))
        panels.append(("\(e.task.name): direct", seedCurves(r[Slot.v2], steps: e.steps)))
    }
    nb.table(table)
    var figure = Figure(name: "prefix-reparametrisation",
                        title: "Training loss of every seed, prefix with and without the MLP",
                        xLabel: "step", yLabel: "loss on the answer tokens", kind: .panels(panels))
    figure.legend = .hidden
    nb.figure(figure)
    nb.say("""
        Read stability three ways: the spread of the test score over seeds (descriptive: five seeds cannot pin a \
        standard deviation down), the validation score across the learning-rate grid (a method that works at only \
        one rate is fragile), and the loss curves (spikes, plateaus, seeds that stall). The score difference column \
        is the verdict the intervals support; "more stable" is claimed only where the curves and the spreads agree.
        """)
}

func pTuningSection(_ nb: Notebook, _ experiments: [Experiment], _ results: [[MethodResult]], sweep: Experiment,
                    randomStart: MethodResult, seeds: [UInt64]) {
    nb.section("P-tuning: the encoder, MLP or LSTM, and v2's deep prompts", """
        P-tuning (Liu et al. 2021) produces the prompt with a network instead of training it directly: in the \
        paper a bidirectional LSTM followed by a two-layer ReLU MLP; PEFT's default is an MLP alone \
        (`encoder_reparameterization_type="MLP"`). The tutorial says the encoder is 「一个双向长短期记忆网络或LSTM」 \
        (a BiLSTM or LSTM, E22: it is a BiLSTM followed by an MLP, and the MLP is the default) and that P-tuning gives \
        a decoder 「encoder架构的特性」, an encoder's properties (E23: nothing changes in the model, which stays causal; \
        the encoder only couples the prompt vectors with one another). The paper's claim is stability: prompt \
        vectors trained through an encoder train better than free ones. P-tuning v2 drops the encoder and puts \
        prompts in every layer; the tutorial credits v2 to 「多任务学习策略和深度提示编码器」, a multitask strategy and a \
        deep prompt encoder (E3): v2 is deep prompt tuning, the encoder optional and multitask training an extra.
        """)
    if let r = zip(experiments, results).first(where: { $0.0 === sweep })?.1, r.count > Slot.full {
        let encoder = firstSeeds(r[Slot.mlp], seeds.count)
        nb.table(Table(["\(sweep.task.name), \(seeds.count) seed(s)", "test score [95% CI]", "seed-to-seed SD",
                        "validation over the lr grid"], rows: [
            ["P-tuning (MLP): N(0, 1) embeddings through the MLP", sweep.interval(encoder).text(),
             String(format: "%.3f", seedSpread(encoder)), rateSensitivity(sweep, r[Slot.mlp].name)],
            ["prompt tuning from the same N(0, 1) start, no encoder", sweep.interval(randomStart).text(),
             String(format: "%.3f", seedSpread(randomStart)), rateSensitivity(sweep, randomStart.name)],
        ]))
        nb.say("Encoder − no encoder, from the same random start: \(sweep.compare(encoder, randomStart).text).")
    }
    var table = Table(["task", "MLP [95% CI]", "LSTM [95% CI]", "LSTM − MLP", "trainable MLP / LSTM",
                       "v2 − P-tuning (MLP)", "v2 − full fine-tuning"])
    var gaps: [(String, Double)] = []
    for (e, r) in zip(experiments, results) where r.count > Slot.full {
        table.add([e.task.name, e.interval(r[Slot.mlp]).text(), e.interval(r[Slot.lstm]).text(),
                   e.compare(r[Slot.lstm], r[Slot.mlp]).text,
                   "\(formatCount(r[Slot.mlp].trainableParameters)) / \(formatCount(r[Slot.lstm].trainableParameters))",
                   e.compare(r[Slot.v2], r[Slot.mlp]).text, e.compare(r[Slot.v2], r[Slot.full]).text])
        gaps.append((e.task.name, r[Slot.full].meanScore - r[Slot.mlp].meanScore))
    }
    nb.table(table)
    if let harder = gaps.max(by: { $0.1 < $1.1 }),
       let pair = zip(experiments, results).first(where: { $0.0.task.name == harder.0 }), pair.1.count > Slot.full {
        let (e, r) = pair
        let c = e.compare(r[Slot.v2], r[Slot.mlp]), f = e.compare(r[Slot.v2], r[Slot.full])
        let matches = f.verdict == .worse ? "does not hold at this scale and budget" : "holds here within the noise"
        let critique = c.verdict == .better ? "is borne out" : "is not borne out by this comparison"
        nb.say("""
            The LSTM trains \(formatCount(r[Slot.lstm].trainableParameters)) values, close to the whole base's \
            \(formatCount(r[Slot.full].trainableParameters)), to produce \
            \(formatCount(r[Slot.prompt].trainableParameters)) \
            numbers, and all of it is discarded when PEFT saves. The harder task for P-tuning (v1), measured as the \
            larger gap to full fine-tuning, is \(e.task.name). There, v2's deep prompts against v1: \(c.text); against \
            full fine-tuning: \(f.text). The v2 paper's claim, matching fine-tuning "across scales" with 0.1–3% of the \
            parameters, \(matches); its critique of v1 and prompt tuning, that input-only prompts fall short on \
            small models and hard tasks (the tutorial attributes it to v1 alone, E24), \(critique).
            """)
    }
}

// MARK: - Section 11: adapter files

extension LessonSoftPrompts {
    func filesSection(_ nb: Notebook, _ e: Experiment, _ results: [MethodResult]) throws {
        nb.section("What each adapter folder holds", """
            PEFT's `save_pretrained` writes adapter_config.json and adapter_model.safetensors. For every prompt \
            method the weights file holds one tensor, `prompt_embeddings`: the encoder's OUTPUT for the n virtual \
            tokens. The MLP of prefix tuning and the MLP or LSTM of P-tuning are not saved; PEFT reloads \
            `prompt_embeddings` as a fixed table and will not train it further. This project writes one more file, \
            prompt_encoder.safetensors, holding the encoder's own weights so that training can resume here; Python's \
            peft ignores it. The first seed's trained adapters from \(e.task.name), saved:
            """)
        let lstmValues = results.count > Slot.lstm ? results[Slot.lstm].trainableParameters : 0
        let baseBytes = (try? FileManager.default.attributesOfItem(
            atPath: e.base.folder.appendingPathComponent("model.safetensors").path))?[.size] as? Int ?? 0
        var table = Table(["method", "trainable", "adapter_model.safetensors", "holds", "prompt_encoder.safetensors",
                           "folder", "of the base's \(formatBytes(baseBytes))"])
        var folders: [(String, URL, any Tuner)] = []
        for r in results.prefix(Slot.lora + 1) {
            guard let tuner = r.tuners.first else { continue }
            let folder = temporaryFolder("lesson-soft-prompts-\(folders.count)")
            try tuner.save(to: folder)
            let weights = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent(AdapterFolder.weightsName))
            let holds = weights.tensors.count == 1
                ? weights.tensors.map { "\($0.key) \($0.value.shape)" }.joined()
                : "\(weights.tensors.count) tensors"
            let encoderURL = folder.appendingPathComponent(PromptEncoderFile.name)
            let encoderTensors = (try? SafeTensorsFile.read(contentsOf: encoderURL))?.tensors.count ?? 0
            let encoderText = FileManager.default.fileExists(atPath: encoderURL.path)
                ? "\(formatBytes(fileSize(encoderURL))), \(encoderTensors) tensors" : "—"
            let size = folderSize(folder)
            table.add([r.name, formatCount(r.trainableParameters),
                       formatBytes(fileSize(folder.appendingPathComponent(AdapterFolder.weightsName))), holds,
                       encoderText,
                       formatBytes(size), String(format: "%.2f%%", 100 * Double(size) / Double(max(baseBytes, 1)))])
            folders.append((r.name, folder, tuner))
        }
        nb.table(table)
        var reload = Table(["method", "reloaded", "values loaded", "max |logits − trained|"])
        for (name, folder, tuner) in folders where tuner is PromptLearningModel {
            let plain = temporaryFolder("lesson-soft-prompts-peft")
            for file in [AdapterFolder.configName, AdapterFolder.weightsName] {
                try FileManager.default.copyItem(at: folder.appendingPathComponent(file),
                                                 to: plain.appendingPathComponent(file))
            }
            for (how, source) in [("as PEFT does (prompt_embeddings only)", plain),
                                  ("with prompt_encoder.safetensors", folder)] {
                let loaded = try AdapterFolder.load(from: source, onto: e.base.copy())
                let difference = withoutGrad {
                    maxAbsDifference(loaded.logits(e.probeBatch), tuner.logits(e.probeBatch))
                }
                reload.add([name, how, formatCount(loaded.trainableCount), String(format: "%.1e", difference)])
            }
        }
        nb.table(reload)
        nb.say("""
            The saved prompt is all inference needs: reloaded from `prompt_embeddings` alone, every method gives the \
            trained model's logits to float rounding, and the reparametrisation network — \
            \(formatCount(lstmValues)) values for the LSTM — \
            is gone. A task costs a few kilobytes on top of one shared base (S1.2, S3.5: 「不需要为每个任务训练和存储\
            一个完整的模型副本」, no full copy per task), less than a LoRA adapter of the same quality would, when \
            there is one.
            """)
    }
}

/// The size of one file in bytes (0 if it does not exist).
func fileSize(_ url: URL) -> Int {
    (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int ?? 0
}

/// Largest |a − b| over two tensors of the same shape.
func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.array, b.array).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

// MARK: - Section 5: more steps

/// The training loss of a model that has learned the answer's format and the label set but not
/// which label: ln(options) on each label's first token, nothing on the rest, averaged over the
/// answer tokens of the training set. Nil for a generation task.
func uniformGuessLoss(_ e: Experiment) -> Double? {
    guard case .choice(let options) = e.task.metric, options.count > 1 else { return nil }
    let tokens = e.task.train.map { Double(e.base.tokenizer.encode($0.answer).count + 1) }   // the answer and ⟨eos⟩
    return log(Double(options.count)) * Double(tokens.count) / tokens.reduce(0, +)
}

extension LessonSoftPrompts {
    func longerRunSection(_ nb: Notebook, _ e: Experiment, _ results: [MethodResult]) throws {
        guard results.count > Slot.full else { return }
        let short = results[Slot.v2], lora = results[Slot.lora]
        let steps = e.steps * 10 / 3, seeds = Array(e.seeds.prefix(max(1, min(sweepSeeds, e.seeds.count))))
        let level = uniformGuessLoss(e)
        let plateau = level.map { String(format: " near %.2f, the loss of a uniform guess among the labels", $0) } ?? ""
        nb.section("Soft prompts learn slowly: \(steps) steps on \(e.task.name)", """
            The loss curves above explain the classification scores: the soft prompts learn the answer's format and \
            the set of labels quickly, then stall\(plateau) \
            — they do not yet know which label. Lester et al. trained prompts for 30,000 steps. Here P-tuning v2, the \
            deep prompt, trains for \(steps) steps instead of \(e.steps) (\(seeds.count) seed(s), at the learning \
            rate chosen for \(e.steps) steps, \(shortRate(short.learningRate))): does it leave the plateau, and when?
            """)
        let method = Lineup(base: e.base, task: e.task, n: virtualTokens).pTuningV2.fixed(at: short.learningRate)
        let long = try e.run(method, steps: steps, seeds: seeds, keep: 0)
        var renamed = long
        renamed.name = "P-tuning v2, \(steps) steps"
        var shortNamed = firstSeeds(short, seeds.count)
        shortNamed.name = "P-tuning v2, \(e.steps) steps"
        var loraNamed = lora
        loraNamed.name = "LoRA, \(e.steps) steps"
        nb.table(e.scoreTable([shortNamed, renamed, loraNamed], against: loraNamed))
        var curves = seedCurves(long, steps: steps)
        curves.append(contentsOf: [loraNamed.lossSeries(steps: e.steps)])
        var figure = Figure(name: "longer-run", title: "P-tuning v2 on \(e.task.name) for \(steps) steps, every seed",
                            xLabel: "step", yLabel: "loss on the answer tokens (log scale)", kind: .lines(curves))
        figure.logY = true
        if let level { figure.references = [.init("a uniform guess among the labels", y: level)] }
        nb.figure(figure)
        let window = max(1, steps / 30)
        let escapes = long.runs.map { run -> String in
            guard let level else { return "—" }
            let curve = run.log.smoothed(window)
            return curve.firstIndex { $0 < level / 2 }.map { "step \(($0 + 1) * window)" }
                ?? "not within \(steps) steps"
        }
        nb.say("Below half the plateau's loss: \(escapes.joined(separator: ", ")). After \(steps) steps: "
            + "\(e.interval(renamed).text()); against its own \(e.steps)-step run "
            + "\(e.compare(renamed, shortNamed).text); against LoRA at \(e.steps) steps "
            + "\(e.compare(renamed, loraNamed).text). So the claim that prompt methods "
            + "cut training time (「降低了…训练时间」, P4.2) is the wrong way round here: they train fewer values, but need "
            + "several times the steps, each of which runs the whole frozen network.")
    }
}
