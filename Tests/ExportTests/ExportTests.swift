// ExportTests.swift — `peft export`'s files: a LoRA run with known settings gives the committed
// expected file for each framework (Expected/), every key LLaMA-Factory and ms-swift get is one their
// current versions define, unsupported methods and fields are errors that say why, and
// training_args.json reads back, with peft train's defaults said aloud when it is missing.
// No Python here: the script is compared as text (it was run by hand; see the README).

import Foundation
import PEFT
import Testing
@testable import Export

/// The runs the expected files were written from.
enum Runs {
    static let base = "/models/small-corpus2"

    static func training(_ method: String, steps: Int = 300) -> TrainingRecord {
        TrainingRecord(method: method, modelNameOrPath: base, data: "/data/alpaca.jsonl", dataFormat: .alpaca,
                       maxSteps: steps, perDeviceTrainBatchSize: 16, learningRate: 0.002,
                       warmupSteps: TrainingRecord.warmupSteps(forSteps: steps), seed: 0, cutoffLen: 128)
    }

    static func run(_ config: any PeftConfig, _ training: TrainingRecord, _ name: String) throws -> ExportedRun {
        var config = config
        config.baseModelNameOrPath = base
        return try ExportedRun(config: config, training: training, source: "/adapters/" + name)
    }

    static func lora() throws -> ExportedRun {
        try run(LoraConfig(r: 8, loraAlpha: 16, targetModules: .names(["q_proj", "v_proj"])), training("lora"), "lora")
    }

    static func promptTuning() throws -> ExportedRun {
        var training = training("prompt-tuning")
        training.learningRate = 0.03
        training.cutoffLen = 108
        return try run(PromptTuningConfig(numVirtualTokens: 20), training, "prompt")
    }

    static func adalora() throws -> ExportedRun {
        let config = AdaLoraConfig(initR: 12, targetR: 8, tinit: 30, tfinal: 60, totalStep: 300, loraAlpha: 16)
        return try run(config, training("adalora"), "adalora")
    }
}

/// The expected files beside this file.
let expectedFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Expected")

/// `text` equals Expected/`name`; PEFT_UPDATE_EXPORT_GOLDEN=1 rewrites the file instead (then review the diff).
func expectGolden(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let url = expectedFolder.appendingPathComponent(name)
    if ProcessInfo.processInfo.environment["PEFT_UPDATE_EXPORT_GOLDEN"] == "1" {
        try FileManager.default.createDirectory(at: expectedFolder, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return
    }
    guard let expected = try? String(contentsOf: url, encoding: .utf8) else {
        Issue.record("\(url.path) is missing: run the test with PEFT_UPDATE_EXPORT_GOLDEN=1 to write it",
                     sourceLocation: sourceLocation)
        return
    }
    guard text != expected else { return }
    let got = text.components(separatedBy: "\n"), want = expected.components(separatedBy: "\n")
    let line = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
    Issue.record("""
        the export differs from \(name) at line \(line + 1):
          expected: \(line < want.count ? want[line] : "(end of file)")
          got:      \(line < got.count ? got[line] : "(end of file)")
        (PEFT_UPDATE_EXPORT_GOLDEN=1 rewrites the expected files)
        """, sourceLocation: sourceLocation)
}

/// LLaMA-Factory 0.9.5's keys the export may write (finetuning_args.py, model_args.py, data_args.py) and
/// transformers' TrainingArguments fields, as checked against the released packages.
let llamaFactoryKeys: Set<String> = [
    "model_name_or_path", "quantization_bit", "quantization_method", "quantization_type", "double_quantization",
    "stage", "do_train", "finetuning_type", "lora_rank", "lora_alpha", "lora_dropout", "lora_target", "use_rslora",
    "use_dora", "pissa_init", "pissa_iter", "loraplus_lr_ratio", "dataset", "dataset_dir", "template", "cutoff_len",
    "val_size", "output_dir", "logging_steps", "plot_loss", "per_device_train_batch_size",
    "gradient_accumulation_steps", "learning_rate", "max_steps", "lr_scheduler_type", "warmup_steps", "max_grad_norm",
    "optim", "adam_beta1", "adam_beta2", "adam_epsilon", "weight_decay", "seed", "eval_strategy", "eval_steps",
    "per_device_eval_batch_size",
]

/// ms-swift 4.6.0's options the export may write (its arguments/ dataclasses and TrainingArguments).
let msSwiftOptions: Set<String> = [
    "model", "model_type", "template", "torch_dtype", "quant_method", "quant_bits", "bnb_4bit_quant_type",
    "bnb_4bit_use_double_quant", "bnb_4bit_compute_dtype", "tuner_type", "lora_rank", "lora_alpha", "lora_dropout",
    "target_modules", "target_regex", "use_rslora", "use_dora", "init_weights", "lorap_lr_ratio", "adalora_init_r",
    "adalora_target_r", "adalora_tinit", "adalora_tfinal", "adalora_deltaT", "adalora_beta1", "adalora_beta2",
    "adalora_orth_reg_weight", "dataset", "split_dataset_ratio", "data_seed", "max_length", "max_steps",
    "per_device_train_batch_size", "gradient_accumulation_steps", "learning_rate", "lr_scheduler_type",
    "warmup_steps", "max_grad_norm", "optim", "adam_beta1", "adam_beta2", "adam_epsilon", "weight_decay", "seed",
    "logging_steps", "eval_steps", "save_steps", "output_dir",
]

/// The top-level keys of a YAML file the export wrote (comments and blank lines skipped).
func yamlKeys(_ text: String) -> [String] {
    text.split(separator: "\n").filter { !$0.hasPrefix("#") && $0.contains(":") }
        .map { String($0.prefix { $0 != ":" }) }
}

/// Python's complaint about `source` (`ast.parse`, no packages needed), or nil when it parses or there is
/// no python3 on PATH (the script is then checked only by the bracket count and the expected files).
func pythonSyntaxProblem(_ source: String) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import ast, sys; ast.parse(sys.stdin.read(), 'exported.py')"]
    let input = Pipe(), errors = Pipe()
    process.standardInput = input
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    input.fileHandleForWriting.write(Data(source.utf8))
    try? input.fileHandleForWriting.close()
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    if process.terminationStatus == 127 { return nil }  // env: python3 not found
    return process.terminationStatus == 0 ? nil : "the script is not valid Python: " + message
}

