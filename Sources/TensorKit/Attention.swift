// Attention.swift — causal multi-head attention with optional prefix keys/values and an
// additive mask, and rotary position embeddings (RoPE, Hugging Face's rotate-half layout).
//
// Heads are read in place from [B, T, heads·D] through sgemm's leading dimensions, so the
// model needs no permute. For head h (key/value head h / (heads/kvHeads), grouped-query):
//   S = Q·Kᵀ / √D + mask       [T, P+T]   (query t sees the P prefix keys and keys 0…t)
//   A = softmax(S)            [T, P+T]
//   O = A·V                   [T, D]
// Backward:
//   dA = dO·Vᵀ,   dV = Aᵀ·dO,   dS = A ⊙ (dA − rowsum(dA ⊙ A)),   dQ = dS·K/√D,   dK = dSᵀ·Q/√D.
// With row lengths L (right padding), every product of row b runs on its first L queries and
// P + L keys only: the rest of A is zero for them, and the padding queries' outputs are not
// used, so their dO is ignored. The same code computes chosen queries only (a row's queries at
// positions t₁ < t₂ < …, the products on P + t_last + 1 keys): a last layer read at a few positions.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif
import FastMath

/// Causal scaled-dot-product attention.
/// - Parameters:
///   - q: [B, T, heads·D]; `k`, `v`: [B, T, kvHeads·D].
///   - prefixKey, prefixValue: optional [B, P, kvHeads·D] positions in front of the sequence
///     (prefix tuning's past keys/values); every query sees all of them.
///   - mask: optional additive mask [T, P+T] or [B, T, P+T] (0 to keep, a large negative to drop),
///     applied on top of the causal mask; it takes no gradient.
///   - lengths: optional, the real positions of each row (right padding): row b's queries
///     0..<lengths[b] are computed, its padding queries give zeros and pass no gradient. The real
///     queries see only real keys (causal), so they come out as without `lengths`, with the
///     padding's share of the work (it grows with T²) skipped.
/// - Returns: [B, T, heads·D].
public func causalAttention(q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int,
                            prefixKey: Tensor? = nil, prefixValue: Tensor? = nil,
                            mask: Tensor? = nil, lengths: [Int]? = nil) -> Tensor {
    precondition(q.rank == 3 && k.rank == 3 && v.rank == 3, "attention takes [B, T, C] tensors")
    let (b, t) = (q.shape[0], q.shape[1])
    precondition(k.shape[0] == b && k.shape[1] == t, "attention: q \(q.shape), k \(k.shape): rows and positions differ")
    if let lengths {
        precondition(lengths.count == b && lengths.allSatisfy { (0...t).contains($0) },
                     "attention: \(lengths.count) row lengths for \(b) rows of \(t) positions")
    }
    if let mask {
        let s = (prefixKey?.shape[1] ?? 0) + t
        precondition(mask.shape == [t, s] || mask.shape == [b, t, s],
                     "attention: mask \(mask.shape), expected [\(t), \(s)] or [\(b), \(t), \(s)]")
    }
    let plan = QueryPlan(positions: (0..<b).map { Array(0..<(lengths?[$0] ?? t)) }, first: (0..<b).map { $0 * t },
                         reserved: t)
    return Profiler.measure("attention") {
        attentionForward(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, prefixKey: prefixKey,
                         prefixValue: prefixValue, mask: mask, plan: plan, outputShape: q.shape)
    }
}

