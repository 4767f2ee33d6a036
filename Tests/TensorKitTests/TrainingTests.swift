// Optimisers against PyTorch's update rules, schedules, clipping and reproducibility.

import Foundation
import Testing
import TestSupport
import TensorKit
import Training

@Suite struct TrainingTests {
    @Test func adamWMatchesTorchStepByStep() {
        // torch.optim.AdamW(lr=0.1, weight_decay=0.01), gradient g = 2θ (loss Σθ²), 3 steps from
        // θ = [1, −2]; reference values computed with the update rule in Double.
        let p = Tensor(shape: [2], values: [1, -2], requiresGrad: true)
        let opt = AdamW(parameters: [p], learningRate: 0.1, weightDecay: 0.01)
        var theta = [1.0, -2.0], m = [0.0, 0.0], v = [0.0, 0.0]
        for t in 1...3 {
            (p * p).sum().backward()
            opt.step(); opt.zeroGrad()
            for i in 0..<2 {
                let g = 2 * theta[i]
                theta[i] *= 1 - 0.1 * 0.01
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                let mhat = m[i] / (1 - pow(0.9, Double(t))),
                    denom = (v[i] / (1 - pow(0.999, Double(t)))).squareRoot() + 1e-8
                theta[i] -= 0.1 * mhat / denom
            }
        }
        #expect(abs(Double(p.array[0]) - theta[0]) < 1e-5 && abs(Double(p.array[1]) - theta[1]) < 1e-5)
    }

    @Test func parameterGroupsScaleTheirLearningRate() {
        let a = Tensor(shape: [1], values: [1], requiresGrad: true),
            b = Tensor(shape: [1], values: [1], requiresGrad: true)
        let opt = SGD([ParameterGroup([a]), ParameterGroup([b], learningRateScale: 16)], learningRate: 0.01)
        (a + b).sum().backward()
        opt.step()
        #expect(abs(a.item - 0.99) < 1e-6 && abs(b.item - 0.84) < 1e-6)
    }

    @Test func sgdMomentum() {
        let p = Tensor(shape: [1], values: [0], requiresGrad: true)
        let opt = SGD([ParameterGroup([p])], learningRate: 1, momentum: 0.5)
        for _ in 0..<2 { (p * 1).sum().backward(); opt.step(); opt.zeroGrad() }  // g = 1: steps 1 then 1.5
        #expect(abs(p.item + 2.5) < 1e-6)
    }

    @Test func clippingScalesToMaxNorm() {
        let p = Tensor(shape: [2], values: [0, 0], requiresGrad: true)
        (p * Tensor(shape: [2], values: [3, 4])).sum().backward()
        let norm = clipGradientNorm([p], maxNorm: 1)
        #expect(abs(norm - 5) < 1e-5)
        #expect(abs(p.gradArray![0] - 0.6) < 1e-5 && abs(p.gradArray![1] - 0.8) < 1e-5)
    }

    @Test func schedules() {
        let cosine = LearningRateSchedule.cosine(warmup: 10, total: 110)
        #expect(cosine.multiplier(at: 0) == 0 && cosine.multiplier(at: 5) == 0.5 && cosine.multiplier(at: 10) == 1)
        #expect(abs(cosine.multiplier(at: 60) - 0.5) < 1e-6 && cosine.multiplier(at: 110) < 1e-6)
        let linear = LearningRateSchedule.linear(warmup: 0, total: 100)
        #expect(linear.multiplier(at: 25) == 0.75 && linear.multiplier(at: 200) == 0)
    }

    @Test func theLogTimesTheHookAfterEachStep() {
        let p = Tensor(shape: [1], values: [1], requiresGrad: true)
        var calls: [Int] = []
        let log = runTraining(steps: 3, optimizer: SGD([ParameterGroup([p])], learningRate: 0.1),
                              learningRate: { _ in 0.1 }, maxGradientNorm: nil,
                              lossOfStep: { _ in ((p * p).sum(), 1) },
                              afterStep: { step in calls.append(step); Thread.sleep(forTimeInterval: 0.01) })
        #expect(calls == [0, 1, 2] && log.tokens == 3)
        #expect(log.afterStepSeconds >= 0.03 && log.afterStepSeconds <= log.seconds)
    }

    @Test func sameSeedSameLosses() {
        func run(seed: UInt64) -> [Float] {
            let gen = Generator(seed: seed)
            let w = Tensor.randn([8, 8], std: 0.3, generator: gen, requiresGrad: true)
            let opt = AdamW(parameters: [w], learningRate: 0.01)
            var losses: [Float] = []
            for _ in 0..<5 {
                let x = Tensor.randn([4, 8], generator: gen)
                let y = dropout(tanh(linear(x, weight: w)), p: 0.2, generator: gen)
                let loss = crossEntropy(y, targets: (0..<4).map { _ in gen.int(below: 8) })
                loss.backward(); opt.step(); opt.zeroGrad()
                losses.append(loss.item)
            }
            return losses
        }
        #expect(run(seed: 42) == run(seed: 42))
        #expect(run(seed: 42) != run(seed: 43))
    }

    @Test func generatorIsSplitMix64() {
        // First outputs of SplitMix64 seeded with 0 (reference values of the published algorithm).
        let g = Generator(seed: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
    }
}

@Suite struct SVDTests {
    @Test(arguments: [(5, 3), (3, 5), (8, 8), (1, 4)])
    func reconstructsAndIsOrthonormal(shape: (Int, Int)) {
        let (m, n) = shape
        let a = Tensor.randn([m, n], generator: Generator(seed: UInt64(m * 10 + n))).array
        let d = SVD(a, rows: m, columns: n)
        #expect(d.k == min(m, n))
        #expect(zip(d.s, d.s.dropFirst()).allSatisfy { $0 >= $1 })
        for i in 0..<m {
            for j in 0..<n {
                var x = 0.0
                for c in 0..<d.k { x += d.u[i * d.k + c] * d.s[c] * d.vt[c * n + j] }
                #expect(abs(x - Double(a[i * n + j])) < 1e-9)
            }
        }
        for c1 in 0..<d.k {
            for c2 in 0..<d.k {
                var uu = 0.0, vv = 0.0
                for i in 0..<m { uu += d.u[i * d.k + c1] * d.u[i * d.k + c2] }
                for j in 0..<n { vv += d.vt[c1 * n + j] * d.vt[c2 * n + j] }
                #expect(abs(uu - (c1 == c2 ? 1 : 0)) < 1e-9 && abs(vv - (c1 == c2 ? 1 : 0)) < 1e-9)
            }
        }
    }

    @Test func rankOneMatrixHasOneSingularValue() {
        // [1 2; 2 4; 3 6] = [1 2 3]ᵀ [1 2]: σ₁ = √14 · √5, σ₂ = 0
        let d = SVD([1, 2, 2, 4, 3, 6], rows: 3, columns: 2)
        #expect(abs(d.s[0] - (14.0 * 5).squareRoot()) < 1e-12 && d.s[1] < 1e-12)
    }
}
