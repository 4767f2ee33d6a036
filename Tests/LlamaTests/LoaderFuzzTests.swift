// Seeded fuzzing of the Llama target's file loaders: safetensors, config.json, a model folder
// (single file and sharded), batch.json. Thousands of damaged files; each must give an error
// naming the file, or a valid result — never a crash or a hang. The mutator and the harness
// are `FileMutator` and `LoaderFuzzCase` in SafeTensors. A new loader is one line in `cases`.
//
// PEFT_FUZZ_SEED and PEFT_FUZZ_VARIANTS change the seed and the number of damaged files per
// loader; PEFT_FUZZ_ONLY=<part of a case name> runs only the matching cases; PEFT_FUZZ_TRACE=1
// prints each damaged file before it is loaded (to find one that crashes).

import Foundation
import Llama
import SafeTensors
import Testing
import TensorKit
import TestSupport

/// The seed and the number of damaged files per loader (environment overrides for long runs).
enum FuzzSettings {
    static let seed = ProcessInfo.processInfo.environment["PEFT_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20_240_601
    static let variants = ProcessInfo.processInfo.environment["PEFT_FUZZ_VARIANTS"].flatMap { Int($0) } ?? 400
    static let only = ProcessInfo.processInfo.environment["PEFT_FUZZ_ONLY"]

    static func selects(_ fuzzCase: LoaderFuzzCase) -> Bool { only.map { fuzzCase.name.contains($0) } ?? true }
}

/// Valid files to damage: the golden base model, and a tiny generated one (fast to load).
enum FuzzFixtures {
    static let goldenBase = Golden.tiny.appendingPathComponent("base")

    static func golden(_ path: String) -> Data {
        (try? Data(contentsOf: Golden.tiny.appendingPathComponent(path))) ?? Data()
    }

    /// A tiny model with grouped-query attention and biases, saved as config.json + model.safetensors.
    static let tinyFolder: [String: Data] = {
        let folder = temporaryFolder()
        let config = LlamaConfig(vocabSize: 13, hiddenSize: 8, intermediateSize: 12, numHiddenLayers: 2,
                                 numAttentionHeads: 2, numKeyValueHeads: 1, attentionBias: true)
        try? LlamaModel(config: config, generator: Generator(seed: 7)).save(to: folder)
        var files: [String: Data] = [:]
        for name in ["config.json", "model.safetensors"] {
            files[name] = try? Data(contentsOf: folder.appendingPathComponent(name))
        }
        try? FileManager.default.removeItem(at: folder)
        return files
    }()

    /// The tiny model's weights split into two shards with a `model.safetensors.index.json`.
    static let shardedFolder: [String: Data] = {
        guard let weights = try? SafeTensorsFile.parse(tinyFolder["model.safetensors"] ?? Data(), file: "tiny")
        else { return [:] }
        var shards = [SafeTensorsFile(), SafeTensorsFile()]
        var map: [String: String] = [:]
        for (i, name) in weights.tensors.keys.sorted().enumerated() {
            shards[i % 2][name] = weights[name]
            map[name] = "model-0000\(i % 2 + 1)-of-00002.safetensors"
        }
        let index = ["metadata": ["total_size": 1234] as [String: Any], "weight_map": map] as [String: Any]
        var files = ["config.json": tinyFolder["config.json"] ?? Data()]
        files["model.safetensors.index.json"] = try? JSONSerialization.data(
            withJSONObject: index, options: [.sortedKeys, .prettyPrinted])
        for (i, shard) in shards.enumerated() { files["model-0000\(i + 1)-of-00002.safetensors"] = shard.serialized() }
        return files
    }()

