// Linear4bit as a layer: products equal the float layer of its dequantized weight, backward
// gives dx only, LoRA, rsLoRA and DoRA wrap it unchanged, merging re-quantizes as PEFT does.

import Foundation
import Llama
import PEFT
import Testing
import TensorKit
import TestSupport

@Suite struct Linear4bitTests {
    func tinyModel() -> LlamaModel {
        LlamaModel(config: LlamaConfig(vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2,
                                       numAttentionHeads: 2),
                   generator: Generator(seed: 1))
    }
    let batch = TokenBatch(inputIds: [[1, 5, 9, 3], [7, 2, 8, 4]])

    @Test func productsAreThoseOfTheDequantizedWeight() {
        let gen = Generator(seed: 2)
        // 1680 weights: blocks of 64 run across rows
        let layer = Linear4bit(quantizing: Linear(weight: randn([24, 70], gen)), settings: .qlora)
        let dense = Linear(weight: layer.denseWeight())
        let x = randn([3, 5, 70], gen)
        #expect(withoutGrad { layer(x) }.array == withoutGrad { dense(x) }.array)
        #expect(layer.namedTensors.isEmpty && layer.parameterCount == 24 * 70)
        let dy = randn([15, 24], gen).array
        var a = [Float](repeating: 0.5, count: 15 * 70), b = a
        layer.multiplyTransposed(dy, rows: 15, accumulatingInto: &a)
        dense.multiplyTransposed(dy, rows: 15, accumulatingInto: &b)
        #expect(a == b)
    }

    @Test func backwardGivesTheInputGradientOnly() {
        let gen = Generator(seed: 3)
        let layer = Linear4bit(quantizing: Linear(weight: randn([6, 64], gen)),
                               settings: QuantizationSettings(type: .fp4))
        gradCheck([randn([2, 3, 64], gen)]) { layer($0[0]) }
        let x = randn([4, 64], gen, std: 1)
        #expect(withoutGrad { layer(x) }.shape == [4, 6])
        let frozen = randn([4, 64], gen)  // no input needs a gradient: no backward is recorded
        #expect(!layer(frozen).requiresGrad)
    }

    @Test(arguments: [(false, false), (true, false), (false, true)])
    func loraVariantsWrapItUnchanged(rslora: Bool, dora: Bool) throws {
        let quantized = tinyModel(), reference = tinyModel()
        try quantized.quantizeLinearLayers(.qlora)
        // the reference is a float model holding the dequantized weights
        for (q, r) in zip(quantized.linearSlots, reference.linearSlots) {
            if let l = q.layer as? Linear4bit { r.layer = Linear(weight: l.denseWeight()) }
        }
        let config = LoraConfig(r: 2, targetModules: .allLinear, useRslora: rslora, initLoraWeights: .random,
                                useDora: dora)
        let a = try LoraModel(wrapping: quantized, config: config, generator: Generator(seed: 9))
        let b = try LoraModel(wrapping: reference, config: config, generator: Generator(seed: 9))
        #expect(maxAbsDiff(withoutGrad { a.forward(batch) }.array, withoutGrad { b.forward(batch) }.array) < 1e-5)
        let la = a.loss(batch).total, lb = b.loss(batch).total
        la.backward(); lb.backward()
        for ((name, ta), (_, tb)) in zip(a.namedTrainableParameters, b.namedTrainableParameters) {
            #expect(maxRelDiff(ta.gradArray!, tb.gradArray!) < 1e-4, "\(name)")
        }
        #expect(quantized.namedParameters.allSatisfy { $0.tensor.grad == nil })
    }

    @Test func mergingRequantizesWithTheSameSettings() throws {
        let gen = Generator(seed: 4)
        let layer = Linear4bit(quantizing: Linear(weight: randn([8, 64], gen)), settings: .qlora)
        let before = layer.denseWeight()
        let delta = randn([8, 64], gen, std: 0.3)
        layer.addToWeight(delta)
        let expected = QuantizedWeight(quantizing: (before + delta).array, shape: [8, 64], settings: .qlora)
        #expect(layer.weight == expected)
        #expect(layer.weight.settings == .qlora)
    }

    @Test func storageShowsFourBitsAWeight() throws {
        let model = tinyModel()
        let floatBytes = model.weightBytes
        try model.quantizeLinearLayers(QuantizationSettings(type: .nf4, blockSize: 32))
        let linearFloat = model.layers.flatMap(\.slots)
            .reduce(0) { $0 + 4 * $1.layer.inFeatures * $1.layer.outFeatures }
        let linear4 = model.quantizedLayers.reduce(0) { $0 + $1.layer.storageBytes }
        #expect(model.weightBytes == floatBytes - linearFloat + linear4)
        #expect(model.quantizedLayers.allSatisfy { $0.layer.weight.bitsPerWeight == 5 })  // 4 + 32/32
        try model.dequantizeLinearLayers()
        #expect(model.weightBytes == floatBytes)
    }
}
