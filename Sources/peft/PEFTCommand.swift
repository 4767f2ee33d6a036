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
        subcommands: [Info.self, Forward.self, Pretrain.self, Train.self, Merge.self, Convert.self, Quantize.self,
                      Tokenize.self, Generate.self, Bench.self, ExportCommand.self])
}

// Errors thrown by a command (FileFormatError among them) are printed by ArgumentParser as one
// line, "Error: <file>: <problem>", with exit code 1.

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model folder (config, parameters, module names to target) or an adapter folder.")

    @Argument(help: "A model folder (config.json, model.safetensors) or a PEFT adapter folder (adapter_config.json).")
    var folder: String
    @Option(help: "For an adapter: the base model folder, to print PEFT's trainable-parameter report.")
    var model: String?

    func run() throws {
        let url = URL(fileURLWithPath: folder)
        if FileManager.default.fileExists(atPath: url.appendingPathComponent(AdapterFolder.configName).path) {
            try describeAdapter(url)
        } else {
            try describeModel(url)
        }
    }

    func describeModel(_ url: URL) throws {
        let m = try loadModel(from: url)
        let c = m.config
        print("""
        LlamaForCausalLM  \(folder)
          vocab_size \(c.vocabSize), hidden_size \(c.hiddenSize), intermediate_size \(c.intermediateSize)
          num_hidden_layers \(c.numHiddenLayers), num_attention_heads \(c.numAttentionHeads), \
        num_key_value_heads \(c.numKeyValueHeads), head_dim \(c.headDim)
          rms_norm_eps \(c.rmsNormEps), rope_theta \(c.ropeTheta), tie_word_embeddings \(c.tieWordEmbeddings)
          parameters: \(formatCount(m.parameterCount)), weights \(formatBytes(m.weightBytes))\(quantization(m))

        Linear modules (target them by full name, by the last part, or by a regex):
        """)
        for slot in m.linearSlots {
            print("  \(slot.name.padding(toLength: 40, withPad: " ", startingAt: 0)) "
                  + "[\(slot.layer.outFeatures), \(slot.layer.inFeatures)]")
        }
        print("\nShort names: \(moduleKinds(m).joined(separator: ", "))  (\"all-linear\" = all but lm_head)")
    }

    /// ", 4-bit NF4 + double quantization (blocks of 64, 4.127 bits a weight) in 14 layers", or "".
    func quantization(_ m: LlamaModel) -> String {
        guard let first = m.quantizedLayers.first?.layer.weight else { return "" }
        let count = m.quantizedLayers.reduce(0) { $0 + $1.layer.weight.count }
        let bytes = m.quantizedLayers.reduce(0) { $0 + $1.layer.weight.storageBytes }
        let dq = first.settings.doubleQuantization ? " + double quantization" : ""
        let kind = first.settings.type.rawValue.uppercased() + dq
        return "\n  4-bit " + kind
            + String(format: " (blocks of %d, %.3f bits a weight) in %d layers", first.settings.blockSize,
                     8 * Double(bytes) / Double(count), m.quantizedLayers.count)
    }

    func describeAdapter(_ url: URL) throws {
        let config = try AdapterFolder.config(in: url)
        let weightsURL = url.appendingPathComponent(AdapterFolder.weightsName)
        let weights = try SafeTensorsFile.read(contentsOf: weightsURL)
        print("PEFT adapter  \(folder)")
        print("  peft_type \(type(of: config).peftType.rawValue); "
              + "base_model_name_or_path \(config.baseModelNameOrPath ?? "not recorded")")
        print("  adapter_config.json:")
        print(String(decoding: try AdapterConfigFile.json(config), as: UTF8.self).split(separator: "\n")
            .map { "    " + $0 }.joined(separator: "\n"))
        let values = weights.tensors.values.reduce(0) { $0 + $1.values.count }
        print("  adapter_model.safetensors: \(weights.tensors.count) tensors, \(formatCount(values)) values, "
              + "\(formatBytes(folderSize(url)))")
        for key in weights.tensors.keys.sorted().prefix(12) { print("    \(key) \(weights[key]!.shape)") }
        if weights.tensors.count > 12 { print("    … \(weights.tensors.count - 12) more") }
        if let model {
            let tuner = try AdapterFolder.load(from: url, onto: try loadModel(from: URL(fileURLWithPath: model)))
            print("  " + tuner.trainableReport)
            print("  mergeable into the base weights: \(tuner.canMerge ? "yes" : "no")")
        }
    }
}

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a batch through a model (and an adapter); write logits, loss and gradients as safetensors.")

    @Option(help: "A model folder in the Hugging Face layout (float, or bitsandbytes 4-bit).") var model: String
    @Option(help: "A batch JSON file: {\"input_ids\": [[...]], \"labels\": [[...]]}.") var batch: String
    @Option(help: "The safetensors file to write.") var out: String
    @Flag(help: "Without --adapter: also write grad.<parameter name> for every parameter.") var grads = false
    @Option(help: """
        A PEFT adapter folder (any method): the logits PEFT returns, grad.<name> of every trainable tensor, \
        merged_logits when it merges.
        """)
    var adapter: String?
    @Option(help: ArgumentHelp("The task of each row, comma-separated (multitask prompt tuning's task_ids; overrides "
        + "the batch file's \"task_ids\")."))
    var taskIds: String?

    func run() throws {
        let m = try loadModel(from: URL(fileURLWithPath: model))
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
        print("loss \(file["loss"]!.values[0])  logits \(file["logits"]!.shape)"
              + "\(gradients > 0 ? "  + \(gradients) gradients" : "")  → \(out)")
    }
}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a model folder (F32/F16/BF16 or bitsandbytes 4-bit, one file or shards) and save it as one F32 "
            + "model.safetensors.",
        discussion: "A 4-bit model is dequantized: the result holds the values the 4-bit layers compute with.")

    @Option(help: "The model folder to read.") var model: String
    @Option(help: "The folder to write (config.json, model.safetensors).") var out: String

    func run() throws {
        let m = try loadModel(from: URL(fileURLWithPath: model))
        try m.dequantizeLinearLayers()
        try m.save(to: URL(fileURLWithPath: out))
        print("saved \(formatCount(m.parameterCount)) parameters → \(out)")
    }
}

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge an adapter into its base model (LoRA family) and save a plain model "
            + "in the Hugging Face layout.",
        discussion: """
        On a 4-bit base the merge re-quantizes each layer (W ← quantize(dequantize(W) + ΔW), as PEFT does) and \
        saves a 4-bit folder; the rounding changes the outputs a little. --dequantize merges into a float32 copy \
        of the base instead, which keeps the adapted model's outputs.
        """)

    @Option(help: "The base model folder (float, or bitsandbytes 4-bit).") var model: String
    @Option(help: "The PEFT adapter folder.") var adapter: String
    @Option(help: "The folder for the merged model.") var out: String
    @Flag(help: "With a 4-bit base: dequantize it to float32 first and merge there (no re-quantization).")
    var dequantize = false

    func run() throws {
        let modelURL = URL(fileURLWithPath: model), outURL = URL(fileURLWithPath: out)
        let base = try loadModel(from: modelURL)
        if dequantize { try base.dequantizeLinearLayers() }
        let tuner = try AdapterFolder.load(from: URL(fileURLWithPath: adapter), onto: base)
        let merged = try tuner.mergeAndUnload()
        let fourBit = !merged.quantizedLayers.isEmpty
        if fourBit {
            try QuantizedCheckpoint.save(merged, to: outURL, base: try QuantizedCheckpoint.configObject(in: modelURL))
        } else {
            try merged.save(to: outURL)
        }
        try copyModelExtras(from: modelURL, to: outURL)
        let method = tuner.peftConfig.map { type(of: $0).peftType.rawValue } ?? "adapter"
        print("merged the \(method) adapter into \(formatCount(merged.parameterCount)) parameters"
              + (fourBit ? " (re-quantized to 4 bits)" : "") + " → \(out)")
    }
}

