// SafeTensorsFile.swift — the safetensors format: read F32/F16/BF16 (and integer types),
// write F32, and reject every malformed file with an error naming the file, the tensor and
// the problem.
//
// Layout: [u64 little-endian N][N bytes of JSON header][data]. The header maps each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end)} relative to the data start;
// an optional "__metadata__" holds a string map. Tensors tile the data with no holes or
// overlaps, row-major, little-endian.

import Foundation

/// A tensor as stored in a file: its shape and its values widened to Float32; a U8 tensor
/// (packed 4-bit codes, 8-bit statistics) also keeps its raw bytes.
public struct StoredTensor: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]
    /// The bytes of a U8 tensor as stored (nil for every other dtype).
    public var bytes: [UInt8]?
    /// What `serialized()` writes: U8 when the tensor holds raw bytes, F32 otherwise.
    public var dtype: DType { bytes == nil ? .f32 : .u8 }

    public init(shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count, "\(values.count) values for shape \(shape)")
        self.shape = shape
        self.values = values
    }

    /// A U8 tensor; `values` holds the same bytes widened to Float32.
    public init(shape: [Int], bytes: [UInt8]) {
        precondition(shape.reduce(1, *) == bytes.count, "\(bytes.count) bytes for shape \(shape)")
        self.shape = shape
        self.values = bytes.map(Float.init)
        self.bytes = bytes
    }
}

/// What went wrong reading or writing a model file.
public struct FileFormatError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var tensor: String?
    public var problem: String
    public init(file: String, tensor: String? = nil, problem: String) {
        self.file = file; self.tensor = tensor; self.problem = problem
    }
    public var description: String {
        "\(file)\(tensor.map { ": tensor '\($0)'" } ?? ""): \(problem)"
    }
}

/// The element types a safetensors file may hold, with their byte sizes.
public enum DType: String, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    public var size: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }
}

/// The contents of a safetensors file, tensors keyed by name.
public struct SafeTensorsFile: Sendable {
    public var tensors: [String: StoredTensor]
    public var metadata: [String: String]

    public init(tensors: [String: StoredTensor] = [:], metadata: [String: String] = ["format": "pt"]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public subscript(name: String) -> StoredTensor? {
        get { tensors[name] }
        set { tensors[name] = newValue }
    }

    /// Reads and validates a file.
    public static func read(contentsOf url: URL) throws -> SafeTensorsFile {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw FileFormatError(file: url.path, problem: "no such file")
        }
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw FileFormatError(file: url.path, problem: "cannot be read (\(error.localizedDescription))")
        }
        return try parse(data, file: url.path)
    }

    /// Parses and validates the bytes of a safetensors file; `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws -> SafeTensorsFile {
        func fail(_ problem: String, _ tensor: String? = nil) -> FileFormatError {
            FileFormatError(file: file, tensor: tensor, problem: problem)
        }
        guard data.count >= 8 else { throw fail("truncated: \(data.count) bytes, fewer than the 8-byte header length") }
        let n = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian }
        guard n <= UInt64(data.count - 8) else {
            throw fail("header length \(n) runs past the end of the file (\(data.count) bytes): "
                + "truncated or not safetensors")
        }
        let headerBytes = data.subdata(in: data.startIndex + 8 ..< data.startIndex + 8 + Int(n))
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: headerBytes) } catch {
            throw fail("the header is not valid JSON (\(jsonSyntaxProblem(error))): the file is damaged or not "
                       + "safetensors")
        }
        guard let header = json as? [String: Any] else {
            throw fail("the header is not a JSON object: the file is damaged or not safetensors")
        }
        let dataStart = 8 + Int(n), dataLength = data.count - dataStart
        var result = SafeTensorsFile(metadata: [:])
        var spans: [(begin: Int, end: Int, name: String)] = []
        var entries: [(name: String, dtype: DType, shape: [Int], count: Int, begin: Int)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let meta = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in meta {
                    guard let s = v as? String else { throw fail("__metadata__ value for '\(k)' is not a string") }
                    result.metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else { throw fail("entry is not an object", name) }
            guard let dtypeName = entry["dtype"] as? String else { throw fail("missing dtype", name) }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("unsupported dtype \(dtypeName); convert the tensor to F32, F16 or BF16", name)
            }
            guard let shape = integers(entry["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("shape is missing or not a list of non-negative integers", name)
            }
            guard let offsets = integers(entry["data_offsets"]), offsets.count == 2 else {
                throw fail("data_offsets is missing or not [begin, end]", name)
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw fail("data_offsets [\(begin), \(end)) out of range: the data section has \(dataLength) bytes",
                           name)
            }
            var elements = 1, overflow = false
            for d in shape where !overflow { (elements, overflow) = elements.multipliedReportingOverflow(by: d) }
            let (bytes, bytesOverflow) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, !bytesOverflow else {
                throw fail("\(end - begin) bytes do not match \(dtypeName) × shape \(shape) (overflow: more bytes "
                           + "than any file can hold): the header is damaged", name)
            }
            guard bytes == end - begin else {
                throw fail("\(end - begin) bytes do not match \(dtypeName) × shape \(shape) (\(bytes) bytes): "
                           + "the header is damaged", name)
            }
            spans.append((begin, end, name))
            entries.append((name, dtype, shape, elements, begin))
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for span in spans {
            if span.begin < cursor { throw fail("data_offsets overlap the previous tensor's bytes", span.name) }
            if span.begin > cursor {
                throw fail("a hole of \(span.begin - cursor) bytes precedes this tensor", span.name)
            }
            cursor = span.end
        }
        if cursor != dataLength {
            throw fail("\(dataLength - cursor) bytes after the last tensor are not described by the header")
        }
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart
            for e in entries {
                let values = [Float](unsafeUninitializedCapacity: e.count) { buffer, initialized in
                    if let destination = buffer.baseAddress {
                        decode(base + e.begin, e.dtype, e.count, into: destination)
                    }
                    initialized = e.count
                }
                result.tensors[e.name] = StoredTensor(shape: e.shape, values: values)
                if e.dtype == .u8 {
                    let raw = UnsafeRawBufferPointer(start: base + e.begin, count: values.count)
                    result.tensors[e.name]?.bytes = Array(raw)
                }
            }
        }
        return result
    }

    /// The bytes of this file: U8 tensors as their bytes, every other tensor as F32; ordered as the
    /// `safetensors` library orders them (wider dtypes first, then by name); header padded to 8 bytes.
    public func serialized() -> Data {
        let names = tensors.keys.sorted { (tensors[$1]!.dtype.size, $0) < (tensors[$0]!.dtype.size, $1) }
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
                + metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
                + "}"
        }
        var offset = 0
        for name in names {
            let t = tensors[name]!
            if header.count > 1 { header += "," }
            let size = t.values.count * t.dtype.size
            let shape = t.shape.map(String.init).joined(separator: ",")
            header += "\(jsonString(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],"
                + "\"data_offsets\":[\(offset),\(offset + size)]}"
            offset += size
        }
        header += "}"
        var headerData = Data(header.utf8)
        while (8 + headerData.count) % 8 != 0 { headerData.append(0x20) }
        var out = Data(capacity: 8 + headerData.count + offset)
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerData)
        for name in names {
            if let bytes = tensors[name]!.bytes { out.append(contentsOf: bytes); continue }
            tensors[name]!.values.withUnsafeBufferPointer { buffer in
                for v in buffer { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            }
        }
        return out
    }

    /// Writes the file atomically (a temporary file beside it, then a rename).
    public func write(to url: URL) throws {
        try writeAtomically(serialized(), to: url)
    }
}

