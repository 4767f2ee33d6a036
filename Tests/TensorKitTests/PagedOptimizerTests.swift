// The paged AdamW: the same parameters as AdamW bit for bit, with the state in a memory-mapped
// file whose resident part stays within the budget.

import Foundation
import Testing
import TensorKit
import TestSupport
import Training

@Suite struct PagedOptimizerTests {
    /// Parameters of a few sizes (one larger than the budget) and a deterministic gradient per step.
    func run(_ make: ([ParameterGroup]) throws -> AdamW, steps: Int = 6) rethrows
        -> (params: [[Float]], optimizer: AdamW) {
        let gen = Generator(seed: 5)
        let params = [randn([300, 200], gen), randn([70], gen), randn([128, 128], gen), randn([5, 3], gen)]
        let optimizer = try make([ParameterGroup(Array(params[0..<2]), weightDecay: 0.01),
                                  ParameterGroup(Array(params[2...]), learningRateScale: 4)])
        for step in 0..<steps {
            for (k, p) in params.enumerated() where step % 3 != 2 || k != 1 {  // one parameter skips some steps
                let g = p.gradBuffer()
                for i in 0..<p.count { g[i] = sinf(Float(i * (k + 1) + step)) + 0.1 * p.data[i] }
            }
            optimizer.learningRate = 0.01 * Float(step + 1)
            optimizer.step()
            optimizer.zeroGrad()
        }
        return (params.map(\.array), optimizer)
    }

    @Test func pagedAdamWGivesTheSameParametersBitForBit() throws {
        let (heap, _) = run { AdamW($0, learningRate: 0.01) }
        let budget = 64 * 1024  // less than one moment of the 300×200 parameter (240 kB)
        let (paged, optimizer) = try run { try AdamW.paged($0, learningRate: 0.01, residentBudget: budget) }
        #expect(paged == heap)
        let state = try #require(optimizer.storage as? PagedOptimizerState)
        #expect(state.pageOuts > 0)
        #expect(state.allocatedBytes >= 2 * 4 * (300 * 200 + 70 + 128 * 128 + 15))
        // the last access's buffers stay resident even when they alone exceed the budget; the rest was paged out
        #expect(state.residentBytes <= 2 * 4 * 300 * 200 + 2 * 4096)
        let unlimited = try run { try AdamW.paged($0, learningRate: 0.01, residentBudget: nil) }.params
        #expect(unlimited == heap)
    }

    @Test func residentStateStaysUnderTheBudget() throws {
        // 8 parameters of 1 MB: 16 MB of moments, 2 MB allowed in RAM
        let gen = Generator(seed: 6)
        let params = (0..<8).map { _ in randn([512, 512], gen) }
        let budget = 2 << 20
        let paged = try AdamW.paged([ParameterGroup(params)], residentBudget: budget)
        let trace = ResidentMemoryTrace()
        let optimizer = trace.recording(paged)
        for _ in 0..<3 {
            for p in params { let g = p.gradBuffer(); for i in 0..<p.count { g[i] = 1e-3 * Float(i % 7) } }
            optimizer.step()
            optimizer.zeroGrad()
        }
        #expect(trace.samples.count == 3 && trace.peak > 0 || ResidentMemory.current() == nil)
        let state = try #require(paged.storage as? PagedOptimizerState)
        #expect(state.residentBytes <= budget)
        if let measured = state.measuredResidentBytes() {  // what the kernel says about these mappings
            #expect(measured <= budget + 64 * 1024, "\(measured) bytes of state resident")
        }
        state.pageOutAll()
        #expect(state.residentBytes == 0 && (state.measuredResidentBytes() ?? 0) <= 64 * 1024)
        #expect(ResidentMemory.current().map { $0 > 0 } ?? true)
    }
}
