// Pretrain.swift — `peft pretrain`: a base model pretrained on your own plain text.

import ArgumentParser
import Corpus
import Foundation
import Notebook
import TensorKit

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pretrain a base model (and its tokenizer) on a plain-text file; "
            + "save it in the Hugging Face layout.",
        discussion: "Documents are separated by blank lines; the last 5% are held out to measure the loss. "
            + "Without --text, the embedded corpus is used.")

    @Option(help: "A UTF-8 text file (documents separated by blank lines).") var text: String?
    @Option(help: "Size preset: tiny, small, medium, quick.") var preset = "small"
    @Option(help: "Training steps (default: the preset's).") var steps: Int?
    @Option(help: "Where to save config.json, model.safetensors, tokenizer.json.") var out: String
    @Option var seed: UInt64 = 0

    func run() throws {
        var p = try BasePreset.named(preset)
        if let steps { p.steps = steps }
        let documents: [String], heldOut: [String]
        if let text {
            let all = try loadTextCorpus(contentsOf: URL(fileURLWithPath: text))
            let cut = max(1, all.count - max(1, all.count / 20))
            (documents, heldOut) = cut < all.count ? (Array(all[..<cut]), Array(all[cut...])) : (all, all)
        } else {
            documents = World().pretrainingDocuments(count: p.documents, generator: Generator(seed: seed))
            heldOut = BaseModel.heldOutDocuments()
        }
        let base = try BaseModel.pretrain(p, documents: documents, heldOutDocuments: heldOut, seed: seed,
                                          into: URL(fileURLWithPath: out))
        print("base model: \(formatCount(base.model.parameterCount)) parameters, "
              + "vocabulary \(base.tokenizer.vocabularySize) → \(out)")
    }
}
