// LlamaModel.swift — the LLaMA decoder: embedding, N × (RMSNorm → attention with RoPE →
// residual → RMSNorm → SwiGLU MLP → residual), final RMSNorm, lm_head.
//
// Parameter and module names are Hugging Face's, so checkpoints and adapters move between
// this project and `transformers` / `peft` without conversion.

import TensorKit

/// One decoder block: `model.layers.{i}`.
public final class DecoderLayer {
    public let qProj, kProj, vProj, oProj: LinearSlot   // self_attn.{q,k,v,o}_proj
    public let gateProj, upProj, downProj: LinearSlot   // mlp.{gate,up,down}_proj
    public var inputLayernorm: Tensor                   // input_layernorm.weight [C]
    public var postAttentionLayernorm: Tensor           // post_attention_layernorm.weight [C]
    let config: LlamaConfig
    let rope: RopeTable

    init(index: Int, config: LlamaConfig, rope: RopeTable, generator: Generator) {
        self.config = config
        self.rope = rope
        let c = config.hiddenSize, q = config.numAttentionHeads * config.headDim
        let kv = config.numKeyValueHeads * config.headDim, f = config.intermediateSize
        let std = config.initializerRange, p = "model.layers.\(index)."
        func slot(_ name: String, _ inF: Int, _ outF: Int, _ bias: Bool) -> LinearSlot {
            LinearSlot(name: p + name,
                       layer: Linear(inFeatures: inF, outFeatures: outF, bias: bias, std: std, generator: generator))
        }
        qProj = slot("self_attn.q_proj", c, q, config.attentionBias)
        kProj = slot("self_attn.k_proj", c, kv, config.attentionBias)
        vProj = slot("self_attn.v_proj", c, kv, config.attentionBias)
        oProj = slot("self_attn.o_proj", q, c, config.attentionBias)
        gateProj = slot("mlp.gate_proj", c, f, config.mlpBias)
        upProj = slot("mlp.up_proj", c, f, config.mlpBias)
        downProj = slot("mlp.down_proj", f, c, config.mlpBias)
        inputLayernorm = .full([c], 1, requiresGrad: true)
        postAttentionLayernorm = .full([c], 1, requiresGrad: true)
    }

    /// The seven projections, attention first.
    public var slots: [LinearSlot] { [qProj, kProj, vProj, oProj, gateProj, upProj, downProj] }

    /// x [B, T, C] → [B, T, C], or the real rows [N, C] → [N, C] when `packing` is given (see
    /// `PackedRows`). `prefix` holds prefix-tuning keys/values [B, P, kvHeads·D].
    func callAsFunction(_ x: Tensor, positionOffset: Int, prefix: KeyValuePrefix?, mask: Tensor?,
                        packing: PackedRows? = nil) -> Tensor {
        let rows = packing?.batch ?? x.shape[0]
        return block(x, positions: [Int](repeating: positionOffset, count: rows), packing: packing) { q, k, v in
            causalAttention(q: q, k: k, v: v, heads: config.numAttentionHeads, kvHeads: config.numKeyValueHeads,
                            prefixKey: prefix?.key, prefixValue: prefix?.value, mask: mask,
                            lengths: packing?.lengths)                                         // [B, T, H·D]
        }
    }

    /// The same block over a key/value cache (inference): the T new keys and values join layer
    /// `index`'s cache, each row's tokens are rotated from the row's own next position, and the
    /// queries attend to every cached slot the row keeps. x [B, T, C] → [B, T, C].
    func callAsFunction(_ x: Tensor, cache: KeyValueCache, index: Int) -> Tensor {
        block(x, positions: cache.nextPositions) { q, k, v in
            cache.store(layer: index, keys: k, values: v)
            return cachedAttention(q: q, keys: cache.keys[index], values: cache.values[index], start: cache.length,
                                   heads: config.numAttentionHeads, kvHeads: config.numKeyValueHeads,
                                   keep: cache.keep)                                          // [B, T, H·D]
        }
    }

