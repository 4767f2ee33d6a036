// LoaderFuzzing.swift — damaged copies of valid files, and a harness that feeds them to a
// loader. Every file loader must answer a damaged file with a clear error naming the file, or
// with a valid result: never a crash, a hang or a huge allocation.
//
// It lives in TestSupport, which every test target that checks a loader depends on. A loader
// joins the fuzzing with one `LoaderFuzzCase` line in a test file.

import Dispatch
import Foundation
import SafeTensors

/// Makes damaged copies of a valid file, deterministically for a given random source.
///
/// Byte-level edits work on any file: flipped bits, overwritten, inserted, deleted and
/// duplicated bytes (including invalid UTF-8), truncation anywhere (down to an empty file).
/// JSON-aware edits parse the document (a whole JSON file, one line of a JSON Lines file, or
/// the header of a safetensors file) and change one value: to another type, to an extreme
/// number (huge, negative, fractional, beyond `Int`), to null; drop, duplicate or nest an
/// entry; or they rewrite a number literal in the text, or bury the document in deep nesting.
/// A safetensors header is re-framed with its new length (now and then with the old one).
public struct FileMutator<Source: RandomNumberGenerator> {
    /// Where every random choice comes from (the tests use TensorKit's seeded `Generator`).
    public var source: Source

    public init(source: Source) {
        self.source = source
    }

    /// A damaged copy of `data` after one to three edits, with a short account of each edit.
    public mutating func mutate(_ data: Data) -> (data: Data, edits: [String]) {
        var out = data
        var edits: [String] = []
        let rounds = chance(0.6) ? 1 : 2 + below(2)
        for _ in 0..<rounds {
            let (next, edit) = editOnce(out)
            out = next
            edits.append(edit)
        }
        return (out, edits)
    }

    // MARK: Random choices

