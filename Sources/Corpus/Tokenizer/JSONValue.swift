// JSONValue.swift — a JSON reader that keeps every string exactly as written.
//
// Foundation's JSONSerialization turns objects into dictionaries keyed by `String`, and Swift
// strings compare by canonical equivalence: a vocabulary holding both "é" (U+00E9) and "e" + U+0301
// would silently lose one of them. Tokenizers must see the exact Unicode scalars, so tokenizer.json is
// read with this parser: objects keep their entries in order as (key, value) pairs, duplicates included.

/// One JSON value. Objects keep their members in file order; strings keep their scalars.
indirect enum JSONValue {
    case null
    case bool(Bool)
    /// A number literal: `integer` when it is a whole number that fits in an `Int` (written without
    /// a fraction or exponent, or with a value that is whole), `double` otherwise.
    case number(integer: Int?, double: Double)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The member `key` of an object (the last one if it repeats), else nil.
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.key.unicodeScalars.elementsEqual(key.unicodeScalars) }?.value
    }

    var isNull: Bool { if case .null = self { true } else { false } }
    var string: String? { if case .string(let s) = self { s } else { nil } }
    var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    var members: [JSONMember]? { if case .object(let m) = self { m } else { nil } }
    /// A whole number (below 2^53 in magnitude, as JSON readers agree on), else nil.
    var integer: Int? {
        guard case .number(let integer, let double) = self else { return nil }
        if let integer, abs(integer) < 9_007_199_254_740_992 { return integer }
        guard double.isFinite, double == double.rounded(), abs(double) < 9_007_199_254_740_992 else { return nil }
        return Int(double)
    }
    var double: Double? { if case .number(_, let d) = self { d } else { nil } }

    /// A short rendering for error messages.
    var brief: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .number(let i, let d): i.map(String.init) ?? "\(d)"
        case .string(let s): "\"" + (s.count > 40 ? s.prefix(37) + "…" : s) + "\""
        case .array(let a): "a list of \(a.count)"
        case .object(let m): "an object with \(m.count) members"
        }
    }

    /// Parses a whole document; throws `JSONSyntaxError` with the byte offset of the problem.
    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var reader = JSONReader(bytes: bytes)
        reader.skipSpace()
        if reader.position == 0, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.position = 3; reader.skipSpace() }
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.position == bytes.count else { throw reader.error("text after the end of the document") }
        return value
    }
}

/// One member of a JSON object.
struct JSONMember {
    var key: String
    var value: JSONValue
}

/// Where and why a document is not valid JSON.
struct JSONSyntaxError: Error, CustomStringConvertible {
    var offset: Int
    var problem: String
    var description: String { "\(problem) at byte \(offset)" }
}

/// A recursive-descent reader over UTF-8 bytes (RFC 8259), nesting at most `maximumDepth` deep.
private struct JSONReader {
    let bytes: [UInt8]
    var position = 0
    static let maximumDepth = 256

    init(bytes: [UInt8]) { self.bytes = bytes }

    func error(_ problem: String) -> JSONSyntaxError { JSONSyntaxError(offset: position, problem: problem) }

    mutating func skipSpace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < JSONReader.maximumDepth else { throw error("nesting deeper than \(JSONReader.maximumDepth)") }
        guard position < bytes.count else { throw error("unexpected end of the document") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    mutating func literal(_ word: String) throws {
        let expected = Array(word.utf8)
        guard bytes.count - position >= expected.count,
              bytes[position..<(position + expected.count)].elementsEqual(expected) else {
            throw error("unexpected character")
        }
        position += expected.count
    }

    mutating func object(depth: Int) throws -> JSONValue {
        position += 1
        var members: [JSONMember] = []
        skipSpace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw error("expected a member name in quotes")
            }
            let key = try string()
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':'") }
            position += 1
            skipSpace()
            members.append(JSONMember(key: key, value: try value(depth: depth + 1)))
            skipSpace()
            guard position < bytes.count else { throw error("unexpected end of the document inside an object") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
            throw error("expected ',' or '}'")
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        position += 1
        var items: [JSONValue] = []
        skipSpace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard position < bytes.count else { throw error("unexpected end of the document inside a list") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
            throw error("expected ',' or ']'")
        }
    }

    mutating func number() throws -> JSONValue {
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        func digits() -> Int {
            let from = position
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                position += 1
            }
            return position - from
        }
        guard digits() > 0 else { throw error("a number needs digits") }
        var whole = true
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            whole = false
            guard digits() > 0 else { throw error("a number needs digits after '.'") }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            position += 1
            whole = false
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard digits() > 0 else { throw error("a number needs digits in its exponent") }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        guard let double = Double(text) else { throw error("not a number") }
        return .number(integer: whole ? Int(text) : nil, double: double)
    }

    mutating func string() throws -> String {
        position += 1
        var scalars = String.UnicodeScalarView()
        var run = position  // start of the bytes not yet copied
        func flush(_ end: Int) throws {
            guard run < end else { return }
            guard let piece = String(validating: bytes[run..<end], as: UTF8.self) else {
                throw JSONSyntaxError(offset: run, problem: "a string is not valid UTF-8")
            }
            scalars.append(contentsOf: piece.unicodeScalars)
        }
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                try flush(position)
                position += 1
                return String(scalars)
            }
            if byte < 0x20 { throw error("a control character inside a string (escape it)") }
            if byte != UInt8(ascii: "\\") { position += 1; continue }
            try flush(position)
            position += 1
            guard position < bytes.count else { break }
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{8}")
            case UInt8(ascii: "f"): scalars.append("\u{C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code) {  // a surrogate pair: \uD83D\uDE80
                    guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                          bytes[position + 1] == UInt8(ascii: "u") else { throw error("a lone surrogate escape") }
                    position += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("a lone surrogate escape") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw error("a lone surrogate escape") }
                scalars.append(scalar)
            default: throw error("an unknown escape '\\\(Character(Unicode.Scalar(escape)))'")
            }
            run = position
        }
        throw error("a string is not closed")
    }

    mutating func hex4() throws -> UInt32 {
        guard bytes.count - position >= 4 else { throw error("\\u needs four hex digits") }
        var code: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Character(Unicode.Scalar(bytes[position])).hexDigitValue else {
                throw error("\\u needs four hex digits")
            }
            code = code << 4 | UInt32(digit)
            position += 1
        }
        return code
    }
}
