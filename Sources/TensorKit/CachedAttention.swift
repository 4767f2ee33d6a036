// CachedAttention.swift — attention of a few new queries over a key/value cache, for incremental
// decoding (inference only: it records no history, and training keeps `causalAttention`).
//
// The cache holds every earlier slot's key (already rotated) and value, [B, capacity, kvHeads·D];
// the T new slots start..<start+T have been written into it before the call. For head h
// (key/value head h / (heads/kvHeads)) and new query i:
//   s_j = q_i·k_j / √D            for the slots j ≤ start + i that the row's mask keeps
//   a   = softmax(s)               (a dropped slot gets weight exactly 0)
//   o_i = Σ_j a_j v_j
// With start = P and T tokens this is `causalAttention` with P prefix slots; with T = 1 it is one
// decoding step over everything cached.

import FastMath

/// Causal attention of T new queries over cached keys and values, forward only.
/// - Parameters:
///   - q: [B, T, heads·D], the queries of slots start..<start+T.
///   - keys, values: [B, capacity, kvHeads·D]; slots 0..<start+T are filled (the new ones too).
///   - start: the slot of the first new query.
///   - keep: optional [B, capacity] flags, 1 to attend to a slot and 0 to drop it (a padding slot of
///     that row); nil keeps every slot.
/// - Returns: [B, T, heads·D]. No history is recorded: call it inside `withoutGrad`.
public func cachedAttention(q: Tensor, keys: Tensor, values: Tensor, start: Int, heads: Int, kvHeads: Int,
                            keep: Tensor? = nil) -> Tensor {
    Profiler.measure("attention") {
        cachedAttentionForward(q: q, keys: keys, values: values, start: start, heads: heads, kvHeads: kvHeads,
                               keep: keep)
    }
}

private func cachedAttentionForward(q: Tensor, keys: Tensor, values: Tensor, start: Int, heads: Int, kvHeads: Int,
                                    keep: Tensor?) -> Tensor {
    precondition(!GradMode.isEnabled || !q.requiresGrad,
                 "cachedAttention is for inference and records no gradient; call it inside withoutGrad")
    precondition(q.rank == 3 && keys.rank == 3 && values.rank == 3, "cached attention takes [B, T, C] tensors")
    let (b, t, c) = (q.shape[0], q.shape[1], q.shape[2])
    precondition(heads > 0 && c % heads == 0 && kvHeads > 0 && heads % kvHeads == 0,
                 "cached attention: \(heads) heads, \(kvHeads) kv heads, width \(c)")
    let d = c / heads, ckv = kvHeads * d, group = heads / kvHeads, capacity = keys.shape[1]
    let s = start + t  // slots any new query may see
    precondition(keys.shape == [b, capacity, ckv] && values.shape == keys.shape,
                 "cached attention: keys \(keys.shape), values \(values.shape), expected [\(b), capacity, \(ckv)]")
    precondition(start >= 0 && s <= capacity, "cached attention: slots \(start)..<\(s) outside a cache of \(capacity)")
    if let keep {
        precondition(keep.shape == [b, capacity], "cached attention: keep \(keep.shape), expected [\(b), \(capacity)]")
    }
    let scale = 1 / Float(d).squareRoot()
    let out = Tensor(uninitialized: [b, t, c])
    let blas = BLAS.shared
    parallelRanges(b, grain: 1) { rows in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(t * s, 1))  // per part: scratch, not counted
        defer { scores.deallocate() }
        for bi in rows {
            let kept = keep.map { $0.data + bi * capacity }
            for h in 0..<heads {
                let kvh = h / group
                let a = scores
                let kp = keys.data + bi * capacity * ckv + kvh * d, vp = values.data + bi * capacity * ckv + kvh * d
                blas.sgemm(transA: false, transB: true, m: t, n: s, k: d, alpha: scale,
                           a: q.data + bi * t * c + h * d, lda: c, b: kp, ldb: ckv, c: a, ldc: s)  // S [T, S]
                for i in 0..<t {
                    let row = a + i * s, visible = start + i + 1
                    if let kept {  // softmax over the kept slots only; the others weigh exactly 0
                        var m = -Float.infinity
                        for j in 0..<visible where kept[j] != 0 { m = max(m, row[j]) }
                        var sum: Float = 0
                        for j in 0..<visible {
                            let e = kept[j] != 0 ? fastExp(row[j] - m) : 0
                            row[j] = e; sum += e
                        }
                        let inv = 1 / sum
                        for j in 0..<visible { row[j] *= inv }
                    } else {
                        softmaxRow(row, row, visible)
                    }
                    for j in visible..<s { row[j] = 0 }
                }
                blas.sgemm(transA: false, transB: false, m: t, n: d, k: s, a: a, lda: s, b: vp, ldb: ckv,
                           c: out.data + bi * t * c + h * d, ldc: c)  // O [T, D]
            }
        }
    }
    return out
}