/// The `--option` names of a command line the export wrote.
func commandOptions(_ text: String) -> [String] {
    text.split(separator: "\n").filter { $0.hasPrefix("    --") }.map { String($0.dropFirst(6).prefix { $0 != " " }) }
}

@Suite struct ExportGoldenTests {
    @Test func loraRunForEachFrameworkMatchesTheExpectedFiles() throws {
        let run = try Runs.lora()
        try expectGolden(try run.render(for: .peft), "lora.py")
        try expectGolden(try run.render(for: .llamafactory), "lora.yaml")
        try expectGolden(try run.render(for: .swift), "lora.sh")
    }

    @Test func promptTuningScriptAndAdaLoraCommandMatchTheExpectedFiles() throws {
        try expectGolden(try Runs.promptTuning().render(for: .peft), "prompt-tuning.py")
        try expectGolden(try Runs.adalora().render(for: .swift), "adalora.sh")
    }

    @Test func everyLineFitsAndTheFrameworksGetOnlyTheirOwnKeys() throws {
        let runs = [try Runs.lora(), try Runs.adalora(), try Runs.promptTuning()]
        for run in runs {
            for target in ExportTarget.allCases {
                guard let text = try? run.render(for: target) else { continue }
                for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    #expect(line.count <= 120,
                            "\(run.source) --to \(target.rawValue) line \(n + 1): \(line.count) chars")
                    #expect(!line.contains("\t"), "\(run.source) --to \(target.rawValue) line \(n + 1) has a tab")
                }
                switch target {
                case .llamafactory:
                    let unknown = Set(yamlKeys(text)).subtracting(llamaFactoryKeys)
                    #expect(unknown.isEmpty, "keys LLaMA-Factory does not define: \(unknown.sorted())")
                case .swift:
                    let unknown = Set(commandOptions(text)).subtracting(msSwiftOptions)
                    #expect(unknown.isEmpty, "options ms-swift does not define: \(unknown.sorted())")
                case .peft:
                    let code = text.split(separator: "\n").map { $0.replacing(#/"(?:[^"\\]|\\.)*"/#, with: "") }
                        .joined(separator: "\n")  // the brackets outside string literals
                    for (open, close) in [("(", ")"), ("[", "]"), ("{", "}")] {
                        #expect(code.filter { String($0) == open }.count == code.filter { String($0) == close }.count,
                                "\(run.source): unbalanced \(open)\(close) in the script")
                    }
                    if let problem = pythonSyntaxProblem(text) { Issue.record("\(run.source): \(problem)") }
                }
            }
        }
    }

    @Test func qloraLoraPlusAndDoraReachEveryFramework() throws {
        var training = Runs.training("qlora")
        training.quantization = .init(quantType: "nf4", doubleQuant: true, blockSize: 64)
        training.optim = "paged_adamw_32bit"
        training.loraplusLrRatio = 16
        let config = LoraConfig(r: 16, loraAlpha: 32, targetModules: .allLinear, useRslora: true, useDora: true)
        let run = try Runs.run(config, training, "qlora")
        let script = try run.render(for: .peft)
        #expect(script.contains("BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=\"nf4\""))
        #expect(script.contains("bitsandbytes.optim.PagedAdamW32bit("))
        #expect(script.contains("\"lr\": lr * TRAINING_ARGS[\"loraplus_lr_ratio\"]"))
        #expect(script.contains("target_modules=\"all-linear\",") && script.contains("use_dora=True,"))
        let yaml = try run.render(for: .llamafactory)
        for line in ["quantization_bit: 4", "quantization_type: nf4", "double_quantization: true", "lora_target: all",
                     "use_rslora: true", "use_dora: true", "loraplus_lr_ratio: 16.0", "optim: paged_adamw_32bit"] {
            #expect(yaml.contains("\n" + line + "\n"), "\(line)")
        }
        let command = try run.render(for: .swift)
        for option in ["--quant_bits 4", "--bnb_4bit_use_double_quant true", "--target_modules all-linear",
                       "--use_dora true", "--lorap_lr_ratio 16.0", "--optim paged_adamw_32bit"] {
            #expect(command.contains("    " + option + " \\"), "\(option)")
        }
    }

    @Test func aTokenBatchRunKeepsItsConstantScheduleWithoutClipping() throws {
        var training = Runs.training("lora", steps: 12)
        training.dataFormat = .tokenBatch
        training.data = "/golden/batch.json"
        training.lrSchedulerType = "constant"
        training.warmupSteps = 0
        training.maxGradNorm = nil
        training.optim = "sgd"
        let run = try Runs.run(LoraConfig(), training, "batch")
        #expect(run.notes.contains { $0.contains("pre-tokenised batch") })
        let script = try run.render(for: .peft)
        #expect(script.contains("return 1.0") && !script.contains("clip_grad_norm_"))
        #expect(script.contains("torch.optim.SGD(params, lr=TRAINING_ARGS[\"learning_rate\"])"))
        #expect(script.contains("parser.add_argument(\"--data\", default=None,"))
        let yaml = try run.render(for: .llamafactory)
        #expect(yaml.contains("\nmax_grad_norm: 0.0  # 0: no clipping\n") && yaml.contains("\noptim: sgd\n"))
        #expect(yaml.contains("\nlr_scheduler_type: constant\n") && !yaml.contains("adam_beta1"))
        #expect(try run.render(for: .swift).contains("    --max_grad_norm 0 \\"))
    }
}

