// MsSwiftCommand.swift — `peft export --to swift`: the run as ms-swift's `swift sft` command line.
// ms-swift's tuner_type covers LoRA (QLoRA, rsLoRA, DoRA, PiSSA, LoRA+ included) and AdaLoRA; the
// prompt methods have no option and give an error instead.

import Foundation
import PEFT
import SafeTensors

/// The ms-swift command line of a run, as a shell script.
struct MsSwiftCommand {
    let run: ExportedRun

    /// Where every option is documented (ms-swift 4.6.0, the current release; ms-swift 4 renamed
    /// --train_type to --tuner_type).
    static let source = "https://swift.readthedocs.io/en/latest/Instruction/Command-line-parameters.html"

    func text() throws -> String {
        let type = run.fields.peftType
        guard let lora = LoraFamilyFields(run.fields) else {
            throw ExportError(.swift, ["\(type.rawValue) is a prompt method; ms-swift's tuner_type offers lora, "
                + "adalora, full, longlora, llamapro, adapter, vera, boft, fourierft, reft and bone, but no prompt "
                + "tuning, prefix tuning or P-tuning"])
        }
        var problems = lora.patternProblems("ms-swift")
        if let q = run.training.quantization, q.blockSize != 64 {
            problems.append("the base was quantized in blocks of \(q.blockSize); bitsandbytes uses 64")
        }
        if type == .adalora, let ratio = run.training.loraplusLrRatio, ratio != 1 {
            problems.append("loraplus_lr_ratio is LoRA+'s, not AdaLoRA's")
        }
        if !problems.isEmpty { throw ExportError(.swift, problems) }

        let t = run.training
        var options: [(String, String)] = [
            ("model", shellWord(run.baseModel ?? "BASE_MODEL")),
            ("model_type", "llama"),
            ("template", "default"),
            ("torch_dtype", "float32"),
        ]
        if let q = t.quantization {
            options += [("quant_method", "bnb"), ("quant_bits", "4"), ("bnb_4bit_quant_type", q.quantType),
                        ("bnb_4bit_use_double_quant", "\(q.doubleQuant)"), ("bnb_4bit_compute_dtype", "float32")]
        }
        options.append(("tuner_type", type == .adalora ? "adalora" : "lora"))
        if type == .lora { options.append(("lora_rank", "\(lora.r ?? 8)")) }
        options += [("lora_alpha", compactNumber(lora.loraAlpha)), ("lora_dropout", pythonFloat(lora.loraDropout))]
        if let pattern = lora.targetPattern, pattern != "all-linear" {
            options.append(("target_regex", shellWord(pattern)))
        } else {
            let names = lora.targetPattern == "all-linear" ? ["all-linear"] : (lora.targetNames ?? []).sorted()
            options.append(("target_modules", names.map(shellWord).joined(separator: " ")))
        }
        if type == .lora {
            options += [("use_rslora", "\(lora.useRslora)"), ("use_dora", "\(lora.useDora)"),
                        ("init_weights", lora.initialization)]
            if let ratio = t.loraplusLrRatio, ratio != 1 { options.append(("lorap_lr_ratio", pythonFloat(ratio))) }
        } else {
            options.append(("init_weights", lora.initialization))
            for (key, option) in [("init_r", "adalora_init_r"), ("target_r", "adalora_target_r"),
                                  ("tinit", "adalora_tinit"), ("tfinal", "adalora_tfinal"),
                                  ("deltaT", "adalora_deltaT"), ("beta1", "adalora_beta1"),
                                  ("beta2", "adalora_beta2"), ("orth_reg_weight", "adalora_orth_reg_weight")] {
                if let value = run.fields[key] { options.append((option, value.python)) }
            }
        }
        options += [
            ("dataset", shellWord(run.alpacaFile ?? "DATA.jsonl")),
            ("split_dataset_ratio", "0.1"),
            ("data_seed", "\(t.seed)"),
        ]
        if let cutoff = t.cutoffLen { options.append(("max_length", "\(cutoff)")) }
        options += [
            ("max_steps", "\(t.maxSteps)"),
            ("per_device_train_batch_size", "\(t.perDeviceTrainBatchSize)"),
            ("gradient_accumulation_steps", "1"),
            ("learning_rate", pythonFloat(t.learningRate)),
            ("lr_scheduler_type", t.lrSchedulerType),
            ("warmup_steps", "\(t.warmupSteps)"),
            ("max_grad_norm", t.maxGradNorm.map(pythonFloat) ?? "0"),
            ("optim", t.optim),
        ]
        if t.optim != "sgd" {
            options += [("adam_beta1", pythonFloat(t.adamBeta1)), ("adam_beta2", pythonFloat(t.adamBeta2)),
                        ("adam_epsilon", pythonFloat(t.adamEpsilon))]
        }
        options += [
            ("weight_decay", pythonFloat(t.weightDecay)),
            ("seed", "\(t.seed)"),
            ("logging_steps", "\(max(1, t.maxSteps / 10))"),
            ("eval_steps", "\(t.maxSteps)"),
            ("save_steps", "\(t.maxSteps)"),
            ("output_dir", shellWord("output/" + run.sourceName)),
        ]

        var lines = ["#!/usr/bin/env bash"]
        func comment(_ text: String) { lines.append(wrap("# " + text, width: 118, indent: "#   ")) }
        comment("ms-swift: the \(t.method) run of `peft train` (\(run.source)), written by `peft export --to swift`.")
        comment("Every option exists in ms-swift 4.6.0 (PyPI); they are documented at \(Self.source) "
            + "(ms-swift 4 renamed --train_type to --tuner_type).")
        comment("ms-swift's command is also called `swift`: run this where ms-swift's comes first on PATH (its "
            + "virtual environment), not the Swift toolchain's.")
        lines.append("#")
        lines.append("# What differs from the Swift run:")
        comment("- the prompt layout: template default writes a system line, then \"### Human:\\n...\\n\\n### "
            + "Assistant:\\n\" around the instruction and input; peft train writes \"Instruction: ...\\nInput: "
            + "...\\nResponse:\". With a chat model, leave --template out and ms-swift uses the model's own.")
        comment("- model_type llama tells ms-swift which family a local folder is; a hub model needs no model_type.")
        comment("- the schedule runs one step behind: transformers' first step has learning rate 0, peft train's "
            + "has learning_rate / warmup_steps. ms-swift's own defaults differ from peft train's (weight_decay 0.1, "
            + "gradient accumulation to 16 examples), so they are set here.")
        if t.maxGradNorm == nil { comment("- max_grad_norm 0 turns clipping off, as the recorded run had none.") }
        comment("- PyTorch draws the initialisation, the validation split and the batches.")
        if type == .adalora {
            comment("- AdaLoRA's total_step is ms-swift's number of steps (max_steps); lora_rank does not apply.")
        }
        for note in run.notes { comment("- " + note) }
        lines.append("set -euo pipefail")
        lines.append("swift sft \\")
        for (i, (name, value)) in options.enumerated() {
            lines.append("    --\(name) \(value)" + (i == options.count - 1 ? "" : " \\"))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `s` as one shell word: bare when it holds only safe characters, else single-quoted.
func shellWord(_ s: String) -> String {
    let safe = !s.isEmpty && s.unicodeScalars.allSatisfy {
        $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "/._-+=:,@%".unicodeScalars.contains($0))
    }
    return safe ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
