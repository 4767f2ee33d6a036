// PrefixAndPTuning.swift — lesson-soft-prompts, sections 6–8: prefix tuning's depth and
// reparametrisation, P-tuning's encoders and v2's deep prompts, and what each adapter folder holds.

import Foundation
import Notebook
import PEFT
import SafeTensors
import TensorKit

// MARK: - Sections 6–7: prefix tuning and P-tuning

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

func prefixSection(_ nb: Notebook, _ tasks: [Trained]) {
    nb.section("Prefix tuning: every layer, and the MLP that is thrown away", """
        Li and Liang's two design claims. Depth: a prefix in every layer "significantly" beats one at the embedding \
        layer only at equal length (their Table 5, "embedding-only"), which is also the tutorial's correct \
        distinction (「Prefix-Tuning的前缀参数被插入到模型的所有层中，而Prompt Tuning只将提示参数添加到模型的\
        embedding层」, S1.10). Reparametrisation: training the prefix directly "leads to unstable optimization and a \
        slight drop in performance", so they train it as MLP(P′) and keep only the result — PEFT's \
        `prefix_projection`, which the tutorial never mentions. PEFT's default is `prefix_projection=False`: a \
        plain `PrefixTuningConfig` trains the prefix directly, which is what this lesson calls P-tuning v2; its \
        "prefix tuning" sets `prefix_projection=True`. Both questions are answered from sections 3 and 4's runs, on \
        each task that ran both methods of a pair: same n, same steps, each at its own tuned learning rate.
        """)
    var depth = Table(["task", "comparison (same n)", "every layer", "input only", "every layer − input only"])
    var deeper: [Verdict] = []
    for t in tasks {
        let e = t.experiment
        for (what, deep, shallow) in [("trained directly: P-tuning v2 vs prompt tuning", t.v2, t.prompt),
                                      ("through an MLP: prefix tuning vs P-tuning (MLP)", t.prefix, t.mlp)] {
            guard let deep, let shallow else { continue }
            let c = e.compare(deep, shallow)
            depth.add([e.task.name, what, e.interval(deep).text(), e.interval(shallow).text(), c.text])
            deeper.append(c.verdict)
        }
    }
    nb.table(depth)
    let wins = deeper.filter { $0 == .better }.count, losses = deeper.filter { $0 == .worse }.count
    if !deeper.isEmpty {
        nb.say("Every layer beat input only in \(wins) of \(deeper.count) paired comparisons and lost \(losses)"
            + (wins == deeper.count ? ": Li and Liang's depth claim holds here."
               : losses == deeper.count ? ": the reverse of the depth claim held here, at this scale and budget."
               : wins == 0 ? ": the depth claim does not show at this scale and budget (the rest within noise)."
               : "; where it does not, the intervals above say so.")
            + " (The two MLPs differ: prefix tuning's is Linear–tanh–Linear to every layer's keys and values, "
            + "P-tuning's three Linear layers with ReLU to the input; the pairs match the depth, not every detail.)")
    }
    var table = Table(["task", "variant", "test score [95% CI]", "seed-to-seed SD", "validation over the lr grid",
                       "with MLP − direct"])
    var panels: [(title: String, series: [Figure.Series])] = []
    for t in tasks {
        guard let prefix = t.prefix, let v2 = t.v2 else { continue }
        let e = t.experiment, c = e.compare(prefix, v2)
        table.add([e.task.name, "with the MLP (prefix tuning)", e.interval(prefix).text(),
                   String(format: "%.3f", seedSpread(prefix)), rateSensitivity(e, prefix.name), c.text])
        table.add([e.task.name, "direct (P-tuning v2)", e.interval(v2).text(),
                   String(format: "%.3f", seedSpread(v2)), rateSensitivity(e, v2.name), "—"])
        panels.append(("\(e.task.name): with the MLP", seedCurves(prefix, steps: e.steps)))
        panels.append(("\(e.task.name): direct", seedCurves(v2, steps: e.steps)))
    }
    nb.table(table)
    var figure = Figure(name: "prefix-reparametrisation",
                        title: "Training loss of every seed, prefix with and without the MLP",
                        xLabel: "step", yLabel: "loss on the answer tokens", kind: .panels(panels))
    figure.legend = .hidden
    nb.figure(figure)
    let seedCount = tasks.first?.experiment.seeds.count ?? 0
    nb.say("""
        Read stability three ways: the spread of the test score over seeds (descriptive: \(seedCount) seeds cannot \
        pin a standard deviation down), the validation score across the learning-rate grid (a method that works at \
        only one rate is fragile), and the loss curves (spikes, plateaus, seeds that stall).
        """)
    nb.say(reparametrisationVerdict(tasks))
}

