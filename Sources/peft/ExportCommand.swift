// ExportCommand.swift — `peft export`: the run that made an adapter, written for the frameworks a user
// moves to — a Python script for Hugging Face transformers + peft, LLaMA-Factory's YAML, ms-swift's
// command line. What a framework cannot express is an error that says so, never a made-up key.

import ArgumentParser
import Export
import Foundation
import PEFT
import SafeTensors
import TensorKit

extension ExportTarget: ExpressibleByArgument {}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write an adapter's training run for Hugging Face PEFT, LLaMA-Factory or ms-swift.",
        discussion: """
        The run is the adapter's adapter_config.json (any method) plus the training_args.json that `peft train` \
        writes beside it (without it, peft train's defaults are assumed and the file says so). --to peft writes a \
        Python script (transformers + peft) that trains the same configuration with the same recipe and saves a \
        PEFT adapter `peft forward --adapter` loads; --to llamafactory writes the YAML for `llamafactory-cli train` \
        (LoRA only: LLaMA-Factory has no AdaLoRA or prompt methods); --to swift writes the `swift sft` command \
        line (LoRA and AdaLoRA). The README's "From the notebook to the frameworks" maps every option.
        """)

    @Option(help: "The adapter folder (adapter_config.json, and training_args.json from `peft train`).")
    var adapter: String
    @Option(help: "The framework: \(ExportTarget.allCases.map(\.rawValue).joined(separator: ", ")).")
    var to: ExportTarget
    @Option(help: "The file to write (a .py script, a .yaml file or a .sh command line).") var out: String

    func run() throws {
        let exported = try ExportedRun.load(adapter: URL(fileURLWithPath: adapter))
        for note in exported.notes { printToStandardError("note: " + note) }
        let text = try exported.render(for: to)  // an ExportError says what the framework lacks; exit code 1
        let url = URL(fileURLWithPath: out)
        try writeAtomically(Data(text.utf8), to: url)
        if to != .llamafactory {  // a script and a command line are meant to be run
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
        let kind = exported.fields.peftType.rawValue
        let usage = switch to {
        case .peft: "python \(out) --model BASE --data DATA.jsonl --output-dir DIR [--max-steps N]"
        case .llamafactory:
            "llamafactory-cli train \(out)  (register the data in dataset_info.json first: see the file)"
        case .swift: "bash \(out)  (with ms-swift installed)"
        }
        print("wrote the \(kind) run for \(to.frameworkName) → \(out)\n  run it: \(usage)")
    }
}
