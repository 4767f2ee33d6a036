// Normalizer.swift — the normalizers of tokenizer.json this code reproduces exactly: what LLaMA 2 and
// TinyLlama use (Prepend "▁", then Replace " " → "▁") and NFC. Anything else is refused by name.

import Foundation

/// A text normalizer, applied to each stretch of text between added tokens before pre-tokenization.
indirect enum Normalizer {
    /// `Prepend`: puts `prefix` in front of a non-empty text.
    case prepend([Unicode.Scalar])
    /// `Replace` with a string pattern: every occurrence, left to right.
    case replace(pattern: [Unicode.Scalar], content: [Unicode.Scalar])
    /// `NFC`: canonical composition ("e" + U+0301 → "é").
    case nfc
    /// `Sequence`: each in turn.
    case sequence([Normalizer])

    func apply(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        switch self {
        case .prepend(let prefix): text.isEmpty ? text : prefix + text
        case .replace(let pattern, let content): text.replacing(pattern, with: content)
        case .nfc:
            text.allSatisfy(\.isASCII) ? text : Array(text.text.precomposedStringWithCanonicalMapping.unicodeScalars)
        case .sequence(let steps): steps.reduce(text) { $1.apply($0) }
        }
    }

    /// Short form for summaries ("Sequence[Prepend, Replace]").
    var name: String {
        switch self {
        case .prepend: "Prepend"
        case .replace: "Replace"
        case .nfc: "NFC"
        case .sequence(let steps): "Sequence[" + steps.map(\.name).joined(separator: ", ") + "]"
        }
    }

    /// The normalizer of `value` (nil for JSON null), or an error naming the one refused.
    static func read(_ value: JSONValue, file: TokenizerFile, part: String = "normalizer") throws -> Normalizer? {
        if value.isNull { return nil }
        let type = try file.type(of: value, part)
        switch type {
        case "Prepend":
            let prefix = try file.string(value, "prepend", "\(part) Prepend")
            return .prepend(Array(prefix.unicodeScalars))
        case "Replace":
            let pattern = try file.stringPattern(value, "\(part) Replace")
            let content = try file.string(value, "content", "\(part) Replace")
            return .replace(pattern: pattern, content: Array(content.unicodeScalars))
        case "NFC": return .nfc
        case "Sequence":
            let steps = try file.list(value, "normalizers", "\(part) Sequence")
            return .sequence(try steps.compactMap { try read($0, file: file, part: part) })
        default:
            throw file.unsupported("\(part) \(type)")
        }
    }
}