/// Every option of a run, set away from its default, and where each framework's file must carry it: the
/// README's table ("From the notebook to the frameworks"), row by row. nil: the framework has no such key
/// (the row's note in the README says what it does instead).
struct Mapping: Sendable, CustomTestStringConvertible {
    var option: String
    var script: String
    var yaml: String?
    var command: String?
    var testDescription: String { option }
}

@Suite struct ExportMappingTests {
    /// A LoRA run with no setting left at peft train's default.
    func run() throws -> ExportedRun {
        let training = TrainingRecord(method: "qlora", modelNameOrPath: Runs.base, data: "/data/d.jsonl",
                                      dataFormat: .alpaca, maxSteps: 40, perDeviceTrainBatchSize: 4,
                                      learningRate: 5e-4, warmupSteps: 7, maxGradNorm: 0.5, optim: "paged_adamw_32bit",
                                      loraplusLrRatio: 4, seed: 7, cutoffLen: 96,
                                      quantization: .init(quantType: "fp4", doubleQuant: false, blockSize: 64))
        let config = LoraConfig(r: 4, loraAlpha: 24, loraDropout: 0.05, targetModules: .names(["o_proj", "k_proj"]),
                                useRslora: true, initLoraWeights: .pissa, useDora: true)
        return try Runs.run(config, training, "mapped")
    }