/// Causal attention for chosen queries only: query s is position t = `positions[s]` of row
/// r = `rows[s]`, and for each head
///   o_s = softmax(q_s·K_rᵀ / √D)·V_r   over the row's P prefix slots and its positions 0…t
/// — what `causalAttention` gives at that position, without computing the other queries. A forward
/// that reads the logits of a few positions needs nothing else from its last layer (every row's
/// keys and values, but only these queries). Same backward as `causalAttention`, on these queries.
/// - Parameters:
///   - q: the S chosen queries, [S, heads·D] (or any shape of S·heads·D values, e.g. [S, 1, heads·D]),
///     already rotated (RoPE at position P + t when a prefix of P slots comes first, like the keys),
///     grouped by row (`rows` ascending) and, within a row, by ascending distinct position.
///   - k, v: [B, T, kvHeads·D], every position of every row; `prefixKey`, `prefixValue` as in
///     `causalAttention`.
/// - Returns: [S, heads·D].
public func causalAttention(queries q: Tensor, rows: [Int], positions: [Int], k: Tensor, v: Tensor, heads: Int,
                            kvHeads: Int, prefixKey: Tensor? = nil, prefixValue: Tensor? = nil) -> Tensor {
    precondition(k.rank == 3 && v.rank == 3, "attention takes keys and values [B, T, C]")
    let (b, t, n) = (k.shape[0], k.shape[1], rows.count)
    precondition(positions.count == n && n > 0 && q.count % n == 0,
                 "attention: \(q.shape) queries for \(n) rows and \(positions.count) positions")
    var grouped = [[Int]](repeating: [], count: b)
    for (s, (r, i)) in zip(rows, positions).enumerated() {
        precondition(r >= 0 && r < b && i >= 0 && i < t,
                     "attention: query (row \(r), position \(i)) outside [\(b), \(t)]")
        precondition(s == 0 || (rows[s - 1], positions[s - 1]) < (r, i),
                     "attention: queries must be grouped by row, positions ascending and distinct")
        grouped[r].append(i)
    }
    var first = [0]                                       // the queries of rows before b: no padding
    for g in grouped.dropLast() { first.append(first.last! + g.count) }
    let plan = QueryPlan(positions: grouped, first: first, reserved: grouped.map(\.count).max() ?? 0)
    return Profiler.measure("attention") {
        attentionForward(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, prefixKey: prefixKey,
                         prefixValue: prefixValue, mask: nil, plan: plan, outputShape: [n, q.count / n])
    }
}

/// Which queries one attention call computes. Row b's queries are at `positions[b]` (ascending) of its
/// T positions and sit in rows first[b], first[b]+1, … of q and of the output, read as matrices
/// [·, heads·D]; each (row, head) keeps `reserved` rows of probabilities for backward. With the
/// padded layout (first[b] = b·T, reserved = T), the output rows after a row's queries are its
/// padding: zeros.
private struct QueryPlan {
    let positions: [[Int]]
    let first: [Int]
    let reserved: Int
}