/// Li and Liang's reparametrisation claim (the MLP makes training stabler and slightly better),
/// read per task from the paired score difference and the seed-to-seed spreads.
func reparametrisationVerdict(_ trained: [Trained]) -> String {
    var parts: [String] = []
    var betterScore = 0, smallerSpread = 0, tasks = 0
    for t in trained {
        guard let prefix = t.prefix, let v2 = t.v2 else { continue }
        let e = t.experiment
        tasks += 1
        let c = e.compare(prefix, v2)
        let withMLP = seedSpread(prefix), direct = seedSpread(v2)
        if c.verdict == .better { betterScore += 1 }
        if withMLP < direct { smallerSpread += 1 }
        parts.append("\(e.task.name): with the MLP − direct \(c.text); seed-to-seed SD "
            + String(format: "%.3f with the MLP, %.3f direct", withMLP, direct))
    }
    guard tasks > 0 else { return "" }
    guard (trained.first?.experiment.seeds.count ?? 0) >= 2 else {
        return parts.joined(separator: ". ") + ". With one seed there is no spread to compare."
    }
    let verdict: String
    let everywhere = tasks == 1 ? "" : " on every task"
    if betterScore == tasks && smallerSpread == tasks {
        verdict = "The MLP scores higher and its seeds vary less\(everywhere): the score half of Li and Liang's "
            + "claim holds here" + (tasks == 1 ? ", on this one task" : "") + "; the stability half is only hinted at "
            + "(the spreads are descriptive, and the grid column shows at how many learning rates each variant works)."
    } else if betterScore == tasks {
        verdict = "The MLP scores higher\(everywhere), but does not vary less over seeds"
            + (tasks == 1 ? "" : " on all of them") + ": the performance half of the claim holds here, the stability "
            + "half is not shown."
    } else if betterScore == 0 && smallerSpread == tasks {
        verdict = "The seeds vary less with the MLP\(everywhere), but its scores are not better: a hint of "
            + "stability (the spreads are descriptive), no gain in score."
    } else if smallerSpread == tasks {
        verdict = "The seeds vary less with the MLP on every task, but its score is better on only some: a hint of "
            + "stability (the spreads are descriptive), no consistent gain in score."
    } else {
        verdict = "The claim is not borne out as a whole here: neither the score nor the spread favours the MLP"
            + "\(everywhere)."
    }
    return parts.joined(separator: ". ") + ". " + verdict
}

