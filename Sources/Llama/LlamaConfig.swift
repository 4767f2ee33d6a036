// LlamaConfig.swift — the LLaMA fields of a Hugging Face `config.json`, validated.

import Foundation
import SafeTensors

/// The architecture of a LLaMA model, with the field names and defaults of `transformers`'
/// `LlamaConfig`. Read from and written to `config.json` (snake_case keys there).
public struct LlamaConfig: Equatable, Sendable {
    /// `vocab_size`: number of token ids.
    public var vocabSize: Int
    /// `hidden_size`: width C of the residual stream.
    public var hiddenSize: Int
    /// `intermediate_size`: width of the SwiGLU MLP.
    public var intermediateSize: Int
    /// `num_hidden_layers`: number of decoder blocks.
    public var numHiddenLayers: Int
    /// `num_attention_heads`: query heads.
    public var numAttentionHeads: Int
    /// `num_key_value_heads`: key/value heads (fewer than query heads = grouped-query attention).
    public var numKeyValueHeads: Int
    /// `head_dim`: width of one head; `hidden_size / num_attention_heads` when absent.
    public var headDim: Int
    /// `max_position_embeddings`: the longest sequence the model is meant for.
    public var maxPositionEmbeddings: Int
    /// `rms_norm_eps`: ε inside RMSNorm's square root.
    public var rmsNormEps: Float
    /// `rope_theta` (or `rope_parameters.rope_theta`): RoPE base.
    public var ropeTheta: Float
    /// `tie_word_embeddings`: `lm_head` shares the embedding matrix.
    public var tieWordEmbeddings: Bool
    /// `attention_bias`: q/k/v/o projections carry a bias.
    public var attentionBias: Bool
    /// `mlp_bias`: gate/up/down projections carry a bias.
    public var mlpBias: Bool
    /// `initializer_range`: std of the normal initialisation.
    public var initializerRange: Float
    /// `bos_token_id`, `eos_token_id`, `pad_token_id`.
    public var bosTokenId: Int?, eosTokenId: Int?, padTokenId: Int?

    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, numKeyValueHeads: Int? = nil, headDim: Int? = nil,
                maxPositionEmbeddings: Int = 2048, rmsNormEps: Float = 1e-6, ropeTheta: Float = 10000,
                tieWordEmbeddings: Bool = false, attentionBias: Bool = false, mlpBias: Bool = false,
                initializerRange: Float = 0.02, bosTokenId: Int? = 1, eosTokenId: Int? = 2, padTokenId: Int? = nil) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers; self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.headDim = headDim ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0)
        self.maxPositionEmbeddings = maxPositionEmbeddings; self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta; self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias; self.mlpBias = mlpBias; self.initializerRange = initializerRange
        self.bosTokenId = bosTokenId; self.eosTokenId = eosTokenId; self.padTokenId = padTokenId
    }

    /// Every impossible value, as one error naming the file and the field.
    ///
    /// Besides each field's own range, the sizes must multiply without overflow: a config whose
    /// parameter count (or byte count) does not fit in an `Int` is rejected here, before any
    /// arithmetic on it can wrap or trap.
    public func validate(file: String = "config") throws {
        func check(_ ok: Bool, _ problem: String) throws {
            if !ok { throw FileFormatError(file: file, problem: problem) }
        }
        try check(vocabSize > 0, "vocab_size must be positive, got \(vocabSize)")
        try check(hiddenSize > 0, "hidden_size must be positive, got \(hiddenSize)")
        try check(intermediateSize > 0, "intermediate_size must be positive, got \(intermediateSize)")
        try check(numHiddenLayers >= 0, "num_hidden_layers must not be negative, got \(numHiddenLayers)")
        try check(numAttentionHeads > 0, "num_attention_heads must be positive, got \(numAttentionHeads)")
        try check(numKeyValueHeads > 0 && numAttentionHeads % numKeyValueHeads == 0,
                  "num_key_value_heads (\(numKeyValueHeads)) must divide num_attention_heads (\(numAttentionHeads))")
        try check(headDim > 0 && headDim % 2 == 0,
                  "head_dim must be a positive even number (RoPE rotates pairs), got \(headDim)")
        try check(rmsNormEps > 0 && rmsNormEps.isFinite, "rms_norm_eps must be positive, got \(rmsNormEps)")
        try check(ropeTheta > 0 && ropeTheta.isFinite, "rope_theta must be positive, got \(ropeTheta)")
        try check(maxPositionEmbeddings > 0, "max_position_embeddings must be positive, got \(maxPositionEmbeddings)")
        try check(initializerRange >= 0 && initializerRange.isFinite,
                  "initializer_range must be a finite non-negative number, got \(initializerRange); "
                  + "transformers uses 0.02")
        try check(parameterCount() != nil,
                  "the sizes multiply past Int.max (vocab_size \(vocabSize), hidden_size \(hiddenSize), "
                  + "intermediate_size \(intermediateSize), num_hidden_layers \(numHiddenLayers), num_attention_heads "
                  + "\(numAttentionHeads), num_key_value_heads \(numKeyValueHeads), head_dim \(headDim)): no model has "
                  + "that many parameters; correct the oversized field")
    }

    /// The number of base parameters (a tied head counted once), or nil when the sizes overflow
    /// an `Int` (or their Float32 bytes do) — checked arithmetic, nothing allocated, no loop
    /// over layers.
    public func parameterCount() -> Int? {
        let (c, f) = (hiddenSize, intermediateSize)
        let (product, sum) = (checkedProduct, checkedSum)
        guard let q = product([numAttentionHeads, headDim]), let kv = product([numKeyValueHeads, headDim]),
              let attention = sum([product([q, c]), product([kv, c, 2]), product([c, q])]),
              let mlp = product([c, f, 3]),
              let biases = sum([attentionBias ? sum([q, product([kv, 2]), c]) : 0,
                                mlpBias ? sum([product([f, 2]), c]) : 0]),
              let perLayer = sum([product([c, 2]), attention, mlp, biases]),
              let embedding = product([vocabSize, c]),
              let total = sum([embedding, product([perLayer, numHiddenLayers]), c, tieWordEmbeddings ? 0 : embedding]),
              product([total, 4]) != nil
        else { return nil }
        return total
    }

    /// Calls `body` with every parameter a model with this config holds — names, order and
    /// shapes as `LlamaModel.namedParameters` — without allocating any tensor. A throw from
    /// `body` stops the walk, so a config with 10^12 layers costs nothing when layer 2 is
    /// missing from the weights. Products of sizes are checked: an overflowing axis is `Int.max`.
    public func forEachParameterShape(_ body: (ParameterShape) throws -> Void) rethrows {
        let c = hiddenSize, f = intermediateSize, v = vocabSize
        let q = checkedProduct([numAttentionHeads, headDim]) ?? .max
        let kv = checkedProduct([numKeyValueHeads, headDim]) ?? .max
        let qAxis = "num_attention_heads × head_dim", kvAxis = "num_key_value_heads × head_dim"
        try body(ParameterShape(name: "model.embed_tokens.weight", shape: [v, c], axes: ["vocab_size", "hidden_size"]))
        for i in 0..<max(numHiddenLayers, 0) {
            let p = "model.layers.\(i).", layer = "num_hidden_layers is \(numHiddenLayers)"
            func linear(_ name: String, _ out: (Int, String), _ in_: (Int, String), bias: Bool, _ flag: String) throws {
                try body(ParameterShape(name: p + name + ".weight", shape: [out.0, in_.0], axes: [out.1, in_.1],
                                        origin: layer))
                if bias {
                    try body(ParameterShape(name: p + name + ".bias", shape: [out.0], axes: [out.1],
                                            origin: layer + ", \(flag) is true"))
                }
            }
            try body(ParameterShape(name: p + "input_layernorm.weight", shape: [c], axes: ["hidden_size"],
                                    origin: layer))
            try linear("self_attn.q_proj", (q, qAxis), (c, "hidden_size"), bias: attentionBias, "attention_bias")
            try linear("self_attn.k_proj", (kv, kvAxis), (c, "hidden_size"), bias: attentionBias, "attention_bias")
            try linear("self_attn.v_proj", (kv, kvAxis), (c, "hidden_size"), bias: attentionBias, "attention_bias")
            try linear("self_attn.o_proj", (c, "hidden_size"), (q, qAxis), bias: attentionBias, "attention_bias")
            try body(ParameterShape(name: p + "post_attention_layernorm.weight", shape: [c], axes: ["hidden_size"],
                                    origin: layer))
            try linear("mlp.gate_proj", (f, "intermediate_size"), (c, "hidden_size"), bias: mlpBias, "mlp_bias")
            try linear("mlp.up_proj", (f, "intermediate_size"), (c, "hidden_size"), bias: mlpBias, "mlp_bias")
            try linear("mlp.down_proj", (c, "hidden_size"), (f, "intermediate_size"), bias: mlpBias, "mlp_bias")
        }
        try body(ParameterShape(name: "model.norm.weight", shape: [c], axes: ["hidden_size"]))
        if !tieWordEmbeddings {
            try body(ParameterShape(name: "lm_head.weight", shape: [v, c], axes: ["vocab_size", "hidden_size"],
                                    origin: "tie_word_embeddings is false"))
        }
    }

    /// Reads `config.json`.
    public static func load(contentsOf url: URL) throws -> LlamaConfig {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FileFormatError(file: url.path,
                                  problem: "no such file: a model folder needs config.json (Hugging Face layout)")
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FileFormatError(file: url.path, problem: "cannot be read (\(error.localizedDescription))")
        }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
            throw FileFormatError(file: url.path, problem: "not a valid JSON object (\(jsonSyntaxProblem(error))); "
                                  + "fix the syntax or save the config again")
        }
        guard let json = parsed as? [String: Any] else {
            throw FileFormatError(file: url.path, problem: "not a valid JSON object: the top level must be {…} "
                                  + "with the config fields")
        }
        return try LlamaConfig(json: json, file: url.path)
    }

    /// Reads the fields from a parsed `config.json`; absent fields take `transformers`' defaults.
    public init(json: [String: Any], file: String) throws {
        func fail(_ problem: String) -> FileFormatError { FileFormatError(file: file, problem: problem) }
        func int(_ key: String, _ fallback: Int?) throws -> Int? {
            guard let v = json[key], !(v is NSNull) else { return fallback }
            guard let n = jsonInteger(v) else {
                throw fail("\(key) must be an integer, got \(abbreviated(v)); write a whole number (below 2^53)")
            }
            return n
        }
        /// An id that may be a list of ids (LLaMA 3's several end tokens): the first.
        func firstInt(_ key: String) throws -> Int? {
            guard let list = json[key] as? [Any] else { return try int(key, nil) }
            guard let first = list.first else { return nil }
            guard let n = jsonInteger(first) else {
                throw fail("\(key) must be an integer or a list of integers, got \(abbreviated(list))")
            }
            return n
        }
        func float(_ key: String, in object: [String: Any], _ fallback: Float) throws -> Float {
            guard let v = object[key], !(v is NSNull) else { return fallback }
            guard let n = v as? NSNumber, String(cString: n.objCType) != "c" else {
                throw fail("\(key) must be a number, got \(abbreviated(v)); write a decimal number such as 1e-06")
            }
            return n.floatValue
        }
        func bool(_ key: String, _ fallback: Bool) throws -> Bool {
            guard let v = json[key], !(v is NSNull) else { return fallback }
            guard let b = v as? Bool else { throw fail("\(key) must be true or false, got \(v)") }
            return b
        }
        if let type = json["model_type"] as? String, type != "llama" {
            throw fail("model_type is '\(type)'; this project implements the LLaMA architecture (model_type \"llama\")")
        }
        if let act = json["hidden_act"] as? String, act != "silu" {
            throw fail("hidden_act '\(act)' is not supported; LLaMA uses \"silu\"")
        }
        var theta = try float("rope_theta", in: json, 10000)
        if let rope = json["rope_parameters"] as? [String: Any] {
            theta = try float("rope_theta", in: rope, theta)
            if let type = rope["rope_type"] as? String, type != "default" {
                throw fail("rope_type '\(type)' is not supported (only \"default\")")
            }
        }
        if let scaling = json["rope_scaling"], !(scaling is NSNull) {
            throw fail("rope_scaling is not supported; remove it or set it to null")
        }
        let heads = try int("num_attention_heads", 32)!
        let hidden = try int("hidden_size", 4096)!
        self.init(
            vocabSize: try int("vocab_size", 32000)!, hiddenSize: hidden,
            intermediateSize: try int("intermediate_size", 11008)!,
            numHiddenLayers: try int("num_hidden_layers", 32)!, numAttentionHeads: heads,
            numKeyValueHeads: try int("num_key_value_heads", heads), headDim: try int("head_dim", nil),
            maxPositionEmbeddings: try int("max_position_embeddings", 2048)!,
            rmsNormEps: try float("rms_norm_eps", in: json, 1e-6), ropeTheta: theta,
            tieWordEmbeddings: try bool("tie_word_embeddings", false),
            attentionBias: try bool("attention_bias", false), mlpBias: try bool("mlp_bias", false),
            initializerRange: try float("initializer_range", in: json, 0.02),
            bosTokenId: try int("bos_token_id", nil), eosTokenId: try firstInt("eos_token_id"),
            padTokenId: try int("pad_token_id", nil))
        try validate(file: file)
    }

    /// The `config.json` text `transformers` reads (keys sorted, indent 2).
    public func json() -> String {
        let fields: [(String, String)] = [
            ("architectures", "[\n    \"LlamaForCausalLM\"\n  ]"),
            ("attention_bias", "\(attentionBias)"), ("attention_dropout", "0.0"),
            ("bos_token_id", bosTokenId.map(String.init) ?? "null"),
            ("eos_token_id", eosTokenId.map(String.init) ?? "null"),
            ("head_dim", "\(headDim)"), ("hidden_act", "\"silu\""), ("hidden_size", "\(hiddenSize)"),
            ("initializer_range", jsonNumber(initializerRange)), ("intermediate_size", "\(intermediateSize)"),
            ("max_position_embeddings", "\(maxPositionEmbeddings)"), ("mlp_bias", "\(mlpBias)"),
            ("model_type", "\"llama\""), ("num_attention_heads", "\(numAttentionHeads)"),
            ("num_hidden_layers", "\(numHiddenLayers)"), ("num_key_value_heads", "\(numKeyValueHeads)"),
            ("pad_token_id", padTokenId.map(String.init) ?? "null"), ("pretraining_tp", "1"),
            ("rms_norm_eps", jsonNumber(rmsNormEps)), ("rope_scaling", "null"), ("rope_theta", jsonNumber(ropeTheta)),
            ("tie_word_embeddings", "\(tieWordEmbeddings)"), ("torch_dtype", "\"float32\""),
            ("use_cache", "true"), ("vocab_size", "\(vocabSize)"),
        ]
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }
}

