// PreTokenizer.swift — splitting normalized text into the words BPE merges within, as the
// pre-tokenizers of tokenizer.json do: ByteLevel (GPT-2, SmolLM), Split with LLaMA 3's regex,
// Digits, Metaspace (SentencePiece-style "▁" words) and Sequence.

/// A stretch of text on its way to the model.
struct Piece {
    var scalars: [Unicode.Scalar]
    /// True when the piece begins where the original text begins (Metaspace's prepend_scheme "first").
    var atStart: Bool
}

/// Where Metaspace puts its replacement character in front of a text.
enum PrependScheme: String {
    /// Before every text that does not start with it.
    case always
    /// Only before the text at the very start of the input (not after an added token).
    case first
    case never
}

/// A pre-tokenizer: pieces in, smaller pieces out (empty pieces are dropped, as `tokenizers` does).
indirect enum PreTokenizer {
    /// `ByteLevel`: an optional leading space, GPT-2's regex split when `useRegex`, then every UTF-8 byte
    /// written as its printable character (`ByteLevelAlphabet`).
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// `Split` with a known regex, behaviour Isolated: every match is its own piece.
    case split(SplitPattern)
    /// `Digits`: each digit alone (`individual`), or runs of digits, as pieces of their own.
    case digits(individual: Bool)
    /// `Metaspace`: spaces become `replacement`, which is prepended per `prependScheme`; with `split`, a
    /// new piece starts at every replacement character.
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    case sequence([PreTokenizer])

    func apply(_ pieces: [Piece]) -> [Piece] {
        switch self {
        case .sequence(let steps): return steps.reduce(pieces) { $1.apply($0) }
        default: return pieces.flatMap { apply(to: $0) }.filter { !$0.scalars.isEmpty }
        }
    }

    private func apply(to piece: Piece) -> [Piece] {
        switch self {
        case .byteLevel(let addPrefixSpace, let useRegex):
            var text = piece.scalars
            if addPrefixSpace && text.first != " " { text.insert(" ", at: 0) }
            let ranges = useRegex ? SplitPattern.gpt2.split(text) : [0..<text.count]
            return ranges.enumerated().map { n, range in
                Piece(scalars: ByteLevelAlphabet.encode(Array(text[range])), atStart: piece.atStart && n == 0)
            }
        case .split(let pattern):
            return pattern.split(piece.scalars).enumerated().map { n, range in
                Piece(scalars: Array(piece.scalars[range]), atStart: piece.atStart && n == 0)
            }
        case .digits(let individual):
            return PreTokenizer.splitDigits(piece, individual: individual)
        case .metaspace(let replacement, let scheme, let split):
            var text = piece.scalars.map { $0 == " " ? replacement : $0 }
            let prepend = scheme == .always || (scheme == .first && piece.atStart)
            if prepend && text.first != replacement { text.insert(replacement, at: 0) }
            guard split else { return [Piece(scalars: text, atStart: piece.atStart)] }
            var pieces: [Piece] = []
            var start = 0
            for (i, c) in text.enumerated() where c == replacement && i > start {  // merged with the next piece
                pieces.append(Piece(scalars: Array(text[start..<i]), atStart: piece.atStart && start == 0))
                start = i
            }
            pieces.append(Piece(scalars: Array(text[start...]), atStart: piece.atStart && start == 0))
            return pieces
        case .sequence:
            return apply([piece])
        }
    }

    /// Digits split off: each alone (Isolated), or each run of digits as one piece (Contiguous); the
    /// stretches between them are pieces too.
    private static func splitDigits(_ piece: Piece, individual: Bool) -> [Piece] {
        let s = piece.scalars
        var pieces: [Piece] = []
        var start = 0
        func cut(_ end: Int) {
            if end > start {
                pieces.append(Piece(scalars: Array(s[start..<end]), atStart: piece.atStart && start == 0))
            }
            start = end
        }
        for i in s.indices.dropFirst() {
            let boundary = individual ? s[i].isNumber || s[i - 1].isNumber : s[i].isNumber != s[i - 1].isNumber
            if boundary { cut(i) }
        }
        cut(s.count)
        return pieces
    }

    /// Short form for summaries.
    var name: String {
        switch self {
        case .byteLevel(let prefix, let regex): "ByteLevel(add_prefix_space: \(prefix), use_regex: \(regex))"
        case .split(let pattern): "Split(\(pattern == .llama3 ? "LLaMA 3" : "GPT-2") regex)"
        case .digits(let individual): "Digits(individual_digits: \(individual))"
        case .metaspace(_, let scheme, let split): "Metaspace(prepend_scheme: \(scheme.rawValue), split: \(split))"
        case .sequence(let steps): "Sequence[" + steps.map(\.name).joined(separator: ", ") + "]"
        }
    }

    /// The pre-tokenizer of `value` (nil for JSON null), or an error naming the one refused.
    static func read(_ value: JSONValue, file: TokenizerFile) throws -> PreTokenizer? {
        let part = "pre_tokenizer"
        if value.isNull { return nil }
        let type = try file.type(of: value, part)
        switch type {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try file.bool(value, "add_prefix_space", part, default: true),
                              useRegex: try file.bool(value, "use_regex", part, default: true))
        case "Split":
            guard let regex = value["pattern"]?["Regex"]?.string else {
                throw file.unsupported("pre_tokenizer Split with a String pattern",
                                       "only GPT-2's and LLaMA 3's regexes")
            }
            guard let pattern = SplitPattern(regex: regex) else {
                throw file.unsupported("pre_tokenizer Split with the regex \"\(regex)\"",
                                       "only GPT-2's and LLaMA 3's regexes are implemented, character for character")
            }
            let behavior = value["behavior"]?.string ?? ""
            guard behavior == "Isolated" else {
                throw file.unsupported("pre_tokenizer Split with behavior \"\(behavior)\"", "only Isolated")
            }
            guard try !file.bool(value, "invert", part, default: false) else {
                throw file.unsupported("pre_tokenizer Split with invert: true")
            }
            return .split(pattern)
        case "Digits":
            return .digits(individual: try file.bool(value, "individual_digits", part, default: false))
        case "Metaspace":
            let replacement = try file.character(value, "replacement", "pre_tokenizer Metaspace")
            let legacy = try file.bool(value, "add_prefix_space", part, default: true) ? "always" : "never"
            let schemeName = value["prepend_scheme"]?.string ?? legacy
            guard let scheme = PrependScheme(rawValue: schemeName) else {
                throw file.invalid("pre_tokenizer Metaspace.prepend_scheme must be always, first or never, "
                                   + "got \"\(schemeName)\"")
            }
            return .metaspace(replacement: replacement, prependScheme: scheme,
                              split: try file.bool(value, "split", part, default: true))
        case "Sequence":
            let steps = try file.list(value, "pretokenizers", "pre_tokenizer Sequence")
            return .sequence(try steps.compactMap { try read($0, file: file) })
        default:
            throw file.unsupported("pre_tokenizer \(type)")
        }
    }
}
