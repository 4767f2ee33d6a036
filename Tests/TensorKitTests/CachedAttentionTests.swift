// The pieces of incremental decoding against the training ops: RoPE with a position offset per
// row (gradient-checked, and equal to rotating each row alone), and attention over a key/value
// cache equal to `causalAttention` — all at once, one query at a time, and with dropped slots.

import Testing
import TestSupport
import TensorKit

@Suite struct CachedAttentionTests {
    @Test func ropeWithRowOffsetsRotatesEachRowFromItsOwnPosition() {
        let gen = Generator(seed: 31)
        let x = randn([3, 4, 2 * 6], gen)
        let table = RopeTable(headDim: 6, theta: 10000)
        gradCheck([x]) { rope($0[0], heads: 2, table: table, rowOffsets: [3, 0, 7]) }
        let y = rope(x, heads: 2, table: table, rowOffsets: [3, 0, 7])
        for (row, offset) in [3, 0, 7].enumerated() {
            let alone = rope(x.slice(axis: 0, row..<row + 1), heads: 2, table: table, offset: offset)
            #expect(y.slice(axis: 0, row..<row + 1).array == alone.array, "row \(row)")
        }
    }

    /// Keys and values [B, P+T, W] written into a cache of `capacity` slots whose unused slots hold
    /// garbage (which must never be read).
    func cache(_ parts: [Tensor], capacity: Int, gen: Generator) -> Tensor {
        let (b, w) = (parts[0].shape[0], parts[0].shape[2])
        let buffer = Tensor.randn([b, capacity, w], std: 100, generator: gen)
        var slot = 0
        for part in parts {
            let t = part.shape[1]
            for r in 0..<b {
                (buffer.data + (r * capacity + slot) * w).update(from: part.data + r * t * w, count: t * w)
            }
            slot += t
        }
        return buffer
    }

    @Test(arguments: [(4, 4, 0), (4, 2, 3), (2, 1, 2)])
    func cachedAttentionEqualsCausalAttention(config: (Int, Int, Int)) {
        let (heads, kvHeads, prefix) = config
        let gen = Generator(seed: 32)
        let (b, t, d) = (2, 5, 4)
        let q = randn([b, t, heads * d], gen), k = randn([b, t, kvHeads * d], gen), v = randn([b, t, kvHeads * d], gen)
        let pk = randn([b, prefix, kvHeads * d], gen), pv = randn([b, prefix, kvHeads * d], gen)
        let expected = causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads,
                                       prefixKey: prefix > 0 ? pk : nil, prefixValue: prefix > 0 ? pv : nil)
        let keys = cache([pk, k], capacity: prefix + t + 3, gen: gen)
        let values = cache([pv, v], capacity: prefix + t + 3, gen: gen)
        // all T queries at once (a prefill after the prefix)
        let all = withoutGrad {
            cachedAttention(q: q, keys: keys, values: values, start: prefix, heads: heads, kvHeads: kvHeads)
        }
        #expect(maxAbsDiff(all.array, expected.array) < 1e-6)
        // one query at a time (decoding steps): query i sees the prefix and keys 0…i
        for i in 0..<t {
            let one = withoutGrad {
                cachedAttention(q: q.slice(axis: 1, i..<i + 1), keys: keys, values: values, start: prefix + i,
                                heads: heads, kvHeads: kvHeads)
            }
            #expect(maxAbsDiff(one.array, expected.slice(axis: 1, i..<i + 1).array) < 1e-6, "step \(i)")
        }
    }

    @Test func droppedSlotsWeighNothing() {
        // Dropping slots equals an additive mask of −∞ there; row 0 drops keys 1 and 2, row 1 none.
        let gen = Generator(seed: 33)
        let (b, t, heads, d) = (2, 4, 2, 4)
        let q = randn([b, t, heads * d], gen), k = randn([b, t, heads * d], gen), v = randn([b, t, heads * d], gen)
        let mask = Tensor(zeros: [b, t, t]), keep = Tensor.full([b, t + 2], 1)
        for i in 0..<t { for j in [1, 2] { mask.data[i * t + j] = -1e30 } }
        for j in [1, 2] { keep.data[j] = 0 }
        let expected = causalAttention(q: q, k: k, v: v, heads: heads, kvHeads: heads, mask: mask)
        let keys = cache([k], capacity: t + 2, gen: gen), values = cache([v], capacity: t + 2, gen: gen)
        // queries 3 (after the dropped slots) one at a time, as decoding steps see them
        let step = withoutGrad {
            cachedAttention(q: q.slice(axis: 1, 3..<4), keys: keys, values: values, start: 3, heads: heads,
                            kvHeads: heads, keep: keep)
        }
        #expect(maxAbsDiff(step.array, expected.slice(axis: 1, 3..<4).array) < 1e-6)
    }
}
