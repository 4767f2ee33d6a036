// TargetModules.swift — PEFT's `target_modules`: which linear layers a method adapts, matched
// by module name exactly as PEFT matches them, with PEFT's error when nothing matches.

import Foundation
import Llama

/// Which modules to adapt: PEFT's `target_modules`.
public enum TargetModules: Equatable, Sendable, Codable {
    /// A list: a module matches when its full name equals an entry or ends with "." + entry.
    case names([String])
    /// A single string: a regular expression that must match the whole module name.
    case regex(String)
    /// `"all-linear"`: every linear layer except the output head (`lm_head`).
    case allLinear

    /// A list matches as a set (PEFT stores it as one): the order of the names does not matter.
    public static func == (a: TargetModules, b: TargetModules) -> Bool {
        switch (a, b) {
        case (.names(let x), .names(let y)): Set(x) == Set(y)
        case (.regex(let x), .regex(let y)): x == y
        case (.allLinear, .allLinear): true
        default: false
        }
    }

    /// The form a user types on a command line: "q_proj,v_proj", or "all-linear".
    public init(commaSeparated text: String) {
        self = text == "all-linear" ? .allLinear : .names(text.split(separator: ",").map(String.init))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let list = try? c.decode([String].self) { self = .names(list); return }
        let text = try c.decode(String.self)
        self = text == "all-linear" ? .allLinear : .regex(text)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .names(let list): try c.encode(list.sorted())
        case .regex(let pattern): try c.encode(pattern)
        case .allLinear: try c.encode("all-linear")
        }
    }

    /// How PEFT prints the setting in its error ("{'q_proj', 'v_proj'}").
    var described: String {
        switch self {
        case .names(let n): "{" + n.map { "'\($0)'" }.joined(separator: ", ") + "}"
        case .regex(let r): "'\(r)'"
        case .allLinear: "'all-linear'"
        }
    }

    /// The slots of `model` this selects (PEFT's matching), restricted to `layers` when given;
    /// an error that names what the model offers when nothing matches.
    public func slots(in model: LlamaModel, layers: [Int]? = nil) throws -> [LinearSlot] {
        let slots = model.linearSlots
        var chosen: [LinearSlot]
        switch self {
        case .names(let names):
            if names.isEmpty {
                throw PEFTError("target_modules is empty; name at least one module, e.g. [\"q_proj\", \"v_proj\"]")
            }
            chosen = slots.filter { s in names.contains { s.name == $0 || s.name.hasSuffix("." + $0) } }
        case .regex(let pattern):
            guard let re = try? NSRegularExpression(pattern: "^(?:\(pattern))$") else {
                throw PEFTError("target_modules regex '\(pattern)' does not compile")
            }
            chosen = slots.filter {
                re.firstMatch(in: $0.name, range: NSRange($0.name.startIndex..., in: $0.name)) != nil
            }
        case .allLinear:
            chosen = slots.filter { $0.name != "lm_head" }
        }
        if let layers {
            let bad = layers.filter { $0 < 0 || $0 >= model.layers.count }
            if !bad.isEmpty {
                throw PEFTError("layers_to_transform \(bad) is out of range: "
                    + "the model has layers 0…\(model.layers.count - 1)")
            }
            chosen = chosen.filter { layerIndex(of: $0.name).map(layers.contains) ?? false }
        }
        if chosen.isEmpty {
            throw PEFTError("Target modules \(described) not found in the base model. Please check the target modules "
                + "and try again. This model's linear modules are: \(moduleKinds(model).joined(separator: ", ")) "
                + "(e.g. \(slots.first?.name ?? "none"))" + (layers.map { " and layers_to_transform is \($0)" } ?? "")
                + ".")
        }
        return chosen
    }
}

/// The layer index in a module name ("model.layers.3.mlp.up_proj" → 3).
func layerIndex(of name: String) -> Int? {
    let parts = name.split(separator: ".")
    guard let i = parts.firstIndex(of: "layers"), i + 1 < parts.count else { return nil }
    return Int(parts[i + 1])
}

/// The short names of a model's linear modules ("down_proj", …, "v_proj"), sorted.
public func moduleKinds(_ model: LlamaModel) -> [String] {
    Array(Set(model.linearSlots.compactMap { $0.name.split(separator: ".").last.map(String.init) })).sorted()
}

/// The value of the first pattern key that matches `module` (PEFT: `(.*\.)?key$`), keys tried in
/// sorted order.
func patternValue<V>(_ pattern: [String: V], _ module: String) -> V? {
    for key in pattern.keys.sorted() {
        if module == key || module.hasSuffix("." + key) { return pattern[key] }
        if let re = try? NSRegularExpression(pattern: "^(.*\\.)?(\(key))$"),
           re.firstMatch(in: module, range: NSRange(module.startIndex..., in: module)) != nil { return pattern[key] }
    }
    return nil
}