private func attentionForward(q: Tensor, k: Tensor, v: Tensor, heads: Int, kvHeads: Int, prefixKey: Tensor?,
                              prefixValue: Tensor?, mask: Tensor?, plan: QueryPlan, outputShape: [Int]) -> Tensor {
    let (b, t, c) = (k.shape[0], k.shape[1], heads * (k.shape[2] / max(kvHeads, 1)))
    precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0 && k.shape[2] % kvHeads == 0,
                 "attention: \(heads) heads, \(kvHeads) kv heads, key width \(k.shape[2])")
    let d = c / heads, ckv = kvHeads * d, group = heads / kvHeads, r = plan.reserved
    precondition(q.count == outputShape.reduce(1, *) && outputShape.last == c,
                 "attention: q \(q.shape) for heads of width \(d) (\(heads) heads, \(kvHeads) kv heads)")
    precondition(v.shape == [b, t, ckv], "attention: k \(k.shape), v \(v.shape), expected [\(b), \(t), \(ckv)]")
    precondition((prefixKey == nil) == (prefixValue == nil), "attention: prefix keys and values come together")
    let p = prefixKey?.shape[1] ?? 0, s = p + t
    if let pk = prefixKey, let pv = prefixValue {
        precondition(pk.shape == [b, p, ckv] && pv.shape == [b, p, ckv],
                     "attention: prefix \(pk.shape), expected [\(b), P, \(ckv)]")
    }
    // Keys and values with the prefix in front: [B, S, kvHeads·D].
    let keys = prefixKey.map { concatRaw($0, k) } ?? k
    let values = prefixValue.map { concatRaw($0, v) } ?? v
    let scale = 1 / Float(d).squareRoot()
    let probs = Buffer(count: b * heads * r * s)  // A, kept for backward
    let out = Tensor(uninitialized: outputShape)
    let outRows = out.count / c
    let blas = BLAS.shared
    parallelRanges(b, grain: 1) { batches in for bi in batches {
        let positions = plan.positions[bi], rows = positions.count, q0 = plan.first[bi]
        let seen = p + (positions.last.map { $0 + 1 } ?? 0)  // the keys its queries can see
        let padding = (bi + 1 < b ? plan.first[bi + 1] : outRows) - q0 - rows  // output rows to zero
        for h in 0..<heads {
            let kvh = h / group
            let a = probs.pointer + (bi * heads + h) * r * s
            let qp = q.data + q0 * c + h * d, kp = keys.data + bi * s * ckv + kvh * d
            let o = out.data + q0 * c + h * d
            for i in rows..<rows + max(padding, 0) { (o + i * c).initialize(repeating: 0, count: d) }
            if rows == 0 { continue }
            blas.sgemm(transA: false, transB: true, m: rows, n: seen, k: d, alpha: scale,
                       a: qp, lda: c, b: kp, ldb: ckv, c: a, ldc: s)  // S [rows, seen]
            let m = mask.map { $0.data + ($0.rank == 3 ? bi * t * s : 0) }
            for (i, position) in positions.enumerated() {
                let row = a + i * s, visible = p + position + 1
                if let m { for j in 0..<visible { row[j] += m[position * s + j] } }
                softmaxRow(row, row, visible)
                for j in visible..<seen { row[j] = 0 }
            }
            blas.sgemm(transA: false, transB: false, m: rows, n: d, k: seen,
                       a: a, lda: s, b: values.data + bi * s * ckv + kvh * d, ldb: ckv,
                       c: o, ldc: c)  // O [rows, D]
        }
    } }
    var inputs = [q, k, v]
    if let prefixKey, let prefixValue { inputs += [prefixKey, prefixValue] }
    out.record(inputs) { dOut in  // booked as "attention backward": record keeps the forward's category
        let needKV = k.requiresGrad || v.requiresGrad || (prefixKey?.requiresGrad ?? false)
            || (prefixValue?.requiresGrad ?? false)
        let gq = q.requiresGrad ? q.gradBuffer() : nil
        let gKeys = needKV ? Buffer(count: b * s * ckv) : nil, gValues = needKV ? Buffer(count: b * s * ckv) : nil
        if let gKeys, let gValues {
            gKeys.pointer.initialize(repeating: 0, count: b * s * ckv)
            gValues.pointer.initialize(repeating: 0, count: b * s * ckv)
        }
        parallelRanges(b, grain: 1) { batches in
          let dA = UnsafeMutablePointer<Float>.allocate(capacity: max(r * s, 1))  // per part: scratch, not counted
          defer { dA.deallocate() }
          for bi in batches {
            // Only the computed queries have a gradient; the keys beyond `seen` are seen by none of them.
            let positions = plan.positions[bi], rows = positions.count, q0 = plan.first[bi]
            let seen = p + (positions.last.map { $0 + 1 } ?? 0)
            if rows == 0 { continue }
            for h in 0..<heads {
                let kvh = h / group
                let a = probs.pointer + (bi * heads + h) * r * s
                let dO = dOut + q0 * c + h * d
                let qp = q.data + q0 * c + h * d
                let kp = keys.data + bi * s * ckv + kvh * d, vp = values.data + bi * s * ckv + kvh * d
                blas.sgemm(transA: false, transB: true, m: rows, n: seen, k: d,
                           a: dO, lda: c, b: vp, ldb: ckv, c: dA, ldc: s)  // dA = dO·Vᵀ
                if let gValues {  // dV += Aᵀ·dO
                    blas.sgemm(transA: true, transB: false, m: seen, n: d, k: rows, a: a, lda: s, b: dO, ldb: c,
                               beta: 1, c: gValues.pointer + bi * s * ckv + kvh * d, ldc: ckv)
                }
                for (i, position) in positions.enumerated() {  // dS = A ⊙ (dA − rowsum(dA ⊙ A)), in place in dA
                    let ar = a + i * s, dr = dA + i * s, visible = p + position + 1
                    var dot: Float = 0
                    for j in 0..<visible { dot += ar[j] * dr[j] }
                    for j in 0..<visible { dr[j] = ar[j] * (dr[j] - dot) }
                    for j in visible..<seen { dr[j] = 0 }
                }
                if let gq {  // dQ += dS·K/√D
                    blas.sgemm(transA: false, transB: false, m: rows, n: d, k: seen, alpha: scale,
                               a: dA, lda: s, b: kp, ldb: ckv, beta: 1, c: gq + q0 * c + h * d, ldc: c)
                }
                if let gKeys {  // dK += dSᵀ·Q/√D
                    blas.sgemm(transA: true, transB: false, m: seen, n: d, k: rows, alpha: scale,
                               a: dA, lda: s, b: qp, ldb: c, beta: 1, c: gKeys.pointer + bi * s * ckv + kvh * d,
                               ldc: ckv)
                }
            }
          }
        }
        if let gKeys, let gValues {  // split the [B, S, ·] gradients into prefix and sequence parts
            for (tensor, offset, grads) in [(prefixKey, 0, gKeys), (prefixValue, 0, gValues), (k, p, gKeys),
                                            (v, p, gValues)] {
                guard let tensor, tensor.requiresGrad else { continue }
                let (g, fresh) = tensor.gradBufferToFill(), len = tensor.shape[1] * ckv  // every element: filled if new
                for bi in 0..<b {
                    let src = grads.pointer + (bi * s + offset) * ckv, dst = g + bi * len
                    if fresh { for i in 0..<len { dst[i] = 0 + src[i] } } else { for i in 0..<len { dst[i] += src[i] } }
                }
            }
        }
    }
    return out
}

