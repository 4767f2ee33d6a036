// BaseModel.swift — the lessons' base models: the project's own presets (pretrained on the embedded
// corpus and cached in the Hugging Face layout), or the user's own LLaMA-architecture model folder.
//
// The cache lives in `.cache/base-models/<preset>-corpus<version>/` at the package root (git ignores it), or
// under `$PEFT_CACHE`. Each folder holds config.json, model.safetensors, tokenizer.json and
// pretraining.json (the run's settings, loss curve and held-out loss). A user's folder (`--base DIR`) is used
// as it is: no pretraining; its held-out loss is measured on the world's held-out documents, encoded with its
// own tokenizer.

import Corpus
import Foundation
import Llama
import SafeTensors
import TensorKit
import Training

/// A base-model size with its pretraining budget.
public struct BasePreset: Sendable {
    public var name: String
    public var hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int
    public var vocabularySize = 512
    public var sequenceLength = 64
    public var steps: Int, batchSize: Int = 32
    public var learningRate: Float = 3e-3
    public var documents: Int

    public static let tiny = BasePreset(name: "tiny", hiddenSize: 48, intermediateSize: 128, layers: 2, heads: 4,
                                        steps: 700, documents: 40_000)
    public static let small = BasePreset(name: "small", hiddenSize: 128, intermediateSize: 344, layers: 4, heads: 4,
                                         steps: 1400, documents: 80_000)
    public static let medium = BasePreset(name: "medium", hiddenSize: 256, intermediateSize: 688, layers: 6, heads: 8,
                                          steps: 1800, learningRate: 1.5e-3, documents: 100_000)
    /// The tiny shape with a short pretraining, for `--quick` runs and the tests.
    public static let quick = BasePreset(name: "quick", hiddenSize: 48, intermediateSize: 128, layers: 2, heads: 4,
                                         steps: 150, documents: 8_000)

    public static let all = [tiny, small, medium, quick]

    /// Pretraining's learning rate never decays below this share of its peak.
    static let learningRateFloor: Float = 0.05
    /// Pretraining losses are recorded as means over windows of this many steps.
    static let curveWindow = 10

    public static func named(_ name: String) throws -> BasePreset {
        guard let p = all.first(where: { $0.name == name }) else {
            throw LessonError("unknown base preset '\(name)'; choose one of \(all.map(\.name).joined(separator: ", "))")
        }
        return p
    }

    public func config(vocabularySize: Int) -> LlamaConfig {
        LlamaConfig(vocabSize: vocabularySize, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
                    numHiddenLayers: layers, numAttentionHeads: heads, maxPositionEmbeddings: 2 * sequenceLength,
                    rmsNormEps: 1e-5, bosTokenId: vocabularySize - 2, eosTokenId: vocabularySize - 2,
                    padTokenId: vocabularySize - 1)
    }

    public var parameterEstimate: Int {
        let perLayer = 4 * hiddenSize * hiddenSize + 3 * hiddenSize * intermediateSize + 2 * hiddenSize
        return 2 * vocabularySize * hiddenSize + layers * perLayer + hiddenSize
    }
}

/// A message for the person running a lesson.
public struct LessonError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Which base a lesson uses: a preset of the project's, or a Hugging Face model folder.
public enum BaseChoice: Sendable {
    case preset(BasePreset)
    case folder(URL)
}

/// A pretrained base: the model, its tokenizer and how it was made.
public final class BaseModel {
    public let model: LlamaModel
    public let tokenizer: Tokenizer
    /// The preset it was pretrained from; nil for a user's model folder.
    public let preset: BasePreset?
    /// The preset's name, or the model folder's name: how tables and tuning records name the base.
    public let name: String
    public let folder: URL
    /// Pretraining loss every 10 steps, the held-out loss at the end, wall time (empty and 0 for a
    /// user's model: it was not pretrained here).
    public let pretrainingLosses: [Float]
    public let heldOutLoss: Float
    public let pretrainingSeconds: Double
    /// Whether this process pretrained it (false when it came from the cache or a model folder).
    public let pretrainedThisRun: Bool
    public let world = World()

