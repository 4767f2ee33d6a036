// SplitPattern.swift — the two regular expressions byte-level tokenizers split text with, matched by
// hand so that the result is exactly what `tokenizers` (Oniguruma) gives, without a regex engine.
//
// Each pattern is an alternation tried left to right at the current position, with greedy runs and
// Oniguruma's backtracking; every character is matched by some alternative, so the matches cover the
// text. A `Split` pre-tokenizer with any other regex is refused (`SplitPattern(regex:)` returns nil).

/// A known splitting regex.
enum SplitPattern: Equatable {
    /// GPT-2's, used by the ByteLevel pre-tokenizer with `use_regex`:
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// LLaMA 3's, in a Split pre-tokenizer before ByteLevel: case-insensitive contractions, letters
    /// with one leading non-letter, digits in groups of at most three, punctuation with its newlines,
    /// whitespace ending in newlines, and the GPT-2 whitespace rules.
    case llama3

    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"#
        + #" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The pattern whose source is exactly `regex`, or nil for a regex this code does not implement.
    init?(regex: String) {
        if regex.unicodeScalars.elementsEqual(SplitPattern.gpt2Regex.unicodeScalars) {
            self = .gpt2
        } else if regex.unicodeScalars.elementsEqual(SplitPattern.llama3Regex.unicodeScalars) {
            self = .llama3
        } else {
            return nil
        }
    }

    /// The pieces of `text`: each match (and any unmatched stretch between matches) in order.
    func split(_ text: [Unicode.Scalar]) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var i = 0
        while i < text.count {
            let end = match(text, at: i) ?? (i + 1)  // never nil for these patterns; a lone character otherwise
            pieces.append(i..<end)
            i = end
        }
        return pieces
    }

    /// The end of the match starting at `i`.
    func match(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        switch self {
        case .gpt2: SplitPattern.gpt2Match(s, at: i)
        case .llama3: SplitPattern.llama3Match(s, at: i)
        }
    }

    /// The end of the run of characters satisfying `test` from `i`.
    private static func run(_ s: [Unicode.Scalar], from i: Int, _ test: (Unicode.Scalar) -> Bool) -> Int {
        var end = i
        while end < s.count, test(s[end]) { end += 1 }
        return end
    }

    /// ` ?X+` at `i`: an optional space, then a run of characters satisfying `test`; nil when there is none.
    private static func optionalSpaceRun(_ s: [Unicode.Scalar], at i: Int, _ test: (Unicode.Scalar) -> Bool) -> Int? {
        let start = s[i] == " " && i + 1 < s.count && test(s[i + 1]) ? i + 1 : i
        return test(s[start]) ? run(s, from: start, test) : nil
    }

    /// `\s+(?!\S)|\s+` at `i` (a whitespace character): the run, less its last character when a
    /// non-space follows and the run is longer than one.
    private static func whitespace(_ s: [Unicode.Scalar], at i: Int) -> Int {
        let end = run(s, from: i, \.isSpace)
        return end < s.count && end - i > 1 ? end - 1 : end
    }

    private static func gpt2Match(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        let n = s.count, c = s[i]
        if c == "'", i + 1 < n {  // 's 't 're 've 'm 'll 'd, case-sensitive
            let a = s[i + 1]
            if a == "s" || a == "t" || a == "m" || a == "d" { return i + 2 }
            if i + 2 < n {
                let b = s[i + 2]
                if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return i + 3 }
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        if let end = optionalSpaceRun(s, at: i, \.isLetter) ?? optionalSpaceRun(s, at: i, \.isNumber)
            ?? optionalSpaceRun(s, at: i, \.isOther) {
            return end
        }
        return c.isSpace ? whitespace(s, at: i) : nil
    }

    /// Oniguruma's case-insensitive match of an ASCII letter: its two cases, and "ſ" (U+017F) for "s".
    private static func folds(_ c: Unicode.Scalar, to letter: Unicode.Scalar) -> Bool {
        c == letter || c.value == letter.value - 32 || (letter == "s" && c == "\u{17F}")
    }

    private static func llama3Match(_ s: [Unicode.Scalar], at i: Int) -> Int? {
        let n = s.count, c = s[i]
        if c == "'", i + 1 < n {  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            let a = s[i + 1]
            if folds(a, to: "s") || folds(a, to: "t") || folds(a, to: "m") || folds(a, to: "d") { return i + 2 }
            if i + 2 < n {
                let b = s[i + 2]
                let re = folds(a, to: "r") && folds(b, to: "e"), ve = folds(a, to: "v") && folds(b, to: "e")
                if re || ve || (folds(a, to: "l") && folds(b, to: "l")) { return i + 3 }
            }
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if c != "\r", c != "\n", !c.isLetter, !c.isNumber, i + 1 < n, s[i + 1].isLetter {
            return run(s, from: i + 1, \.isLetter)
        }
        if c.isLetter { return run(s, from: i, \.isLetter) }
        if c.isNumber { return min(run(s, from: i, \.isNumber), i + 3) }  // \p{N}{1,3}
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        if let end = optionalSpaceRun(s, at: i, \.isOther) {
            return run(s, from: end) { $0 == "\r" || $0 == "\n" }
        }
        guard c.isSpace else { return nil }
        // \s*[\r\n]+ : the whitespace run up to and including its last newline
        let end = run(s, from: i, \.isSpace)
        if let last = (i..<end).last(where: { s[$0] == "\r" || s[$0] == "\n" }) { return last + 1 }
        return whitespace(s, at: i)
    }
}