    /// RMSNorm → attention (queries and keys rotated, row b's tokens from `positions[b]`) →
    /// residual → RMSNorm → SwiGLU MLP → residual. `attend` maps (q, k, v) to the heads' outputs.
    /// With `packing`, x is the real rows [N, C]: everything but attention runs on them, and
    /// q, k, v go to the padded grid [B, T, ·] for RoPE and attention and back.
    private func block(_ x: Tensor, positions: [Int], packing: PackedRows? = nil,
                       attend: (Tensor, Tensor, Tensor) -> Tensor) -> Tensor {
        let cfg = config
        func grid(_ t: Tensor) -> Tensor { packing?.padded(t) ?? t }                        // [B, T, ·]
        let h = rmsNorm(x, weight: inputLayernorm, eps: cfg.rmsNormEps)                    // [B, T, C] or [N, C]
        let q = TensorKit.rope(grid(qProj(h)), heads: cfg.numAttentionHeads, table: rope,
                               rowOffsets: positions)                                        // [B, T, H·D]
        let k = TensorKit.rope(grid(kProj(h)), heads: cfg.numKeyValueHeads, table: rope,
                               rowOffsets: positions)                                        // [B, T, KV·D]
        let v = grid(vProj(h))                                                               // [B, T, KV·D]
        let a = attend(q, k, v)                                                              // [B, T, H·D]
        return mlpHalf(x + oProj(packing?.packed(a) ?? a))                                   // [B, T, C] or [N, C]
    }

    /// The block at chosen rows only, for the last layer of a forward read at a few positions:
    /// keys and values at every row, the queries, attention output, residuals and MLP only at
    /// `chosen`'s K rows — those rows of the full block, up to rounding. x is the packed rows [N, C]
    /// (with `packing`) or the grid [B, T, C]; returns [K, C] in `chosen`'s order.
    func callAsFunction(_ x: Tensor, chosen: ChosenRows, positionOffset: Int, prefix: KeyValuePrefix?,
                        packing: PackedRows?) -> Tensor {
        let cfg = config, batch = packing?.batch ?? x.shape[0]
        func grid(_ t: Tensor) -> Tensor { packing?.padded(t) ?? t }                        // [B, T, ·]
        let h = rmsNorm(x, weight: inputLayernorm, eps: cfg.rmsNormEps)                    // [N, C] or [B, T, C]
        let k = TensorKit.rope(grid(kProj(h)), heads: cfg.numKeyValueHeads, table: rope,
                               rowOffsets: [Int](repeating: positionOffset, count: batch))  // [B, T, KV·D]
        let v = grid(vProj(h))                                                               // [B, T, KV·D]
        let q = TensorKit.rope(qProj(h.rows(at: chosen.indices)).reshaped([chosen.count, 1, -1]),
                               heads: cfg.numAttentionHeads, table: rope,
                               rowOffsets: chosen.positions.map { $0 + positionOffset })    // [K, 1, H·D]
        let a = causalAttention(queries: q, rows: chosen.rows, positions: chosen.positions, k: k, v: v,
                                heads: cfg.numAttentionHeads, kvHeads: cfg.numKeyValueHeads,
                                prefixKey: prefix?.key, prefixValue: prefix?.value)          // [K, H·D]
        return mlpHalf(x.rows(at: chosen.indices) + oProj(a))                               // [K, C]
    }

    /// The block's second half on the residual stream x1 after attention: x1 + MLP(RMSNorm(x1)).
    private func mlpHalf(_ x1: Tensor) -> Tensor {
        let h2 = rmsNorm(x1, weight: postAttentionLayernorm, eps: config.rmsNormEps)         // [·, C]
        return x1 + downProj(swiglu(gate: gateProj(h2), up: upProj(h2)))                    // [·, C]
    }
}

/// The positions a last layer computes (see `DecoderLayer.callAsFunction(_:chosen:…)`): grid positions
/// r·T' + t in ascending order, each with its row r, its position t and its row in the layer's input
/// (the packed row when the rows are packed).
struct ChosenRows {
    let rows: [Int], positions: [Int], indices: [Int]
    var count: Int { rows.count }

