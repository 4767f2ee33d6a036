// TokenizerFile.swift — reading the parts of a Hugging Face tokenizer.json, and the errors that
// name the part this code does not reproduce exactly.

import Foundation
import SafeTensors

/// The file being read, for errors: each names the file, the part ("normalizer NFKC",
/// "pre_tokenizer Split", "model.dropout") and what to do.
struct TokenizerFile {
    let path: String

    /// A part this code cannot reproduce exactly: refused rather than encoded approximately.
    func unsupported(_ part: String, _ detail: String = "") -> FileFormatError {
        FileFormatError(file: path, problem: "\(part) is not supported\(detail.isEmpty ? "" : " (\(detail))"); "
            + "this project refuses a tokenizer it cannot reproduce exactly rather than encode text approximately. "
            + "It implements BPE models (byte-level, or with byte fallback) with the normalizers Prepend, Replace "
            + "(a string), NFC and Sequence; the pre-tokenizers ByteLevel, Metaspace, Digits, Split (GPT-2's or "
            + "LLaMA 3's regex) and Sequence; TemplateProcessing and ByteLevel post-processors; and the decoders "
            + "ByteLevel, Metaspace, Replace (a string), ByteFallback, Fuse, Strip and Sequence")
    }

    /// A damaged or inconsistent file.
    func invalid(_ problem: String) -> FileFormatError { FileFormatError(file: path, problem: problem) }

    /// The `type` of a part (e.g. `normalizer`), or an error naming the part.
    func type(of value: JSONValue, _ part: String) throws -> String {
        guard let type = value["type"]?.string else {
            throw invalid("\(part) has no \"type\"; save the tokenizer again")
        }
        return type
    }

    /// A string field of a part, or an error.
    func string(_ value: JSONValue, _ key: String, _ part: String) throws -> String {
        guard let s = value[key]?.string else { throw invalid("\(part) needs \"\(key)\" as a string") }
        return s
    }

    /// A boolean field (absent or null: `fallback`), or an error.
    func bool(_ value: JSONValue, _ key: String, _ part: String, default fallback: Bool) throws -> Bool {
        guard let field = value[key], !field.isNull else { return fallback }
        guard let b = field.bool else { throw invalid("\(part).\(key) must be true or false, got \(field.brief)") }
        return b
    }

    /// A list field, or an error.
    func list(_ value: JSONValue, _ key: String, _ part: String) throws -> [JSONValue] {
        guard let items = value[key]?.array else { throw invalid("\(part) needs \"\(key)\" as a list") }
        return items
    }

    /// A string pattern `{"String": "…"}`; a `{"Regex": …}` pattern is refused.
    func stringPattern(_ value: JSONValue, _ part: String) throws -> [Unicode.Scalar] {
        guard let pattern = value["pattern"] else { throw invalid("\(part) has no \"pattern\"") }
        if let regex = pattern["Regex"]?.string {
            throw unsupported("\(part) with the Regex pattern \"\(regex)\"", "only a String pattern is implemented")
        }
        guard let s = pattern["String"]?.string, !s.isEmpty else {
            throw invalid("\(part).pattern must be {\"String\": \"…\"} with a non-empty string")
        }
        return Array(s.unicodeScalars)
    }

    /// Exactly one character, for Metaspace's `replacement` and Strip's `content`.
    func character(_ value: JSONValue, _ key: String, _ part: String) throws -> Unicode.Scalar {
        let s = try string(value, key, part)
        guard s.unicodeScalars.count == 1, let c = s.unicodeScalars.first else {
            throw invalid("\(part).\(key) must be one character, got \"\(s)\"")
        }
        return c
    }
}

extension Sequence where Element == Unicode.Scalar {
    /// The scalars as a string (exactly these scalars: no normalization).
    var text: String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: self)
        return String(view)
    }
}

extension Array where Element == Unicode.Scalar {
    /// `self` with every non-overlapping occurrence of `pattern` (left to right) replaced by `content`,
    /// as Rust's `str::replace` does.
    func replacing(_ pattern: [Unicode.Scalar], with content: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard !pattern.isEmpty, count >= pattern.count else { return self }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(count)
        var i = 0
        while i < count {
            if self[i] == pattern[0], i + pattern.count <= count, self[i..<(i + pattern.count)].elementsEqual(pattern) {
                out += content
                i += pattern.count
            } else {
                out.append(self[i])
                i += 1
            }
        }
        return out
    }
}