/// Copies tokenizer.json, tokenizer_config.json and generation_config.json from one model folder to
/// another, where present.
func copyModelExtras(from source: URL, to destination: URL) throws {
    for name in ["tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
        let file = source.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: file.path) {
            try writeAtomically(Data(contentsOf: file), to: destination.appendingPathComponent(name))
        }
    }
}

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how a model folder's tokenizer.json splits a text into tokens.",
        discussion: """
        Prints the ids (with the special tokens the tokenizer adds, as `tokenizers`' encode(text) and \
        `transformers`' tokenizer(text) do), each token's text, and what the tokenizer is.
        """)

    @Option(help: "A model folder with tokenizer.json.") var model: String
    @Flag(help: "Leave out the special tokens the post-processor adds (add_special_tokens=False).")
    var withoutSpecialTokens = false
    @Argument(help: "The text to encode.") var text: String

    func run() throws {
        let tokenizer = try Tokenizer.load(modelFolder: URL(fileURLWithPath: model))
        let ids = tokenizer.encode(text, addingSpecialTokens: !withoutSpecialTokens)
        print(ids.map(String.init).joined(separator: " "))
        print(ids.map {
            "[" + tokenizer.decode([$0], skippingSpecialTokens: false).replacingOccurrences(of: "\n", with: "\\n") + "]"
        }.joined())
        print("tokenizer: \(tokenizer.summary)")
    }
}
