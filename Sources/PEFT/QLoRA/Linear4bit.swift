// Linear4bit.swift — a frozen linear layer whose weight is stored in 4 bits (bitsandbytes'
// `Linear4bit` with compute dtype float32), the base that QLoRA trains adapters on.
//
//   y = x·Ŵᵀ (+ b),   Ŵ = dequantize(W₄) [out, in]      (the same float32 values bitsandbytes uses)
//   backward: dx += dy·Ŵ;  no dW — the 4-bit weight never trains
//
// Each product dequantizes the whole weight, block by block (16 products code·absmax a block,
// then two table lookups a byte), into a buffer borrowed from `DequantizationScratch`, and runs
// one sgemm. The layer keeps only the packed codes and the absmax values.

import Llama
import TensorKit

/// A linear layer with a 4-bit weight: frozen, dequantized for every product.
public final class Linear4bit: BaseLinear {
    /// The packed weight [out, in].
    public private(set) var weight: QuantizedWeight
    /// An optional float32 bias [out] (frozen too; LLaMA has none).
    public let bias: Tensor?

    /// A layer from an already quantized weight [out, in].
    public init(weight: QuantizedWeight, bias: Tensor? = nil) {
        precondition(weight.shape.count == 2, "a linear weight is [out, in], got \(weight.shape)")
        precondition(bias.map { $0.shape == [weight.shape[0]] } ?? true,
                     "bias \(bias?.shape ?? []) for \(weight.shape)")
        self.weight = weight
        self.bias = bias
        bias?.requiresGrad = false
    }

    /// Quantizes a float layer's weight (`Linear4bit(quantizing: linear, settings: .qlora)`).
    public convenience init(quantizing layer: any BaseLinear, settings: QuantizationSettings) {
        let dense = layer.denseWeight()
        let weight = QuantizedWeight(quantizing: UnsafeBufferPointer(start: dense.data, count: dense.count),
                                     shape: dense.shape, settings: settings)
        self.init(weight: weight, bias: layer.bias?.detached())
    }

    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    /// y = x·Ŵᵀ (+ b) as an op whose backward gives dx only.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.shape.last == inFeatures,
                     "Linear4bit: input \(x.shape) for a [\(outFeatures), \(inFeatures)] weight")
        let rows = x.count / max(inFeatures, 1)
        return customOp(shape: Array(x.shape.dropLast()) + [outFeatures], inputs: [x]) { y in
            self.multiply(x.data, rows: rows, into: y)                                  // y = x·Ŵᵀ (+ b)
        } backward: { dy in
            if x.requiresGrad {
                self.multiplyTransposed(dy, rows: rows, accumulatingInto: x.gradBuffer())   // dx += dy·Ŵ
            }
        }
    }

    /// Runs `body` with the dequantized weight Ŵ [out, in] in a borrowed buffer.
    public func withDequantizedWeight<T>(_ body: (UnsafePointer<Float>) throws -> T) rethrows -> T {
        try DequantizationScratch.shared.withBuffer(count: weight.count) { buffer in
            Profiler.measure("dequantize") { weight.dequantize(into: buffer) }
            return try body(buffer)
        }
    }

    public func multiply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        let (inF, outF) = (inFeatures, outFeatures)
        withDequantizedWeight { w in
            BLAS.shared.sgemm(transA: false, transB: true, m: rows, n: outF, k: inF,
                              a: x, lda: inF, b: w, ldb: inF, c: y, ldc: outF)                    // y = x·Ŵᵀ
        }
        if let bias { for r in 0..<rows { let row = y + r * outF; for j in 0..<outF { row[j] += bias.data[j] } } }
    }

    public func multiplyTransposed(_ dy: UnsafePointer<Float>, rows: Int,
                                   accumulatingInto dx: UnsafeMutablePointer<Float>) {
        let (inF, outF) = (inFeatures, outFeatures)
        withDequantizedWeight { w in
            BLAS.shared.sgemm(transA: false, transB: false, m: rows, n: inF, k: outF,
                              a: dy, lda: outF, b: w, ldb: inF, beta: 1, c: dx, ldc: inF)         // dx += dy·Ŵ
        }
    }

    /// Ŵ as a new float32 tensor [out, in] (bitsandbytes' `dequantize_4bit`).
    public func denseWeight() -> Tensor {
        let t = Tensor(zeros: weight.shape)
        weight.dequantize(into: t.data)
        return t
    }

    /// W₄ ← quantize(Ŵ + Δ) with the same settings: what PEFT's merge into a 4-bit layer does. The
    /// result is rounded to the 4-bit grid again, so merging then unmerging is not exact.
    public func addToWeight(_ delta: Tensor) {
        precondition(delta.shape == weight.shape, "addToWeight: \(delta.shape) into \(weight.shape)")
        let w = denseWeight()
        for i in 0..<w.count { w.data[i] += delta.data[i] }
        weight = QuantizedWeight(quantizing: UnsafeBufferPointer(start: w.data, count: w.count),
                                 shape: weight.shape, settings: weight.settings)
    }

    /// Empty: a 4-bit weight is not a float tensor that can train.
    public var namedTensors: [(suffix: String, tensor: Tensor)] { [] }
    public var parameterCount: Int { weight.count + (bias?.count ?? 0) }
    /// The packed codes and absmax storage (and a float bias): about 4.127 bits a weight with
    /// double quantization, 4.5 without (blocks of 64).
    public var storageBytes: Int { weight.storageBytes + (bias?.storageBytes ?? 0) }
}