    private mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int.random(in: 0..<n, using: &source) }
    private mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &source) < p }
    private mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }

    // MARK: One edit

    private mutating func editOnce(_ data: Data) -> (Data, String) {
        let bytes = [UInt8](data)
        if let headerEnd = safetensorsHeaderEnd(bytes), chance(0.75) {
            return editSafetensorsHeader(bytes, headerEnd: headerEnd)
        }
        if chance(0.65), let (edited, edit) = editJSON(bytes) { return (Data(edited), edit) }
        let (edited, edit) = editBytes(bytes, focus: nil)
        return (Data(edited), edit)
    }

    /// The end of the JSON header if `bytes` look like a safetensors file, else nil.
    private func safetensorsHeaderEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 10 else { return nil }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = n << 8 | UInt64(bytes[i]) }
        guard n >= 2, n <= UInt64(bytes.count - 8), bytes[8] == UInt8(ascii: "{") else { return nil }
        return 8 + Int(n)
    }

    private mutating func editSafetensorsHeader(_ bytes: [UInt8], headerEnd: Int) -> (Data, String) {
        let header = Array(bytes[8..<headerEnd]), body = Array(bytes[headerEnd...])
        if chance(0.1) {
            let lengths: [UInt64] = [0, 1, 7, UInt64(header.count) - 1, UInt64(header.count) + 1, UInt64(bytes.count),
                                     1 << 31, 1 << 32, 1 << 62, 1 << 63, UInt64.max, UInt64.max - 7]
            let length = pick(lengths)
            return (Data(littleEndian(length) + header + body), "header length set to \(length)")
        }
        if chance(0.15) {
            let (edited, edit) = editBytes(bytes, focus: 0..<headerEnd)
            return (Data(edited), "in the header region: " + edit)
        }
        var newHeader: [UInt8]
        var edit: String
        if let (h, e) = editJSON(header) { (newHeader, edit) = (h, e) } else {
            (newHeader, edit) = editBytes(header, focus: nil)
        }
        let keepLength = chance(0.15)
        if !keepLength { while (8 + newHeader.count) % 8 != 0 && chance(0.5) { newHeader.append(0x20) } }
        let length = keepLength ? UInt64(header.count) : UInt64(newHeader.count)
        let framed = littleEndian(length) + newHeader + body
        return (Data(framed), "header: " + edit + (keepLength ? " (old header length kept)" : ""))
    }

    private func littleEndian(_ n: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } }

    // MARK: JSON-aware edits

    /// Edits a JSON document or one line of JSON Lines; nil when `bytes` hold neither.
    private mutating func editJSON(_ bytes: [UInt8]) -> ([UInt8], String)? {
        if let tree = try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed) {
            let roll = below(20)
            if roll < 12, let (edited, edit) = editTree(tree) { return (edited, edit) }
            if roll < 17, let (edited, edit) = replaceNumberLiteral(bytes) { return (edited, edit) }
            if roll < 19 { return deepNesting(bytes) }
            return editBytes(bytes, focus: nil)
        }
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let jsonLines = lines.indices.filter {
            !lines[$0].isEmpty && (try? JSONSerialization.jsonObject(with: Data(lines[$0]))) != nil
        }
        if jsonLines.count >= 2 || (jsonLines.count == 1 && lines.count > 1) {
            let n = pick(jsonLines)
            guard let (edited, edit) = editJSON(Array(lines[n])) else { return nil }
            var out: [UInt8] = []
            for (i, line) in lines.enumerated() {
                if i > 0 { out.append(UInt8(ascii: "\n")) }
                out += i == n ? edited : Array(line)
            }
            return (out, "line \(n + 1): " + edit)
        }
        if chance(0.3), let (edited, edit) = replaceNumberLiteral(bytes) { return (edited, edit) }
        return nil
    }

    /// Parses, changes one value somewhere in the tree, and writes the JSON back (keys sorted).
    private mutating func editTree(_ tree: Any) -> ([UInt8], String)? {
        var path = ""
        guard let edited = editValue(tree, depth: 0, path: &path) else { return nil }
        var text = ""
        writeJSON(edited, to: &text)
        return (Array(text.utf8), path)
    }

    /// JSON text for a parsed-and-edited tree, keys sorted (JSONSerialization's `.sortedKeys`
    /// compares with the locale and is a hundred times slower).
    private func writeJSON(_ value: Any, to text: inout String) {
        switch value {
        case let object as [String: Any]:
            text += "{"
            for (i, key) in object.keys.sorted().enumerated() {
                text += (i == 0 ? "" : ",") + jsonString(key) + ":"
                writeJSON(object[key]!, to: &text)
            }
            text += "}"
        case let array as [Any]:
            text += "["
            for (i, item) in array.enumerated() {
                if i > 0 { text += "," }
                writeJSON(item, to: &text)
            }
            text += "]"
        case let string as String:
            text += jsonString(string)
        case let number as NSNumber:  // also Swift's Int, Double and Bool; a bool's objCType is "c"
            switch String(cString: number.objCType) {
            case "c": text += number.boolValue ? "true" : "false"
            case "d", "f": text += number.doubleValue.isFinite ? "\(number.doubleValue)" : "1e308"
            default: text += number.description
            }
        default:
            text += "null"
        }
    }

    /// A random walk down to one value, which is replaced; nil means "drop this value".
    private mutating func editValue(_ value: Any, depth: Int, path: inout String) -> Any? {
        if var object = value as? [String: Any], !object.isEmpty, chance(depth == 0 ? 0.95 : 0.7) {
            let key = pick(object.keys.sorted())
            path += "." + key
            if let child = editValue(object[key]!, depth: depth + 1, path: &path) { object[key] = child } else {
                object[key] = nil
            }
            return object
        }
        if var array = value as? [Any], !array.isEmpty, chance(depth == 0 ? 0.95 : 0.7) {
            let i = below(array.count)
            path += "[\(i)]"
            if let child = editValue(array[i], depth: depth + 1, path: &path) { array[i] = child } else {
                array.remove(at: i)
            }
            return array
        }
        let (replacement, edit) = replacement(for: value, canDrop: depth > 0)
        path = (path.isEmpty ? "(document)" : path) + ": " + edit
        return replacement
    }

    /// Another value for `value`: a changed type, an extreme number, a dropped, duplicated or
    /// nested entry.
    private mutating func replacement(for value: Any, canDrop: Bool) -> (Any?, String) {
        let number = (value as? NSNumber).flatMap { String(cString: $0.objCType) == "c" ? nil : $0.doubleValue }
        switch below(12) {
        case 0 where canDrop:
            return (nil, "dropped")
        case 1, 2:
            if let x = number {
                let options: [(Double, String)] = [
                    (x + 1, "+1"), (x - 1, "−1"), (-x, "negated"), (x * 2, "doubled"), (x + 0.5, "+0.5"),
                    (x * 1_000_003, "× 1000003"), (x / 3, "÷ 3"),
                ]
                let (y, what) = pick(options)
                return (jsonNumber(y), "number \(what)")
            }
            return (pick(extremeNumbers), "number instead of \(kind(value))")
        case 3, 4:
            return (pick(extremeNumbers), "extreme number")
        case 5:
            // A container's description would list its keys in a per-process order: not deterministic.
            let asText = value is String || value is NSNumber ? "\(value)" : "[…]"
            let strings: [Any] = ["", "x", "7", "1e30", "\u{0}", "naïve 東京 🚀",
                                  String(repeating: "ab", count: 3000), asText]
            return (pick(strings), "string instead of \(kind(value))")
        case 6:
            return (pick([NSNull(), true, false] as [Any]), "null or bool instead of \(kind(value))")
        case 7:
            return (pick([[], [value], [value, value], [:], ["value": value]] as [Any]), "nested or emptied")
        case 8:
            var nested = value
            let depth = pick([2, 10, 64, 300])
            for _ in 0..<depth { nested = [nested] }
            return (nested, "nested \(depth) deep")
        case 9:
            if var object = value as? [String: Any], let key = object.keys.sorted().first {
                object[key + "_copy"] = object[key]
                object["unexpected"] = pick(extremeNumbers)
                return (object, "entry duplicated and an unknown key added")
            }
            if let array = value as? [Any], !array.isEmpty {
                return (pick([array + array, Array(array.reversed()), Array(array.dropLast())]), "list changed")
            }
            return ([value, value], "duplicated into a list")
        case 10:
            if let s = value as? String, !s.isEmpty {
                var scalars = Array(s.unicodeScalars)
                scalars[below(scalars.count)] = pick(["\u{0}", "\u{FFFD}", " ", "\"", "é", "\u{1F680}"])
                return (String(String.UnicodeScalarView(scalars)), "a character changed")
            }
            return (pick(extremeNumbers), "extreme number")
        default:
            return (pick(extremeNumbers), "extreme number")
        }
    }

    private let extremeNumbers: [Any] = [
        0, -1, 1.5, -0.5, 1e12, 1_000_000_000_000, -1_000_000_000_000, 1e30, -1e30, 1e308, Double(Int.max),
        9_007_199_254_740_993.0, Int.max, Int.min, 4_294_967_296, 65_536, 0.000001,
    ]

    private func kind(_ value: Any) -> String {
        switch value {
        case is String: "a string"
        case is NSNull: "null"
        case is [Any]: "a list"
        case is [String: Any]: "an object"
        default: "a number"
        }
    }

    /// A whole-valued Double as an Int (JSON writes it without a fraction), else the Double.
    private func jsonNumber(_ x: Double) -> Any {
        if x.isFinite, x == x.rounded(), abs(x) < 9e15 { return Int(x) }
        return x.isFinite ? x : 1e308
    }

    /// Rewrites one number literal in the text with an extreme one (a giant integer, an
    /// exponent that overflows Double, a fraction, a sign alone, a leading zero …).
    private mutating func replaceNumberLiteral(_ bytes: [UInt8]) -> ([UInt8], String)? {
        var literals: [Range<Int>] = []
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let starts = (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
            if starts, i == 0 || !isNumberByte(bytes[i - 1]) && !isLetter(bytes[i - 1]) {
                var j = i + 1
                while j < bytes.count, isNumberByte(bytes[j]) { j += 1 }
                literals.append(i..<j)
                i = j
            } else {
                i += 1
            }
        }
        guard !literals.isEmpty else { return nil }
        let range = pick(literals)
        let text = pick([
            "1e30", "-1", "0", "-0", "1.5", "0.5", "1000000000000", "9223372036854775807", "9223372036854775808",
            "-9223372036854775809", "18446744073709551616", "1e308", "1e400", "-1e400", "2e-400",
            "123456789012345678901234567890", "00", "-", "1.", ".5", "1e", "0x10", "NaN", "Infinity", "true", "null",
            "\"12\"", "[]", String(repeating: "9", count: 400),
        ])
        let old = String(decoding: bytes[range], as: UTF8.self)
        return (Array(bytes[..<range.lowerBound]) + Array(text.utf8) + Array(bytes[range.upperBound...]),
                "number \(old) written as \(text.count > 40 ? "\(text.count) nines" : text)")
    }

    private func isNumberByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: ".") || b == UInt8(ascii: "e")
            || b == UInt8(ascii: "E") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-")
    }

    private func isLetter(_ b: UInt8) -> Bool {
        (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") || b == UInt8(ascii: "_")
    }

    /// The document inside many brackets (past JSONSerialization's depth limit, sometimes
    /// unclosed).
    private mutating func deepNesting(_ bytes: [UInt8]) -> ([UInt8], String) {
        let depth = pick([10, 511, 513, 5_000, 100_000])
        let closed = chance(0.7)
        let open = [UInt8](repeating: UInt8(ascii: "["), count: depth)
        let close = closed ? [UInt8](repeating: UInt8(ascii: "]"), count: depth) : []
        return (open + bytes + close, "nested in \(depth) \(closed ? "" : "unclosed ")brackets")
    }

    // MARK: Byte-level edits

    /// One byte-level edit; positions fall in `focus` three times out of four when given.
    private mutating func editBytes(_ bytes: [UInt8], focus: Range<Int>?) -> ([UInt8], String) {
        var out = bytes
        let edit: String
        func position(_ upper: Int) -> Int {
            if let focus, !focus.isEmpty, chance(0.75) { return min(focus.lowerBound + below(focus.count), upper) }
            return below(upper + 1)
        }
        let interesting: [UInt8] = [0x00, 0xFF, 0x7F, 0x80, 0xC3, 0xC0, 0xED, 0xFE, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D,
                                    0x2C, 0x3A, 0x0A, 0x0D, 0x20, 0x30, 0x39, 0x2D, 0x65, 0x2E]
        switch below(out.isEmpty ? 2 : 8) {
        case 0:
            let at = out.isEmpty ? 0 : position(out.count)
            let n = 1 + below(8)
            var inserted: [UInt8] = []
            for _ in 0..<n {
                inserted.append(chance(0.5) ? pick(interesting) : UInt8(truncatingIfNeeded: below(256)))
            }
            out.insert(contentsOf: inserted, at: at)
            edit = "\(n) bytes inserted at \(at)"
        case 1:
            let junk = pick(["\u{FEFF}", "\r\n", "\0", "}", "]", "garbage", "{\"a\":1}"])
            if chance(0.5) { out += Array(junk.utf8) } else { out.insert(contentsOf: Array(junk.utf8), at: 0) }
            edit = "junk added at an end"
        case 2:
            let at = position(out.count - 1)
            out[at] ^= UInt8(1) << UInt8(below(8))
            edit = "a bit flipped at \(at)"
        case 3:
            let at = position(out.count - 1)
            out[at] = pick(interesting)
            edit = "byte \(at) overwritten"
        case 4:
            let at = position(out.count - 1)
            let n = min(1 + below(16), out.count - at)
            out.removeSubrange(at..<(at + n))
            edit = "\(n) bytes deleted at \(at)"
        case 5:
            let from = position(out.count - 1)
            let n = min(1 + below(64), out.count - from)
            let chunk = Array(out[from..<(from + n)])
            let at = position(out.count)
            out.insert(contentsOf: chunk, at: at)
            edit = "\(n) bytes duplicated at \(at)"
        default:
            let at = chance(0.1) ? 0 : position(out.count - 1)
            out.removeSubrange(at...)
            edit = "truncated to \(at) bytes"
        }
        return (out, edit)
    }
}