    /// `grid` holds distinct flat positions r·T' + t, ascending; `packing` maps them to packed rows.
    init(grid: [Int], length: Int, packing: PackedRows?) {
        rows = grid.map { $0 / length }
        positions = grid.map { $0 % length }
        indices = packing.map { p in grid.map { p.slot[$0] } } ?? grid
    }
}

/// Where the real tokens of right-padded rows sit in the [B, T] grid: `indices` holds their flat
/// positions r·T + t, row by row. A forward that reads logits at real positions only runs the
/// norms, projections and MLP on those rows, [N, C] with N = Σ lengths, instead of on B·T; only
/// attention sees the grid, where padding stays harmless (causal: no real token reads a later
/// position), and skips the padding queries (`causalAttention`'s lengths). The numbers are those of
/// the padded forward, up to rounding.
struct PackedRows {
    let indices: [Int]
    let batch: Int, length: Int
    /// Real positions per row (prepended virtual tokens included); attention skips the rest.
    let lengths: [Int]
    /// The row of the packed tensor that holds each grid position (−1 at padding).
    let slot: [Int]

    init?(lengths: [Int], length: Int) {
        guard lengths.contains(where: { $0 < length }) else { return nil }            // no padding
        indices = lengths.enumerated().flatMap { r, n in (0..<n).map { r * length + $0 } }
        batch = lengths.count
        self.length = length
        self.lengths = lengths
        var slot = [Int](repeating: -1, count: batch * length)
        for (s, i) in indices.enumerated() { slot[i] = s }
        self.slot = slot
    }

    /// [N, W] → [B, T, W], zero at padding.
    func padded(_ x: Tensor) -> Tensor { x.placingRows(at: indices, in: [batch, length, x.shape[1]]) }
    /// [B, T, W] → [N, W].
    func packed(_ x: Tensor) -> Tensor { x.rows(at: indices) }
}

/// Keys and values put in front of one layer's attention (prefix tuning), [P, kvHeads·D]
/// (shared by every row) or [B, P, kvHeads·D]. They are used as stored — not rotated — like a
/// cache of P past positions.
public struct KeyValuePrefix {
    public var key: Tensor
    public var value: Tensor
    public init(key: Tensor, value: Tensor) { self.key = key; self.value = value }
}

/// What a prompt-learning method adds to a forward pass.
public enum VirtualTokens {
    /// Embeddings [n, C] (shared by every row) or [B, n, C] placed before the token embeddings:
    /// they take positions 0..<n, the tokens n..<n+T, and the logits cover both.
    case prepended(Tensor)
    /// One key/value prefix per layer, [n, kvHeads·D] or [B, n, kvHeads·D]: the tokens take
    /// positions n..<n+T, as after a cache of n positions, and the logits cover the tokens only.
    case keyValuePrefixes([KeyValuePrefix])
}

/// `LlamaForCausalLM`.
public final class LlamaModel {
    public let config: LlamaConfig
    public var embedTokens: Tensor          // model.embed_tokens.weight [V, C]
    public let layers: [DecoderLayer]       // model.layers.{i}
    public var norm: Tensor                 // model.norm.weight [C]
    public let lmHead: LinearSlot           // lm_head, [V, C]; shares embed_tokens when tied
    let rope: RopeTable

    /// A model initialised as `transformers` does: N(0, initializer_range²) weights, unit norms.
    public init(config: LlamaConfig, generator: Generator) {
        self.config = config
        rope = RopeTable(headDim: config.headDim, theta: config.ropeTheta)
        embedTokens = .randn([config.vocabSize, config.hiddenSize], std: config.initializerRange,
                             generator: generator, requiresGrad: true)
        layers = (0..<config.numHiddenLayers).map { [rope] in
            DecoderLayer(index: $0, config: config, rope: rope, generator: generator)
        }
        norm = .full([config.hiddenSize], 1, requiresGrad: true)
        let head = config.tieWordEmbeddings
            ? Linear(weight: embedTokens)
            : Linear(inFeatures: config.hiddenSize, outFeatures: config.vocabSize, std: config.initializerRange,
                     generator: generator)
        lmHead = LinearSlot(name: "lm_head", layer: head)
    }