    static let rows: [Mapping] = [
        Mapping(option: "--model", script: #""model_name_or_path": "/models/small-corpus2","#,
                yaml: "model_name_or_path: /models/small-corpus2", command: "--model /models/small-corpus2"),
        Mapping(option: "--r", script: "r=4,", yaml: "lora_rank: 4", command: "--lora_rank 4"),
        Mapping(option: "--alpha", script: "lora_alpha=24,", yaml: "lora_alpha: 24", command: "--lora_alpha 24"),
        Mapping(option: "--dropout", script: "lora_dropout=0.05,", yaml: "lora_dropout: 0.05",
                command: "--lora_dropout 0.05"),
        Mapping(option: "--target-modules", script: #"target_modules=["k_proj", "o_proj"],"#,
                yaml: "lora_target: k_proj,o_proj", command: "--target_modules k_proj o_proj"),
        Mapping(option: "--use-rslora", script: "use_rslora=True,", yaml: "use_rslora: true",
                command: "--use_rslora true"),
        Mapping(option: "--use-dora", script: "use_dora=True,", yaml: "use_dora: true", command: "--use_dora true"),
        Mapping(option: "--init-lora-weights", script: #"init_lora_weights="pissa","#, yaml: "pissa_init: true",
                command: "--init_weights pissa"),
        Mapping(option: "--loraplus-ratio", script: #""loraplus_lr_ratio": 4,"#, yaml: "loraplus_lr_ratio: 4.0",
                command: "--lorap_lr_ratio 4.0"),
        Mapping(option: "--quant-type", script: #"bnb_4bit_quant_type="fp4""#, yaml: "quantization_type: fp4",
                command: "--bnb_4bit_quant_type fp4"),
        Mapping(option: "--no-double-quant", script: "bnb_4bit_use_double_quant=False",
                yaml: "double_quantization: false", command: "--bnb_4bit_use_double_quant false"),
        Mapping(option: "--paged-optimizer", script: "bitsandbytes.optim.PagedAdamW32bit(",
                yaml: "optim: paged_adamw_32bit", command: "--optim paged_adamw_32bit"),
        Mapping(option: "--steps", script: #""max_steps": 40,"#, yaml: "max_steps: 40", command: "--max_steps 40"),
        Mapping(option: "--lr", script: #""learning_rate": 0.0005,"#, yaml: "learning_rate: 0.0005",
                command: "--learning_rate 0.0005"),
        Mapping(option: "--batch-size", script: #""per_device_train_batch_size": 4,"#,
                yaml: "per_device_train_batch_size: 4", command: "--per_device_train_batch_size 4"),
        Mapping(option: "--seed", script: #""seed": 7,"#, yaml: "seed: 7", command: "--seed 7"),
        Mapping(option: "(warm-up: a tenth of --steps)", script: #""warmup_steps": 7,"#, yaml: "warmup_steps: 7",
                command: "--warmup_steps 7"),
        Mapping(option: "(clipping)", script: #""max_grad_norm": 0.5,"#, yaml: "max_grad_norm: 0.5",
                command: "--max_grad_norm 0.5"),
        Mapping(option: "(the base's positions)", script: #""cutoff_len": 96,"#, yaml: "cutoff_len: 96",
                command: "--max_length 96"),
        Mapping(option: "--data", script: #""data": "/data/d.jsonl","#, yaml: "dataset_dir: /data",
                command: "--dataset /data/d.jsonl"),
    ]

    @Test(arguments: rows) func everyOptionReachesEachFramework(_ row: Mapping) throws {
        let exported = try run()
        let script = try exported.render(for: .peft)
        #expect(script.contains(row.script), "\(row.option): the script lacks \(row.script)")
        if let key = row.yaml {
            let yaml = try exported.render(for: .llamafactory)
            #expect(yaml.split(separator: "\n").contains { $0 == key || $0.hasPrefix(key + "  #") },
                    "\(row.option): the YAML lacks \(key)")
        }
        if let option = row.command {
            let command = try exported.render(for: .swift)
            #expect(command.contains("    \(option) \\\n") || command.hasSuffix("    \(option)\n"),
                    "\(row.option): the command lacks \(option)")
        }
    }