extension LessonSoftPrompts {
    /// Section 7: an encoder against none from the same N(0, 1) start (new runs of prompt tuning's
    /// RANDOM start on the main task), MLP against LSTM, and v2's deep prompts against v1.
    func pTuningSection(_ nb: Notebook, _ tasks: [Trained], main: Trained) throws {
        let e = main.experiment
        nb.section("P-tuning: the encoder, MLP or LSTM, and v2's deep prompts", """
            P-tuning (Liu et al. 2021) produces the prompt with a network instead of training it directly: in the \
            paper a bidirectional LSTM followed by a two-layer ReLU MLP; PEFT's default is an MLP alone \
            (`encoder_reparameterization_type="MLP"`). The tutorial says the encoder is 「一个双向长短期记忆网络或LSTM」 \
            (a BiLSTM or LSTM, E22: it is a BiLSTM followed by an MLP, and the MLP is the default) and that P-tuning \
            gives a decoder 「encoder架构的特性」, an encoder's properties (E23: nothing changes in the model, which \
            stays causal; the LSTM mixes the prompt positions with one another; the MLP works on each position alone, \
            sharing its weights across them). PEFT's `encoder_hidden_size` defaults to the model's width \
            (\(e.base.model.config.hiddenSize) here), which sets the encoders' sizes below. The paper's claim is \
            stability: prompt vectors trained through an encoder train better than free ones. P-tuning's encoder \
            starts from an N(0, 1) embedding table, so the fair comparison without an encoder is prompt tuning from \
            N(0, 1) too (PEFT's RANDOM start, at its own tuned rate), trained here for the purpose. P-tuning v2 drops \
            the encoder and puts prompts in every layer; the tutorial credits v2 to 「多任务学习策略和深度提示编码器」, a \
            multitask strategy and a deep prompt encoder (E3): v2 is deep prompt tuning, the encoder optional and \
            multitask training an extra.
            """)
        let seeds = Array(e.seeds.prefix(max(1, min(encoderSeeds, e.seeds.count))))
        let randomStart = try e.run(main.lineup.promptTuning(initialisation: .random, label: "prompt tuning (RANDOM)"),
                                    seeds: seeds, keep: 0)
        if let mlp = main.mlp {
            let encoder = mlp.firstSeeds(seeds.count)
            nb.table(Table(["\(e.task.name), \(seeds.count) seed(s)", "test score [95% CI]", "seed-to-seed SD",
                            "validation over the lr grid"], rows: [
                ["P-tuning (MLP): N(0, 1) embeddings through the MLP", e.interval(encoder).text(),
                 String(format: "%.3f", seedSpread(encoder)), rateSensitivity(e, mlp.name)],
                ["prompt tuning: N(0, 1) embeddings used directly", e.interval(randomStart).text(),
                 String(format: "%.3f", seedSpread(randomStart)), rateSensitivity(e, randomStart.name)],
            ]))
            let c = e.compare(encoder, randomStart)
            let steadier = seedSpread(encoder) < seedSpread(randomStart)
            nb.say("Encoder − no encoder, both starting from N(0, 1) embeddings (P-tuning's model sees them through "
                + "the MLP): \(c.text). "
                + (seeds.count < 2 ? "With one seed there is no spread to compare."
                   : c.verdict == .better
                    ? "The encoder trains better here, as the paper claims"
                        + (steadier ? ", and its seeds vary less (descriptive)." : ", though its seeds vary no less.")
                    : c.verdict == .worse
                    ? "The prompt trained directly does better here: the paper's stability claim is not borne out at "
                        + "this scale."
                    : "No difference in score can be read here" + (steadier
                        ? "; the encoder's seeds vary less (descriptive, with \(seeds.count) seeds), the only hint of "
                            + "the paper's stability claim."
                        : ", and the encoder's seeds vary no less: the paper's stability claim does not show at this "
                            + "scale.")))
        }
        var table = Table(["task", "MLP [95% CI]", "LSTM [95% CI]", "LSTM − MLP", "trainable MLP / LSTM",
                           "v2 − P-tuning (MLP)", "v2 − full fine-tuning"])
        for t in tasks {
            guard let mlp = t.mlp, let lstm = t.lstm, let v2 = t.v2, let full = t.full else { continue }
            let e = t.experiment
            table.add([e.task.name, e.interval(mlp).text(), e.interval(lstm).text(), e.compare(lstm, mlp).text,
                       "\(formatCount(mlp.trainableParameters)) / \(formatCount(lstm.trainableParameters))",
                       e.compare(v2, mlp).text, e.compare(v2, full).text])
        }
        nb.table(table)
        nb.say(pTuningVerdict(tasks, main: main))
    }
}