    /// Every linear layer's slot, in model order, with its module name.
    public var linearSlots: [LinearSlot] { layers.flatMap(\.slots) + [lmHead] }

    /// The base model's float parameters under their Hugging Face names, each tensor once, in the
    /// order `transformers` lists them (a tied `lm_head.weight` is listed as
    /// `model.embed_tokens.weight`; a quantized layer's weight is not a float parameter).
    public var namedParameters: [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = [("model.embed_tokens.weight", embedTokens)]
        for (i, layer) in layers.enumerated() {
            let p = "model.layers.\(i)."
            out.append((p + "input_layernorm.weight", layer.inputLayernorm))
            for s in [layer.qProj, layer.kProj, layer.vProj, layer.oProj] { out += tensors(of: s) }
            out.append((p + "post_attention_layernorm.weight", layer.postAttentionLayernorm))
            for s in [layer.gateProj, layer.upProj, layer.downProj] { out += tensors(of: s) }
        }
        out.append(("model.norm.weight", norm))
        if !isHeadTied { out += tensors(of: lmHead) }
        return out
    }

    /// Whether lm_head is the embedding matrix itself.
    var isHeadTied: Bool { (lmHead.layer.base as? Linear)?.weight === embedTokens }

    private func tensors(of slot: LinearSlot) -> [(String, Tensor)] {
        slot.layer.base.namedTensors.map { (slot.name + "." + $0.suffix, $0.tensor) }
    }

    /// Number of base parameters (a tied head counted once, a quantized weight by its elements).
    public var parameterCount: Int {
        let norms = norm.count + layers.reduce(0) { $0 + $1.inputLayernorm.count + $1.postAttentionLayernorm.count }
        let linear = linearSlots.reduce(0) { $0 + $1.layer.base.parameterCount }
        return embedTokens.count + norms + linear - (isHeadTied ? embedTokens.count : 0)
    }

    /// Bytes the base weights occupy (a quantized layer by its packed storage).
    public var weightBytes: Int {
        let norms = norm.storageBytes + layers.reduce(0) {
            $0 + $1.inputLayernorm.storageBytes + $1.postAttentionLayernorm.storageBytes
        }
        let linear = linearSlots.reduce(0) { $0 + $1.layer.base.storageBytes }
        return embedTokens.storageBytes + norms + linear - (isHeadTied ? embedTokens.storageBytes : 0)
    }

    /// Freezes (or unfreezes) every base parameter.
    public func setTrainable(_ trainable: Bool) {
        for (_, t) in namedParameters { t.requiresGrad = trainable }
    }

