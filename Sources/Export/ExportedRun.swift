// ExportedRun.swift — one `peft train` run as the export sees it: the adapter's configuration (any
// method), the training settings recorded beside it (or `peft train`'s defaults, said aloud), and the
// frameworks it can be written for.

import Foundation
import PEFT
import SafeTensors

/// The frameworks `peft export` writes for.
public enum ExportTarget: String, CaseIterable, Sendable {
    /// Hugging Face transformers + peft: a Python training script.
    case peft
    /// LLaMA-Factory: a YAML file for `llamafactory-cli train`.
    case llamafactory
    /// ms-swift: a `swift sft` command line.
    case swift

    /// The framework's name in messages.
    public var frameworkName: String {
        switch self {
        case .peft: "Hugging Face PEFT"
        case .llamafactory: "LLaMA-Factory"
        case .swift: "ms-swift"
        }
    }
}

/// What a framework cannot express of a run, with the way out.
public struct ExportError: Error, CustomStringConvertible, Equatable {
    public var target: ExportTarget
    public var problems: [String]

    public init(_ target: ExportTarget, _ problems: [String]) {
        self.target = target; self.problems = problems
    }

    public var description: String {
        "\(target.frameworkName) cannot repeat this run: " + problems.joined(separator: "; ")
            + (target == .peft ? "" : ". Use --to peft: the PEFT script carries every field of adapter_config.json")
    }
}

/// A run to export: the adapter's configuration and the training settings.
public struct ExportedRun {
    /// The adapter's configuration, whatever the method.
    public var config: any PeftConfig
    /// Its fields as adapter_config.json writes them (what a fresh run starts from).
    public var fields: ConfigFields
    /// The training settings (training_args.json, or `peft train`'s defaults).
    public var training: TrainingRecord
    /// The adapter folder, as given (named in the files' headers).
    public var source: String
    /// What the export assumed or could not carry, said in the file and printed.
    public var notes: [String]

    public init(config: any PeftConfig, training: TrainingRecord, source: String, notes: [String] = []) throws {
        self.config = config
        self.fields = try ConfigFields(config)
        self.training = training
        self.source = source
        self.notes = notes
        switch training.dataFormat {
        case .task?:
            self.notes.append("the run trained on the embedded task \(training.data ?? "?"); the frameworks "
                + "train on a file, so give them Alpaca records")
        case .tokenBatch?:
            self.notes.append("the run trained on a pre-tokenised batch (\(training.data ?? "?")) with a constant "
                + "learning rate and no clipping; the frameworks train on Alpaca records with that schedule")
        case .alpaca?, nil: break
        }
    }

    /// The `peft train --method` name a config stands for when no training_args.json says it.
    public static func methodName(_ type: PeftType) -> String {
        switch type {
        case .lora: "lora"
        case .adalora: "adalora"
        case .promptTuning: "prompt-tuning"
        case .prefixTuning: "prefix-tuning"
        case .pTuning: "p-tuning"
        case .multitaskPromptTuning: "mpt"
        }
    }

    /// Reads the adapter folder: adapter_config.json, and training_args.json when `peft train` wrote it.
    /// Without it the export assumes `peft train`'s defaults (AdaLoRA: its total_step as the steps) and notes so.
    public static func load(adapter folder: URL) throws -> ExportedRun {
        let config = try AdapterFolder.config(in: folder)
        let recordURL = folder.appendingPathComponent(TrainingRecord.fileName)
        if FileManager.default.fileExists(atPath: recordURL.path) {
            return try ExportedRun(config: config, training: try TrainingRecord.read(contentsOf: recordURL),
                                   source: folder.path)
        }
        let fields = try ConfigFields(config)
        var steps = TrainingRecord.defaultSteps
        if case .integer(let total)? = fields["total_step"], total > 0 { steps = total }
        var training = TrainingRecord.peftTrainDefaults(method: methodName(fields.peftType), steps: steps)
        training.modelNameOrPath = config.baseModelNameOrPath
        let note = "\(folder.path) has no \(TrainingRecord.fileName) (adapters trained before `peft train` wrote "
            + "it, or elsewhere): assuming peft train's defaults, \(training.describedDefaults)"
        return try ExportedRun(config: config, training: training, source: folder.path, notes: [note])
    }

    /// The base model folder: the one training used, else adapter_config.json's base_model_name_or_path.
    public var baseModel: String? { training.modelNameOrPath ?? config.baseModelNameOrPath }

    /// The Alpaca file the run trained on, if it trained on one.
    public var alpacaFile: String? { training.dataFormat == .alpaca ? training.data : nil }

    /// The adapter folder's last path component ("lora" for /adapters/lora), for default output names.
    var sourceName: String {
        let name = URL(fileURLWithPath: source).lastPathComponent
        return name.isEmpty || name == "/" ? "adapter" : name
    }

    /// The file for `target`.
    public func render(for target: ExportTarget) throws -> String {
        switch target {
        case .peft: try PeftScript(run: self).text()
        case .llamafactory: try LlamaFactoryConfig(run: self).text()
        case .swift: try MsSwiftCommand(run: self).text()
        }
    }
}