    /// Every dtype the reader knows, a scalar and an empty tensor, and metadata.
    static let mixedDTypes: Data = {
        let entries: [(String, String, [Int], [UInt8])] = [
            ("half", "F16", [2, 2], [0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0x01, 0x00]),
            ("brain", "BF16", [3], [0x80, 0x3F, 0x40, 0xC0, 0x80, 0x7F]),
            ("double", "F64", [1], [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]),
            ("long", "I64", [2], [1, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            ("int", "I32", [1], [7, 0, 0, 0]),
            ("short", "I16", [1], [0xFF, 0x7F]),
            ("bytes", "U8", [2, 1], [1, 255]),
            ("signed", "I8", [1], [0x80]),
            ("flags", "BOOL", [1], [1]),
            ("scalar", "F32", [], [0, 0, 0x80, 0x3F]),
            ("empty", "F32", [0, 4], []),
        ]
        var header = #"{"__metadata__":{"format":"pt","note":"mixed"}"#
        var body: [UInt8] = []
        for (name, dtype, shape, bytes) in entries {
            header += #","\#(name)":{"dtype":"\#(dtype)","shape":\#(shape),"data_offsets":[\#(body.count),"#
                + "\(body.count + bytes.count)]}"
            body += bytes
        }
        header += "}"
        var out = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        out.append(contentsOf: body)
        return out
    }()
}

/// Loads a model folder and runs two tokens through it: a loaded model must be usable.
@Sendable func loadAndRunModel(in folder: URL) throws {
    let model = try LlamaModel.load(from: folder)
    let vocabulary = model.config.vocabSize
    let logits = model([0, 1 % vocabulary], batch: 1)
    guard logits.shape == [1, 2, vocabulary] else {
        throw InvalidLoaderResult("logits \(logits.shape) for 2 tokens and a vocabulary of \(vocabulary)")
    }
}

@Suite struct LoaderFuzzTests {
    /// The loaders and their valid files. One line per loader.
    static let cases: [LoaderFuzzCase] = [
        LoaderFuzzCase("safetensors: golden weights", file: "model.safetensors",
                       valid: FuzzFixtures.golden("base/model.safetensors")) {
            _ = try SafeTensorsFile.read(contentsOf: $0)
        },
        LoaderFuzzCase("safetensors: every dtype", file: "mixed.safetensors", valid: FuzzFixtures.mixedDTypes) {
            _ = try SafeTensorsFile.parse(try Data(contentsOf: $0), file: $0.path)
        },
        LoaderFuzzCase("config.json", file: "config.json", valid: FuzzFixtures.golden("base/config.json")) {
            _ = try LlamaConfig.load(contentsOf: $0)
        },
        LoaderFuzzCase("model folder: config.json", file: "config.json",
                       valid: FuzzFixtures.tinyFolder["config.json"] ?? Data(),
                       beside: FuzzFixtures.tinyFolder.filter { $0.key != "config.json" }) {
            try loadAndRunModel(in: $0.deletingLastPathComponent())
        },
        LoaderFuzzCase("model folder: model.safetensors", file: "model.safetensors",
                       valid: FuzzFixtures.tinyFolder["model.safetensors"] ?? Data(),
                       beside: FuzzFixtures.tinyFolder.filter { $0.key != "model.safetensors" }) {
            try loadAndRunModel(in: $0.deletingLastPathComponent())
        },
        LoaderFuzzCase("model folder: sharded index", file: "model.safetensors.index.json",
                       valid: FuzzFixtures.shardedFolder["model.safetensors.index.json"] ?? Data(),
                       beside: FuzzFixtures.shardedFolder.filter { $0.key != "model.safetensors.index.json" }) {
            try loadAndRunModel(in: $0.deletingLastPathComponent())
        },
        LoaderFuzzCase("model folder: golden config.json", file: "config.json",
                       valid: FuzzFixtures.golden("base/config.json"),
                       beside: ["model.safetensors": FuzzFixtures.golden("base/model.safetensors")]) {
            try loadAndRunModel(in: $0.deletingLastPathComponent())
        },
        LoaderFuzzCase("batch.json", file: "batch.json", valid: FuzzFixtures.golden("batch.json")) {
            _ = try TokenBatch.load(contentsOf: $0, vocabSize: 97)
        },
    ]

    @Test(arguments: cases)
    func damagedFilesGiveClearErrors(_ fuzzCase: LoaderFuzzCase) {
        guard FuzzSettings.selects(fuzzCase) else { return }
        let report = fuzzCase.fuzz(variants: FuzzSettings.variants, seed: FuzzSettings.seed) { Generator(seed: $0) }
        print("fuzz \(fuzzCase.name): \(report.summary)")
        #expect(report.failures.isEmpty, "\(report.failures.joined(separator: "\n"))")
        #expect(report.variants == FuzzSettings.variants)
    }
}

/// The crashes the fuzzing found, one test each: every one is now a clear error, returned fast.
@Suite struct LoaderCrashRegressionTests {
    /// The tiny model folder with `config.json`'s text edited (so any number literal can be written).
    func tinyFolder(setting key: String, to literal: String) throws -> URL {
        let folder = temporaryFolder()
        for (name, data) in FuzzFixtures.tinyFolder { try data.write(to: folder.appendingPathComponent(name)) }
        let url = folder.appendingPathComponent("config.json")
        let text = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            $0.contains("\"\(key)\":") ? "  \"\(key)\": \(literal)" + ($0.hasSuffix(",") ? "," : "") : String($0)
        }
        try text.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return folder
    }

    /// The error of loading `folder`, and how long it took.
    func loadError(_ folder: URL) -> (message: String, seconds: Double) {
        let start = Date()
        do { _ = try LlamaModel.load(from: folder); return ("", Date().timeIntervalSince(start)) } catch {
            return ("\(error)", Date().timeIntervalSince(start))
        }
    }

    /// A size of 10^12 in config.json used to abort the process allocating terabytes in
    /// `LlamaModel.init`; now the shapes are compared with the weights first.
    @Test(arguments: [
        ("vocab_size", "config.json implies [vocab_size, hidden_size] = [1000000000000, 8] but model.safetensors "
            + "holds [13, 8]"),
        ("hidden_size", "'model.embed_tokens.weight': config.json implies [vocab_size, hidden_size] = "
            + "[13, 1000000000000]"),
        ("intermediate_size", "'model.layers.0.mlp.gate_proj.weight': config.json implies"),
        ("num_hidden_layers", "'model.layers.2.input_layernorm.weight': missing from the checkpoint, though "
            + "config.json implies it (num_hidden_layers is 1000000000000)"),
        ("num_attention_heads", "'model.layers.0.self_attn.q_proj.weight': config.json implies "
            + "[num_attention_heads × head_dim, hidden_size] = [4000000000000, 8] but model.safetensors holds [8, 8]"),
        ("head_dim", "'model.layers.0.self_attn.q_proj.weight': config.json implies"),
        ("num_key_value_heads", "num_key_value_heads (1000000000000) must divide num_attention_heads (2)"),
    ])
    func terabyteSizeIsAnErrorNotAnAllocation(field: String, expected: String) throws {
        let (message, seconds) = loadError(try tinyFolder(setting: field, to: "1000000000000"))
        #expect(message.contains(expected), "\(message)")
        #expect(message.contains("the config does not match the weights") || field == "num_key_value_heads")
        #expect(seconds < 1)
    }

    @Test func sizesWhoseProductOverflowAreRejectedByValidate() throws {
        var config = LlamaConfig(vocabSize: 1 << 40, hiddenSize: 1 << 40, intermediateSize: 8, numHiddenLayers: 1,
                                 numAttentionHeads: 1, headDim: 2)
        #expect(throws: FileFormatError.self) { try config.validate(file: "config.json") }
        config = LlamaConfig(vocabSize: 8, hiddenSize: 1 << 20, intermediateSize: 1 << 20, numHiddenLayers: 1 << 40,
                             numAttentionHeads: 1, headDim: 2)
        #expect(config.parameterCount() == nil)
        do { try config.validate(file: "config.json"); Issue.record("accepted") } catch {
            #expect("\(error)".contains("multiply past Int.max"), "\(error)")
        }
        let tiny = LlamaConfig(vocabSize: 13, hiddenSize: 8, intermediateSize: 12, numHiddenLayers: 2,
                               numAttentionHeads: 2, numKeyValueHeads: 1, attentionBias: true, mlpBias: true)
        let model = LlamaModel(config: tiny, generator: Generator(seed: 1))
        #expect(tiny.parameterCount() == model.parameterCount)
        var walked: [(String, [Int])] = []
        tiny.forEachParameterShape { walked.append(($0.name, $0.shape)) }
        #expect(walked.map(\.0) == model.namedParameters.map(\.name))
        #expect(walked.map(\.1) == model.namedParameters.map(\.tensor.shape))
    }

    /// `NSNumber.intValue` wrapped 1e30 and 2^63 to Int.min, and 1.5 was truncated to 1.
    @Test(arguments: ["1e30", "9223372036854775808", "1.5", "true", "\"13\"", "-1e400"])
    func configNumbersThatAreNotIntegers(literal: String) throws {
        let (message, _) = loadError(try tinyFolder(setting: "vocab_size", to: literal))
        if literal == "-1e400" {
            #expect(message.contains("not a valid JSON object"), "\(message)")
        } else {
            #expect(message.contains("vocab_size must be an integer"), "\(message)")
        }
        #expect(message.contains("config.json"))
    }

    func header(_ json: String, data: [UInt8] = []) -> Data {
        var out = Data()
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(Data(json.utf8))
        out.append(contentsOf: data)
        return out
    }

    func parseError(_ data: Data) -> String {
        do { _ = try SafeTensorsFile.parse(data, file: "x.safetensors"); return "" } catch { return "\(error)" }
    }

    /// 2^61 F64 elements are 2^64 bytes: the byte count wrapped to 0, matched data_offsets
    /// [0, 0], and decoding tried to allocate 2^61 floats.
    @Test func shapeWhoseByteCountOverflows() {
        let message = parseError(header(#"{"w":{"dtype":"F64","shape":[2147483648,1073741824],"data_offsets":[0,0]}}"#))
        #expect(message.contains("x.safetensors: tensor 'w'") && message.contains("overflow"), "\(message)")
        let big = parseError(header(#"{"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"#
                                    + #""data_offsets":[0,0]}}"#))
        #expect(big.contains("overflow"), "\(big)")
    }

    @Test func headerClaimingTwoToTheSixtyThreeBytes() {
        var data = Data()
        withUnsafeBytes(of: (UInt64(1) << 63).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data("{}".utf8))
        #expect(parseError(data).contains("runs past the end of the file"))
    }

    @Test(arguments: ["[true]", "[1.5]", "[1e30]", "[9223372036854775808]", "[\"4\"]"])
    func shapesThatAreNotIntegers(shape: String) {
        let message = parseError(header(#"{"w":{"dtype":"U8","shape":\#(shape),"data_offsets":[0,1]}}"#, data: [7]))
        #expect(message.contains("shape is missing or not a list of non-negative integers"), "\(message)")
    }

    /// Token ids went through `NSNumber.intValue`: 1.5 and true loaded as 1, 1e30 as Int.min.
    @Test(arguments: ["1e30", "1.5", "true", "9223372036854775808", "null", "\"3\""])
    func batchIdsThatAreNotIntegers(literal: String) throws {
        let url = temporaryFolder().appendingPathComponent("batch.json")
        try #"{"input_ids": [[1, \#(literal), 3]]}"#.write(to: url, atomically: true, encoding: .utf8)
        do { _ = try TokenBatch.load(contentsOf: url, vocabSize: 10); Issue.record("accepted \(literal)") } catch {
            #expect("\(error)".contains("batch.json: input_ids[0][1] is"), "\(error)")
            #expect("\(error)".contains("not an integer"), "\(error)")
        }
    }

    /// A sharded folder whose index names a missing shard, a path outside the folder, or a shard
    /// that lacks the tensor: errors name the index (a missing shard used to be "no such file").
    @Test func shardedIndexErrorsNameTheIndex() throws {
        func indexError(_ edit: (inout [String: String]) -> Void) throws -> String {
            let folder = temporaryFolder()
            for (name, data) in FuzzFixtures.shardedFolder { try data.write(to: folder.appendingPathComponent(name)) }
            let url = folder.appendingPathComponent("model.safetensors.index.json")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
            var map = try #require(json?["weight_map"] as? [String: String])
            edit(&map)
            try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: url)
            return loadError(folder).message
        }
        #expect(try indexError { _ in }.isEmpty)
        let missing = try indexError { $0["model.norm.weight"] = "model-00003-of-00003.safetensors" }
        #expect(missing.contains("model.safetensors.index.json: weight_map names the shard model-00003-of-00003"),
                "\(missing)")
        let outside = try indexError { $0["model.norm.weight"] = "../model.safetensors" }
        #expect(outside.contains("model.safetensors.index.json: tensor 'model.norm.weight': weight_map gives"),
                "\(outside)")
        let wrongShard = try indexError {
            $0["model.norm.weight"] = $0["model.norm.weight"] == "model-00001-of-00002.safetensors"
                ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors"
        }
        #expect(wrongShard.contains("which does not hold it"), "\(wrongShard)")
        let notAShard = try indexError { $0["model.norm.weight"] = "config.json" }
        #expect(notAShard.contains("config.json") && notAShard.contains("listed in model.safetensors.index.json"),
                "\(notAShard)")
    }
}
