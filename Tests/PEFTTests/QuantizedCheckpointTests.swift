// 4-bit checkpoints this project cannot read give an error naming the file, the tensor and the
// problem; the ones it writes (any type, with or without double quantization) read back exactly.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

@Suite struct QuantizedCheckpointTests {
    let source = Golden.folder("qlora-base-4bit")
    let q = "model.layers.0.self_attn.q_proj.weight"

    /// A copy of the golden 4-bit folder with its config and tensors edited.
    func damaged(tensors change: (inout SafeTensorsFile) -> Void = { _ in },
                 config edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        let folder = temporaryFolder()
        let text = try Data(contentsOf: source.appendingPathComponent("config.json"))
        var json = try #require(try JSONSerialization.jsonObject(with: text) as? [String: Any])
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: folder.appendingPathComponent("config.json"))
        var file = try SafeTensorsFile.read(contentsOf: source.appendingPathComponent("model.safetensors"))
        change(&file)
        try file.write(to: folder.appendingPathComponent("model.safetensors"))
        return folder
    }

    func message(_ folder: URL) -> String {
        do { _ = try loadModel(from: folder); return "" } catch { return "\(error)" }
    }

    func quantization(_ edit: @escaping (inout [String: Any]) -> Void) -> (inout [String: Any]) -> Void {
        { json in
            var q = json["quantization_config"] as? [String: Any] ?? [:]
            edit(&q)
            json["quantization_config"] = q
        }
    }

    @Test func unsupportedQuantizationConfigsAreClearErrors() throws {
        let eightBit = message(try damaged(config: quantization {
            $0["load_in_8bit"] = true
            $0["load_in_4bit"] = false
        }))
        #expect(eightBit.contains("config.json: quantization_config: load_in_8bit: 8-bit (LLM.int8) checkpoints are "
                                  + "not supported"))
        let unknown = message(try damaged(config: quantization { $0["bnb_4bit_quant_type"] = "int4" }))
        #expect(unknown.contains("bnb_4bit_quant_type 'int4' is unknown; bitsandbytes' 4-bit types are \"nf4\" and "
                                 + "\"fp4\""))
        let gptq = message(try damaged(config: quantization { $0["quant_method"] = "gptq" }))
        #expect(gptq.contains("quant_method 'gptq' is not supported"))
        let storage = message(try damaged(config: quantization { $0["bnb_4bit_quant_storage"] = "bfloat16" }))
        #expect(storage.contains("bnb_4bit_quant_storage 'bfloat16' is not supported"))
    }

    @Test func damagedTensorsNameTheFileTheTensorAndTheProblem() throws {
        let state = q + ".quant_state.bitsandbytes__nf4"
        func withState(_ json: String) throws -> String {
            message(try damaged { $0[state] = StoredTensor(shape: [json.utf8.count], bytes: Array(json.utf8)) })
        }
        let broken = try withState(#"{"quant_type": "nf4", "blocksize": 64, "dty"#)
        #expect(broken.contains("model.safetensors: tensor '\(state)': the quant_state is not a JSON object"))
        let blockSize = try withState(#"{"quant_type": "nf4", "blocksize": 48, "dtype": "float32", "shape": [32, 32], "#
            + #""nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.05}"#)
        #expect(blockSize.contains("tensor '\(state)': blocksize 48 cannot be read: bitsandbytes writes only 32, 64"))
        let shape = try withState(#"{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [16, 64], "#
            + #""nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.05}"#)
        #expect(shape.contains("the quant_state's shape [16, 64] differs from the [32, 32] that config.json implies"))
        let short = StoredTensor(shape: [15], bytes: Array(repeating: 1, count: 15))
        let absmax = message(try damaged { $0[q + ".absmax"] = short })
        #expect(absmax.contains("tensor '\(q).absmax': has 15 values, but a [32, 32] weight in blocks of 64 has 16"))
        let nested = message(try damaged { $0[q + ".nested_absmax"] = nil })
        #expect(nested.contains("tensor '\(q).nested_absmax': missing: a 4-bit layer needs its nested_absmax"))
        let truncated = StoredTensor(shape: [500, 1], bytes: Array(repeating: 0, count: 500))
        let packed = message(try damaged { $0[q] = truncated })
        #expect(packed.contains("tensor '\(q)': holds 500 bytes, but a [32, 32] weight packs into (n+1)/2 = 512"))
        let fp4Map = StoredTensor(shape: [16], values: FourBitType.fp4.code)
        let map = message(try damaged { $0[q + ".quant_map"] = fp4Map })
        #expect(map.contains("tensor '\(q).quant_map': differs from bitsandbytes' nf4 code table"))
        let type = message(try damaged(config: quantization { $0["bnb_4bit_quant_type"] = "fp4" }))
        #expect(type.contains("the quant_state says nf4 but config.json's bnb_4bit_quant_type is fp4"))
    }

    @Test(arguments: [QuantizationSettings(type: .fp4, blockSize: 128), QuantizationSettings(type: .nf4, blockSize: 32),
                      QuantizationSettings(type: .fp4, blockSize: 64, doubleQuantization: true)])
    func writtenFoldersReadBackExactly(settings: QuantizationSettings) throws {
        let model = try Golden.base()
        try model.quantizeLinearLayers(settings)
        let folder = temporaryFolder()
        try QuantizedCheckpoint.save(model, to: folder)
        let config = try QuantizedCheckpoint.quantizationConfig(in: folder)
        #expect(config == BitsAndBytesConfig(quantType: settings.type, useDoubleQuant: settings.doubleQuantization))
        let back = try loadModel(from: folder)
        #expect(back.quantizedLayers.map(\.layer.weight) == model.quantizedLayers.map(\.layer.weight))
        let batch = try Golden.batch()
        let logits = withoutGrad { back(batch.inputIds, batch: 2) }.array
        #expect(logits == withoutGrad { model(batch.inputIds, batch: 2) }.array)
    }

    @Test func quantStateJSONIsWhatBitsandbytesWrites() throws {
        let state = QuantState(quantType: .nf4, blockSize: 64, shape: [32, 88], nested: (256, 0.05263836681842804))
        #expect(String(decoding: state.bytes, as: UTF8.self)
                == #"{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [32, 88], "#
                + #""nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.05263836681842804}"#)
        let plain = QuantState(quantType: .fp4, blockSize: 128, shape: [4, 4])
        #expect(String(decoding: plain.bytes, as: UTF8.self)
                == #"{"quant_type": "fp4", "blocksize": 128, "dtype": "float32", "shape": [4, 4]}"#)
        #expect(try QuantState(bytes: state.bytes) { PEFTError($0) } == state)
    }

    @Test func pythonJSONFormatsAsJsonDumps() {
        let value = PythonJSON.object([("b", .array([.int(1), .float(1e-06), .float(10000), .null])),
                                       ("a", .object([])), ("é", .string("x\"\n")), ("c", .bool(true))])
        #expect(value.dumps() == #"{"b": [1, 1e-06, 10000.0, null], "a": {}, "\u00e9": "x\"\n", "c": true}"#)
        #expect(value.dumps(indent: 2, sortKeys: true)
                == "{\n  \"a\": {},\n  \"b\": [\n    1,\n    1e-06,\n    10000.0,\n    null\n  ],\n"
                + "  \"c\": true,\n  \"\\u00e9\": \"x\\\"\\n\"\n}")
    }
}
