// SoftPromptGolden.swift — what the prefix-tuning and P-tuning tests share: a tuner built from a
// golden adapter's config with its encoder set to the weights at which PEFT took the gradients
// (the expected file's `param.*` tensors, by PEFT's names), and a greedy decoder.

import Foundation
import Llama
import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport

/// The golden folders whose prompt comes from an encoder (prefix tuning and P-tuning).
let encoderGoldens = ["prefix", "prefix-proj", "ptuning-mlp", "ptuning-lstm"]

/// A fresh tuner for the golden adapter `variant`'s config, every encoder tensor set to the
/// expected file's `param.<name>`; and that expected file.
func goldenEncoderTuner(_ variant: String) throws -> (tuner: any Tuner, expected: SafeTensorsFile) {
    let config = try AdapterFolder.config(in: Golden.folder(variant))
    let tuner = try config.makeTuner(wrapping: try Golden.base(), context: TunerContext(generator: Generator(seed: 9)))
    let expected = try Golden.expected("expected_\(variant).safetensors")
    let names = tuner.namedTrainableParameters.map(\.name)
    let stored = expected.tensors.keys.filter { $0.hasPrefix("param.") }.map { String($0.dropFirst(6)) }
    #expect(Set(names) == Set(stored), "encoder tensors \(names.sorted()) vs PEFT's \(stored.sorted())")
    for (name, tensor) in tuner.namedTrainableParameters {
        guard let value = expected["param.\(name)"] else { continue }
        #expect(value.shape == tensor.shape, "\(name): \(tensor.shape) vs PEFT's \(value.shape)")
        if value.shape == tensor.shape { tensor.copyValues(from: Tensor(shape: value.shape, values: value.values)) }
    }
    return (tuner, expected)
}

/// Greedy decoding as the Notebook's `generate` does it: every step re-runs `tuner.logits` on the
/// rows so far (right-padded with `pad`) and appends the argmax at each row's last token.
func greedyDecode(_ tuner: any Tuner, rows start: [[Int]], steps: Int, pad: Int = 0) -> [[Int]] {
    var rows = start
    for _ in 0..<steps {
        let length = rows.map(\.count).max() ?? 0
        let batch = TokenBatch(inputIds: rows.map { $0 + [Int](repeating: pad, count: length - $0.count) })
        let z = withoutGrad { tuner.logits(batch) }                                              // [R, T, V]
        for r in rows.indices { rows[r].append(argmax(z, row: r, position: rows[r].count - 1)) }
    }
    return rows
}

/// The argmax over the vocabulary of logits z [R, T, V] at (row, position).
func argmax(_ z: Tensor, row: Int, position: Int) -> Int {
    let v = z.shape[2], base = z.data + (row * z.shape[1] + position) * v
    var best = 0
    for k in 1..<v where base[k] > base[best] { best = k }
    return best
}

@Suite struct SoftPromptGoldenTests {
    @Test(arguments: encoderGoldens)
    func encoderWeightsReproduceTheSavedPrompt(variant: String) throws {
        // PEFT saves the encoder's output; the param.* weights run through our encoder give it.
        let (tuner, _) = try goldenEncoderTuner(variant)
        let saved = try SafeTensorsFile.read(contentsOf: Golden.folder(variant)
            .appendingPathComponent("adapter_model.safetensors"))
        let folder = temporaryFolder()
        try tuner.save(to: folder)
        let ours = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        #expect(Array(ours.tensors.keys) == ["prompt_embeddings"])
        #expect(ours["prompt_embeddings"]!.shape == saved["prompt_embeddings"]!.shape)
        let error = maxAbsDiff(ours["prompt_embeddings"]!.values, saved["prompt_embeddings"]!.values)
        #expect(error < 1e-6, "prompt_embeddings differ by \(error)")
    }

    @Test(arguments: encoderGoldens)
    func peftsSavedFolderGivesPeftsLogitsAndLoss(variant: String) throws {
        // The folder holds only prompt_embeddings: loaded as PEFT loads it, a fixed table.
        let model = try Golden.base()
        let tuner = try AdapterFolder.load(from: Golden.folder(variant), onto: model)
        let expected = try Golden.expected("expected_\(variant).safetensors")
        let report = try tuner.forwardReport(try Golden.batch())
        #expect(report["logits"]!.shape == expected["logits"]!.shape)
        #expect(maxAbsDiff(report["logits"]!.values, expected["logits"]!.values) < 1e-4)
        #expect(abs(report["loss"]!.values[0] - expected["loss"]!.values[0]) < 1e-4)
        #expect(tuner.namedTrainableParameters.map(\.name) == ["prompt_encoder.embedding.weight"])
        #expect((tuner as? PromptLearningModel)?.encoder is StoredPromptTable)
        for (name, p) in model.namedParameters { #expect(p.grad == nil, "frozen \(name) got a gradient") }
    }

    @Test(arguments: encoderGoldens)
    func peftsConfigFilesReadWithoutWarnings(variant: String) throws {
        var warnings: [String] = []
        let url = Golden.folder(variant).appendingPathComponent("adapter_config.json")
        let config = try AdapterConfigFile.read(contentsOf: url) { warnings.append($0) }
        #expect(warnings.isEmpty, "\(warnings)")
        // written back, it reads as the same config
        let copy = temporaryFolder().appendingPathComponent("adapter_config.json")
        try AdapterConfigFile.json(config).write(to: copy)
        let back = try AdapterConfigFile.read(contentsOf: copy)
        #expect(try AdapterConfigFile.json(back) == AdapterConfigFile.json(config))
    }

    @Test(arguments: ["prefix-proj", "ptuning-lstm"])
    func greedyGenerationAgreesWithOneFullForward(variant: String) throws {
        // Each generated token is the argmax of the full forward of the final rows at that
        // position: the virtual tokens' positions and the prefix do not depend on the length.
        let (tuner, _) = try goldenEncoderTuner(variant)
        let start = [[1, 14, 27, 40], [1, 52, 8]]
        let rows = greedyDecode(tuner, rows: start, steps: 6)
        let length = rows.map(\.count).max()!
        let padded = rows.map { $0 + [Int](repeating: 0, count: length - $0.count) }
        let full = withoutGrad { tuner.logits(TokenBatch(inputIds: padded)) }                   // [2, T, V]
        for (r, row) in rows.enumerated() {
            #expect(row.count == start[r].count + 6)
            for t in start[r].count..<row.count {
                #expect(row[t] == argmax(full, row: r, position: t - 1), "row \(r), token \(t)")
            }
        }
    }
}
