// KeyValueCache.swift — every layer's keys (rotated) and values of the positions a batch has
// seen so far, so that generating one more token costs one token's forward, not the whole
// sequence's.
//
// Slots are shared by the rows: a forward call appends T slots to every row. Rows of different
// lengths are handled without regrouping: the prompts are right-padded to one length T, and
// after the prefill the padding slots of a row are dropped from its attention (`keep` = 0) and
// the row's next position is its own length, not T. From then on, each step writes every row's
// new token into the same slot, rotated at the row's own position. So a row's keys and
// positions are exactly those of its unpadded sequence — what a full forward of that row alone
// computes — and the batch stays one matrix product per layer.
//
//   slot      0 … n-1 | n … n+T-1 (row r: l_r real, then padding) | n+T, n+T+1, …  (one per step)
//   position  0 … n-1 | n … n+T-1                                   | n+l_r, n+l_r+1, …
//
// n virtual tokens come first: prefix tuning's keys and values are the cache's initial content
// (stored as PEFT stores them, not rotated), prepended embeddings are the first n slots of the
// prefill.

import TensorKit

/// The keys and values of one batch's positions, for incremental decoding (inference only).
public final class KeyValueCache {
    /// Rows (B).
    public let batchSize: Int
    /// Slots filled in every row (virtual tokens, prompt with its padding, generated tokens).
    public private(set) var length = 0
    /// The RoPE position of each row's next token.
    public private(set) var nextPositions: [Int]
    /// Slots each row can hold before the buffers grow.
    public private(set) var capacity: Int
    /// Per layer: keys (rotated) and values [B, capacity, kvHeads·D].
    private(set) var keys: [Tensor]
    private(set) var values: [Tensor]
    /// [B, capacity]: 1 where a row attends to the slot, 0 for its padding slots.
    private(set) var keep: Tensor
    let width: Int

    /// An empty cache for `model` and `batchSize` rows, with room for `capacity` slots a row (it grows
    /// when more come).
    public init(for model: LlamaModel, batchSize: Int, capacity: Int = 64) {
        precondition(batchSize > 0, "a cache needs at least one row")
        let c = model.config, w = c.numKeyValueHeads * c.headDim, slots = max(capacity, 1)
        self.batchSize = batchSize
        self.capacity = slots
        width = w
        keys = (0..<c.numHiddenLayers).map { _ in Tensor(zeros: [batchSize, slots, w]) }
        values = keys.map { Tensor(zeros: $0.shape) }
        keep = .full([batchSize, slots], 1)
        nextPositions = [Int](repeating: 0, count: batchSize)
    }

    /// Bytes the keys and values occupy.
    public var storageBytes: Int { (keys + values).reduce(0) { $0 + $1.storageBytes } }

    /// Makes room for `count` slots a row (doubling, so growth is rare), keeping what is stored.
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        let grown = max(count, 2 * capacity)
        func copy(_ t: Tensor, fill: Float) -> Tensor {
            let perSlot = t.count / (batchSize * capacity)                                 // W, or 1 for `keep`
            let bigger = Tensor.full(t.rank == 3 ? [batchSize, grown, perSlot] : [batchSize, grown], fill)
            for r in 0..<batchSize {
                let row = capacity * perSlot
                (bigger.data + r * grown * perSlot).update(from: t.data + r * row, count: row)
            }
            return bigger
        }
        keys = keys.map { copy($0, fill: 0) }
        values = values.map { copy($0, fill: 0) }
        keep = copy(keep, fill: 1)
        capacity = grown
    }

    /// Stores prefix tuning's keys and values, [B, n, kvHeads·D] per layer, as slots 0..<n: the
    /// real tokens then start at position n. Only into an empty cache.
    func storePrefixes(_ prefixes: [KeyValuePrefix]) {
        precondition(length == 0, "a key/value prefix goes into an empty cache (before the prompt)")
        precondition(prefixes.count == keys.count,
                     "one key/value prefix per layer: \(prefixes.count) for \(keys.count)")
        let n = prefixes.first?.key.shape[1] ?? 0
        reserve(n)
        for (layer, prefix) in prefixes.enumerated() {
            precondition(prefix.key.shape == [batchSize, n, width] && prefix.value.shape == prefix.key.shape,
                         "prefix of layer \(layer): \(prefix.key.shape), expected [\(batchSize), \(n), \(width)]")
            write(prefix.key, into: keys[layer], at: 0)
            write(prefix.value, into: values[layer], at: 0)
        }
        length = n
        nextPositions = [Int](repeating: n, count: batchSize)
    }

    /// Writes one layer's new keys and values [B, T, kvHeads·D] into slots length..<length+T.
    /// `advance` makes them part of the cache once every layer has written.
    func store(layer: Int, keys k: Tensor, values v: Tensor) {
        let t = k.shape[1]
        precondition(k.shape == [batchSize, t, width] && v.shape == k.shape, "cache of layer \(layer): \(k.shape)")
        reserve(length + t)
        write(k, into: keys[layer], at: length)
        write(v, into: values[layer], at: length)
    }

    /// Ends a forward call of T slots: row r's first `realCounts[r]` slots are real tokens (its next
    /// position moves by that many); the rest are padding, never attended to again.
    func advance(by t: Int, realCounts: [Int]) {
        precondition(realCounts.count == batchSize && realCounts.allSatisfy { (0...t).contains($0) },
                     "real token counts \(realCounts) for \(t) slots")
        reserve(length + t)
        for r in 0..<batchSize {
            let row = keep.data + r * capacity + length
            for j in 0..<t { row[j] = j < realCounts[r] ? 1 : 0 }
            nextPositions[r] += realCounts[r]
        }
        length += t
    }

    /// Forgets the slots from `length` on (the next call overwrites them) and gives each row back its
    /// next position: the cache as it was before the calls made since it held `length` slots. The
    /// forgotten slots are kept again (a call reads its new slots' flags before `advance` sets
    /// them, so a padding flag left behind would hide a longer row's own tokens).
    func rewind(to length: Int, nextPositions positions: [Int]) {
        precondition(length <= self.length && positions.count == batchSize,
                     "rewind to \(length) slots of \(self.length), \(positions.count) positions for \(batchSize) rows")
        for r in 0..<batchSize {
            let row = keep.data + r * capacity
            for j in length..<self.length { row[j] = 1 }
        }
        self.length = length
        nextPositions = positions
    }

    /// Copies x [B, T, W] into slots at..<at+T of `buffer` [B, capacity, W].
    private func write(_ x: Tensor, into buffer: Tensor, at slot: Int) {
        let t = x.shape[1]
        for r in 0..<batchSize {
            (buffer.data + (r * capacity + slot) * width).update(from: x.data + r * t * width, count: t * width)
        }
    }
}
