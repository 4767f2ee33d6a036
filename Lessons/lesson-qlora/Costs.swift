// Costs.swift — the measurements of lesson-qlora that look at what a training step costs: memory
// at real model sizes (computed), the time of a step (measured, alternating), and the optimizer
// state's resident memory over a run (measured, with and without paging).

import Foundation
import Llama
import Notebook
import PEFT
import TensorKit
import Training

/// A LLaMA shape, for memory arithmetic at real sizes.
struct ModelShape {
    var name: String
    var layers: Int, hidden: Int, intermediate: Int, vocabulary: Int

    static let llama = [ModelShape(name: "LLaMA-7B", layers: 32, hidden: 4096, intermediate: 11008, vocabulary: 32000),
                        ModelShape(name: "LLaMA-13B", layers: 40, hidden: 5120, intermediate: 13824, vocabulary: 32000),
                        ModelShape(name: "LLaMA-65B", layers: 80, hidden: 8192, intermediate: 22016, vocabulary: 32000)]

    /// Weights of the seven projections of all layers (what QLoRA quantizes).
    var linearWeights: Int { layers * (4 * hidden * hidden + 3 * hidden * intermediate) }
    /// Everything else: embeddings, output head, norms.
    var otherWeights: Int { 2 * vocabulary * hidden + (2 * layers + 1) * hidden }
    var parameters: Int { linearWeights + otherWeights }
    /// LoRA parameters at rank r on every linear layer (r·(in + out) per matrix).
    func loraParameters(r: Int, allLinear: Bool) -> Int {
        let attention = allLinear ? 4 : 2
        return layers * r * (attention * 2 * hidden + (allLinear ? 3 * (hidden + intermediate) : 0))
    }
}

/// Bytes of one training step without activations, per the usual accounting: full fine-tuning in
/// 16 bits (weights 2, gradients 2, AdamW's two 32-bit moments 8 bytes a parameter — the QLoRA
/// paper's ">780 GB" for 65B), LoRA on a 16-bit base, and QLoRA (NF4 + double quantization for the
/// projections at `bits` a weight, 16-bit embeddings and head, 16-bit adapters and gradients,
/// 32-bit moments).
func stepBytes(_ s: ModelShape, loraParameters lora: Int, bits: Double)
    -> (full: Double, lora: Double, qlora: Double, qloraWeights: Double) {
    let p = Double(s.parameters), a = Double(lora)
    let full = 12 * p
    let loraBytes = 2 * p + 2 * a + 2 * a + 8 * a
    let quantized = Double(s.linearWeights) * bits / 8 + 2 * Double(s.otherWeights)
    return (full, loraBytes, quantized + 2 * a + 2 * a + 8 * a, quantized)
}

/// "33.5 GB" in decimal units, as the paper counts.
func gigabytes(_ bytes: Double) -> String { String(format: "%.1f GB", bytes / 1e9) }

/// The seconds of each of `steps` training steps of `tuner` on `batch` (AdamW), after one warm-up step.
func stepTimes(_ tuner: any Tuner, batch: TokenBatch, steps: Int) -> [Double] {
    let optimizer = AdamW(tuner.parameterGroups(weightDecay: 0), learningRate: 1e-4)
    tuner.isTraining = true
    defer { tuner.isTraining = false }
    func step() {
        tuner.loss(batch).total.backward()
        optimizer.step()
        optimizer.zeroGrad()
    }
    step()
    return (0..<steps).map { _ in
        let start = Profiler.now()
        step()
        return Profiler.now() - start
    }
}

/// Seconds a training step: the median over `steps` steps, so that a step the scheduler
/// interrupted (the machine is shared) does not count more than any other.
func secondsPerStep(_ tuner: any Tuner, batch: TokenBatch, steps: Int) -> Double {
    median(stepTimes(tuner, batch: batch, steps: steps))
}

/// The share of a step's time that `tuner`'s 4-bit layers spend dequantizing (the profiler's
/// "dequantize" region against the wall time of the same steps).
func dequantizationShare(_ tuner: any Tuner, batch: TokenBatch, steps: Int) -> Double {
    _ = stepTimes(tuner, batch: batch, steps: 0)  // one step outside the profile: buffers exist before it
    Profiler.reset()
    Profiler.isEnabled = true
    let start = Profiler.now()
    _ = stepTimes(tuner, batch: batch, steps: steps)
    let seconds = Profiler.now() - start
    Profiler.isEnabled = false
    return (Profiler.seconds["dequantize"] ?? 0) / max(seconds, 1e-12)
}

/// AdamW, with the process's resident memory (VmRSS) and the optimizer state's resident bytes
/// recorded after every step: measured by the kernel for a paged state, the allocated moments for
/// a heap state (malloc'd and written every step, so resident).
final class StateRecorder {
    let adamW: AdamW
    let paged: RecordingPagedState?
    let process = ResidentMemoryTrace()
    private(set) var stateBytes: [Int] = []
    init(_ adamW: AdamW, paged: RecordingPagedState?) { self.adamW = adamW; self.paged = paged }

    /// The optimizer to train with: AdamW, sampled after each step.
    lazy var optimizer: any Optimizer = process.recording(adamW) { [unowned self] in
        if let state = paged?.inner {
            stateBytes.append(state.measuredResidentBytes() ?? state.residentBytes)
        } else {
            stateBytes.append(8 * adamW.parameterCount)
        }
    }
}

/// A paged optimizer state that notes its resident bytes (its own bookkeeping) after making room
/// for each parameter's moments: the state's memory within a step.
final class RecordingPagedState: OptimizerStateStorage {
    let inner: PagedOptimizerState
    private(set) var trace: [Int] = []
    init(_ inner: PagedOptimizerState) { self.inner = inner }
    func allocate(count: Int) -> UnsafeMutablePointer<Float> { inner.allocate(count: count) }
    func willAccess(_ buffers: [(pointer: UnsafeMutablePointer<Float>, count: Int)]) {
        inner.willAccess(buffers)
        trace.append(inner.residentBytes)
    }
}

/// A batch of `rows` windows of `length` tokens from the held-out text (for an activation spike).
func longBatch(_ base: BaseModel, rows: Int, length: Int) -> TokenBatch {
    let stream = base.heldOut.flatMap { $0 }
    let span = max(1, stream.count - length)
    let ids = (0..<rows).flatMap { i in stream[(i * 97 % span)..<(i * 97 % span + length)] }
    return TokenBatch(ids: Array(ids), labels: Array(ids), rows: rows)
}
