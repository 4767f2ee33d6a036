// AdaLoRA against Hugging Face peft 0.21: the golden adapter's logits, loss with the orthogonal
// regulariser, gradients and merged logits; the rank allocator's 12-step trace, step for step;
// the adapter saved after allocation; plus the layer, the penalty and the errors on their own.

import Foundation
import Llama
@testable import PEFT
import SafeTensors
import Testing
import TensorKit
import TestSupport
import Training

/// The 12 SGD steps of `adalora-steps.json` (lr 0.5, no momentum, no clipping, the batch every
/// step), replayed through `runTraining` with everything the trace records.
struct AdaLoraReplay {
    var tuner: AdaLoraModel
    var losses: [Float] = [], crossEntropies: [Float] = []
    var events: [AllocationStep] = []
    /// E of every module after each step's allocation, by adapter key.
    var singularValues: [[String: [Float]]] = []
    /// state.<name>.<key> of layer 0's q_proj after each step's allocation.
    var states: [[String: [Float]]] = []

    static let stateModule = "model.layers.0.self_attn.q_proj"

    init() throws {
        tuner = try AdaLoraModel.load(from: Golden.folder("adalora"), onto: try Golden.base())
        let batch = try Golden.batch()
        let optimizer = SGD([ParameterGroup(tuner.trainableParameters)], learningRate: 0.5)
        tuner.isTraining = true
        var replay = self
        _ = runTraining(steps: 12, optimizer: optimizer, learningRate: { _ in 0.5 }, maxGradientNorm: nil,
                        lossOfStep: { _ in
                            let (total, crossEntropy) = replay.tuner.loss(batch)
                            replay.losses.append(total.item); replay.crossEntropies.append(crossEntropy.item)
                            return (total, batch.inputIds.count)
                        },
                        afterStep: { step in replay.record(replay.tuner.updateAndAllocate(step)) })
        self = replay
    }

    mutating func record(_ event: AllocationStep) {
        events.append(event)
        var e: [String: [Float]] = [:], s: [String: [Float]] = [:]
        for (name, layer) in tuner.adapters {
            e["base_model.model.\(name).lora_E"] = layer.loraE.array
            guard name == Self.stateModule else { continue }
            for (suffix, t) in layer.namedTensors {
                guard let state = tuner.allocator.state(of: t) else { continue }
                let key = "base_model.model.\(name).\(suffix)"
                s["ipt.\(key)"] = state.ipt
                s["exp_avg_ipt.\(key)"] = state.exponentialAverage
                s["exp_avg_unc.\(key)"] = state.uncertainty
            }
        }
        singularValues.append(e)
        states.append(s)
    }
}

/// The largest error of each kind, printed once a test has compared everything.
final class ErrorLog {
    private var worst: [String: Float] = [:]
    func note(_ kind: String, _ error: Float) { worst[kind] = max(worst[kind] ?? 0, error) }
    var summary: String {
        worst.keys.sorted().map { "\($0) \(String(format: "%.2e", worst[$0]!))" }.joined(separator: ", ")
    }
}

func step(_ s: Int) -> String { String(format: "step%02d", s) }

func readJSON(_ url: URL) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
}

/// `rank_pattern` of a JSON object, keys without PEFT's in-memory ".default".
func rankPattern(inJSON object: [String: Any]) -> [String: [Bool]] {
    let raw = object["rank_pattern"] as? [String: [Bool]] ?? [:]
    return Dictionary(uniqueKeysWithValues: raw.map {
        ($0.key.replacingOccurrences(of: ".default", with: ""), $0.value)
    })
}