    @Test func theScriptReadsEveryRecordedSettingFromTrainingArgs() throws {
        let script = try run().render(for: .peft)
        for key in TrainingRecord.CodingKeys.allCases.map(\.stringValue) {
            #expect(script.contains("    \"\(key)\": "), "TRAINING_ARGS lacks \(key)")
        }
        for use in [#"TRAINING_ARGS["adam_beta1"]"#, #"TRAINING_ARGS["adam_epsilon"]"#,
                    #"TRAINING_ARGS["weight_decay"]"#, #"TRAINING_ARGS["max_grad_norm"]"#,
                    #"TRAINING_ARGS["per_device_train_batch_size"]"#, #"TRAINING_ARGS["seed"]"#,
                    #"TRAINING_ARGS["loraplus_lr_ratio"]"#] {
            #expect(script.contains(use), "the script never reads \(use)")
        }
    }
}

@Suite struct ExportErrorTests {
    func message(_ run: ExportedRun, _ target: ExportTarget) -> String {
        do {
            _ = try run.render(for: target)
            return "(no error)"
        } catch {
            return "\(error)"
        }
    }

    @Test func methodsAFrameworkLacksAreErrorsThatNameTheWayOut() throws {
        let adalora = message(try Runs.adalora(), .llamafactory)
        #expect(adalora.contains("LLaMA-Factory cannot repeat this run: AdaLoRA is not one of LLaMA-Factory's methods"))
        #expect(adalora.contains("Use --to peft"))
        let prompt = try Runs.promptTuning()
        #expect(message(prompt, .llamafactory).contains("PROMPT_TUNING is a prompt method; LLaMA-Factory's "
            + "finetuning_type is lora, oft, freeze or full"))
        #expect(message(prompt, .swift).contains("ms-swift cannot repeat this run: PROMPT_TUNING is a prompt method"))
        let promptConfigs: [any PeftConfig] = [PrefixTuningConfig(numVirtualTokens: 10),
                                               PromptEncoderConfig(numVirtualTokens: 10)]
        for config in promptConfigs {
            let run = try Runs.run(config, Runs.training("prefix"), "p")
            #expect(message(run, .swift).contains("is a prompt method"))
            #expect(message(run, .llamafactory).contains("is a prompt method"))
            #expect(message(run, .peft) == "(no error)")
        }
    }

    @Test func loraFieldsAFrameworkLacksAreErrorsEachNamed() throws {
        var config = LoraConfig(r: 8, loraAlpha: 12.5, targetModules: .regex(".*layers\\.[01]\\..*q_proj"),
                                layersToTransform: [0, 1], rankPattern: ["q_proj": 4], initLoraWeights: .gaussian)
        let run = try Runs.run(config, Runs.training("lora"), "odd")
        let lf = message(run, .llamafactory)
        for part in ["layers_to_transform [0, 1] has no LLaMA-Factory option", "rank_pattern {\"q_proj\": 4}",
                     "regular expression", "lora_alpha 12.5 is not a whole number", "init_lora_weights gaussian"] {
            #expect(lf.contains(part), "\(part): \(lf)")
        }
        let ms = message(run, .swift)
        #expect(ms.contains("layers_to_transform [0, 1] has no ms-swift option") && ms.contains("rank_pattern"))
        #expect(!ms.contains("regular expression") && !ms.contains("gaussian"), "\(ms)")
        config.shared.layersToTransform = nil
        config.rankPattern = [:]
        let fine = try Runs.run(config, Runs.training("lora"), "odd")
        let command = try fine.render(for: .swift)
        #expect(command.contains("--target_regex '.*layers\\.[01]\\..*q_proj' \\"), "\(command)")
        #expect(command.contains("--init_weights gaussian \\") && command.contains("--lora_alpha 12.5 \\"))
        #expect(try fine.render(for: .peft).contains("init_lora_weights=\"gaussian\","))
    }

    @Test func aBaseQuantizedInOtherBlocksThanBitsandbytesIsAnError() throws {
        var training = Runs.training("qlora")
        training.quantization = .init(quantType: "nf4", doubleQuant: true, blockSize: 128)
        let run = try Runs.run(LoraConfig(), training, "q")
        for target in ExportTarget.allCases {
            #expect(message(run, target).contains("quantized in blocks of 128"), "\(target)")
        }
    }
}

