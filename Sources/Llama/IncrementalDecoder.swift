// IncrementalDecoder.swift — generation over a key/value cache: one prefill of the prompts (with
// the model's virtual tokens), then one token a row per step, each step a forward of B tokens.
// The logits equal those of re-running the full forward on each row's sequence so far (the
// tests hold them to 1e-5), so greedy decoding gives the same tokens at a fraction of the cost.

import TensorKit

/// Decodes a batch of prompts one token at a time.
public final class IncrementalDecoder {
    /// The model decoded (a `LlamaModel` or a tuner).
    public let source: any CausalLanguageModel
    /// The keys and values of every position so far.
    public let cache: KeyValueCache
    /// Each row's next-token logits, [B, V]: after its prompt, then after each appended token.
    public private(set) var nextLogits: Tensor
    /// Rows (B).
    public var batchSize: Int { cache.batchSize }

    /// Runs the prompts (at least one token each; right-padded with `padId` into one batch) and
    /// their virtual tokens. `taskIds` gives each row's task (multitask prompt tuning);
    /// `maxNewTokens` sizes the cache (it grows if more come).
    public init(_ source: any CausalLanguageModel, prompts: [[Int]], taskIds: [Int]? = nil, padId: Int = 0,
                maxNewTokens: Int = 0) {
        precondition(!prompts.isEmpty && prompts.allSatisfy { !$0.isEmpty }, "every prompt needs at least one token")
        let t = prompts.map(\.count).max() ?? 0, b = prompts.count
        let ids = prompts.flatMap { $0 + [Int](repeating: padId, count: t - $0.count) }  // [B, T]
        let batch = TokenBatch(ids: ids, labels: ids, rows: b, taskIds: taskIds)
        let virtual = withoutGrad { source.virtualTokens(for: batch) }
        let n: Int
        switch virtual {
        case .prepended(let p)?: n = p.shape[p.rank - 2]
        case .keyValuePrefixes(let list)?: n = list.first.map { $0.key.shape[$0.key.rank - 2] } ?? 0
        case nil: n = 0
        }
        self.source = source
        cache = KeyValueCache(for: source.model, batchSize: b, capacity: n + t + maxNewTokens)
        var skip = 0                                                                     // prepended positions
        if case .prepended? = virtual { skip = n }
        let last = prompts.enumerated().map { r, p in r * (skip + t) + skip + p.count - 1 }
        nextLogits = source.model(ids, batch: b, virtualTokens: virtual, cache: cache,
                                  lengths: prompts.map(\.count), logitsAt: last)                // [B, V]
    }

    /// Appends one token to every row (a finished row may take any token) and computes the
    /// next logits.
    public func append(_ tokens: [Int]) {
        precondition(tokens.count == batchSize, "\(tokens.count) tokens for \(batchSize) rows")
        let z = source.model(tokens, batch: batchSize, cache: cache)                     // [B, 1, V]
        nextLogits = z.reshaped([batchSize, z.shape[2]])                                 // [B, V]
    }

    /// Logits after continuations of the rows, the cache left as it was: row r is continued by
    /// `tokens[r]` (rows may differ in length, or get none), and the logits are read after the
    /// tokens `readAfter[r]` names (indices into `tokens[r]`), [S, V] in row order. Each option of
    /// a multiple-choice question is scored this way from one prefill of its prompt.
    /// Nil when nothing is read.
    public func logits(continuing tokens: [[Int]], readAfter: [[Int]]) -> Tensor? {
        precondition(tokens.count == batchSize && readAfter.count == batchSize,
                     "\(tokens.count) continuations and \(readAfter.count) reads for \(batchSize) rows")
        let t = tokens.map(\.count).max() ?? 0
        var positions: [Int] = []
        for (r, reads) in readAfter.enumerated() {
            for j in reads {
                precondition(tokens[r].indices.contains(j), "row \(r) reads after token \(j) of \(tokens[r].count)")
                positions.append(r * t + j)
            }
        }
        guard !positions.isEmpty else { return nil }
        let (length, next) = (cache.length, cache.nextPositions)
        defer { cache.rewind(to: length, nextPositions: next) }
        let ids = tokens.flatMap { $0 + [Int](repeating: $0.last ?? 0, count: t - $0.count) }   // [B, T]
        return source.model(ids, batch: batchSize, cache: cache, lengths: tokens.map(\.count),
                            logitsAt: positions)                                          // [S, V]
    }
}

/// Continues each prompt, choosing tokens with `sampler`, until `stop` accepts one (it is not
/// kept) or `maxNewTokens` are made. Returns each row's new tokens.
public func generateTokens(_ source: any CausalLanguageModel, prompts: [[Int]], maxNewTokens: Int,
                           sampler: TokenSampler = .greedy, taskIds: [Int]? = nil, padId: Int = 0,
                           stop: (Int) -> Bool) -> [[Int]] {
    var out = [[Int]](repeating: [], count: prompts.count)
    guard maxNewTokens > 0, !prompts.isEmpty else { return out }
    let decoder = IncrementalDecoder(source, prompts: prompts, taskIds: taskIds, padId: padId,
                                     maxNewTokens: maxNewTokens)
    var done = [Bool](repeating: false, count: prompts.count)
    for step in 0..<maxNewTokens {
        var next = [Int](repeating: padId, count: prompts.count)
        let v = decoder.nextLogits.shape[1]
        for r in prompts.indices where !done[r] {
            let k = sampler.next(decoder.nextLogits.data + r * v, count: v)
            if stop(k) { done[r] = true } else { out[r].append(k); next[r] = k }
        }
        if step == maxNewTokens - 1 || !done.contains(false) { break }
        decoder.append(next)
    }
    return out
}