@Suite struct AdaLoraGoldenTests {
    @Test func adapterMatchesPeft() throws {
        let model = try Golden.base()
        let tuner = try AdaLoraModel.load(from: Golden.folder("adalora"), onto: model)
        let batch = try Golden.batch()
        let report = try tuner.forwardReport(batch)
        let expected = try Golden.expected("expected_adalora.safetensors")
        expectMatches(report, expected)
        #expect(report.tensors.keys.filter { $0.hasPrefix("grad.") }.count == 12)
        #expect(report["ce_loss"] != nil)
        let log = ErrorLog()
        log.note("orth_reg", abs(tuner.orthogonalRegularization - expected["orth_reg"]!.values[0]))
        #expect(abs(tuner.orthogonalRegularization - expected["orth_reg"]!.values[0]) < 1e-4)
        for key in ["logits", "loss", "ce_loss", "merged_logits"] {
            log.note(key, maxAbsDiff(report[key]!.values, expected[key]!.values))
        }
        for (key, value) in report.tensors where key.hasPrefix("grad.") {
            log.note("grad (relative)", maxRelDiff(value.values, expected[key]!.values))
        }
        // the cross-entropy's own gradients (grad_ce.<key>): the penalty's share is the difference
        for t in tuner.trainableParameters { t.zeroGrad() }
        tuner.loss(batch).crossEntropy.backward()
        for (name, t) in tuner.namedTrainableParameters {
            let error = maxRelDiff(t.gradArray!, expected["grad_ce.\(name)"]!.values)
            log.note("grad_ce (relative)", error)
            #expect(error < 1e-4, "grad_ce.\(name): \(error)")
        }
        for (name, p) in model.namedParameters { #expect(p.grad == nil, "frozen \(name) got a gradient") }
        print("AdaLoRA expected_adalora: \(log.summary)")
    }

    @Test func allocatorTraceMatchesPeftStepForStep() throws {
        let replay = try AdaLoraReplay()
        let steps = try Golden.expected("adalora-steps.safetensors")
        let json = try readJSON(Golden.tiny.appendingPathComponent("adalora-steps.json"))
        let log = ErrorLog()
        func close(_ ours: [Float], _ key: String, relative: Bool = true) {
            guard let reference = steps[key] else { Issue.record("no \(key) in adalora-steps"); return }
            let error = relative ? maxRelDiff(ours, reference.values) : maxAbsDiff(ours, reference.values)
            log.note(key.split(separator: ".").first.map { $0.hasPrefix("step") ? "E" : String($0) } ?? key, error)
            #expect(error < 1e-4, "\(key): \(error)")
        }
        close(replay.losses, "loss", relative: false)
        close(replay.crossEntropies, "ce_loss", relative: false)
        #expect(replay.events.map { Float($0.budget) } == steps["budget"]!.values)
        #expect(replay.events.map { $0.masked ? Float(1) : 0 } == steps["mask_applied"]!.values)
        let records = json["steps"] as? [[String: Any]] ?? []
        #expect(records.count == 12)
        for (s, record) in records.enumerated() {
            let event = replay.events[s]
            #expect(event.phase.rawValue == record["phase"] as? String, "step \(s) phase")
            for (key, e) in replay.singularValues[s] {
                close(e, "\(step(s)).\(key)")
                // which singular values are zero: exactly PEFT's
                let zeros = steps["\(step(s)).\(key)"]!.values.map { $0 == 0 }
                #expect(e.map { $0 == 0 } == zeros, "\(step(s)).\(key) zeros")
            }
            let nonzero = record["nonzero_E"] as? [String: Int] ?? [:]
            for (name, layer) in replay.tuner.adapters where s == 11 {
                #expect(layer.loraE.array.filter { $0 != 0 }.count == nonzero[name])
            }
            if let pruning = event.pruning {
                #expect(record["k"] as? Int == 24 - pruning.budget)
                let threshold = record["threshold"] as? Double ?? 0
                log.note("threshold (relative)", Float(abs(Double(pruning.threshold ?? 0) - threshold) / threshold))
                #expect(abs(Double(pruning.threshold ?? 0) - threshold) / threshold < 1e-4)
                let ranks = record["ranks"] as? [String: Int] ?? [:]
                for (name, kept) in pruning.kept {
                    #expect(kept.filter { $0 }.count == ranks[name], "step \(s) \(name)")
                }
                for (name, scores) in pruning.scores {
                    close(scores, "score.\(step(s)).base_model.model.\(name).lora_E")
                }
            } else {
                #expect(record["k"] == nil, "step \(s): PEFT pruned here")
            }
            if s <= 8 { for (key, value) in replay.states[s] { close(value, "state.\(step(s)).\(key)") } }
        }
        for (name, t) in replay.tuner.namedTrainableParameters { close(t.array, "final.\(name)") }
        let batch = try Golden.batch()
        let logits = withoutGrad { replay.tuner.forward(batch) }
        close(logits.array, "final_logits", relative: false)
        close([withoutGrad { replay.tuner.loss(batch).total.item }], "final_loss", relative: false)
        #expect(replay.tuner.config.rankPattern == rankPattern(inJSON: json))
        print("AdaLoRA adalora-steps: \(log.summary)")
    }

    @Test func adapterSavedAfterAllocationIsPeftsAndLoadsBack() throws {
        let replay = try AdaLoraReplay()
        let folder = temporaryFolder()
        try replay.tuner.save(to: folder)
        let golden = Golden.folder("adalora-final")
        let ours = try SafeTensorsFile.read(contentsOf: folder.appendingPathComponent(AdapterFolder.weightsName))
        let theirs = try SafeTensorsFile.read(contentsOf: golden.appendingPathComponent(AdapterFolder.weightsName))
        #expect(Set(ours.tensors.keys) == Set(theirs.tensors.keys))
        let log = ErrorLog()
        for (key, reference) in theirs.tensors {
            guard let saved = ours[key] else { continue }
            #expect(saved.shape == reference.shape, "\(key): \(saved.shape) vs \(reference.shape)")
            guard saved.shape == reference.shape else { continue }
            log.note("saved tensors (relative)", maxRelDiff(saved.values, reference.values))
            #expect(maxRelDiff(saved.values, reference.values) < 1e-4, "\(key)")
        }
        let savedConfig = try readJSON(folder.appendingPathComponent(AdapterFolder.configName))
        let goldenConfig = try readJSON(golden.appendingPathComponent(AdapterFolder.configName))
        #expect(rankPattern(inJSON: savedConfig) == rankPattern(inJSON: goldenConfig))
        #expect(savedConfig["peft_type"] as? String == "ADALORA" && savedConfig["init_r"] as? Int == 6)
        // loaded back (PEFT's file and ours): the trained model's logits, the scale still alpha/(init_r + 1e-5)
        let batch = try Golden.batch()
        let expected = try Golden.expected("adalora-steps.safetensors")["final_logits"]!.values
        for source in [golden, folder] {
            let loaded = try AdaLoraModel.load(from: source, onto: try Golden.base())
            #expect(loaded.adapters.map(\.layer.r) == [1, 3, 1, 3])
            #expect(loaded.adapters.allSatisfy { $0.layer.scaling == Float(8) / (Float(6) + 1e-5) })
            let logits = withoutGrad { loaded.forward(batch) }.array
            log.note("reloaded logits", maxAbsDiff(logits, expected))
            #expect(maxAbsDiff(logits, expected) < 1e-4)
            #expect(loaded.config.rankPattern == rankPattern(inJSON: goldenConfig))
        }
        print("AdaLoRA adalora-final: \(log.summary)")
    }

    @Test func goldenConfigReadsWithoutWarnings() throws {
        var warnings: [String] = []
        let file = Golden.folder("adalora-final").appendingPathComponent("adapter_config.json")
        let config = try AdapterConfigFile.read(contentsOf: file, warn: { warnings.append($0) })
        #expect(warnings.isEmpty, "\(warnings)")
        let adalora = try #require(config as? AdaLoraConfig)
        #expect(adalora.initR == 6 && adalora.targetR == 2 && adalora.deltaT == 2)
        #expect(adalora.tinit == 2 && adalora.tfinal == 3)
        #expect(adalora.totalStep == 12 && adalora.loraAlpha == 8 && adalora.orthRegWeight == 0.5)
        #expect(adalora.rankPattern?.count == 4)
        // what we write reads back the same
        var again = try JSONDecoder().decode(AdaLoraConfig.self, from: try AdapterConfigFile.json(adalora))
        again.baseModelNameOrPath = adalora.baseModelNameOrPath  // a common key, read by AdapterConfigFile
        #expect(again == adalora)
    }
}