/// The LSTM's size, v2 against v1, prompt tuning and full fine-tuning on the task where v1 trails
/// full fine-tuning most, and the v2 paper's critique of input-only prompts, on every task that
/// ran both an input-only and a deep prompt.
func pTuningVerdict(_ tasks: [Trained], main: Trained) -> String {
    let complete = tasks.filter { $0.mlp != nil && $0.v2 != nil && $0.full != nil && $0.prompt != nil }
    /// How far P-tuning (v1) trails full fine-tuning on a task.
    func v1Gap(_ t: Trained) -> Double { (t.full?.meanScore ?? 0) - (t.mlp?.meanScore ?? 0) }
    guard let t = complete.max(by: { v1Gap($0) < v1Gap($1) }),
          let mlp = t.mlp, let v2 = t.v2, let full = t.full, let prompt = t.prompt else { return "" }
    let e = t.experiment
    let c = e.compare(v2, mlp), f = e.compare(v2, full), v1 = e.compare(mlp, full), deep = e.compare(v2, prompt)
    let matches = f.verdict == .worse ? "does not hold here, at this scale and budget"
        : f.verdict == .better ? "is exceeded here (v2 scores above full fine-tuning), on this one base size"
        : "holds here within the noise, on this one base size (the paper's \"across scales\" needs several)"
    let inputOnlyTrail = v1.verdict == .worse && e.compare(prompt, full).verdict == .worse
    let critique = inputOnlyTrail && c.verdict == .better && deep.verdict == .better
        ? "is borne out on \(e.task.name): the input-only prompts trail full fine-tuning and the deep prompts beat "
            + "both input-only ones"
        : !inputOnlyTrail ? "cannot be tested on \(e.task.name): the input-only prompts do not both trail full "
            + "fine-tuning there"
        : "is only partly borne out on \(e.task.name): v2 against v1 "
            + "\(c.verdict == .better ? "better" : "not better"), against prompt tuning "
            + "\(deep.verdict == .better ? "better" : "not better")"
    var text = ""
    if let lstm = main.lstm, let mainFull = main.full, let mainPrompt = main.prompt {
        let share = Double(lstm.trainableParameters) / Double(max(mainFull.trainableParameters, 1))
        text += "The LSTM trains \(formatCount(lstm.trainableParameters)) values, "
            + "\(String(format: "%.0f%%", 100 * share)) of the whole base's "
            + "\(formatCount(mainFull.trainableParameters)), to produce "
            + "\(formatCount(mainPrompt.trainableParameters)) numbers, and all of it is discarded when PEFT saves. "
    }
    text += (complete.count > 1
        ? "The harder task for P-tuning (v1), measured as the larger gap to full fine-tuning, is \(e.task.name). "
            + "There, v1"
        : "On \(e.task.name), v1")
        + " against full fine-tuning: \(v1.text); v2's deep prompts against v1: \(c.text); against prompt tuning: "
        + "\(deep.text); against full fine-tuning: \(f.text). The v2 paper's claim, matching fine-tuning \"across "
        + "scales\" with 0.1–3% of the parameters, \(matches). Its critique of v1 and prompt tuning, that input-only "
        + "prompts fall short on small models and hard tasks (the tutorial attributes it to v1 alone, E24), "
        + "\(critique)."
    for other in tasks where other.experiment !== e {
        guard let v2 = other.v2, let prompt = other.prompt else { continue }
        text += " On \(other.experiment.task.name), the deep prompt against the input-only one: "
            + "\(other.experiment.compare(v2, prompt).text)."
    }
    return text
}

// MARK: - Section 8: adapter files