    init(model: LlamaModel, tokenizer: Tokenizer, preset: BasePreset?, folder: URL, losses: [Float], heldOut: Float,
         seconds: Double, heldOutWindows: [[Int]], pretrainedThisRun: Bool = false) {
        self.model = model; self.tokenizer = tokenizer; self.preset = preset; self.folder = folder
        self.pretrainedThisRun = pretrainedThisRun
        self.name = preset?.name ?? folder.lastPathComponent
        self.pretrainingLosses = losses; self.heldOutLoss = heldOut; self.pretrainingSeconds = seconds
        self.heldOut = heldOutWindows
    }

    /// The cache root: `$PEFT_CACHE` or `.cache` at the package root.
    public static var cacheRoot: URL {
        if let env = ProcessInfo.processInfo.environment["PEFT_CACHE"] { return URL(fileURLWithPath: env) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".cache")
    }

    /// True for a user's model folder (`--base DIR`), false for the project's presets.
    public var isUserModel: Bool { preset == nil }

    /// Loads the chosen base: a preset (`load(_:rebuild:)`) or a model folder (`load(folder:)`).
    public static func load(_ choice: BaseChoice, rebuild: Bool = false, log: (String) -> Void = { print($0) }) throws
        -> BaseModel {
        switch choice {
        case .preset(let preset): return try load(preset, rebuild: rebuild, log: log)
        case .folder(let folder):
            guard !rebuild else {
                throw LessonError("--rebuild-base pretrains a preset again; a model folder (\(folder.path)) is used "
                                  + "as it is: leave --rebuild-base out")
            }
            return try load(folder: folder, log: log)
        }
    }

    /// A user's LLaMA-architecture model folder (config.json, model.safetensors or its shards,
    /// tokenizer.json; generation_config.json optional): no pretraining. Forgetting is measured on the
    /// world's held-out documents encoded with the folder's tokenizer (`<s>` and `</s>` around each
    /// document if the tokenizer adds them), and the base's held-out loss is measured here.
    public static func load(folder: URL, log: (String) -> Void = { print($0) }) throws -> BaseModel {
        let started = Date()
        let model = try LlamaModel.load(from: folder)
        let tokenizer = try Tokenizer.load(modelFolder: folder)
        try checkCompatible(tokenizer, model.config, folder: folder)
        let windows = try heldOutWindows(heldOutDocuments(), tokenizer: tokenizer)
        let held = languageModelLoss({ model($0.inputIds, batch: $0.batchSize) }, stream: windows)
        log(String(format: "  Base: %@ from %@ (%@ parameters); tokenizer: %@; held-out loss %.3f.",
                   folder.lastPathComponent, folder.path, formatCount(model.parameterCount), tokenizer.summary, held))
        return BaseModel(model: model, tokenizer: tokenizer, preset: nil, folder: folder, losses: [], heldOut: held,
                         seconds: Date().timeIntervalSince(started), heldOutWindows: windows)
    }