    /// Logits for a batch of token ids.
    /// - Parameters:
    ///   - inputIds: B·T ids, row-major [B, T].
    ///   - virtualTokens: what a prompt-learning method adds (see `VirtualTokens`); an unbatched
    ///     prompt [n, ·] is repeated over the batch by a differentiable op.
    ///   - mask: optional additive attention mask [T', S] or [B, T', S] on top of the causal mask.
    ///   - logitsAt: when given, the output layer runs only at these positions: flat indices
    ///     r·T' + t into the [B, T'] positions (T' = n+T with prepended embeddings), like
    ///     `transformers`' `logits_to_keep` but at any positions. A loss that reads a few answer
    ///     tokens of each row skips the vocabulary projection everywhere else, and (without `mask`)
    ///     the last decoder layer's queries, attention output and MLP too (`ChosenRows`).
    ///   - lengths: the real tokens of each row when the rows are right-padded
    ///     (`TokenBatch.lengths`). With `logitsAt` (which must then name real positions) and
    ///     without `mask`, the blocks skip the padding (`PackedRows`).
    /// - Returns: logits [B, n+T, V] for prepended embeddings, [B, T, V] otherwise; [S, V] in the
    ///   order of `logitsAt` when it is given (the values of those rows of the full logits, up
    ///   to rounding).
    public func callAsFunction(_ inputIds: [Int], batch: Int, virtualTokens: VirtualTokens? = nil,
                               mask: Tensor? = nil, lengths: [Int]? = nil, logitsAt rows: [Int]? = nil) -> Tensor {
        precondition(batch > 0 && inputIds.count % batch == 0, "\(inputIds.count) ids do not split into \(batch) rows")
        let t = inputIds.count / batch
        var x = embedding(inputIds, shape: [batch, t], weight: embedTokens)              // [B, T, C]
        var prefixes: [KeyValuePrefix]? = nil
        switch virtualTokens {
        case .prepended(let prompt)?:
            let rows = batched(prompt, batch)                                            // [B, n, C]
            precondition(rows.shape == [batch, rows.shape[1], config.hiddenSize],
                         "prepended embeddings \(prompt.shape)")
            x = concat([rows, x], axis: 1)                                               // [B, n+T, C]
        case .keyValuePrefixes(let list)?:
            precondition(list.count == layers.count,
                         "one key/value prefix per layer: \(list.count) for \(layers.count)")
            prefixes = list.map { KeyValuePrefix(key: batched($0.key, batch), value: batched($0.value, batch)) }
        case nil:
            break
        }
        let offset = prefixes?.first?.key.shape[1] ?? 0
        // Read at a few positions (and without a mask), the blocks skip the padding and the last
        // layer computes only those positions: its other rows would reach no logit.
        if rows != nil, mask == nil, let lengths {
            precondition(lengths.count == batch && lengths.allSatisfy { $0 >= 0 && $0 <= t },
                         "\(lengths.count) row lengths for \(batch) rows of \(t) tokens")
        }
        let chosen = rows.flatMap { $0.isEmpty || mask != nil ? nil : Array(Set($0)).sorted() }
        if let rows, let chosen {
            var packing: PackedRows? = nil
            if let lengths {
                let n = x.shape[1] - t                                                   // prepended positions
                packing = PackedRows(lengths: lengths.map { n + $0 }, length: x.shape[1])
            }
            if let packing { x = packing.packed(x) }                                     // [N, C]
            let length = packing?.length ?? x.shape[1]                                   // T'
            precondition(chosen.first! >= 0 && chosen.last! < batch * length,
                         "logitsAt names a position outside the \(batch)×\(length) positions")
            precondition(packing.map { p in chosen.allSatisfy { p.slot[$0] >= 0 } } ?? true,
                         "logitsAt names a padding position (past its row's length)")
            for (i, layer) in layers.dropLast().enumerated() {
                x = layer(x, positionOffset: offset, prefix: prefixes?[i], mask: nil,
                          packing: packing)                                      // [B, T', C] or [N, C]
            }
            let picked = ChosenRows(grid: chosen, length: length, packing: packing)
            x = layers.last.map {
                $0(x, chosen: picked, positionOffset: offset, prefix: prefixes?.last, packing: packing)
            } ?? x.rows(at: picked.indices)                                              // [K, C]
            x = rmsNorm(x, weight: norm, eps: config.rmsNormEps)                          // [K, C]
            if rows == chosen { return lmHead(x) }                                       // [S, V]
            let slot = Dictionary(uniqueKeysWithValues: chosen.enumerated().map { ($1, $0) })
            return lmHead(x.rows(at: rows.map { slot[$0]! }))                            // [S, V]
        }
        for (i, layer) in layers.enumerated() {
            x = layer(x, positionOffset: offset, prefix: prefixes?[i], mask: mask)        // [B, T', C]
        }
        x = rmsNorm(x, weight: norm, eps: config.rmsNormEps)                              // [B, T', C]
        guard let rows else { return lmHead(x) }                                         // [B, T', V]
        return lmHead(x.rows(at: rows))                                                  // [S, V]
    }