/// [B, P, C] and [B, T, C] joined along axis 1, without recording history.
private func concatRaw(_ x: Tensor, _ y: Tensor) -> Tensor {
    withoutGrad { concat([x, y], axis: 1) }
}

/// Rotary position embedding in Hugging Face's rotate-half layout, applied per head.
/// For each head vector x (length D, half = D/2) at position pos, with θ_i = base^(−2i/D):
///   y_i        = x_i·cos(pos·θ_i) − x_{i+half}·sin(pos·θ_i)
///   y_{i+half} = x_{i+half}·cos(pos·θ_i) + x_i·sin(pos·θ_i)
/// The backward is the inverse rotation (the transpose): the same with sin negated.
/// - Parameters: x [B, T, heads·D]; positions start at `offset`; `table` holds cos and sin.
public func rope(_ x: Tensor, heads: Int, table: RopeTable, offset: Int = 0) -> Tensor {
    rope(x, heads: heads, table: table, rowOffsets: [Int](repeating: offset, count: x.shape[0]))
}

/// RoPE where each row starts at its own position: token t of row b is at `rowOffsets[b] + t`.
/// Incremental decoding needs it when the rows of a batch hold prompts of different lengths (each
/// row's next token continues its own sequence). Same formula and backward as `rope(_:heads:table:offset:)`.
/// - Parameters: x [B, T, heads·D]; `rowOffsets` has B entries.
public func rope(_ x: Tensor, heads: Int, table: RopeTable, rowOffsets: [Int]) -> Tensor {
    Profiler.measure("rope") { ropeForward(x, heads: heads, table: table, rowOffsets: rowOffsets) }
}

