// lesson-overview — the whole field on one task: full fine-tuning, a subset (freeze-tuning),
// reparametrisation (LoRA, DoRA, QLoRA, AdaLoRA) and added parameters (prompt tuning, prefix
// tuning, P-tuning, P-tuning v2), each at its own sensible defaults and its learning rate chosen on
// the validation split, five seeds: score against trainable parameters, memory, speed, inference
// cost, file size and forgetting, then a "which one when" table that only says what these
// measurements support.
//
//   swift run lesson-overview            (1:55 measured alone with the base cached;
//                                         most learning rates are the ones the method's own lesson chose
//                                         for this same setting)
//   swift run lesson-overview --quick    (seconds; what the tests run)
//   swift run lesson-overview --tune     (sweeps every learning rate here and writes tuning.json)

import ArgumentParser
import Corpus
import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

// The measurements live beside this file (Costs.swift, Choice.swift), so the command is started here.
LessonOverview.main()

struct LessonOverview: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lesson-overview",
        abstract: "Every PEFT method on one task: score against trainable parameters, memory, speed, inference cost, "
            + "file size, forgetting, and which one when.",
        discussion: """
        Trains full fine-tuning, freeze-tuning, LoRA, DoRA, QLoRA, AdaLoRA, prompt tuning, prefix tuning, P-tuning \
        and P-tuning v2 on the same task from the same cached base, each at the learning rate chosen on the \
        validation split (the method's own lesson's choice when it tuned this very setting, else this lesson's \
        Lessons/lesson-overview/tuning.json), five seeds each. The report and figures go to Figures/lesson-overview \
        (or --out).
        """)

    @OptionGroup var options: LessonOptions
    @Option(help: "Task: qa, sentiment, topic or data-to-text.") var task = "qa"

    /// The lessons whose committed sweeps of the same settings this lesson reuses.
    static let tuningSources = ["lesson-qlora", "lesson-adalora", "lesson-soft-prompts", "lesson-lora",
                                "lesson-targets", "lesson-full-finetune"]

    func run() throws {
        let lesson = "lesson-overview"
        let nb = Notebook(lesson: lesson, title: "The PEFT methods side by side", folder: options.folder(for: lesson),
                          introduction: """
            Each of the other lessons looks at one method closely. This one puts them all on one task, as the \
            tutorial's map of the field does: 「微调分为两种类型：全参微调（full fine-tuning）和参数高效微调（parameter \
            efficient fine-tuning）」 (fine-tuning comes in two kinds, full and parameter-efficient, l.11), and the \
            efficient kind in three families: 「选择参数子集」 (select a subset of the parameters, usually the last \
            layers), 「重新参数化」 (reparametrise the weights with a low-rank form, LoRA), 「添加参数」 (add trainable \
            parameters, prompt tuning) (l.27–29). What each costs and what each reaches are measured, not quoted.
            """)

        // 1. The map
        nb.section("The map, with this model's numbers", """
            Every method below trains on a fresh copy of the same pretrained base. The table lists what each one \
            trains; the counts are measured on this model (PEFT's trainable-parameter report).
            """)
        let experiment = try Experiment.start(lesson, options: options, task: task, trainLimit: 256, steps: (150, 30))
        experiment.borrowsTuningFrom = Self.tuningSources
        let base = experiment.base
        let entries = lineup(base, steps: experiment.steps)
        nb.table(try mapTable(entries, batch: experiment.probeBatch))
        nb.say("""
            Multitask prompt tuning, the tutorial's last method, needs several source tasks before a target task, \
            so it is measured in lesson-mpt rather than here. The selective family can also train other subsets \
            (lesson-full-finetune compares freeze-tuning, head-only and training from scratch).
            """)

        // 2. Training all of them
        nb.section("Training every method, fairly", """
            The task, the data, the steps, the batch and the schedule are the same for all; only the learning \
            rate is each method's own, chosen on the validation split with two tuning seeds. When a method's own \
            lesson already swept this very setting (same task, base, examples, steps and configuration), its \
            committed sweep is used: the sweep's seeds and data are the same, so rerunning it would give the same \
            record. Then \(experiment.seeds.count) seed(s) of \(experiment.steps) steps each, batch 16, AdamW with \
            warm-up and cosine decay.
            """)
        experiment.describeSetup(in: nb)
        let results = try experiment.run(entries.map(\.method))
        experiment.reportTuning(in: nb)
        guard let full = results.first else { throw LessonError("no methods") }
        let frozen = experiment.frozenBase()
        nb.table(experiment.scoreTable(results + [frozen], against: full))
        nb.figure(scoreAgainstParameters(experiment, results))
        nb.say(scoreSummary(experiment, results))

        // 3. What each costs
        nb.section("What each costs", """
            Measured on the trained models of the first seed: the memory of one training step on the same 16 \
            examples (weights, gradients, AdamW's moments, activations), training throughput (median over seeds), \
            inference throughput as the method is deployed (merged into the base where the method allows it, \
            otherwise with its adapter or prompt in place; median of 5 forward passes of the probe batch), the \
            saved adapter's size against a full checkpoint's, and forgetting (held-out pretraining loss after \
            training minus the base's). Timings come from a debug build on a machine that may be busy: read the \
            ratios, not the last digit.
            """)
        let costs = try measureCosts(experiment, entries, results)
        nb.table(costTable(experiment, results, costs))
        nb.figure(costFigure(results, costs))
        nb.say(costSummary(experiment, results, costs))
        if let figure = experiment.forgettingFigure(
            name: "forgetting-vs-score",
            title: "Validation score against forgetting, one point per learning rate") {
            nb.figure(figure)
            nb.say("Each point is one learning rate of a sweep (two seeds): along a horizontal line, the method "
                + "further left forgot less at the same validation score.")
        }

        // 4. Which one when
        nb.section("Which one when", """
            Each row is a need and the methods these measurements support for it, at this scale. "Within noise" \
            means the paired 95% interval of the difference contains zero: those methods cannot be told apart here.
            """)
        nb.table(choiceTable(experiment, results, costs))
        nb.say("""
            What does not transfer from this scale: a 1M-parameter model with a 512-token vocabulary is not a 7B \
            model. Memory shares (weights against activations) and the gap between prompt methods and the rest \
            change with size (lesson-prompt-tuning measures the gap over three base sizes; Lester et al. found it \
            closes near 10B parameters), and QLoRA's saving only matters when the weights dominate memory \
            (lesson-qlora computes it for 7B–65B).
            """)

        nb.section("Exercises", """
            Basic. (1) `swift run lesson-overview --task sentiment`: a classification task; which rows of the last \
            table change? (the learning rates are swept first for settings no lesson has tuned). (2) Which method \
            would you deploy for twenty customers on one server, and what number above decides it? Intermediate. \
            (3) Add LoRA on all linear layers at r = 2 to `lineup` in Lessons/lesson-overview/Choice.swift: about \
            as many parameters as q,v at r = 8; where does it land in the scatter? (4) `swift run exercises check \
            lora-parameter-count`: count the trainable parameters of a LoRA config by hand, then compare with the map \
            table. Open. (5) The scatter suggests a frontier of score against parameters: which method is on it, and \
            does the frontier survive the intervals?
            """)
        nb.finish()
    }
}
