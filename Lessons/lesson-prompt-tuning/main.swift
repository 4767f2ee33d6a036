// lesson-prompt-tuning — prompt tuning (Lester, Al-Rfou and Constant, "The Power of Scale for
// Parameter-Efficient Prompt Tuning", EMNLP 2021) claim by claim at small scale: the gap to full
// fine-tuning as the base grows (their Figure 1), where the prompt starts (Figure 3(b)) and how
// many virtual tokens it has (Figure 3(a)). lesson-soft-prompts sets prompt tuning beside the other
// soft prompts, LoRA and full fine-tuning; this lesson takes the one paper's claims in turn.
//
//   swift run lesson-prompt-tuning            (2:27 measured alone on 2 threads with the bases cached; the
//                                              first run also pretrains the tiny base, 12 s, and the medium one,
//                                              about 12 minutes; see section 2)
//   swift run lesson-prompt-tuning --quick    (seconds; what the tests run)
//   swift run lesson-prompt-tuning --tune     (sweeps the learning rates again and rewrites tuning.json)

import ArgumentParser
import Corpus
import Foundation
import Notebook
import PEFT
import TensorKit

// The sections live in Claims.swift, so the command is started here rather than by @main.
LessonPromptTuning.main()

struct LessonPromptTuning: ParsableCommand {
    static let lesson = "lesson-prompt-tuning"
    static let configuration = CommandConfiguration(
        commandName: lesson,
        abstract: "Prompt tuning against full fine-tuning on three base sizes, three initialisations and prompt "
            + "lengths from 1 to 50: Lester et al.'s claims at small scale.",
        discussion: """
        Trains PEFT's prompt tuning (PromptTuningConfig) and full fine-tuning on a generation task, three seeds \
        each unless --seeds says otherwise, at the learning \
        rates chosen on the validation split (Lessons/lesson-prompt-tuning/tuning.json, and \
        Lessons/lesson-soft-prompts/tuning.json for the settings that lesson swept), then checks Lester et al.'s \
        claims: the gap to full fine-tuning on three base sizes, RANDOM, SAMPLE_VOCAB and TEXT initialisations, and \
        prompt lengths. The report and figures go to Figures/lesson-prompt-tuning (or --out).
        """)

    @OptionGroup var options: LessonOptions
    @Option(help: "The task: qa, data-to-text, topic or sentiment.") var task = "qa"
    @Option(help: "Virtual tokens of prompt tuning (n), except in the length sweep.") var virtualTokens = 20
    @Option(help: "Prompt lengths of the length sweep, comma-separated.") var lengths = "1,5,20,50"
    @Flag(help: "Also start a prompt from the task's written instruction in section 3 (three more runs, about 10 s).")
    var instructionStart = false
    @Option(help: """
        Base presets of the size sweep, comma-separated, each pretrained once and then cached (default: \
        tiny,small,medium; with --quick only the quick base).
        """)
    var sizes: String?

    func run() throws {
        let nb = Notebook(lesson: Self.lesson, title: "Prompt tuning: Lester et al.'s claims at small scale",
                          folder: options.folder(for: Self.lesson), introduction: introduction)

        // 1. Prompt tuning beside full fine-tuning
        nb.section("Prompt tuning beside full fine-tuning", """
            One cached base, frozen; n = \(virtualTokens) trained vectors in front of every input. PEFT's \
            `PromptTuningConfig` starts them from the embeddings of randomly sampled vocabulary tokens here \
            (SAMPLE_VOCAB; section 3 tries the others). Full fine-tuning, the paper's "model tuning", is the \
            reference the scale claim is measured against. Each at the learning rate chosen for it on the validation \
            split, then the test split once; the sections below reuse these runs.
            """)
        let steps = options.steps(full: 150, quick: 30)
        let e = try Experiment.start(Self.lesson, options: lessonOptions, task: task, trainLimit: 256,
                                     steps: (steps, steps))
        e.borrowsTuningFrom = ["lesson-soft-prompts"]
        e.describeSetup(in: nb)
        if e.seeds.count < 5 && !options.quick && task == "qa" {
            nb.say("The seeds are the first \(e.seeds.count) of lesson-soft-prompts' five on the same task, so its "
                + "tables, over five, show other means and intervals for the same two methods.")
        }
        let c = e.base.model.config
        nb.code("""
            x' = [P ; E(ids)]        P [\(virtualTokens), \(c.hiddenSize)] trained, every weight of the base frozen
            real tokens at positions \(virtualTokens)..\(virtualTokens)+T−1; the loss is read on the answer tokens only
            """)
        let lineup = PromptLineup(base: e.base, task: e.task, n: virtualTokens)
        let reference = try e.run([lineup.promptTuning(), lineup.full], keep: [2, 0])
        let (prompt, full) = (reference[0], reference[1])
        e.reportTuning(in: nb)
        nb.table(e.scoreTable([prompt, full, e.frozenBase()], against: full))
        let gap = e.compare(prompt, full)
        nb.say("Prompt tuning trains \(formatCount(prompt.trainableParameters)) values "
            + "(\(String(format: "%.3f%%", 100 * prompt.trainableShare)) of the model) and scores "
            + "\(e.interval(prompt).text()); against full fine-tuning \(gap.text). "
            + (gap.verdict == .worse
               ? "Lester et al. found prompt tuning trailing too at T5-Small and T5-Base; the claims below are about "
                 + "what closes the gap."
               : "Lester et al. found prompt tuning trailing at T5-Small and T5-Base, which is not what this run "
                 + "shows; the claims below are about what the paper says changes the gap."))

        // 2. Scale
        try scaleSection(nb, main: e, mainPrompt: prompt, mainFull: full, seeds: e.seeds)

        // 3. Initialisation
        try initialisationSection(nb, e, lineup, shared: prompt, seeds: e.seeds)

        // 4. Length
        try lengthSection(nb, e, lineup, shared: prompt, seeds: e.seeds)

        nb.section("Exercises", exercises)
        nb.finish()
    }

