// PEFTCommand.swift — the `peft` command-line tool: inspect models and adapters, run a batch
// through them, merge, convert, tokenize. Every method's adapter goes through the same code:
// the folder's adapter_config.json says which method it is.

import ArgumentParser
import Foundation
import Corpus
import Llama
import Notebook
import PEFT
import SafeTensors
import TensorKit

@main
struct PEFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peft",
        abstract: "Parameter-efficient fine-tuning of LLaMA models on the CPU, in Swift.",
        subcommands: [Info.self, Forward.self, Pretrain.self, Train.self, Merge.self, Convert.self, Tokenize.self, Bench.self])
}

// Errors thrown by a command (FileFormatError among them) are printed by ArgumentParser as one
// line, "Error: <file>: <problem>", with exit code 1.

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model folder (config, parameters, module names to target) or an adapter folder.")

    @Argument(help: "A model folder (config.json, model.safetensors) or a PEFT adapter folder (adapter_config.json).")
    var folder: String
    @Option(help: "For an adapter: the base model folder, to print PEFT's trainable-parameter report.") var model: String?

    func run() throws {
        let url = URL(fileURLWithPath: folder)
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(AdapterFolder.configName).path) {
            try describeAdapter(url)
        } else {
            try describeModel(url)
        }
    }

    func describeModel(_ url: URL) throws {
        let m = try LlamaModel.load(from: url)
        let c = m.config
        print("""
        LlamaForCausalLM  \(folder)
          vocab_size \(c.vocabSize), hidden_size \(c.hiddenSize), intermediate_size \(c.intermediateSize)
          num_hidden_layers \(c.numHiddenLayers), num_attention_heads \(c.numAttentionHeads), \
        num_key_value_heads \(c.numKeyValueHeads), head_dim \(c.headDim)
          rms_norm_eps \(c.rmsNormEps), rope_theta \(c.ropeTheta), tie_word_embeddings \(c.tieWordEmbeddings)
          parameters: \(formatCount(m.parameterCount))

        Linear modules (target them by full name, by the last part, or by a regex):
        """)
        for slot in m.linearSlots {
            print("  \(slot.name.padding(toLength: 40, withPad: " ", startingAt: 0)) [\(slot.layer.outFeatures), \(slot.layer.inFeatures)]")
        }
        print("\nShort names: \(moduleKinds(m).joined(separator: ", "))  (\"all-linear\" = all but lm_head)")
    }

    func describeAdapter(_ url: URL) throws {
        let config = try AdapterFolder.config(in: url)
        let weightsURL = url.appendingPathComponent(AdapterFolder.weightsName)
        let weights = try SafeTensorsFile.read(contentsOf: weightsURL)
        print("PEFT adapter  \(folder)")
        print("  peft_type \(type(of: config).peftType.rawValue); base_model_name_or_path \(config.baseModelNameOrPath ?? "not recorded")")
        print("  adapter_config.json:")
        print(String(decoding: try AdapterConfigFile.json(config), as: UTF8.self).split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        let values = weights.tensors.values.reduce(0) { $0 + $1.values.count }
        print("  adapter_model.safetensors: \(weights.tensors.count) tensors, \(formatCount(values)) values, \(formatBytes(folderSize(url)))")
        for key in weights.tensors.keys.sorted().prefix(12) { print("    \(key) \(weights[key]!.shape)") }
        if weights.tensors.count > 12 { print("    … \(weights.tensors.count - 12) more") }
        if let model {
            let tuner = try AdapterFolder.load(from: url, onto: try LlamaModel.load(from: URL(fileURLWithPath: model)))
            print("  " + tuner.trainableReport)
            print("  mergeable into the base weights: \(tuner.canMerge ? "yes" : "no")")
        }
    }
}

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a batch through a model (and an adapter); write logits, loss and gradients as safetensors.")

    @Option(help: "A model folder in the Hugging Face layout.") var model: String
    @Option(help: "A batch JSON file: {\"input_ids\": [[...]], \"labels\": [[...]]}.") var batch: String
    @Option(help: "The safetensors file to write.") var out: String
    @Flag(help: "Without --adapter: also write grad.<parameter name> for every parameter.") var grads = false
    @Option(help: "A PEFT adapter folder (any method): the logits PEFT returns, grad.<name> of every trainable tensor, merged_logits when it merges.")
    var adapter: String?
    @Option(help: ArgumentHelp("The task of each row, comma-separated (multitask prompt tuning's task_ids; overrides "
        + "the batch file's \"task_ids\")."))
    var taskIds: String?

    func run() throws {
        let m = try LlamaModel.load(from: URL(fileURLWithPath: model))
        var b = try TokenBatch.load(contentsOf: URL(fileURLWithPath: batch), vocabSize: m.config.vocabSize)
        if let taskIds {
            let ids = taskIds.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard ids.count == b.batchSize, ids.allSatisfy({ ($0 ?? -1) >= 0 }) else {
                throw ValidationError("--task-ids needs \(b.batchSize) whole numbers ≥ 0, one per row of the batch, "
                    + "separated by commas (for example 2,0); got '\(taskIds)'")
            }
            b.taskIds = ids.compactMap { $0 }
        }
        let file: SafeTensorsFile
        if let adapter {
            let tuner = try AdapterFolder.load(from: URL(fileURLWithPath: adapter), onto: m)
            try tuner.check(b)
            print(tuner.trainableReport)
            file = try tuner.forwardReport(b)
        } else {
            file = m.forwardReport(b, gradients: grads)
        }
        try file.write(to: URL(fileURLWithPath: out))
        let gradients = file.tensors.keys.filter { $0.hasPrefix("grad.") }.count
        print("loss \(file["loss"]!.values[0])  logits \(file["logits"]!.shape)\(gradients > 0 ? "  + \(gradients) gradients" : "")  → \(out)")
    }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a model folder (F32/F16/BF16, one file or shards) and save it as one F32 model.safetensors.")

    @Option(help: "The model folder to read.") var model: String
    @Option(help: "The folder to write (config.json, model.safetensors).") var out: String

    func run() throws {
        let m = try LlamaModel.load(from: URL(fileURLWithPath: model))
        try m.save(to: URL(fileURLWithPath: out))
        print("saved \(formatCount(m.parameterCount)) parameters → \(out)")
    }
}

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge an adapter into its base model (LoRA family) and save a plain model in the Hugging Face layout.")

    @Option(help: "The base model folder.") var model: String
    @Option(help: "The PEFT adapter folder.") var adapter: String
    @Option(help: "The folder for the merged model.") var out: String

    func run() throws {
        let tuner = try AdapterFolder.load(from: URL(fileURLWithPath: adapter), onto: try LlamaModel.load(from: URL(fileURLWithPath: model)))
        let merged = try tuner.mergeAndUnload()
        let outURL = URL(fileURLWithPath: out)
        try merged.save(to: outURL)
        let tokenizer = URL(fileURLWithPath: model).appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: tokenizer.path) {
            try writeAtomically(Data(contentsOf: tokenizer), to: outURL.appendingPathComponent("tokenizer.json"))
        }
        let method = tuner.peftConfig.map { type(of: $0).peftType.rawValue } ?? "adapter"
        print("merged the \(method) adapter into \(formatCount(merged.parameterCount)) parameters → \(out)")
    }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show how a model folder's tokenizer.json splits a text into tokens.")

    @Option(help: "A model folder with tokenizer.json.") var model: String
    @Argument(help: "The text to encode.") var text: String

    func run() throws {
        let tokenizer = try Tokenizer.load(contentsOf: URL(fileURLWithPath: model).appendingPathComponent("tokenizer.json"))
        let ids = tokenizer.encode(text)
        print(ids.map(String.init).joined(separator: " "))
        print(ids.map { "[" + tokenizer.decode([$0]).replacingOccurrences(of: "\n", with: "\\n") + "]" }.joined())
    }
}