    /// Errors for a tokenizer the lessons cannot use with this model: no end-of-text token, or ids
    /// without a row in the embedding.
    public static func checkCompatible(_ tokenizer: Tokenizer, _ config: LlamaConfig, folder: URL) throws {
        guard tokenizer.eosId != nil else {
            throw LessonError("\(folder.path): neither config.json, generation_config.json nor tokenizer_config.json "
                              + "names an end-of-text token, and tokenizer.json has none of the usual ones "
                              + "(\(SpecialTokenIds.endNames.joined(separator: ", "))); add \"eos_token_id\" to "
                              + "config.json")
        }
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw LessonError("\(folder.path): tokenizer.json has ids up to \(tokenizer.vocabularySize - 1), but "
                              + "config.json's vocab_size is \(config.vocabSize): some tokens have no embedding; use "
                              + "the tokenizer saved with this model")
        }
    }

    /// Loads the cached base for `preset`, pretraining (and caching) it first if needed.
    public static func load(_ preset: BasePreset, rebuild: Bool = false,
                            log: (String) -> Void = { print($0) }) throws -> BaseModel {
        let folder = cacheRoot.appendingPathComponent("base-models/\(preset.name)-corpus\(World.corpusVersion)")
        let info = folder.appendingPathComponent("pretraining.json")
        if !rebuild, FileManager.default.fileExists(atPath: info.path) {
            do { return try read(folder, preset) } catch {
                log("  the cached base in \(folder.path) is unreadable (\(error)); pretraining it again")
            }
        }
        return try pretrain(preset, into: folder, log: log)
    }

    static func read(_ folder: URL, _ preset: BasePreset) throws -> BaseModel {
        let model = try LlamaModel.load(from: folder)
        let tokenizer = try Tokenizer.load(modelFolder: folder)
        let url = folder.appendingPathComponent("pretraining.json")
        guard let json = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any],
              let losses = json["losses"] as? [Double], let heldOut = json["held_out_loss"] as? Double,
              let seconds = json["seconds"] as? Double else {
            throw FileFormatError(file: url.path, problem: "not a pretraining record")
        }
        let heldURL = folder.appendingPathComponent("held_out.json")
        let windows: [[Int]]
        if let stored = (try? JSONSerialization.jsonObject(with: Data(contentsOf: heldURL))) as? [[Int]],
           !stored.isEmpty {
            windows = stored
        } else {  // a cache from before held_out.json existed: the world's held-out text, as it was made then
            windows = try heldOutWindows(heldOutDocuments(), tokenizer: tokenizer)
            try writeHeldOut(windows, to: folder)
        }
        return BaseModel(model: model, tokenizer: tokenizer, preset: preset, folder: folder,
                         losses: losses.map(Float.init), heldOut: Float(heldOut), seconds: seconds,
                         heldOutWindows: windows)
    }

    /// Pretrains on the world's corpus. Seeded (seed 0): the same base every time.
    static func pretrain(_ preset: BasePreset, into folder: URL, log: (String) -> Void) throws -> BaseModel {
        let world = World()
        let documents = world.pretrainingDocuments(count: preset.documents, generator: Generator(seed: 0))
        let heldOut = heldOutDocuments()
        log("  Pretraining the '\(preset.name)' base (~\(formatCount(preset.parameterEstimate)) parameters, "
            + "\(preset.steps) steps of \(preset.batchSize)×\(preset.sequenceLength) tokens); "
            + "this happens once and is cached in \(folder.path).")
        return try pretrain(preset, documents: documents, heldOutDocuments: heldOut, seed: 0, into: folder, log: log)
    }

    /// Pretrains a base on any documents (next-token prediction on random windows, AdamW with
    /// warm-up and cosine decay, clipping at 1), trains its tokenizer on them, and saves all of it
    /// in `folder`. `heldOutDocuments` are never trained on; their loss measures forgetting later.
    public static func pretrain(_ preset: BasePreset, documents: [String], heldOutDocuments: [String], seed: UInt64,
                                into folder: URL, log: (String) -> Void = { print($0) }) throws -> BaseModel {
        let started = Date()
        let g = Generator(seed: seed)
        let tokenizer = Tokenizer.train(on: Array(documents.prefix(20_000)), vocabularySize: preset.vocabularySize)
        let stream = documents.flatMap { documentIds($0, tokenizer: tokenizer) }
        let (b, t) = (preset.batchSize, preset.sequenceLength)
        guard stream.count > 4 * t else {
            throw LessonError("the pretraining text has \(stream.count) tokens; it needs at least \(4 * t) "
                + "(a few paragraphs) to draw windows of \(t)")
        }
        let heldOut = try heldOutWindows(heldOutDocuments, tokenizer: tokenizer)
        let model = LlamaModel(config: preset.config(vocabularySize: tokenizer.vocabularySize), generator: g)
        let parameters = model.namedParameters.map(\.tensor)
        let decayed = parameters.filter { $0.rank == 2 }, other = parameters.filter { $0.rank != 2 }
        let optimizer = AdamW([ParameterGroup(decayed, weightDecay: 0.1), ParameterGroup(other)],
                              learningRate: preset.learningRate, beta2: 0.95)
        let schedule = LearningRateSchedule.cosine(warmup: preset.steps / 20, total: preset.steps)
        let progress = Progress("pretrain", total: preset.steps)
        let training = runTraining(
            steps: preset.steps, optimizer: optimizer,
            learningRate: { preset.learningRate * max(schedule.multiplier(at: $0), BasePreset.learningRateFloor) },
            maxGradientNorm: 1,
            lossOfStep: { _ in
                var ids: [Int] = []
                ids.reserveCapacity(b * t)
                for _ in 0..<b { let o = g.int(below: stream.count - t); ids += stream[o..<(o + t)] }
                return (causalLanguageModelLoss(model(ids, batch: b), labels: ids), b * t)
            },
            progress: { progress.update(step: $0, loss: $1, tokens: $2) })
        let losses = stride(from: 0, to: training.losses.count - BasePreset.curveWindow + 1,
                            by: BasePreset.curveWindow).map {
            training.losses[$0..<($0 + BasePreset.curveWindow)].reduce(0, +) / Float(BasePreset.curveWindow)
        }
        let held = languageModelLoss({ model($0.inputIds, batch: $0.batchSize) }, stream: heldOut)
        let seconds = Date().timeIntervalSince(started)
        try model.save(to: folder)
        try tokenizer.save(to: folder.appendingPathComponent("tokenizer.json"))
        let record = """
        {
          "preset": "\(preset.name)", "steps": \(preset.steps), "batch_size": \(b), "sequence_length": \(t),
          "learning_rate": \(preset.learningRate), "documents": \(documents.count), "corpus_tokens": \(stream.count),
          "seed": \(seed), "corpus_version": \(World.corpusVersion), "seconds": \(seconds), "held_out_loss": \(held),
          "losses": [\(losses.map { String(format: "%.5f", $0) }.joined(separator: ", "))]
        }

        """
        try writeAtomically(Data(record.utf8), to: folder.appendingPathComponent("pretraining.json"))
        try writeHeldOut(heldOut, to: folder)
        log(String(format: "  Pretrained in %@: held-out loss %.3f (perplexity %.1f) on a corpus of %@ tokens.",
                   formatDuration(seconds), held, exp(held), formatCount(stream.count)))
        return BaseModel(model: model, tokenizer: tokenizer, preset: preset, folder: folder, losses: losses,
                         heldOut: held, seconds: seconds, heldOutWindows: heldOut, pretrainedThisRun: true)
    }

    /// Held-out pretraining text: documents of the world never trained on, drawn from their own seed.
    public static func heldOutDocuments() -> [String] {
        World().pretrainingDocuments(count: heldOutDocumentCount, generator: Generator(seed: heldOutSeed))
    }
    static let heldOutDocumentCount = 600
    static let heldOutSeed: UInt64 = 0xBEEF
    /// Forgetting is measured on up to this many windows of `heldOutWindowLength` tokens.
    static let heldOutWindowCount = 16, heldOutWindowLength = 64

    /// A document as a model reads it in a stream of documents: the tokenizer's prefix (LLaMA's `<s>`;
    /// nothing for the project's tokenizers), the text, the end-of-text token.
    static func documentIds(_ document: String, tokenizer: Tokenizer) -> [Int] {
        tokenizer.promptIds(document) + (tokenizer.eosId.map { [$0] } ?? [])
    }

    /// Up to `heldOutWindowCount` windows of `heldOutWindowLength` tokens of held-out text.
    static func heldOutWindows(_ documents: [String], tokenizer: Tokenizer) throws -> [[Int]] {
        let stream: [Int] = documents.flatMap { documentIds($0, tokenizer: tokenizer) }
        let length = heldOutWindowLength
        let count = min(heldOutWindowCount, stream.count / length)
        guard count > 0 else {
            throw LessonError("the held-out text has \(stream.count) tokens; at least \(length) are needed")
        }
        return (0..<count).map { Array(stream[($0 * length)..<($0 * length + length)]) }
    }

    /// The held-out windows as `held_out.json` (token ids), so every later run measures the same text.
    static func writeHeldOut(_ windows: [[Int]], to folder: URL) throws {
        let text = "[\n" + windows.map { "  [" + $0.map(String.init).joined(separator: ", ") + "]" }
            .joined(separator: ",\n") + "\n]\n"
        try writeAtomically(Data(text.utf8), to: folder.appendingPathComponent("held_out.json"))
    }

    /// Held-out pretraining windows, for measuring forgetting.
    public let heldOut: [[Int]]

    /// A fresh copy of the base model (fine-tuning changes weights; the base stays intact).
    public func copy() -> LlamaModel {
        let m = LlamaModel(config: model.config, generator: Generator(seed: 0))
        for ((_, a), (_, b)) in zip(m.namedParameters, model.namedParameters) { a.copyValues(from: b) }
        return m
    }
}