/// One parameter a config implies: its Hugging Face name, its shape, and where the shape and the
/// parameter itself come from in `config.json` (for error messages).
public struct ParameterShape: Equatable, Sendable {
    /// The name in `LlamaModel.namedParameters`, e.g. `model.layers.0.self_attn.q_proj.weight`.
    public var name: String
    /// The shape, each axis a config size or product of sizes.
    public var shape: [Int]
    /// The config fields of each axis, e.g. `["num_attention_heads × head_dim", "hidden_size"]`.
    public var axes: [String]
    /// Why the model has this parameter at all, when a field decides it ("num_hidden_layers is 2").
    public var origin: String?

    public init(name: String, shape: [Int], axes: [String], origin: String? = nil) {
        self.name = name; self.shape = shape; self.axes = axes; self.origin = origin
    }
}

/// The product of `sizes`, or nil if it overflows an `Int`.
private func checkedProduct(_ sizes: [Int]) -> Int? {
    var result = 1
    for size in sizes {
        let (next, overflow) = result.multipliedReportingOverflow(by: size)
        if overflow { return nil }
        result = next
    }
    return result
}

/// The sum of `terms`, or nil if one is nil or the sum overflows an `Int`.
private func checkedSum(_ terms: [Int?]) -> Int? {
    var result = 0
    for term in terms {
        guard let term else { return nil }
        let (next, overflow) = result.addingReportingOverflow(term)
        if overflow { return nil }
        result = next
    }
    return result
}

/// A JSON value shortened for an error message.
func abbreviated(_ value: Any) -> String {
    let text = value is String ? jsonString(value as! String) : "\(value)"
    return text.count > 60 ? text.prefix(57) + "…" : text
}

/// A float as the shortest decimal that reads back to the same Float ("1e-06", "10000.0").
func jsonNumber(_ x: Float) -> String {
    let s = "\(x)"
    return s.contains(".") || s.contains("e") ? s : s + ".0"
}
