// QuantState.swift — the non-tensor part of bitsandbytes' `QuantState`, stored as UTF-8 JSON in
// the uint8 tensor `<m>.weight.quant_state.bitsandbytes__<nf4|fp4>` (`QuantState.as_dict(packed=
// True)`, read back by `QuantState.from_dict`):
//
//   {"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [out, in],
//    "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.0526...}
//
// The nested_* fields are present with double quantization only. The offset is the float32
// mean written as Python's repr of its double value.

import Foundation

/// The fields of a packed quant_state.
public struct QuantState: Equatable, Sendable {
    public var quantType: FourBitType
    public var blockSize: Int
    /// The dtype the weight had before quantization ("float32"; dequantization returns it).
    public var dtype: String
    public var shape: [Int]
    /// With double quantization: the nested block size and the offset.
    public var nested: (blockSize: Int, offset: Float)?

    public init(quantType: FourBitType, blockSize: Int, dtype: String = "float32", shape: [Int],
                nested: (blockSize: Int, offset: Float)? = nil) {
        self.quantType = quantType; self.blockSize = blockSize; self.dtype = dtype; self.shape = shape
        self.nested = nested
    }

    public static func == (a: QuantState, b: QuantState) -> Bool {
        a.quantType == b.quantType && a.blockSize == b.blockSize && a.dtype == b.dtype && a.shape == b.shape
            && a.nested?.blockSize == b.nested?.blockSize && a.nested?.offset.bitPattern == b.nested?.offset.bitPattern
    }

    /// The key suffix of the packed tensor: `quant_state.bitsandbytes__nf4`.
    public static func keySuffix(_ type: FourBitType) -> String { "quant_state.bitsandbytes__" + type.rawValue }

    /// The JSON bytes bitsandbytes writes (`json.dumps` of the dict, in its key order).
    public var bytes: [UInt8] {
        var pairs: [(key: String, value: PythonJSON)] = [
            ("quant_type", .string(quantType.rawValue)), ("blocksize", .int(blockSize)), ("dtype", .string(dtype)),
            ("shape", .array(shape.map(PythonJSON.int))),
        ]
        if let nested {
            pairs += [("nested_blocksize", .int(nested.blockSize)), ("nested_dtype", .string("float32")),
                      ("nested_offset", .float(Double(nested.offset)))]
        }
        return Array(PythonJSON.object(pairs).dumps().utf8)
    }

    /// Parses the packed JSON; `fail` builds the error for a problem (the caller names the file
    /// and the tensor).
    public init(bytes: [UInt8], fail: (String) -> Error) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw fail("the quant_state is not a JSON object (\(bytes.count) bytes of "
                + "'\(String(decoding: bytes.prefix(40), as: UTF8.self))…'): the file is damaged")
        }
        func integer(_ key: String) throws -> Int {
            guard let n = object[key] as? NSNumber, String(cString: n.objCType) != "c",
                  n.doubleValue == n.doubleValue.rounded(), abs(n.doubleValue) < 1e15 else {
                let found = object[key].map { "\($0)" } ?? "nothing"
                throw fail("the quant_state's \(key) must be an integer, got \(found)")
            }
            return n.intValue
        }
        guard let typeName = object["quant_type"] as? String else { throw fail("the quant_state has no quant_type") }
        guard let type = FourBitType(rawValue: typeName) else {
            throw fail("the quant_state's quant_type '\(typeName)' is unknown; "
                + "bitsandbytes' 4-bit types are nf4 and fp4")
        }
        let blockSize = try integer("blocksize")
        guard let dtype = object["dtype"] as? String else { throw fail("the quant_state has no dtype") }
        guard let list = object["shape"] as? [NSNumber], list.allSatisfy({ $0.intValue >= 0 }) else {
            throw fail("the quant_state's shape must be a list of non-negative integers")
        }
        var nested: (Int, Float)? = nil
        if object["nested_offset"] != nil || object["nested_blocksize"] != nil {
            // Read the literal as Python does (text → double → float32): JSONSerialization may hand
            // back an NSDecimalNumber whose conversion is not correctly rounded.
            let text = String(decoding: bytes, as: UTF8.self)
            guard let number = object["nested_offset"] as? NSNumber, String(cString: number.objCType) != "c",
                  let offset = QuantState.numberLiteral(of: "nested_offset", in: text) else {
                throw fail("the quant_state's nested_offset must be a number")
            }
            nested = (try integer("nested_blocksize"), Float(offset))
        }
        self.init(quantType: type, blockSize: blockSize, dtype: dtype, shape: list.map(\.intValue), nested: nested)
    }

    /// The number written after `"key":` in a flat JSON object, parsed as a double.
    static func numberLiteral(of key: String, in text: String) -> Double? {
        guard let range = text.range(of: "\"\(key)\"") else { return nil }
        var rest = text[range.upperBound...].drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        return Double(String(rest.prefix { "0123456789+-.eE".contains($0) }))
    }
}
