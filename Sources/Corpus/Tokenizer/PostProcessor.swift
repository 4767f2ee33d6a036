// PostProcessor.swift — the special tokens `encode(text, addingSpecialTokens: true)` puts around the
// text, from tokenizer.json's `post_processor` (TemplateProcessing: LLaMA's "<s> $A"; ByteLevel only
// trims offsets and adds nothing).

/// The ids a single sequence gets in front of it and after it.
struct PostProcessor: Equatable {
    var prefix: [Int] = []
    var suffix: [Int] = []

    /// The post-processor of `value` (JSON null: nothing added), or an error naming the one refused.
    static func read(_ value: JSONValue, file: TokenizerFile) throws -> PostProcessor {
        if value.isNull { return PostProcessor() }
        let type = try file.type(of: value, "post_processor")
        switch type {
        case "ByteLevel":
            return PostProcessor()
        case "Sequence":
            var combined = PostProcessor()
            for step in try file.list(value, "processors", "post_processor Sequence") {
                let inner = try read(step, file: file)
                combined = PostProcessor(prefix: inner.prefix + combined.prefix, suffix: combined.suffix + inner.suffix)
            }
            return combined
        case "TemplateProcessing":
            return try template(value, file: file)
        default:
            throw file.unsupported("post_processor \(type)")
        }
    }

    /// TemplateProcessing's `single` template: special tokens, one `$A`, special tokens.
    private static func template(_ value: JSONValue, file: TokenizerFile) throws -> PostProcessor {
        let part = "post_processor TemplateProcessing"
        let items = try file.list(value, "single", part)
        guard let specials = value["special_tokens"] else { throw file.invalid("\(part) has no special_tokens") }
        var result = PostProcessor()
        var seenSequence = false
        for item in items {
            if let sequence = item["Sequence"] {
                guard !seenSequence, sequence["id"]?.string == "A" else {
                    throw file.unsupported("\(part) with a single template other than one $A")
                }
                seenSequence = true
            } else if let name = item["SpecialToken"]?["id"]?.string {
                guard let ids = specials[name]?["ids"]?.array?.compactMap(\.integer), !ids.isEmpty else {
                    throw file.invalid("\(part): special_tokens has no ids for \"\(name)\"")
                }
                if seenSequence { result.suffix += ids } else { result.prefix += ids }
            } else {
                throw file.invalid("\(part): a template item is neither Sequence nor SpecialToken")
            }
        }
        guard seenSequence else { throw file.unsupported("\(part) with a single template without $A") }
        return result
    }
}