    /// The shared flags with this lesson's default of three seeds: every point of its sweeps is three
    /// runs, and a lesson of four sweeps at five seeds would take twice the three minutes a lesson may.
    var lessonOptions: LessonOptions {
        var o = options
        if o.seeds == nil && !o.quick { o.seeds = 3 }
        return o
    }

    var introduction: String {
        """
        Prompt tuning (Lester, Al-Rfou and Constant, EMNLP 2021; PEFT's `PromptTuningConfig`) keeps the whole \
        model frozen and trains only n vectors put in front of the input: a soft prompt (「软提示」). The paper's \
        title is its main claim, "the power of scale": on SuperGLUE the method trails full fine-tuning at T5-Small \
        and matches it at 11 billion parameters. It also measures what the prompt should start from and how long it \
        should be. The source tutorial repeats the first claim (「随着模型大小的增加，Prompt Tuning的性能也会提升」, \
        S1.7). This notebook tests the three claims with bases of 0.1M to 5M parameters, so it can only show the \
        small end of the paper's curves, and says so where that matters. The other soft prompts (prefix tuning, \
        P-tuning, P-tuning v2) and how prompt tuning compares with them, LoRA and full fine-tuning on two tasks are \
        lesson-soft-prompts'.
        """
    }

    var exercises: String {
        """
        An exercise that changes a setting has no committed learning rates, so its run sweeps them first (two seeds \
        per rate and method) and takes several times as long as the lesson. Basic. (1) `swift run \
        lesson-prompt-tuning --lengths 1,2,5,10,20,30`: where between 5 and 20 does the score rise? Every length \
        runs at the rate tuned for n = 20, as in the paper. (2) `--task topic`: Lester et al.'s setting is \
        classification, where the TEXT start can use the real class labels ("sports food weather travel music"). \
        Expect every start near the no-learning floor at 150 steps, as lesson-soft-prompts' section 4 measures \
        for prompt tuning on topic (its loss figure shows prompt tuning's training loss ending far above the level \
        of a model that has learned the answer's format and guesses the label). Intermediate. (3) \
        `--steps 600`: Lester et al. trained for 30,000 steps; with four times the steps (and new sweeps) does the \
        gap to full fine-tuning of section 1 shrink, and does the order of the starts in section 3 change? Open. \
        (4) Prompt tuning's learning rate: the SAMPLE_VOCAB prompt is swept over `Method.promptRates` \
        (Sources/Notebook/Method.swift), extended past the grid's edge when the best rate sits there \
        (Lessons/lesson-soft-prompts/tuning.json, which this lesson borrows the rate from, shows which rates were \
        tried). Add 1 and 3 to that grid and rerun with `--tune`: do rates above Lester's \
        0.3 help a 0.9M-parameter base? Read the answer off the sweep figure of section 1. (5) Which of the learned \
        prompt vectors (section 3's last table) still sit next to their initial tokens after training, and what does \
        that say about the tutorial's claim that soft prompts are unreadable (S1.5)?
        """
    }
}