    /// Logits for tokens that continue the sequences held in `cache`: incremental decoding. It
    /// records no history (inference only); training uses the forward without a cache.
    /// - Parameters:
    ///   - inputIds: B·T ids, row-major [B, T], right-padded: row r holds `lengths[r]` real tokens
    ///     (all T when nil). Padding slots are never attended to afterwards, and row r's next token
    ///     takes the position after its last real one (see `KeyValueCache`).
    ///   - virtualTokens: only into an empty cache, with the prompt (the prefill). Prepended
    ///     embeddings become the first n slots (positions 0..<n); a key/value prefix becomes the
    ///     cache's initial content, not rotated, and the tokens take positions n, n+1, …
    ///   - logitsAt: when given, the output layer runs only at these positions, flat indices
    ///     r·T' + t into this call's [B, T'] positions (T' = n+T with prepended embeddings).
    /// - Returns: logits [B, n+T, V] for prepended embeddings, [B, T, V] otherwise ([S, V] in the
    ///   order of `logitsAt` when it is given): at every real token, what the forward without a
    ///   cache gives for the row's whole sequence so far.
    public func callAsFunction(_ inputIds: [Int], batch: Int, virtualTokens: VirtualTokens? = nil,
                               cache: KeyValueCache, lengths: [Int]? = nil, logitsAt rows: [Int]? = nil) -> Tensor {
        precondition(batch > 0 && inputIds.count % batch == 0, "\(inputIds.count) ids do not split into \(batch) rows")
        precondition(cache.batchSize == batch, "a cache of \(cache.batchSize) rows for a batch of \(batch)")
        let t = inputIds.count / batch
        var real = lengths ?? [Int](repeating: t, count: batch)                            // real tokens a row
        precondition(real.count == batch, "\(real.count) row lengths for \(batch) rows")
        return withoutGrad {
            var x = embedding(inputIds, shape: [batch, t], weight: embedTokens)          // [B, T, C]
            switch virtualTokens {
            case .prepended(let prompt)?:
                precondition(cache.length == 0, "prepended embeddings go into an empty cache, with the prompt")
                let rows = batched(prompt, batch)                                        // [B, n, C]
                precondition(rows.shape == [batch, rows.shape[1], config.hiddenSize],
                             "prepended embeddings \(prompt.shape)")
                x = concat([rows, x], axis: 1)                                           // [B, n+T, C]
                real = real.map { $0 + rows.shape[1] }
            case .keyValuePrefixes(let list)?:
                precondition(list.count == layers.count,
                             "one key/value prefix per layer: \(list.count) for \(layers.count)")
                cache.storePrefixes(list.map {
                    KeyValuePrefix(key: batched($0.key, batch), value: batched($0.value, batch))  // [B, n, KV·D]
                })
            case nil:
                break
            }
            for (i, layer) in layers.enumerated() {
                x = layer(x, cache: cache, index: i)                                     // [B, T', C]
            }
            cache.advance(by: x.shape[1], realCounts: real)
            x = rmsNorm(x, weight: norm, eps: config.rmsNormEps)                          // [B, T', C]
            guard let rows else { return lmHead(x) }                                     // [B, T', V]
            return lmHead(x.rows(at: rows))                                              // [S, V]
        }
    }

    /// [n, W] repeated over the batch ([B, n, W]); a batched tensor passes through.
    private func batched(_ x: Tensor, _ batch: Int) -> Tensor {
        x.rank == 2 ? x.expanded(batch: batch) : x
    }
}

/// The causal language-model loss of `transformers`: mean cross-entropy of logits[:, :-1]
/// against labels[:, 1:], skipping labels of −100. `labels` is [B, T] row-major like the logits'
/// first two axes. The shift is done on the targets, so no logits are copied.
public func causalLanguageModelLoss(_ logits: Tensor, labels: [Int]) -> Tensor {
    let (b, t) = (logits.shape[0], logits.shape[1])
    precondition(labels.count == b * t, "\(labels.count) labels for logits \(logits.shape)")
    return crossEntropy(logits, targets: nextTokenTargets(labels, rows: b))
}

/// The target of every position of `labels` [B, T] (row-major): position t predicts label t+1 of
/// its row; a row's last position, like every −100 label, has the target −100.
public func nextTokenTargets(_ labels: [Int], rows b: Int) -> [Int] {
    precondition(b > 0 && labels.count % b == 0, "\(labels.count) labels do not split into \(b) rows")
    let t = labels.count / b
    var targets = [Int](repeating: -100, count: b * t)
    for r in 0..<b { for i in 0..<max(t - 1, 0) { targets[r * t + i] = labels[r * t + i + 1] } }
    return targets
}
