// LlamaFactoryConfig.swift — `peft export --to llamafactory`: the run as LLaMA-Factory's YAML for
// `llamafactory-cli train`, with the dataset_info.json entry its data needs. LLaMA-Factory's
// finetuning_type is lora, oft, freeze or full: a LoRA adapter (QLoRA, rsLoRA, DoRA, PiSSA, LoRA+
// included) exports; AdaLoRA and the prompt methods have no key and give an error instead.

import Foundation
import PEFT
import SafeTensors

/// The LLaMA-Factory YAML of a run.
struct LlamaFactoryConfig {
    let run: ExportedRun

    /// Where every key comes from (LLaMA-Factory 0.9.5, the current release, and transformers' TrainingArguments).
    static let sources = [
        "src/llamafactory/hparams/finetuning_args.py (the method's keys)",
        "src/llamafactory/hparams/model_args.py (the model, the 4-bit base)",
        "src/llamafactory/hparams/data_args.py (dataset, template, cutoff_len, val_size)",
        "data/README.md (dataset_info.json, the Alpaca format)",
        "transformers' TrainingArguments (the ### train and ### eval keys)",
    ]

    /// The dataset's name in dataset_info.json.
    static let datasetName = "peft_alpaca"

    /// The LoRA fields, or the error that says why LLaMA-Factory cannot take this method.
    func loraFields() throws -> LoraFamilyFields {
        let type = run.fields.peftType
        guard type == .lora, let lora = LoraFamilyFields(run.fields) else {
            let why = type == .adalora
                ? "AdaLoRA is not one of LLaMA-Factory's methods (finetuning_type is lora, oft, freeze or full)"
                : "\(type.rawValue) is a prompt method; LLaMA-Factory's finetuning_type is lora, oft, freeze or "
                    + "full, with no prompt tuning, prefix tuning or P-tuning"
            throw ExportError(.llamafactory, [why])
        }
        var problems = lora.patternProblems("LLaMA-Factory")
        if lora.targetPattern != nil && lora.targetPattern != "all-linear" {
            problems.append("target_modules is the regular expression \(lora.targetPattern ?? ""); lora_target "
                + "takes module names (or all)")
        }
        if lora.loraAlpha != lora.loraAlpha.rounded() {
            problems.append("lora_alpha \(pythonFloat(lora.loraAlpha)) is not a whole number; LLaMA-Factory's "
                + "lora_alpha is an integer")
        }
        if !["true", "pissa"].contains(lora.initialization) {
            problems.append("init_lora_weights \(lora.initialization) has no LLaMA-Factory option (it starts LoRA "
                + "as PEFT's default, or as PiSSA)")
        }
        if let q = run.training.quantization, q.blockSize != 64 {
            problems.append("the base was quantized in blocks of \(q.blockSize); bitsandbytes uses 64")
        }
        if !problems.isEmpty { throw ExportError(.llamafactory, problems) }
        return lora
    }