private func ropeForward(_ x: Tensor, heads: Int, table: RopeTable, rowOffsets: [Int]) -> Tensor {
    precondition(x.rank == 3, "RoPE takes [B, T, heads·D], got \(x.shape)")
    let (b, t, c) = (x.shape[0], x.shape[1], x.shape[2])
    let d = c / heads, half = d / 2
    precondition(d == table.headDim, "RoPE: head dimension \(d), table built for \(table.headDim)")
    precondition(rowOffsets.count == b && rowOffsets.allSatisfy { $0 >= 0 },
                 "RoPE: \(rowOffsets.count) row offsets for \(b) rows")
    table.reserve((rowOffsets.max() ?? 0) + t)
    // Forward writes y; backward adds the inverse rotation of dy into dx (or writes 0 + it into a new
    // gradient buffer: the same bits, see `gradBufferToFill`). Row-parallel over B·T.
    enum Store { case write, fill, add }
    func rotate(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, sign: Float, store: Store) {
        parallelRanges(b * t, grain: max(1, (1 << 14) / c)) { rows in for row in rows {
            let pos = rowOffsets[row / t] + row % t
            let cosp = table.cos + pos * half, sinp = table.sin + pos * half
            for h in 0..<heads {
                let s0 = src + row * c + h * d, d0 = dst + row * c + h * d
                switch store {
                case .add:
                    for i in 0..<half {
                        let x1 = s0[i], x2 = s0[i + half], co = cosp[i], si = sign * sinp[i]
                        d0[i] += x1 * co - x2 * si
                        d0[i + half] += x2 * co + x1 * si
                    }
                case .fill:
                    for i in 0..<half {
                        let x1 = s0[i], x2 = s0[i + half], co = cosp[i], si = sign * sinp[i]
                        d0[i] = 0 + (x1 * co - x2 * si)
                        d0[i + half] = 0 + (x2 * co + x1 * si)
                    }
                case .write:
                    for i in 0..<half {
                        let x1 = s0[i], x2 = s0[i + half], co = cosp[i], si = sign * sinp[i]
                        d0[i] = x1 * co - x2 * si
                        d0[i + half] = x2 * co + x1 * si
                    }
                }
            }
        } }
    }
    let out = Tensor(uninitialized: x.shape)
    precondition(c == heads * d, "RoPE: width \(c) is not \(heads) heads of \(d)")
    rotate(x.data, out.data, sign: 1, store: .write)
    out.record([x]) { g in
        let (gx, fresh) = x.gradBufferToFill()  // every element gets its rotation
        rotate(g, gx, sign: -1, store: fresh ? .fill : .add)
    }
    return out
}

/// RoPE with a table made for this call (tests, one-off use); a model keeps one `RopeTable`.
public func rope(_ x: Tensor, heads: Int, theta: Float, offset: Int = 0) -> Tensor {
    rope(x, heads: heads, table: RopeTable(headDim: x.shape[2] / heads, theta: theta), offset: offset)
}

/// cos and sin of pos·θ_i, [positions, D/2] each, computed as transformers does (θ in float32:
/// 1 / base^(2i/D)). Built once per model and extended when a longer sequence comes.
public final class RopeTable {
    public let headDim: Int
    public let theta: Float
    private(set) var cos: UnsafeMutablePointer<Float>
    private(set) var sin: UnsafeMutablePointer<Float>
    private var positions = 0

    public init(headDim: Int, theta: Float) {
        precondition(headDim > 0 && headDim % 2 == 0, "RoPE needs an even head dimension, got \(headDim)")
        self.headDim = headDim
        self.theta = theta
        cos = .allocate(capacity: 1); sin = .allocate(capacity: 1)
    }
    deinit { cos.deallocate(); sin.deallocate() }

    /// Makes sure positions 0..<count are in the table (doubling, so growth is rare).
    func reserve(_ count: Int) {
        guard count > positions else { return }
        let length = max(count, 2 * positions, 64), half = headDim / 2
        cos.deallocate(); sin.deallocate()
        cos = .allocate(capacity: length * half); sin = .allocate(capacity: length * half)
        for i in 0..<half {
            let invFreq = 1 / powf(theta, Float(2 * i) / Float(headDim))
            for pos in 0..<length {
                let angle = Float(pos) * invFreq
                cos[pos * half + i] = cosf(angle); sin[pos * half + i] = sinf(angle)
            }
        }
        positions = length
    }
}
