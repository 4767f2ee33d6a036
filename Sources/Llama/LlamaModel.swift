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

    init(index: Int, config: LlamaConfig, generator: Generator) {
        self.config = config
        let c = config.hiddenSize, q = config.numAttentionHeads * config.headDim
        let kv = config.numKeyValueHeads * config.headDim, f = config.intermediateSize
        let std = config.initializerRange, p = "model.layers.\(index)."
        func slot(_ name: String, _ inF: Int, _ outF: Int, _ bias: Bool) -> LinearSlot {
            LinearSlot(name: p + name, layer: Linear(inFeatures: inF, outFeatures: outF, bias: bias, std: std, generator: generator))
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

    var slots: [LinearSlot] { [qProj, kProj, vProj, oProj, gateProj, upProj, downProj] }

    /// x [B, T, C] → [B, T, C]. `prefix` holds prefix-tuning keys/values [B, P, kvHeads·D].
    func callAsFunction(_ x: Tensor, positionOffset: Int, prefix: KeyValuePrefix?, mask: Tensor?) -> Tensor {
        let cfg = config
        let h = rmsNorm(x, weight: inputLayernorm, eps: cfg.rmsNormEps)                  // [B, T, C]
        let q = rope(qProj(h), heads: cfg.numAttentionHeads, theta: cfg.ropeTheta, offset: positionOffset)   // [B, T, H·D]
        let k = rope(kProj(h), heads: cfg.numKeyValueHeads, theta: cfg.ropeTheta, offset: positionOffset)    // [B, T, KV·D]
        let v = vProj(h)                                                                   // [B, T, KV·D]
        let a = causalAttention(q: q, k: k, v: v, heads: cfg.numAttentionHeads, kvHeads: cfg.numKeyValueHeads,
                                prefixKey: prefix?.key, prefixValue: prefix?.value, mask: mask)  // [B, T, H·D]
        let x1 = x + oProj(a)                                                              // [B, T, C]
        let h2 = rmsNorm(x1, weight: postAttentionLayernorm, eps: cfg.rmsNormEps)          // [B, T, C]
        let m = downProj(silu(gateProj(h2)) * upProj(h2))                                  // [B, T, C]
        return x1 + m
    }
}

/// Keys and values put in front of one layer's attention (prefix tuning), [B, P, kvHeads·D]
/// each, already rotated (like a cache of past positions 0..<P).
public struct KeyValuePrefix {
    public var key: Tensor
    public var value: Tensor
    public init(key: Tensor, value: Tensor) { self.key = key; self.value = value }
}

/// `LlamaForCausalLM`.
public final class LlamaModel {
    public let config: LlamaConfig
    public var embedTokens: Tensor          // model.embed_tokens.weight [V, C]
    public let layers: [DecoderLayer]       // model.layers.{i}
    public var norm: Tensor                 // model.norm.weight [C]
    public let lmHead: LinearSlot           // lm_head, [V, C]; shares embed_tokens when tied

    /// A model initialised as `transformers` does: N(0, initializer_range²) weights, unit norms.
    public init(config: LlamaConfig, generator: Generator) {
        self.config = config
        embedTokens = .randn([config.vocabSize, config.hiddenSize], std: config.initializerRange,
                             generator: generator, requiresGrad: true)
        layers = (0..<config.numHiddenLayers).map { DecoderLayer(index: $0, config: config, generator: generator) }
        norm = .full([config.hiddenSize], 1, requiresGrad: true)
        let head = config.tieWordEmbeddings
            ? Linear(weight: embedTokens)
            : Linear(inFeatures: config.hiddenSize, outFeatures: config.vocabSize, std: config.initializerRange, generator: generator)
        lmHead = LinearSlot(name: "lm_head", layer: head)
    }

    /// Every linear layer's slot, in model order, with its module name.
    public var linearSlots: [LinearSlot] { layers.flatMap(\.slots) + [lmHead] }

    /// A slot by its module name.
    public func slot(named name: String) -> LinearSlot? { linearSlots.first { $0.name == name } }

    /// The base model's parameters under their Hugging Face names, each tensor once (a tied
    /// `lm_head.weight` is listed as `model.embed_tokens.weight`).
    public var namedParameters: [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = [("model.embed_tokens.weight", embedTokens)]
        for (i, layer) in layers.enumerated() {
            let p = "model.layers.\(i)."
            out.append((p + "input_layernorm.weight", layer.inputLayernorm))
            for s in layer.slots.prefix(4) { out += linearParameters(s) }
            out.append((p + "post_attention_layernorm.weight", layer.postAttentionLayernorm))
            for s in layer.slots.suffix(3) { out += linearParameters(s) }
        }
        out.append(("model.norm.weight", norm))
        if lmHead.layer.base.weight !== embedTokens { out += linearParameters(lmHead) }
        return out
    }

    private func linearParameters(_ slot: LinearSlot) -> [(String, Tensor)] {
        var out = [(slot.name + ".weight", slot.layer.base.weight)]
        if let b = slot.layer.base.bias { out.append((slot.name + ".bias", b)) }
        return out
    }

    /// Number of base parameters (a tied head counted once).
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.tensor.count } }

    /// Freezes (or unfreezes) every base parameter.
    public func setTrainable(_ trainable: Bool) {
        for (_, t) in namedParameters { t.requiresGrad = trainable }
    }

    /// Logits for a batch of token ids.
    /// - Parameters:
    ///   - inputIds: B·T ids, row-major [B, T].
    ///   - inputPrefix: embeddings [B, P, C] put before the tokens (prompt tuning, P-tuning);
    ///     they take positions 0..<P and the logits cover them too: [B, P+T, V].
    ///   - keyValuePrefixes: one per layer (prefix tuning), [B, P, kvHeads·D]; the tokens then
    ///     take positions P..<P+T, as after a cache of P positions.
    ///   - mask: optional additive attention mask [T', S] or [B, T', S] on top of the causal mask.
    /// - Returns: logits [B, T', V] with T' = P+T for an input prefix, T otherwise.
    public func callAsFunction(_ inputIds: [Int], batch: Int, inputPrefix: Tensor? = nil,
                               keyValuePrefixes: [KeyValuePrefix]? = nil, mask: Tensor? = nil) -> Tensor {
        precondition(batch > 0 && inputIds.count % batch == 0, "\(inputIds.count) ids do not split into \(batch) rows")
        let t = inputIds.count / batch
        var x = embedding(inputIds, shape: [batch, t], weight: embedTokens)            // [B, T, C]
        if let inputPrefix {
            precondition(inputPrefix.shape == [batch, inputPrefix.shape[1], config.hiddenSize], "input prefix \(inputPrefix.shape)")
            x = concat([inputPrefix, x], axis: 1)                                      // [B, P+T, C]
        }
        if let keyValuePrefixes { precondition(keyValuePrefixes.count == layers.count, "one key/value prefix per layer") }
        let offset = keyValuePrefixes?.first?.key.shape[1] ?? 0
        for (i, layer) in layers.enumerated() {
            x = layer(x, positionOffset: offset, prefix: keyValuePrefixes?[i], mask: mask)  // [B, T', C]
        }
        x = rmsNorm(x, weight: norm, eps: config.rmsNormEps)                            // [B, T', C]
        return lmHead(x)                                                               // [B, T', V]
    }
}

/// The causal language-model loss of `transformers`: mean cross-entropy of logits[:, :-1]
/// against labels[:, 1:], skipping labels of −100. `labels` is [B, T] row-major like the logits'
/// first two axes. The shift is done on the targets, so no logits are copied.
public func causalLanguageModelLoss(_ logits: Tensor, labels: [Int]) -> Tensor {
    let (b, t) = (logits.shape[0], logits.shape[1])
    precondition(labels.count == b * t, "\(labels.count) labels for logits \(logits.shape)")
    var targets = [Int](repeating: -100, count: b * t)
    for r in 0..<b { for i in 0..<(t - 1) { targets[r * t + i] = labels[r * t + i + 1] } }
    return crossEntropy(logits, targets: targets)
}
