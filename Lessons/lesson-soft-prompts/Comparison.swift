// Comparison.swift — lesson-soft-prompts, sections 1–5: the methods' formulas and parts, the
// hard prompt, the comparisons' verdicts on both tasks, and what each method costs.

import Foundation
import Llama
import Notebook
import PEFT
import TensorKit

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
        real tokens: positions n..n+T−1 for every prompt method; prefix keys are not rotated (RoPE)
        """
}

/// What each method trains, where it goes and what PEFT saves, measured on fresh tuners.
func methodTable(_ lineup: PromptLineup) throws -> Table {
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

// MARK: - Sections 2–5: the hard prompt, the comparisons, the cost

extension BaseModel {
    /// The pretraining corpus's size in tokens, from pretraining.json (0 if not recorded).
    var pretrainingCorpusTokens: Int {
        let url = folder.appendingPathComponent("pretraining.json")
        guard let data = try? Data(contentsOf: url),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return 0 }
        return json["corpus_tokens"] as? Int ?? 0
    }
}

/// Whether the interval of `r` lies above what a model that learned nothing scores
/// (`Experiment.scoreWithoutLearning`: chance, majority, or one answer given every time).
func clearsScoreWithoutLearning(_ e: Experiment, _ r: MethodResult) -> Bool {
    e.interval(r).low > e.scoreWithoutLearning
}

func hardVerdict(_ e: Experiment, hard: MethodResult, frozen: MethodResult) -> String {
    let c = e.compare(hard, frozen)
    let against = e.interval(hard).high < e.scoreWithoutLearning ? "below \(e.scoreWithoutLearningPhrase)"
        : clearsScoreWithoutLearning(e, hard) ? "above \(e.scoreWithoutLearningPhrase)"
        : "not distinguishable from \(e.scoreWithoutLearningPhrase)"
    return "On \(e.task.name) the instruction scores \(e.interval(hard).text()), \(against); against the same base "
        + "without it: \(c.text). "
        + {
            switch c.verdict {
            case .withinNoise:
                return "No effect of the words can be read at this sample size."
            case .worse:
                return "The instruction makes the base worse: to a model that has never seen one, it is only more text "
                    + "to continue, and it pulls the continuation away from the answer's format."
            case .better:
                return e.task.metric.isChoice
                    ? "The instruction helps, measurably. Whether the base follows it or only picks up the label words "
                        + "it names this run cannot tell; a text that names the labels without instructing would."
                    : "The instruction helps, measurably; whether the base follows it or only picks up statistics of "
                        + "its words this run cannot tell."
            }
        }()
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

/// The first seed's training loss of every method, with a uniform guess's level on a choice task.
func lossFigure(_ t: Trained) -> Figure {
    let task = t.experiment.task.name
    var losses = Figure(name: "loss-\(task)", title: "Training loss on \(task), first seed",
                        xLabel: "step", yLabel: "loss on the answer tokens (log scale)",
                        kind: .lines(t.results.map { $0.lossSeries(steps: t.experiment.steps) }))
    losses.logY = true
    if let level = uniformGuessLoss(t.experiment) {
        losses.references = [.init("a uniform guess among the labels", y: level)]
    }
    return losses
}

/// Which soft prompts clear the no-learning floor, the best one against LoRA and full fine-tuning
/// (whichever ran), and the tutorial's "comparable to training the whole model".
func comparisonVerdict(_ t: Trained) -> String {
    let e = t.experiment, prompts = t.softPrompts
    guard let best = prompts.max(by: { $0.meanScore < $1.meanScore }) else { return "" }
    let above = prompts.filter { clearsScoreWithoutLearning(e, $0) }.map(\.name)
    var parts: [String] = []
    parts.append(above.isEmpty
        ? "On \(e.task.name), no soft prompt's interval clears \(e.scoreWithoutLearningPhrase) at this budget."
        : "On \(e.task.name), above \(e.scoreWithoutLearningPhrase): \(above.joined(separator: ", ")).")
    let references = [t.full, t.lora].compactMap { $0 }
    parts.append("The best soft prompt is \(best.name), \(e.interval(best).text())"
        + (references.isEmpty ? "." : "; " + references.map { "against \($0.name) \(e.compare(best, $0).text)" }
            .joined(separator: ", ") + "."))
    if let full = t.full {
        let matching = prompts.filter { e.compare($0, full).verdict != .worse }.map(\.name)
        parts.append(matching.isEmpty
            ? "Every soft prompt scores below full fine-tuning here: the tutorial's 「与传统的训练整个模型的方法相当」 "
                + "(comparable to training the whole model, S1.7) does not hold at this scale (E6: Lester et al. find "
                + "it only beyond about 10 billion parameters)."
            : "Within noise of full fine-tuning or better: \(matching.joined(separator: ", ")).")
        if let lora = t.lora { parts.append("LoRA against full fine-tuning: \(e.compare(lora, full).text).") }
    } else if let lora = t.lora {
        let matching = prompts.filter { e.compare($0, lora).verdict != .worse }.map(\.name)
        parts.append(matching.isEmpty ? "Every soft prompt scores below LoRA here."
                                      : "Within noise of LoRA or better: \(matching.joined(separator: ", ")).")
    }
    return parts.joined(separator: " ")
}

extension LessonSoftPrompts {
    /// Section 4: the input-only prompt, the deep prompt and LoRA on the classification task (all
    /// seven methods with `--all-on-classification`).
    func classificationSection(_ nb: Notebook, _ e: Experiment, _ lineup: PromptLineup, hard: MethodResult,
                               frozen: MethodResult) throws -> Trained {
        let methods = allOnClassification ? lineup.all : [lineup.promptTuning(), lineup.pTuningV2, lineup.lora]
        let which = allOnClassification ? "All seven methods on \(e.task.name)."
            : "Three of the methods on \(e.task.name): prompt tuning (the input-only prompt), P-tuning v2 (the deep "
                + "prompt, trained directly: PEFT's plain `PrefixTuningConfig`) and LoRA as the reference "
                + "(`--all-on-classification` runs all seven here too, about a minute longer)."
        nb.section("A classification task: \(e.task.name)", """
            \(which) Same budget and the same rules: each at the learning rate chosen on the validation split, \
            \(e.seeds.count) seed(s) of \(e.steps) steps, the test split once. A classification answer is one label \
            out of a few, so a \
            model can learn the answer's format, and which words can follow, long before it learns which label: the \
            loss figure marks where that stage sits.
            """)
        let t = Trained(e, lineup, try e.run(methods, keep: 0))
        e.reportTuning(in: nb, figureName: "learning-rates-\(e.task.name)")
        nb.table(e.scoreTable(t.results + [hard, frozen], against: t.lora))
        nb.figure(scoreAgainstParameters(e, t.results, hard: hard))
        nb.figure(lossFigure(t))
        var text = comparisonVerdict(t)
        if let level = uniformGuessLoss(e) {
            text += String(format: " A model that has learned the answer's format and the set of labels, but not "
                + "which label, has a training loss near %.2f (a uniform guess among the labels, the dashed line). ",
                level) + stageText(level, t)
        }
        nb.say(text)
        return t
    }
}

/// Training throughput and wall time per run, a column pair per task (— where a task did not run
/// the method).
func speedTable(_ tasks: [Trained]) -> Table {
    let names = tasks.map(\.experiment.task.name)
    var table = Table(["method"] + names.flatMap { ["\($0): tokens/s", "\($0): s per run"] })
    for r in tasks.first?.results ?? [] {
        var row = [r.name]
        for t in tasks {
            if let m = t.results.first(where: { $0.name == r.name }) {
                row += [formatCount(Int(m.tokensPerSecond)), String(format: "%.1f", m.seconds)]
            } else {
                row += ["—", "—"]
            }
        }
        table.add(row)
    }
    return table
}

/// What the speed and memory tables say about the tutorial's "lower compute and training time":
/// every sentence is read off the measurements (`memory` by method name).
func costVerdict(_ main: Trained, _ side: Trained, memory: [String: MemoryBreakdown]) -> String {
    guard let prompt = main.prompt, let lora = main.lora, let full = main.full,
          let m = memory[prompt.name], let l = memory[lora.name], let f = memory[full.name] else { return "" }
    let ratio = Double(lora.trainableParameters) / Double(max(prompt.trainableParameters, 1))
    func speeds(_ t: Trained) -> String? {
        guard let p = t.prompt, let l = t.lora else { return nil }
        return "\(formatCount(Int(p.tokensPerSecond))) real tokens/s against LoRA's "
            + "\(formatCount(Int(l.tokensPerSecond)))"
            + (t.full.map { " and full fine-tuning's \(formatCount(Int($0.tokensPerSecond)))" } ?? "")
            + " on \(t.experiment.task.name)"
    }
    // "faster" and "slower" only beyond 10%: single timings on this machine move by that much
    func relation(_ a: Double, _ b: Double) -> String {
        a > 1.1 * b ? "faster than" : a < b / 1.1 ? "slower than" : "about as fast as"
    }
    let pairs = [main, side].compactMap { t in t.prompt.flatMap { p in t.lora.map { (p, $0) } } }
    let promptVsLora = Set(pairs.map { relation($0.0.tokensPerSecond, $0.1.tokensPerSecond) })
    let stateShare = Double(m.gradients + m.optimizerState) / Double(max(m.total, 1))
    var parts = ["Prompt tuning trains \(String(format: "%.1f", ratio))× fewer values than LoRA. It processed "
        + [main, side].compactMap(speeds).joined(separator: ", and ") + "."]
    if promptVsLora.count == 1, let relation = promptVsLora.first {
        parts.append("So per real token it is \(relation) LoRA here"
            + (relation == "slower than" ? ": backward still runs through every frozen layer down to the input, and "
                + "each row is n positions longer." : "."))
    } else {
        parts.append("Against LoRA the tasks disagree (\(promptVsLora.sorted().joined(separator: " and "))), so no "
            + "speed advantage either way.")
    }
    parts.append("Memory of a step (table above): prompt tuning \(formatBytes(m.total)), of which gradients and "
        + "optimizer state are \(String(format: "%.1f%%", 100 * stateShare)); LoRA \(formatBytes(l.total)); full "
        + "fine-tuning \(formatBytes(f.total)), its activations \(formatBytes(f.activations)) against prompt tuning's "
        + "\(formatBytes(m.activations)).")
    let lineup = main.lineup
    let prefixActivations = [lineup.prefixTuning, lineup.pTuningV2].compactMap { memory[$0.name]?.activations }.max()
    let prependActivations = [lineup.promptTuning(), lineup.pTuning(.mlp), lineup.pTuning(.lstm)]
        .compactMap { memory[$0.name]?.activations }.min()
    if let prefixActivations, let prependActivations, prefixActivations < prependActivations {
        parts.append("The prefix methods lengthen only the keys and values, not the rows, so their activations are "
            + "smaller than the prepending methods' (\(formatBytes(prefixActivations)) at most against "
            + "\(formatBytes(prependActivations)) at least).")
    }
    let memoryHolds = m.total < f.total
    let timeHolds = promptVsLora == ["faster than"]
    parts.append("So the tutorial's 「降低了计算成本和训练时间」 "
        + (memoryHolds && timeHolds ? "holds here for both memory and time per token"
           : memoryHolds ? "holds here for memory against full fine-tuning, not for time per token against LoRA"
           : timeHolds ? "holds for time per token against LoRA, not for memory"
           : "holds here for neither memory nor time per token")
        + " (tokens/s: the median over a method's runs on this machine; compare within a column).")
    return parts.joined(separator: " ")
}

func forgettingText(_ tasks: [Trained], base: BaseModel) -> String {
    let parts = tasks.map { t in
        "\(t.experiment.task.name): " + t.results.map { "\($0.name) \(t.experiment.forgetting($0).text(signed: true))" }
            .joined(separator: "; ")
    }
    var differing: Int? = nil
    if let tuner = tasks.first?.prompt?.tuners.first {
        differing = zip(tuner.model.namedParameters, base.model.namedParameters).reduce(0) { n, pair in
            n + zip(pair.0.tensor.array, pair.1.tensor.array).filter { $0 != $1 }.count
        }
    }
    let weights: String
    switch differing {
    case 0?:
        weights = "the weights underneath are the base's, bit for bit (0 values differ after training prompt tuning), "
            + "so removing the prompt forgets exactly nothing. What a prompt \"forgets\" is only how much it bends "
            + "the base's predictions on unrelated text while it is attached."
    case let count?:
        weights = "but \(formatCount(count)) of the base's values differ after training prompt tuning, which should "
            + "not happen: the base must stay frozen."
    case nil:
        weights = "the trained prompt tuner was not kept, so the frozen weights were not compared here."
    }
    return "Forgetting, the held-out pretraining loss after training minus the base's (95% intervals): "
        + parts.joined(separator: ". ") + ". For the prompt methods this is measured with the prompt attached; "
        + weights
}

/// The training loss of a model that has learned the answer's format and the label set but not
/// which label: ln(options) on each label's first token, nothing on the rest, averaged over the
/// answer tokens of the training set. Nil for a generation task.
func uniformGuessLoss(_ e: Experiment) -> Double? {
    guard case .choice(let options) = e.task.metric, options.count > 1 else { return nil }
    let tokens = e.task.train.map { Double(e.base.tokenizer.encode($0.answer).count + 1) }   // the answer and ⟨eos⟩
    return log(Double(options.count)) * Double(tokens.count) / tokens.reduce(0, +)
}

/// Where each soft prompt's training loss ended (first seed, mean of the last tenth of the steps)
/// against `level`, a uniform guess among the labels: near it (within 1.5×) it has learned the
/// answer's format but not which label; far above it, not even the format; below it, it has begun
/// to tell the labels apart.
func stageText(_ level: Double, _ t: Trained) -> String {
    var near: [String] = [], above: [String] = [], below: [String] = [], ends: [String] = []
    for r in t.softPrompts {
        guard let last = r.curve(window: max(1, t.experiment.steps / 10)).last else { continue }
        let ratio = last / level
        ends.append("\(r.name) \(String(format: "%.2f", last)) (\(String(format: "%.1f", ratio))×)")
        if ratio < 0.75 {
            below.append(r.name)
        } else if ratio <= 1.5 {
            near.append(r.name)
        } else {
            above.append(r.name)
        }
    }
    guard !ends.isEmpty else { return "" }
    var parts = ["The soft prompts' training loss at the end (first seed, last tenth of the steps): "
        + ends.joined(separator: ", ") + "."]
    if !near.isEmpty { parts.append("Near that level, having learned the format but not yet the labels: "
        + near.joined(separator: ", ") + ".") }
    if !above.isEmpty { parts.append("Far above it, not even the answer's format yet: "
        + above.joined(separator: ", ") + ".") }
    if !below.isEmpty { parts.append("Below it, beginning to tell the labels apart: "
        + below.joined(separator: ", ") + ".") }
    return parts.joined(separator: " ")
}