/// A loader under fuzz: the bytes of a valid file, the name it is written under (beside any
/// companion files it needs), and the call that loads it.
///
/// The loader passes if, for every damaged copy, it either returns or throws an error whose
/// description names the file; a returned value may be checked inside `load` (throw
/// ``InvalidLoaderResult`` when it is not valid).
public struct LoaderFuzzCase: Sendable, CustomStringConvertible {
    /// Shown in failures and test names.
    public var name: String
    /// The file name (inside a fresh folder) the valid and damaged bytes are written to.
    public var fileName: String
    /// The bytes of a valid file: the loader must accept them.
    public var valid: Data
    /// Other files written beside it, by name (e.g. `config.json` beside `model.safetensors`).
    public var companions: [String: Data]
    /// Loads the file at the given URL.
    public var load: @Sendable (URL) throws -> Void

    public init(_ name: String, file fileName: String, valid: Data, beside companions: [String: Data] = [:],
                load: @escaping @Sendable (URL) throws -> Void) {
        self.name = name
        self.fileName = fileName
        self.valid = valid
        self.companions = companions
        self.load = load
    }

    public var description: String { name }
}

/// Thrown by a fuzz case's `load` when the loader returned a value that is not valid.
public struct InvalidLoaderResult: Error, CustomStringConvertible {
    public var problem: String
    public init(_ problem: String) { self.problem = problem }
    public var description: String { "invalid result: \(problem)" }
}