@Suite struct TrainingRecordTests {
    func folder() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("peft-export-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func theRecordReadsBackAndMissingKeysTakePeftTrainsValues() throws {
        let dir = folder()
        let record = Runs.training("lora")
        try record.write(to: dir)
        let url = dir.appendingPathComponent(TrainingRecord.fileName)
        #expect(try TrainingRecord.read(contentsOf: url) == record)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("\"max_grad_norm\" : 1") && text.contains("\"quantization\" : null"))
        let minimal = #"{"method": "lora", "max_steps": 50, "per_device_train_batch_size": 8, "learning_rate": 0.001, "#
            + #""warmup_steps": 5}"#
        try Data(minimal.utf8).write(to: url)
        let read = try TrainingRecord.read(contentsOf: url)
        #expect(read.maxGradNorm == 1 && read.optim == "adamw_torch" && read.lrSchedulerType == "cosine")
        #expect(read.weightDecay == 0 && read.seed == 0 && read.adamEpsilon == 1e-8)
    }

    @Test func aDamagedRecordIsAnErrorNamingTheFileAndTheKey() throws {
        let url = folder().appendingPathComponent(TrainingRecord.fileName)
        for (text, problem) in [
            (#"{"method": "lora", "max_steps": "many"}"#, "max_steps must be an integer"),
            (#"{"method": "lora", "per_device_train_batch_size": 8, "learning_rate": 0.1, "warmup_steps": 1}"#,
             "max_steps is missing"),
            (#"{"method": "lora", "max_steps": 10, "per_device_train_batch_size": 8, "learning_rate": 0.1, "#
                + #""warmup_steps": 1, "lr_scheduler_type": "linear"}"#, "lr_scheduler_type must be \"cosine\""),
            (#"{"method": "lora", "max_steps": 10, "per_device_train_batch_size": 8, "learning_rate": 0.1, "#
                + #""warmup_steps": 20}"#, "warmup_steps must be between 0 and max_steps (10), got 20"),
            ("{oops", "training_args.json"),
        ] {
            try Data(text.utf8).write(to: url)
            do {
                _ = try TrainingRecord.read(contentsOf: url)
                Issue.record("no error for \(text)")
            } catch {
                #expect("\(error)".contains(url.path) && "\(error)".contains(problem), "\(error)")
            }
        }
    }

    @Test func withoutARecordTheExportAssumesPeftTrainsDefaultsAndSaysSo() throws {
        let dir = folder()
        var config = AdaLoraConfig(totalStep: 120)
        config.baseModelNameOrPath = "/models/base"
        try AdapterFolder.write(config, tensors: [:], to: dir)
        let run = try ExportedRun.load(adapter: dir)
        #expect(run.training.maxSteps == 120 && run.training.warmupSteps == 12 && run.training.method == "adalora")
        #expect(run.baseModel == "/models/base")
        let note = try #require(run.notes.first)
        #expect(note.contains("has no training_args.json")
            && note.contains("assuming peft train's defaults, 120 steps, learning rate 0.002, batch 16, seed 0, "
                + "warm-up over 12 steps then cosine decay"), "\(note)")
        #expect(try run.render(for: .swift).contains("# - " + String(note.prefix(40))))
        try Runs.training("adalora", steps: 120).write(to: dir)
        #expect(try ExportedRun.load(adapter: dir).notes.isEmpty)
    }

    @Test func configFieldsAreTheSettingsARunStartsFrom() throws {
        var prompt = PromptTuningConfig(numVirtualTokens: 20)
        prompt.virtualTokens.tokenDim = 128
        prompt.virtualTokens.numLayers = 4
        let fields = try ConfigFields(prompt)
        #expect(fields.fields.map(\.key) == ["num_virtual_tokens", "prompt_tuning_init"])
        #expect(fields.pythonClass == "PromptTuningConfig")
        let adalora = try ConfigFields(AdaLoraConfig(totalStep: 10, rankPattern: ["m.lora_E": Array(repeating: true,
                                                                                                   count: 12)]))
        #expect(adalora["rank_pattern"] == nil && adalora["total_step"] == .integer(10))
        #expect(JSONValue.number(0.002).python == "0.002" && JSONValue.number(1e-8).python == "1e-08")
        #expect(JSONValue.number(16).python == "16.0" && JSONValue.bool(true).python == "True")
        #expect(JSONValue.object(["b": .null, "a": .array([.string("x\"y")])]).python == #"{"a": ["x\"y"], "b": None}"#)
        #expect(yamlFloat(0.002) == "0.002" && yamlFloat(1e-8) == "1.0e-8" && yamlFloat(2e-5) == "2.0e-5")
        #expect(yamlString("/data/my file.jsonl") == "\"/data/my file.jsonl\"")
        #expect(yamlString("saves/lora") == "saves/lora")
        #expect(shellWord("it's") == "'it'\\''s'" && shellWord("/models/base") == "/models/base")
    }
}
