// PythonJSON.swift — JSON text exactly as Python's `json.dumps` writes it, so that files this
// project writes for transformers and bitsandbytes are the bytes they write themselves:
// `config.json` (`json.dumps(d, indent=2, sort_keys=True) + "\n"`) and the quant_state blob
// (`json.dumps(d)`: insertion order, ", " and ": " separators).
//
// Numbers keep Python's types: an integer prints as an integer, a float as `repr(float)` (the
// shortest decimal that reads back, "6.0", "1e-06", "0.05263836681842804"); strings escape
// every non-ASCII character as \uXXXX (`ensure_ascii=True`).

import Foundation

/// A JSON value with Python's distinctions (int vs float) and key order kept.
public indirect enum PythonJSON {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case array([PythonJSON])
    /// Keys in insertion order (`sortKeys` sorts them when writing).
    case object([(key: String, value: PythonJSON)])

    /// A value from `JSONSerialization` output: NSNumber booleans, integers and doubles are told
    /// apart by their type; object keys come out sorted (JSONSerialization loses the order).
    public init?(_ value: Any) {
        switch value {
        case is NSNull: self = .null
        case let s as String: self = .string(s)
        case let n as NSNumber:
            let type = String(cString: n.objCType)
            if type == "c" { self = .bool(n.boolValue) } else if type == "d" || type == "f" {
                self = .float(n.doubleValue)
            } else {
                self = .int(n.intValue)
            }
        case let list as [Any]:
            var items: [PythonJSON] = []
            for item in list { guard let v = PythonJSON(item) else { return nil }; items.append(v) }
            self = .array(items)
        case let dict as [String: Any]:
            var pairs: [(key: String, value: PythonJSON)] = []
            for key in dict.keys.sorted() {
                guard let v = PythonJSON(dict[key]!) else { return nil }
                pairs.append((key, v))
            }
            self = .object(pairs)
        default: return nil
        }
    }

    /// The value under `key` of an object (nil for other values or a missing key).
    public subscript(key: String) -> PythonJSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }

    /// An object with `value` set under `key` (replacing or appending).
    public func setting(_ key: String, to value: PythonJSON) -> PythonJSON {
        guard case .object(var pairs) = self else { return self }
        if let i = pairs.firstIndex(where: { $0.key == key }) {
            pairs[i].value = value
        } else {
            pairs.append((key, value))
        }
        return .object(pairs)
    }

    /// `json.dumps(value, indent=indent, sort_keys=sortKeys)`.
    public func dumps(indent: Int? = nil, sortKeys: Bool = false) -> String {
        var out = ""
        write(into: &out, indent: indent, sortKeys: sortKeys, level: 0)
        return out
    }

    private func write(into out: inout String, indent: Int?, sortKeys: Bool, level: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .float(let d): out += pythonRepr(d)
        case .string(let s): out += pythonQuoted(s)
        case .array(let items):
            writeContainer(items.map { (nil as String?, $0) }, open: "[", close: "]", into: &out, indent: indent,
                           sortKeys: sortKeys, level: level)
        case .object(let pairs):
            let ordered = !sortKeys ? pairs
                : pairs.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
            writeContainer(ordered.map { ($0.key as String?, $0.value) }, open: "{", close: "}", into: &out,
                           indent: indent, sortKeys: sortKeys, level: level)
        }
    }

    private func writeContainer(_ items: [(String?, PythonJSON)], open: String, close: String, into out: inout String,
                                indent: Int?, sortKeys: Bool, level: Int) {
        out += open
        guard !items.isEmpty else { out += close; return }
        let (inner, outer) = indent.map { ("\n" + String(repeating: " ", count: $0 * (level + 1)),
                                           "\n" + String(repeating: " ", count: $0 * level)) } ?? ("", "")
        for (i, (key, value)) in items.enumerated() {
            if i > 0 { out += indent == nil ? ", " : "," }
            out += inner
            if let key { out += pythonQuoted(key) + ": " }
            value.write(into: &out, indent: indent, sortKeys: sortKeys, level: level + 1)
        }
        out += outer + close
    }
}

/// Python's `repr(float)`: the shortest decimal that reads back to `x`, with ".0" on integral
/// values, exponent notation below 1e-4 and from 1e16 ("1e-06", "1e+16"), NaN and Infinity.
public func pythonRepr(_ x: Double) -> String {
    if x.isNaN { return "NaN" }
    if x.isInfinite { return x < 0 ? "-Infinity" : "Infinity" }
    return x.description  // Swift prints the same shortest round-trip digits in the same format
}

/// A string as `json.dumps` quotes it with ensure_ascii: \" \\ \n \r \t \b \f, other control
/// characters and everything beyond ASCII as \uXXXX (UTF-16 units).
public func pythonQuoted(_ s: String) -> String {
    var out = "\""
    for unit in s.utf16 {
        switch unit {
        case 0x22: out += "\\\""
        case 0x5C: out += "\\\\"
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x09: out += "\\t"
        case 0x08: out += "\\b"
        case 0x0C: out += "\\f"
        case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(unit)!)
        default: out += String(format: "\\u%04x", unit)
        }
    }
    return out + "\""
}
