// Malformed files give an error naming the file, the tensor and the problem — never a crash.

import Foundation
import Llama
import SafeTensors
import Testing
import TestSupport
import TensorKit

@Suite struct SafeTensorsTests {
    func header(_ json: String, data: [UInt8]) -> Data {
        var out = Data()
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(Data(json.utf8)); out.append(contentsOf: data)
        return out
    }

    func problem(_ data: Data) -> FileFormatError? {
        do {
            _ = try SafeTensorsFile.parse(data, file: "x.safetensors"); return nil
        } catch let e as FileFormatError { return e } catch { return nil }
    }

    @Test func roundTripIsExact() throws {
        var file = SafeTensorsFile()
        file["b"] = StoredTensor(shape: [2, 3], values: [1, -2, 3.5, .pi, -0, 1e-30])
        file["a.weight"] = StoredTensor(shape: [0], values: [])
        file["s"] = StoredTensor(shape: [], values: [7])
        let data = file.serialized()
        let n = data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect((8 + Int(n)) % 8 == 0)
        let back = try SafeTensorsFile.parse(data, file: "mem")
        #expect(back.tensors == file.tensors && back.metadata == ["format": "pt"])
    }

    @Test func readsHalfAndBFloat16() throws {
        // 1.0, −2.0, 65504 (max half), 2^−24 (smallest subnormal) in F16; 1.0 and −3.0 in BF16
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001]
        let bf16: [UInt16] = [0x3F80, 0xC040]
        var bytes: [UInt8] = []
        for v in f16 + bf16 { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        let json = #"{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}}"#
        let file = try SafeTensorsFile.parse(header(json, data: bytes), file: "mem")
        #expect(file["h"]!.values == [1, -2, 65504, 0x1p-24])
        #expect(file["b"]!.values == [1, -3])
    }

    @Test func rejectsEveryMalformedFile() throws {
        let good = #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        #expect(problem(header(good, data: Array(repeating: 0, count: 8))) == nil)
        let cases: [(Data, String)] = [
            (Data([1, 2, 3]), "truncated"),
            (header(good, data: []).prefix(8) + Data("{".utf8), "runs past the end"),
            (header("{not json", data: []), "not valid JSON"),
            (header(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, data: Array(repeating: 0, count: 8)),
             "out of range"),
            (header(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)),
             "do not match"),
            (header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
                    + #""b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)),
             "overlap"),
            (header(#"{"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)),
             "unsupported dtype"),
            (header(#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)),
             "shape"),
            (header(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: Array(repeating: 0, count: 8)),
             "hole"),
            (header(good, data: Array(repeating: 0, count: 12)), "not described"),
            (header(#"[1,2]"#, data: []), "not a JSON object"),
        ]
        for (data, expected) in cases {
            let error = problem(data)
            #expect(error != nil, "accepted a file that should fail with '\(expected)'")
            #expect(error?.description.contains(expected) == true,
                    "\(error?.description ?? "nil") should mention '\(expected)'")
            #expect(error?.description.hasPrefix("x.safetensors") == true)
        }
        let named = problem(header(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                                   data: Array(repeating: 0, count: 8)))
        #expect(named?.tensor == "w")
    }

    @Test func writesAtomically() throws {
        let folder = temporaryFolder()
        let url = folder.appendingPathComponent("t.safetensors")
        var file = SafeTensorsFile()
        file["x"] = StoredTensor(shape: [1], values: [1])
        try file.write(to: url)
        file["x"] = StoredTensor(shape: [1], values: [2])
        try file.write(to: url)
        #expect(try SafeTensorsFile.read(contentsOf: url)["x"]!.values == [2])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }
}

@Suite struct CheckpointErrorTests {
    func savedTinyModel() throws -> URL {
        let folder = temporaryFolder()
        let model = LlamaModel(config: LlamaConfig(vocabSize: 11, hiddenSize: 8, intermediateSize: 12,
                                                   numHiddenLayers: 1, numAttentionHeads: 2),
                               generator: Generator(seed: 1))
        try model.save(to: folder)
        return folder
    }

    func loadError(_ folder: URL) -> String {
        do { _ = try LlamaModel.load(from: folder); return "" } catch { return "\(error)" }
    }

    @Test func missingFolderAndFiles() throws {
        #expect(loadError(URL(fileURLWithPath: "/nonexistent/model")).contains("no such model folder"))
        let folder = try savedTinyModel()
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        #expect(loadError(folder).contains("no model.safetensors"))
    }

    @Test func missingTensorAndWrongShape() throws {
        let folder = try savedTinyModel()
        let url = folder.appendingPathComponent("model.safetensors")
        var file = try SafeTensorsFile.read(contentsOf: url)
        file["model.norm.weight"] = nil
        try file.write(to: url)
        #expect(loadError(folder).contains("'model.norm.weight': missing"))
        file["model.norm.weight"] = StoredTensor(shape: [9], values: Array(repeating: 1, count: 9))
        try file.write(to: url)
        #expect(loadError(folder).contains("config.json implies [hidden_size] = [8] but model.safetensors holds [9]"))
    }

    @Test(arguments: [
        (#""head_dim": 3"#, "head_dim must be a positive even number"),
        (#""num_attention_heads": 3"#, "must divide num_attention_heads (3)"),
        (#""num_key_value_heads": 3"#, "must divide"),
        (#""vocab_size": 0"#, "vocab_size must be positive"),
        (#""rms_norm_eps": -1"#, "rms_norm_eps"),
        (#""hidden_act": "gelu""#, "hidden_act"),
        (#""hidden_size": "big""#, "hidden_size must be an integer"),
    ])
    func impossibleConfigs(edit: (String, String)) throws {
        let folder = try savedTinyModel()
        let url = folder.appendingPathComponent("config.json")
        var text = try String(contentsOf: url, encoding: .utf8)
        let key = edit.0.split(separator: ":")[0]
        text = text.split(separator: "\n").map {
            $0.contains(key + ":") ? "  " + edit.0 + ($0.hasSuffix(",") ? "," : "") : String($0)
        }.joined(separator: "\n")
        try text.write(to: url, atomically: true, encoding: .utf8)
        let message = loadError(folder)
        #expect(message.contains(edit.1), "\(message)")
        #expect(message.contains("config.json"))
    }

    @Test func badJSONConfig() throws {
        let folder = try savedTinyModel()
        try "{ oops".write(to: folder.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        #expect(loadError(folder).contains("not a valid JSON object"))
    }

    @Test func batchFileErrors() throws {
        let folder = temporaryFolder()
        func error(_ json: String) -> String {
            let url = folder.appendingPathComponent("b.json")
            try? json.write(to: url, atomically: true, encoding: .utf8)
            do { _ = try TokenBatch.load(contentsOf: url, vocabSize: 10); return "" } catch { return "\(error)" }
        }
        #expect(error(#"{"input_ids": [[1, 2], [3]]}"#).contains("same, non-zero length"))
        #expect(error(#"{"input_ids": [[1, 12]]}"#).contains("outside the vocabulary"))
        #expect(error(#"{"input_ids": [[1, 2]], "labels": [[-5, 2]]}"#).contains("neither −100"))
        #expect(error(#"{"labels": [[1]]}"#).contains("input_ids is missing"))
        #expect(error(#"{"input_ids": [[1, 2]]}"#) == "")
    }
}
