// LSTMKernel.swift — one direction of an LSTM layer over a whole sequence as one op, forward and
// backward through time side by side.
//
// Built from tensor ops, a step is sixteen of them on the tape (slices, a linear, three sigmoids,
// two tanh, products, sums): 1,280 tape entries for P-tuning's two bidirectional layers over 20
// virtual tokens, each too small to be worth its overhead. Here the T steps are one entry.
//
// Forward, gates in PyTorch's order i, f, g, o, G = W_ih·x + b_ih precomputed; t−1 is the step
// processed before t (t+1 in the forward direction, t−1 in the reverse one), zero before the first:
//   z_t = G_t + (W_hh·h_{t−1} + b_hh)                         [4h]
//   i, f, o = σ(z_i, z_f, z_o),  g = tanh(z_g)
//   c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
// Backward, from the last step processed to the first (dH_t: the output's gradient at t; t+1 the
// step processed after t):
//   dh_t = dH_t + dz_{t+1}·W_hh                               (the next step's recurrent input)
//   dc_t = dc_{t+1} ⊙ f_{t+1} + (dh_t ⊙ o) ⊙ (1 − tanh²c_t)
//   dz = [dc⊙g ⊙ i(1−i); dc⊙c_{t−1} ⊙ f(1−f); dc⊙i ⊙ (1−g²); dh⊙tanh c_t ⊙ o(1−o)]
//   dG_t += dz,  db_hh += dz,  dW_hh += dzᵀ·h_{t−1}
// Every product and sum is the one the op-by-op graph computes, in the same order, so the values
// and gradients are the same to the bit (LSTMKernelTests compares them).

import FastMath
import Foundation
import TensorKit

/// One LSTM direction over `inputGates` G [T, 4h] (W_ih·x + b_ih for every step) with the
/// recurrent `weightHH` [4h, h] and `biasHH` [4h]; `reverse` runs t = T−1 … 0. Returns the hidden
/// states [T, h], rows in time order.
func lstmDirection(_ inputGates: Tensor, weightHH: Tensor, biasHH: Tensor, reverse: Bool) -> Tensor {
    let steps = inputGates.shape[0], h = weightHH.shape[1], width = 4 * h
    precondition(steps > 0, "lstmDirection: a sequence of no steps")
    precondition(weightHH.shape == [width, h] && inputGates.shape == [steps, width] && biasHH.count == width,
                 "lstmDirection: gates \(inputGates.shape), W_hh \(weightHH.shape), b_hh \(biasHH.shape)")
    let order = reverse ? Array((0..<steps).reversed()) : Array(0..<steps)
    // Saved for backward, rows in time order: the gates after their activation, c_t, tanh c_t, h_t.
    let gates = Buffer(count: steps * width), cells = Buffer(count: steps * h)
    let tanhCells = Buffer(count: steps * h), hidden = Buffer(count: steps * h)
    let zero = Buffer(count: h)                                                   // h₋₁ = c₋₁ = 0
    zero.pointer.initialize(repeating: 0, count: h)
    let blas = BLAS.shared
    let (w, b) = (weightHH.data, biasHH.data)
    return customOp(shape: [steps, h], inputs: [inputGates, weightHH, biasHH], forward: { y in
        let z = UnsafeMutablePointer<Float>.allocate(capacity: width)             // [4h]
        defer { z.deallocate() }
        var previous: Int? = nil
        for t in order {
            let hPrevious = previous.map { hidden.pointer + $0 * h } ?? zero.pointer
            let cPrevious = previous.map { cells.pointer + $0 * h } ?? zero.pointer
            blas.sgemm(transA: false, transB: true, m: 1, n: width, k: h, a: hPrevious, lda: h, b: w, ldb: h,
                       c: z, ldc: width)                                          // W_hh·h_{t−1}
            let gRow = inputGates.data + t * width, a = gates.pointer + t * width    // G_t [4h], gates [4h]
            for j in 0..<width { z[j] += b[j] }
            for j in 0..<width { z[j] = gRow[j] + z[j] }
            for j in 0..<h {
                a[j] = fastSigmoid(z[j])                                          // i
                a[h + j] = fastSigmoid(z[h + j])                                  // f
                a[2 * h + j] = tanhf(z[2 * h + j])                                // g
                a[3 * h + j] = fastSigmoid(z[3 * h + j])                          // o
            }
            let c = cells.pointer + t * h, tc = tanhCells.pointer + t * h, ht = hidden.pointer + t * h  // [h]
            for j in 0..<h {
                c[j] = a[h + j] * cPrevious[j] + a[j] * a[2 * h + j]
                tc[j] = tanhf(c[j])
                ht[j] = a[3 * h + j] * tc[j]
                y[t * h + j] = ht[j]
            }
            previous = t
        }
    }, backward: { dy in
        let dz = UnsafeMutablePointer<Float>.allocate(capacity: width)            // [4h]
        let dh = UnsafeMutablePointer<Float>.allocate(capacity: h)                // dL/dh_t, then dL/dh_{t−1}
        let dcCarry = UnsafeMutablePointer<Float>.allocate(capacity: h)           // dc_{t+1} ⊙ f_{t+1}
        defer { dz.deallocate(); dh.deallocate(); dcCarry.deallocate() }
        let dG = inputGates.requiresGrad ? inputGates.gradBuffer() : nil
        let dW = weightHH.requiresGrad ? weightHH.gradBuffer() : nil
        let dB = biasHH.requiresGrad ? biasHH.gradBuffer() : nil
        let last = order[steps - 1]
        for j in 0..<h { dh[j] = dy[last * h + j]; dcCarry[j] = 0 }
        for k in stride(from: steps - 1, through: 0, by: -1) {
            let t = order[k], previous: Int? = k > 0 ? order[k - 1] : nil
            let a = gates.pointer + t * width, tc = tanhCells.pointer + t * h
            let cPrevious = previous.map { cells.pointer + $0 * h } ?? zero.pointer
            for j in 0..<h {
                let (i, f, g, o) = (a[j], a[h + j], a[2 * h + j], a[3 * h + j])
                let dTanh = dh[j] * o
                let dc = dcCarry[j] + dTanh * (1 - tc[j] * tc[j])
                dz[j] = dc * g * (i * (1 - i))
                dz[h + j] = dc * cPrevious[j] * (f * (1 - f))
                dz[2 * h + j] = dc * i * (1 - g * g)
                dz[3 * h + j] = dh[j] * tc[j] * (o * (1 - o))
                dcCarry[j] = dc * f
            }
            if let dG { let row = dG + t * width; for j in 0..<width { row[j] += dz[j] } }
            // The recurrent linear's backward: dh_{t−1} = dH_{t−1} + dz·W_hh, then dW_hh, db_hh.
            let hPrevious = previous.map { hidden.pointer + $0 * h } ?? zero.pointer
            if let previous {
                for j in 0..<h { dh[j] = dy[previous * h + j] }
                blas.sgemm(transA: false, transB: false, m: 1, n: h, k: width, a: dz, lda: width, b: w, ldb: h,
                           beta: 1, c: dh, ldc: h)
            }
            if let dW {
                blas.sgemm(transA: true, transB: false, m: width, n: h, k: 1, a: dz, lda: width, b: hPrevious,
                           ldb: h, beta: 1, c: dW, ldc: h)
            }
            if let dB { for j in 0..<width { dB[j] += dz[j] } }
        }
    })
}