extension LessonSoftPrompts {
    func filesSection(_ nb: Notebook, _ trained: Trained) throws {
        let e = trained.experiment
        nb.section("What each adapter folder holds", """
            PEFT's `save_pretrained` writes adapter_config.json and adapter_model.safetensors. For every prompt \
            method the weights file holds one tensor, `prompt_embeddings`: the encoder's OUTPUT for the n virtual \
            tokens. The MLP of prefix tuning and the MLP or LSTM of P-tuning are not saved; PEFT reloads \
            `prompt_embeddings` as a fixed table and will not train it further. This project writes one more file, \
            prompt_encoder.safetensors, holding the encoder's own weights so that training can resume here; Python's \
            peft ignores it. The first seed's trained adapters from \(e.task.name), saved:
            """)
        let lstmValues = trained.lstm?.trainableParameters ?? 0
        let baseBytes = (try? FileManager.default.attributesOfItem(
            atPath: e.base.folder.appendingPathComponent("model.safetensors").path))?[.size] as? Int ?? 0
        var table = Table(["method", "trainable", "adapter_model.safetensors", "holds", "prompt_encoder.safetensors",
                           "folder", "of the base's \(formatBytes(baseBytes))"])
        var folders: [(String, URL, any Tuner)] = []
        var weightBytes: [(name: String, bytes: Int, isPrompt: Bool)] = []
        for r in trained.results where r.name != trained.lineup.full.name {
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
            weightBytes.append((r.name, fileSize(folder.appendingPathComponent(AdapterFolder.weightsName)),
                                tuner is PromptLearningModel))
        }
        nb.table(table)
        var reload = Table(["method", "reloaded", "values loaded", "max |logits − trained|"])
        var largest: Float = 0                                    // over the reloads from prompt_embeddings alone
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
                if source == plain { largest = max(largest, difference) }
            }
        }
        nb.table(reload)
        let reloadText = largest == 0 ? "exactly the trained model's logits"
            : largest < 1e-4
            ? String(format: "the trained model's logits to float rounding (at most %.1e apart)", largest)
            : String(format: "logits up to %.1e away from the trained model's, more than float rounding", largest)
        nb.say("""
            The saved prompt is all inference needs: reloaded from `prompt_embeddings` alone, every method gives \
            \(reloadText) (table above), and the reparametrisation network — \(formatCount(lstmValues)) values for the \
            LSTM — is gone. A task costs one small folder on top of one shared base (S1.2, S3.5: 「不需要为每个任务训练和存储\
            一个完整的模型副本」, no full copy per task). \(sizeComparison(weightBytes))
            """)
    }
}

/// Which saved prompts are smaller than the LoRA adapter's weights file, and which are not.
func sizeComparison(_ files: [(name: String, bytes: Int, isPrompt: Bool)]) -> String {
    let prompts = files.filter(\.isPrompt)
    guard let lora = files.first(where: { !$0.isPrompt }), !prompts.isEmpty else { return "" }
    let smaller = prompts.filter { $0.bytes < lora.bytes }.map(\.name)
    let larger = prompts.filter { $0.bytes >= lora.bytes }.map(\.name)
    let sizes = prompts.map(\.bytes)
    var text = "The saved prompts take \(formatBytes(sizes.min() ?? 0))–\(formatBytes(sizes.max() ?? 0)) against "
        + "\(formatBytes(lora.bytes)) for \(lora.name)"
    if !smaller.isEmpty { text += "; smaller than it: \(smaller.joined(separator: ", "))" }
    if !larger.isEmpty {
        text += "; as large or larger: \(larger.joined(separator: ", "))"
            + (larger.allSatisfy({ $0.contains("prefix") || $0.contains("v2") })
               ? " (a prefix method stores n × 2·L·C_kv values, keys and values for every layer, where an input "
                 + "prompt stores n × C)" : "")
    }
    return text + "."
}

/// The size of one file in bytes (0 if it does not exist).
func fileSize(_ url: URL) -> Int {
    (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int ?? 0
}

/// Largest |a − b| over two tensors of the same shape.
func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.array, b.array).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
