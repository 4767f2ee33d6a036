// PEFTError.swift — what a PEFT user gets wrong, said plainly: what was asked, why it cannot
// be done, and how to fix it.

import Foundation
import SafeTensors

/// A PEFT usage error, with what was asked and how to fix it.
public struct PEFTError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension FileFormatError {
    /// A `DecodingError` from reading `file` as a message naming the field and what it must be.
    public init(file: String, decoding error: DecodingError) {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "the top level"
                                : keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        let problem: String
        switch error {
        case .typeMismatch(let type, let context):
            problem = "\(path(context)) must be \(describe(type)) (\(context.debugDescription))"
        case .valueNotFound(let type, let context):
            problem = "\(path(context)) must be \(describe(type)), not null"
        case .keyNotFound(let key, _):
            problem = "\(key.stringValue) is missing"
        case .dataCorrupted(let context):
            problem = "\(path(context)): \(context.debugDescription)"
        @unknown default:
            problem = "\(error)"
        }
        self.init(file: file, problem: problem)
    }
}

/// "an integer", "a number", "true or false", … for a Swift type in an error message.
private func describe(_ type: Any.Type) -> String {
    switch type {
    case is Int.Type: "an integer"
    case is Double.Type, is Float.Type: "a number"
    case is Bool.Type: "true or false"
    case is String.Type: "a string"
    default: "\(type)"
    }
}
