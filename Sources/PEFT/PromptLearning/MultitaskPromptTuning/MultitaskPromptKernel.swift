// MultitaskPromptKernel.swift — multitask prompt tuning's one op: every row's prompt is the
// shared prompt rescaled, entry by entry, by its task's low-rank matrix.
//
//   W_t = cols[t] · rows[t]              [n, r]·[r, C] → [n, C], rank ≤ r
//   prompt_b = E ⊙ W_{t_b}               [n, C] for row b of task t_b
//
// Backward, with G_b = dL/dprompt_b and dW_b = G_b ⊙ E:
//   dE        += Σ_b G_b ⊙ W_{t_b}
//   dcols[t]  += Σ_{b: t_b = t} dW_b · rows[t]ᵀ     [n, C]·[C, r]
//   drows[t]  += Σ_{b: t_b = t} cols[t]ᵀ · dW_b     [r, n]·[n, C]
// A task no row uses gets exactly zero gradient.

import TensorKit

/// The prompt of every row, [B, n, C]: `shared` E [n, C] ⊙ (`cols`[t] [n, r] · `rows`[t] [r, C])
/// for the row's task t = `taskIds`[b]. Every task id must lie in 0..<K (K = cols.shape[0]).
func multitaskPrompts(shared: Tensor, cols: Tensor, rows: Tensor, taskIds: [Int]) -> Tensor {
    let (n, width) = (shared.shape[0], shared.shape[1])
    let r = cols.shape[2], tasks = cols.shape[0], batch = taskIds.count
    precondition(taskIds.allSatisfy { (0..<tasks).contains($0) }, "task ids \(taskIds) outside 0..<\(tasks)")
    let used = Array(Set(taskIds)).sorted()
    // W_t for every task a row uses, computed once: [n, C] each.
    var products: [Int: Buffer] = [:]
    for t in used {
        let w = Buffer(count: n * width)
        let c = cols.data + t * n * r, v = rows.data + t * r * width
        for i in 0..<n {
            for j in 0..<width {
                var sum: Float = 0
                for k in 0..<r { sum += c[i * r + k] * v[k * width + j] }
                w.pointer[i * width + j] = sum
            }
        }
        products[t] = w
    }
    let size = n * width
    return customOp(shape: [batch, n, width], inputs: [shared, cols, rows]) { out in
        for (b, t) in taskIds.enumerated() {
            let w = products[t]!.pointer, o = out + b * size                                    // [n, C]
            for i in 0..<size { o[i] = shared.data[i] * w[i] }
        }
    } backward: { g in                                                                           // [B, n, C]
        if shared.requiresGrad {
            let dE = shared.gradBuffer()
            for (b, t) in taskIds.enumerated() {
                let w = products[t]!.pointer, gb = g + b * size
                for i in 0..<size { dE[i] += gb[i] * w[i] }
            }
        }
        guard cols.requiresGrad || rows.requiresGrad else { return }
        let dW = Buffer(count: size)
        for t in used {
            // dW_t = Σ_{b of task t} G_b ⊙ E
            for i in 0..<size { dW.pointer[i] = 0 }
            for (b, tb) in taskIds.enumerated() where tb == t {
                let gb = g + b * size
                for i in 0..<size { dW.pointer[i] += gb[i] * shared.data[i] }
            }
            let c = cols.data + t * n * r, v = rows.data + t * r * width
            if cols.requiresGrad {
                let dc = cols.gradBuffer() + t * n * r
                for i in 0..<n {
                    for k in 0..<r {
                        var sum: Float = 0
                        for j in 0..<width { sum += dW.pointer[i * width + j] * v[k * width + j] }
                        dc[i * r + k] += sum
                    }
                }
            }
            if rows.requiresGrad {
                let dv = rows.gradBuffer() + t * r * width
                for k in 0..<r {
                    for i in 0..<n {
                        let cik = c[i * r + k]
                        for j in 0..<width { dv[k * width + j] += cik * dW.pointer[i * width + j] }
                    }
                }
            }
        }
    }
}