/// What a fuzz run found.
public struct LoaderFuzzReport: Sendable {
    /// Damaged files fed to the loader.
    public var variants = 0
    /// How many of them the loader rejected with an error (the rest loaded).
    public var rejected = 0
    /// The longest single call.
    public var slowest: Duration = .zero
    /// The whole run, mutating and writing included.
    public var duration: Duration = .zero
    /// One line for a test log: variants, rejections, timings.
    public var summary: String {
        "\(variants) damaged files, \(rejected) rejected, \(variants - rejected) loaded; slowest call "
            + "\(slowest.formatted(.units(allowed: [.milliseconds], fractionalPart: .show(length: 1)))), run "
            + "\(duration.formatted(.units(allowed: [.milliseconds], fractionalPart: .hide)))"
    }
    /// One line per failure: the variant, its edits, what went wrong, where the input was kept.
    public var failures: [String] = []
}

extension LoaderFuzzCase {
    /// Feeds `variants` damaged copies of the valid file to the loader, each in the same folder.
    ///
    /// - Parameters:
    ///   - variants: how many damaged files to try.
    ///   - seed: the run's seed; each case mixes in a hash of its name, so cases do not shift
    ///     each other's streams. Same seed, same damaged files.
    ///   - timeLimit: the longest a single call may take; a call still running after ten times
    ///     that is reported as a hang and ends the run.
    ///   - makeSource: the random source for a seed (the tests pass TensorKit's `Generator`).
    /// - Returns: the report; a failing input is kept on disk and its path is in the message.
    ///
    /// Set `PEFT_FUZZ_TRACE=1` to print each variant before it runs (to find one that crashes).
    public func fuzz<Source: RandomNumberGenerator>(
        variants: Int, seed: UInt64, timeLimit: Duration = .seconds(1), makeSource: (UInt64) -> Source
    ) -> LoaderFuzzReport {
        let clock = ContinuousClock(), started = clock.now
        var report = run(variants: variants, seed: seed, timeLimit: timeLimit, makeSource: makeSource)
        report.duration = clock.now - started
        return report
    }

