// PEFTCommand.swift — the `peft` command-line tool.

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
        abstract: "Show a model's config, parameter count and the module names a PEFT method can target.")

    @Argument(help: "A model folder in the Hugging Face layout (config.json, model.safetensors).")
    var model: String

    func run() throws {
        let m = try LlamaModel.load(from: URL(fileURLWithPath: model))
        let c = m.config
        print("""
        LlamaForCausalLM  \(model)
          vocab_size \(c.vocabSize), hidden_size \(c.hiddenSize), intermediate_size \(c.intermediateSize)
          num_hidden_layers \(c.numHiddenLayers), num_attention_heads \(c.numAttentionHeads), num_key_value_heads \(c.numKeyValueHeads), head_dim \(c.headDim)
          rms_norm_eps \(c.rmsNormEps), rope_theta \(c.ropeTheta), tie_word_embeddings \(c.tieWordEmbeddings)
          parameters: \(formatCount(m.parameterCount))

        Linear modules (target them by full name, by the last part, or by a regex):
        """)
        for slot in m.linearSlots {
            let w = slot.layer.base.weight
            print("  \(slot.name.padding(toLength: 40, withPad: " ", startingAt: 0)) [\(w.shape[0]), \(w.shape[1])]")
        }
        let kinds = Array(Set(m.linearSlots.map { String($0.name.split(separator: ".").last!) })).sorted()
        print("\nShort names: \(kinds.joined(separator: ", "))  (\"all-linear\" = all but lm_head)")
    }
}

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a batch through a model; write logits, loss and (with --grads) every parameter's gradient.")

    @Option(help: "A model folder in the Hugging Face layout.") var model: String
    @Option(help: "A batch JSON file: {\"input_ids\": [[...]], \"labels\": [[...]]}.") var batch: String
    @Option(help: "The safetensors file to write.") var out: String
    @Flag(help: "Also write grad.<parameter name> for every trainable parameter.") var grads = false
    @Option(help: "A PEFT LoRA adapter folder: logits with the adapter, grad.<adapter key> and merged_logits.") var adapter: String?

    func run() throws {
        do {
            let m = try LlamaModel.load(from: URL(fileURLWithPath: model))
            let b = try TokenBatch.load(contentsOf: URL(fileURLWithPath: batch), vocabSize: m.config.vocabSize)
            let file: SafeTensorsFile
            if let adapter {
                let lora = try LoraModel.load(from: URL(fileURLWithPath: adapter), onto: m)
                print(lora.trainableReport)
                file = lora.forwardReport(b)
            } else {
                file = m.forwardReport(b, gradients: grads)
            }
            try file.write(to: URL(fileURLWithPath: out))
            let gradients = file.tensors.keys.filter { $0.hasPrefix("grad.") }.count
            print("loss \(file["loss"]!.values[0])  logits \(file["logits"]!.shape)\(gradients > 0 ? "  + \(gradients) gradients" : "")  → \(out)")
        }
    }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a model folder (F32/F16/BF16, one file or shards) and save it as one F32 model.safetensors.")

    @Option(help: "The model folder to read.") var model: String
    @Option(help: "The folder to write (config.json, model.safetensors).") var out: String

    func run() throws {
        do {
            let m = try LlamaModel.load(from: URL(fileURLWithPath: model))
            try m.save(to: URL(fileURLWithPath: out))
            print("saved \(formatCount(m.parameterCount)) parameters → \(out)")
        }
    }
}

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge a LoRA adapter into its base model and save a plain model in the Hugging Face layout.")

    @Option(help: "The base model folder.") var model: String
    @Option(help: "The PEFT LoRA adapter folder.") var adapter: String
    @Option(help: "The folder for the merged model.") var out: String

    func run() throws {
        let m = try LlamaModel.load(from: URL(fileURLWithPath: model))
        let lora = try LoraModel.load(from: URL(fileURLWithPath: adapter), onto: m)
        let merged = lora.mergeAndUnload()
        let outURL = URL(fileURLWithPath: out)
        try merged.save(to: outURL)
        let tokenizer = URL(fileURLWithPath: model).appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: tokenizer.path) {
            try writeAtomically(Data(contentsOf: tokenizer), to: outURL.appendingPathComponent("tokenizer.json"))
        }
        print("merged \(lora.adapters.count) LoRA layers (r = \(lora.config.r)) into \(formatCount(merged.parameterCount)) parameters → \(out)")
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