    func text() throws -> String {
        let lora = try loraFields()
        let t = run.training
        let dataFile = run.alpacaFile.map { URL(fileURLWithPath: $0) }
        let dataDir = dataFile?.deletingLastPathComponent().path ?? "data"
        let fileName = dataFile?.lastPathComponent ?? "DATA.jsonl"
        let entry = ["{", "  \"\(Self.datasetName)\": {", "    \"file_name\": \(jsonString(fileName)),",
                     "    \"columns\": {\"prompt\": \"instruction\", \"query\": \"input\", \"response\": \"output\"}",
                     "  }", "}"]
        var lines: [String] = []
        func comment(_ text: String) { lines.append(wrap("# " + text, width: 118, indent: "#   ")) }
        comment("LLaMA-Factory: the \(t.method) run of `peft train` (\(run.source)), written by `peft export --to "
            + "llamafactory`.")
        lines.append("#   llamafactory-cli train this_file.yaml")
        lines.append("# Every key below exists in LLaMA-Factory 0.9.5 (PyPI); where each is defined in its source:")
        lines += Self.sources.map { "#   " + $0 }
        lines.append("#")
        comment("The data: LLaMA-Factory reads datasets by name from dataset_info.json in dataset_dir. Save this "
            + "entry there (or add it to the file that is there):")
        lines += entry.map { "#   " + $0 }
        lines.append("#")
        lines.append("# What differs from the Swift run:")
        comment("- the prompt layout: template alpaca is Stanford Alpaca's (a system line, \"### Instruction:\", the "
            + "instruction and input joined by a newline, \"### Response:\"); peft train writes \"Instruction: ...\\n"
            + "Input: ...\\nResponse:\". Both learn the answer and the end-of-text token only. With a chat model, "
            + "use its own template (llama3, qwen, ...).")
        comment("- the schedule runs one step behind: transformers' first step has learning rate 0, peft train's "
            + "has learning_rate / warmup_steps.")
        comment("- PyTorch draws the initialisation, the validation split and the batches.")
        for note in run.notes { comment("- " + note) }
        lines.append("")

        lines.append("### model")
        lines.append("model_name_or_path: \(yamlString(run.baseModel ?? "BASE_MODEL"))")
        if let q = t.quantization {
            lines.append("quantization_bit: 4")
            lines.append("quantization_method: bnb")
            lines.append("quantization_type: \(q.quantType)")
            lines.append("double_quantization: \(q.doubleQuant)")
        }
        lines.append("")
        lines.append("### method")
        lines.append("stage: sft")
        lines.append("do_train: true")
        lines.append("finetuning_type: lora")
        lines.append("lora_rank: \(lora.r ?? 8)")
        lines.append("lora_alpha: \(compactNumber(lora.loraAlpha))")
        lines.append("lora_dropout: \(yamlFloat(lora.loraDropout))")
        let target = lora.targetPattern == "all-linear" ? "all"
            : (lora.targetNames ?? []).sorted().joined(separator: ",")
        lines.append("lora_target: \(target)")
        lines.append("use_rslora: \(lora.useRslora)")
        lines.append("use_dora: \(lora.useDora)")
        if lora.initialization == "pissa" {
            lines.append("pissa_init: true")
            lines.append("pissa_iter: -1  # an exact SVD, as init_lora_weights \"pissa\" (-1 turns fast SVD off)")
        }
        if let ratio = t.loraplusLrRatio, ratio != 1 { lines.append("loraplus_lr_ratio: \(yamlFloat(ratio))") }
        lines.append("")
        lines.append("### dataset")
        lines.append("dataset: \(Self.datasetName)")
        lines.append("dataset_dir: \(yamlString(dataDir))")
        lines.append("template: alpaca")
        if let cutoff = t.cutoffLen {
            lines.append("cutoff_len: \(cutoff)  # the base's max_position_embeddings")
        }
        lines.append("val_size: 0.1  # peft train holds out a tenth of an Alpaca file")
        lines.append("")
        lines.append("### output")
        lines.append("output_dir: \(yamlString("saves/" + run.sourceName))")
        lines.append("logging_steps: \(max(1, t.maxSteps / 10))")
        lines.append("plot_loss: true")
        lines.append("")
        lines.append("### train")
        lines.append("per_device_train_batch_size: \(t.perDeviceTrainBatchSize)")
        lines.append("gradient_accumulation_steps: 1")
        lines.append("learning_rate: \(yamlFloat(t.learningRate))")
        lines.append("max_steps: \(t.maxSteps)")
        lines.append("lr_scheduler_type: \(t.lrSchedulerType)")
        lines.append("warmup_steps: \(t.warmupSteps)")
        lines.append("max_grad_norm: \(t.maxGradNorm.map(yamlFloat) ?? "0.0")"
            + (t.maxGradNorm == nil ? "  # 0: no clipping" : ""))
        lines.append("optim: \(t.optim)")
        if t.optim != "sgd" {
            lines.append("adam_beta1: \(yamlFloat(t.adamBeta1))")
            lines.append("adam_beta2: \(yamlFloat(t.adamBeta2))")
            lines.append("adam_epsilon: \(yamlFloat(t.adamEpsilon))")
        }
        lines.append("weight_decay: \(yamlFloat(t.weightDecay))")
        lines.append("seed: \(t.seed)")
        lines.append("")
        lines.append("### eval")
        lines.append("eval_strategy: steps")
        lines.append("eval_steps: \(t.maxSteps)")
        lines.append("per_device_eval_batch_size: \(t.perDeviceTrainBatchSize)")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `s` as a YAML scalar: bare when plain (letters, digits, / . _ -), else double-quoted JSON-style.
func yamlString(_ s: String) -> String {
    let plain = !s.isEmpty && s.unicodeScalars.allSatisfy {
        CharacterSet.alphanumerics.contains($0) && $0.isASCII || "/._-".unicodeScalars.contains($0)
    } && !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(s.lowercased())
        && Double(s) == nil && !s.hasPrefix("-")
    return plain ? s : jsonString(s)
}
