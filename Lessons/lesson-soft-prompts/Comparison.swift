// Comparison.swift — lesson-soft-prompts, sections 1–6: the methods' formulas and parts, the
// hard prompt, the comparison's verdicts, more steps for the slow learners, and what each method
// costs.

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

// MARK: - Sections 2–4 and 6: the hard prompt, the comparison, the cost

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
                return "The words change nothing measurable here."
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

func comparisonVerdict(_ e: Experiment, _ results: [MethodResult]) -> String {
    guard let full = results.last, results.count > 2 else { return "" }
    let lora = results[results.count - 2]
    let prompts = Array(results.dropLast(2))
    let above = prompts.filter { clearsScoreWithoutLearning(e, $0) }.map(\.name)
    let best = prompts.max { $0.meanScore < $1.meanScore }!
    var parts: [String] = []
    parts.append(above.isEmpty
        ? "On \(e.task.name), no soft prompt's interval clears \(e.scoreWithoutLearningPhrase) at this budget."
        : "On \(e.task.name), above \(e.scoreWithoutLearningPhrase): \(above.joined(separator: ", ")).")
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

/// What the speed and memory tables say about the tutorial's "lower compute and training time":
/// every sentence is read off the measurements (`memory` in the order of `Lineup.all`).
func costVerdict(_ cls: [MethodResult], _ gen: [MethodResult], memory: [MemoryBreakdown]) -> String {
    guard cls.count > Slot.full, memory.count > Slot.full else { return "" }
    let prompt = cls[Slot.prompt], lora = cls[Slot.lora]
    let ratio = Double(lora.trainableParameters) / Double(max(prompt.trainableParameters, 1))
    func speeds(_ list: [MethodResult]) -> String {
        guard list.count > Slot.full else { return "" }
        return "\(formatCount(Int(list[Slot.prompt].tokensPerSecond))) real tokens/s against LoRA's "
            + "\(formatCount(Int(list[Slot.lora].tokensPerSecond))) and full fine-tuning's "
            + "\(formatCount(Int(list[Slot.full].tokensPerSecond)))"
    }
    // "faster" and "slower" only beyond 10%: single timings on this machine move by that much
    func relation(_ a: Double, _ b: Double) -> String {
        a > 1.1 * b ? "faster than" : a < b / 1.1 ? "slower than" : "about as fast as"
    }
    let bothTasks = [cls, gen].filter { $0.count > Slot.full }
    let promptVsLora = Set(bothTasks.map { relation($0[Slot.prompt].tokensPerSecond, $0[Slot.lora].tokensPerSecond) })
    let m = memory[Slot.prompt], l = memory[Slot.lora], f = memory[Slot.full]
    let stateShare = Double(m.gradients + m.optimizerState) / Double(max(m.total, 1))
    var parts = ["Prompt tuning trains \(String(format: "%.1f", ratio))× fewer values than LoRA. It processed "
        + "\(speeds(cls)) on the classification task"
        + (gen.count > Slot.full ? ", and \(speeds(gen)) on the generation task" : "") + "."]
    parts.append(promptVsLora.count == 1
        ? "So per real token it is \(promptVsLora.first!) LoRA here: backward still runs through every frozen layer "
            + "down to the input, and each row is n positions longer."
        : "Against LoRA the two tasks disagree (\(promptVsLora.sorted().joined(separator: " and "))), so no speed "
            + "advantage either way.")
    parts.append("Memory of a step (table above): prompt tuning \(formatBytes(m.total)), of which gradients and "
        + "optimizer state are \(String(format: "%.1f%%", 100 * stateShare)); LoRA \(formatBytes(l.total)); full "
        + "fine-tuning \(formatBytes(f.total)), its activations \(formatBytes(f.activations)) against prompt tuning's "
        + "\(formatBytes(m.activations)).")
    let prefixes = [Slot.prefix, Slot.v2].filter { $0 < memory.count }
    let prepending = [Slot.prompt, Slot.mlp, Slot.lstm].filter { $0 < memory.count }
    let prefixActivations = prefixes.map { memory[$0].activations }.max() ?? 0
    let prependActivations = prepending.map { memory[$0].activations }.min() ?? 0
    if prefixActivations < prependActivations {
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
        + " (timings from single runs on this machine; compare within a column).")
    return parts.joined(separator: " ")
}

func forgettingText(_ experiments: [Experiment], _ results: [[MethodResult]], base: BaseModel) -> String {
    var parts: [String] = []
    for (e, list) in zip(experiments, results) {
        let items = list.map { "\($0.name) \(e.forgetting($0).text(signed: true))" }
        parts.append("\(e.task.name): " + items.joined(separator: "; "))
    }
    var differing: Int? = nil
    if let tuner = results.first?.first?.tuners.first {
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

// MARK: - Section 5: more steps

/// The training loss of a model that has learned the answer's format and the label set but not
/// which label: ln(options) on each label's first token, nothing on the rest, averaged over the
/// answer tokens of the training set. Nil for a generation task.
func uniformGuessLoss(_ e: Experiment) -> Double? {
    guard case .choice(let options) = e.task.metric, options.count > 1 else { return nil }
    let tokens = e.task.train.map { Double(e.base.tokenizer.encode($0.answer).count + 1) }   // the answer and ⟨eos⟩
    return log(Double(options.count)) * Double(tokens.count) / tokens.reduce(0, +)
}

/// The prompt methods (of the comparison) whose last training losses, first seed, sit within 25%
/// of `level`: learned the format and the label set, not which label.
func stalledNear(_ level: Double, _ results: [MethodResult], steps: Int) -> [String] {
    results.prefix(Slot.lora).filter { r in
        let curve = r.curve(window: max(1, steps / 10))
        guard let last = curve.last else { return false }
        return last > 0.75 * level && last < 1.25 * level
    }.map(\.name)
}

extension LessonSoftPrompts {
    func longerRunSection(_ nb: Notebook, _ e: Experiment, _ results: [MethodResult]) throws {
        guard results.count > Slot.full else { return }
        let short = results[Slot.v2], lora = results[Slot.lora]
        let steps = e.steps * 10 / 3, seeds = Array(e.seeds.prefix(max(1, min(sweepSeeds, e.seeds.count))))
        let level = uniformGuessLoss(e)
        nb.section("More steps: P-tuning v2 for \(steps) steps on \(e.task.name)", """
            Lester et al. trained prompts for 30,000 steps; every method above had \(e.steps). Does a soft prompt \
            gain from more? P-tuning v2, the deep prompt, trains for \(steps) steps instead of \(e.steps) \
            (\(seeds.count) seed(s), at the learning rate chosen for \(e.steps) steps, \
            \(shortRate(short.learningRate))), beside LoRA's \(e.steps)-step runs.
            """)
        if let level {
            let stalled = stalledNear(level, results, steps: e.steps)
            nb.say(String(format: "A model that has learned the answer's format and the set of labels, but not which "
                + "label, has a training loss near %.2f (a uniform guess among the labels, the dashed line). ", level)
                + (stalled.isEmpty ? "No soft prompt of the comparison ended its \(e.steps) steps there."
                   : stalled.count == 1
                    ? "Ending its \(e.steps) steps within 25% of it (first seed): \(stalled[0]); it had learned the "
                        + "format, not yet the labels."
                    : "Ending their \(e.steps) steps within 25% of it (first seed): "
                        + "\(stalled.joined(separator: ", ")); they had learned the format, not yet the labels."))
        }
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
        let againstShort = e.compare(renamed, shortNamed), againstLora = e.compare(renamed, loraNamed)
        let factor = String(format: "%.1f", Double(steps) / Double(e.steps))
        let reading: String
        switch (againstShort.verdict, againstLora.verdict) {
        case (.better, .worse):
            reading = "More steps help, but \(factor)× the steps still leave it below LoRA at \(e.steps): the claim "
                + "that prompt methods cut training time (「降低了…训练时间」, P4.2) does not hold for it here."
        case (.better, _):
            reading = "With \(factor)× the steps it reaches LoRA's \(e.steps)-step score or better, so the claim that "
                + "prompt methods cut training time (「降低了…训练时间」, P4.2) is the wrong way round for it here: it "
                + "trains fewer values but needs several times the steps, each of which runs the whole frozen network."
        case (.withinNoise, _):
            reading = "More steps change nothing measurable: what holds it back here is not the number of steps."
        case (.worse, _):
            reading = "More steps made it worse, at the learning rate chosen for \(e.steps) steps."
        }
        nb.say((level == nil ? "" : "Below half the uniform guess's loss: \(escapes.joined(separator: ", ")). ")
            + "After \(steps) steps: \(e.interval(renamed).text()); against its own \(e.steps)-step run "
            + "\(againstShort.text); against LoRA at \(e.steps) steps \(againstLora.text). \(reading)")
    }
}
