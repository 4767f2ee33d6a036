// TokenDecoder.swift — from tokens back to text, as tokenizer.json's `decoder` says: ByteLevel
// (bytes from their printable characters), or LLaMA's chain Replace("▁" → " "), ByteFallback
// (<0xE6><0x9D><0xB1> → "東"), Fuse, Strip, and Metaspace.

/// A decoder: token strings in, strings out (joined at the end), each step as `tokenizers`' decode_chain.
indirect enum TokenDecoder {
    case byteLevel
    case replace(pattern: [Unicode.Scalar], content: [Unicode.Scalar])
    case byteFallback
    case fuse
    /// Removes up to `start` leading and `stop` trailing `content` characters from each token.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    /// Replacement characters become spaces; the first token loses them when a prefix was prepended.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)
    case sequence([TokenDecoder])

    func decodeChain(_ tokens: [[Unicode.Scalar]]) -> [[Unicode.Scalar]] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                let mapped = token.compactMap { ByteLevelAlphabet.byteOfScalar[$0.value] }
                bytes += mapped.count == token.count ? mapped : Array(token.text.utf8)
            }
            return [Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)]
        case .replace(let pattern, let content):
            return tokens.map { $0.replacing(pattern, with: content) }
        case .byteFallback:
            return TokenDecoder.fallBack(tokens)
        case .fuse:
            return [tokens.flatMap { $0 }]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                var from = 0, to = token.count
                while from < min(start, token.count), token[from] == content { from += 1 }
                var removed = 0
                while removed < stop, to > from, token[to - 1] == content { to -= 1; removed += 1 }
                return Array(token[from..<to])
            }
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { i, token in
                token.compactMap { c in
                    guard c == replacement else { return c }
                    return i == 0 && scheme != .never ? nil : " "
                }
            }
        case .sequence(let steps):
            return steps.reduce(tokens) { $1.decodeChain($0) }
        }
    }

    /// Short form for summaries.
    var name: String {
        switch self {
        case .byteLevel: "ByteLevel"
        case .replace: "Replace"
        case .byteFallback: "ByteFallback"
        case .fuse: "Fuse"
        case .strip: "Strip"
        case .metaspace: "Metaspace"
        case .sequence(let steps): "Sequence[" + steps.map(\.name).joined(separator: ", ") + "]"
        }
    }

    /// Runs of <0xXX> tokens become the text of their bytes; a run that is not valid UTF-8 becomes one
    /// U+FFFD per byte.
    private static func fallBack(_ tokens: [[Unicode.Scalar]]) -> [[Unicode.Scalar]] {
        var out: [[Unicode.Scalar]] = []
        var pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let text = String(validating: pending, as: UTF8.self) {
                out.append(Array(text.unicodeScalars))
            } else {
                out += Array(repeating: ["\u{FFFD}"], count: pending.count)
            }
            pending.removeAll()
        }
        for token in tokens {
            if token.count == 6, token.starts(with: ["<", "0", "x"]), token[5] == ">",
               let byte = UInt8(token[3...4].text, radix: 16) {
                pending.append(byte)
            } else {
                flush()
                out.append(token)
            }
        }
        flush()
        return out
    }

    /// The decoder of `value` (nil for JSON null), or an error naming the one refused.
    static func read(_ value: JSONValue, file: TokenizerFile) throws -> TokenDecoder? {
        let part = "decoder"
        if value.isNull { return nil }
        let type = try file.type(of: value, part)
        switch type {
        case "ByteLevel": return .byteLevel
        case "Replace":
            let pattern = try file.stringPattern(value, "decoder Replace")
            return .replace(pattern: pattern, content: Array(try file.string(value, "content", part).unicodeScalars))
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            guard let start = value["start"]?.integer, let stop = value["stop"]?.integer, start >= 0, stop >= 0 else {
                throw file.invalid("decoder Strip needs \"start\" and \"stop\" as whole numbers from 0")
            }
            return .strip(content: try file.character(value, "content", "decoder Strip"), start: start, stop: stop)
        case "Metaspace":
            let replacement = try file.character(value, "replacement", "decoder Metaspace")
            let legacy = try file.bool(value, "add_prefix_space", part, default: true) ? "always" : "never"
            let schemeName = value["prepend_scheme"]?.string ?? legacy
            guard let scheme = PrependScheme(rawValue: schemeName) else {
                throw file.invalid("decoder Metaspace.prepend_scheme must be always, first or never")
            }
            return .metaspace(replacement: replacement, prependScheme: scheme)
        case "Sequence":
            let steps = try file.list(value, "decoders", "decoder Sequence")
            return .sequence(try steps.compactMap { try read($0, file: file) })
        default:
            throw file.unsupported("decoder \(type)")
        }
    }
}