    private func run<Source: RandomNumberGenerator>(
        variants: Int, seed: UInt64, timeLimit: Duration, makeSource: (UInt64) -> Source
    ) -> LoaderFuzzReport {
        var report = LoaderFuzzReport()
        let trace = ProcessInfo.processInfo.environment["PEFT_FUZZ_TRACE"] != nil
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("loader-fuzz-\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString)")
        let url = folder.appendingPathComponent(fileName)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (companion, bytes) in companions { try bytes.write(to: folder.appendingPathComponent(companion)) }
            try valid.write(to: url)
        } catch {
            report.failures.append("\(name): cannot set up the fuzz folder \(folder.path): \(error)")
            return report
        }
        // A private serial queue has a thread of its own: the global queue would wait for a free
        // worker while the test's own (blocked) threads hold them.
        let worker = DispatchQueue(label: "loader-fuzz")
        switch call(url, on: worker, limit: timeLimit) {
        case .threw(let error, _):
            report.failures.append("\(name): the valid file (\(valid.count) bytes) is rejected: \(error)")
        case .hung: report.failures.append("\(name): the valid file does not load within \(timeLimit * 10)")
        case .returned: break
        }
        guard report.failures.isEmpty else { return report }

        let caseSeed = name.utf8.reduce(seed ^ 0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
        var mutator = FileMutator(source: makeSource(caseSeed))
        for variant in 1...max(variants, 1) {
            let (bytes, edits) = mutator.mutate(valid)
            let account = "\(name) variant \(variant) (seed \(seed)): \(edits.joined(separator: "; "))"
            if trace { FileHandle.standardError.write(Data((account + "\n").utf8)) }
            guard write(bytes, to: url) else {
                report.failures.append("\(account): cannot write \(url.path)")
                break
            }
            report.variants += 1
            let outcome = call(url, on: worker, limit: timeLimit)
            var problem: String?
            switch outcome {
            case .hung:
                problem = "still running after \(timeLimit * 10): a hang"
            case .returned(let elapsed):
                report.slowest = max(report.slowest, elapsed)
                if elapsed > timeLimit { problem = "took \(elapsed), more than \(timeLimit)" }
            case .threw(let error, let elapsed):
                report.rejected += 1
                report.slowest = max(report.slowest, elapsed)
                let message = String(describing: error)
                if error is InvalidLoaderResult {
                    problem = message
                } else if message.isEmpty || !message.contains(url.lastPathComponent) {
                    problem = "the error does not name \(url.lastPathComponent): \"\(message)\""
                } else if elapsed > timeLimit {
                    problem = "took \(elapsed) to fail, more than \(timeLimit)"
                }
            }
            if let problem {
                let kept = folder.appendingPathComponent("failure-\(variant)-\(fileName)")
                try? bytes.write(to: kept)
                report.failures.append("\(account): \(problem) [input kept at \(kept.path)]")
                if case .hung = outcome { return report }
                if report.failures.count >= 10 { break }
            }
        }
        if report.failures.isEmpty { try? FileManager.default.removeItem(at: folder) }
        return report
    }

    /// Writes without `Data.write`'s fsync: thousands of small files must cost nothing.
    private func write(_ data: Data, to url: URL) -> Bool {
        guard let file = fopen(url.path, "wb") else { return false }
        let written = data.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        return fclose(file) == 0 && written == data.count
    }

    private enum Outcome {
        case returned(Duration)
        case threw(any Error, Duration)
        case hung
    }

    /// Runs the loader on a worker thread, so that a hang is reported instead of hanging the run.
    private func call(_ url: URL, on worker: DispatchQueue, limit: Duration) -> Outcome {
        final class Box: @unchecked Sendable {
            var error: (any Error)?
            var elapsed: Duration = .zero
        }
        let box = Box(), done = DispatchSemaphore(value: 0), load = self.load
        worker.async {
            let clock = ContinuousClock(), start = clock.now
            do { try load(url) } catch { box.error = error }
            box.elapsed = clock.now - start
            done.signal()
        }
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) * 1e-18
        guard done.wait(timeout: .now() + max(10 * seconds, 1)) == .success else { return .hung }
        if let error = box.error { return .threw(error, box.elapsed) }
        return .returned(box.elapsed)
    }
}