/// Writes `data` to `url` through a temporary file in the same folder and a rename, so an
/// interrupted run leaves either the old file or the new one, never a broken one.
public func writeAtomically(_ data: Data, to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(
            ".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        try data.write(to: temporary)
        if rename(temporary.path, url.path) != 0 {
            try? FileManager.default.removeItem(at: temporary)
            throw FileFormatError(file: url.path, problem: "could not be replaced (rename failed, errno \(errno))")
        }
    } catch let error as FileFormatError {
        throw error
    } catch {
        throw FileFormatError(file: url.path, problem: "could not be written (\(error.localizedDescription))")
    }
}

private func integers(_ value: Any?) -> [Int]? {
    guard let list = value as? [Any] else { return nil }
    var out: [Int] = []
    for item in list {
        guard let n = jsonInteger(item) else { return nil }
        out.append(n)
    }
    return out
}

/// The integer a parsed JSON value holds exactly, or nil.
///
/// Only a JSON number with no fraction and a magnitude below 2^53 (where a Double holds every
/// integer exactly) counts: `true`, `1.5`, `"7"`, `1e30` and `9223372036854775808` are nil.
/// Use it instead of `NSNumber.intValue` (which wraps 1e30 silently) or `Int(double)` (which
/// traps on huge values).
public func jsonInteger(_ value: Any?) -> Int? {
    guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
    let d = number.doubleValue
    guard d.isFinite, d == d.rounded(), abs(d) < 9_007_199_254_740_992 else { return nil }
    return Int(d)
}

/// What JSONSerialization says is wrong with a document ("Unexpected character … around line 1,
/// column 3."), for error messages.
public func jsonSyntaxProblem(_ error: any Error) -> String {
    let info = (error as NSError).userInfo
    return (info["NSDebugDescription"] as? String) ?? error.localizedDescription
}

/// `s` as a JSON string literal (quotes, backslashes and control characters escaped).
public func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// Widens `count` little-endian elements of `dtype` at `src` to Float32.
private func decode(_ src: UnsafeRawPointer, _ dtype: DType, _ count: Int, into dst: UnsafeMutablePointer<Float>) {
    switch dtype {
    case .f32:
        for i in 0..<count {
            dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
    case .f64:
        for i in 0..<count {
            dst[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i,
                                                                                     as: UInt64.self))))
        }
    case .bf16:
        for i in 0..<count {
            dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i,
                                                                                      as: UInt16.self))) << 16)
        }
    case .f16:
        for i in 0..<count {
            dst[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        }
    case .i64:
        for i in 0..<count {
            dst[i] = Float(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
        }
    case .i32:
        for i in 0..<count {
            dst[i] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
        }
    case .i16:
        for i in 0..<count {
            dst[i] = Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
        }
    case .i8: for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
    case .u8, .bool: for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
    }
}

/// IEEE 754 half → single: sign, 5-bit exponent (bias 15), 10-bit fraction; subnormals,
/// infinities and NaN included.
public func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exponent = UInt32((h >> 10) & 0x1F), fraction = UInt32(h & 0x3FF)
    if exponent == 0 {
        if fraction == 0 { return Float(bitPattern: sign) }
        let value = Float(fraction) * 0x1p-24  // subnormal: fraction · 2^−24
        return sign != 0 ? -value : value
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (fraction << 13)) }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (fraction << 13))
}
