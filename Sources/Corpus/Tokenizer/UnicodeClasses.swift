// UnicodeClasses.swift — the character classes the tokenizers' regular expressions use, by Unicode
// general category, as Oniguruma (`\p{L}`, `\p{N}`, `\s`) and Rust's regex (`\w`) define them.

extension Unicode.Scalar {
    /// `\p{L}`: a letter (Lu, Ll, Lt, Lm, Lo).
    var isLetter: Bool {
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    /// `\p{N}`: a number (Nd, Nl, No) — also Rust's `char::is_numeric`.
    var isNumber: Bool {
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    /// `\s`: White_Space (tab, newline, vertical tab, form feed, carriage return, space, U+0085 and the
    /// Unicode spaces and separators).
    var isSpace: Bool { properties.isWhitespace }

    /// Rust regex's Unicode `\w`: Alphabetic, a mark, a decimal digit, connector punctuation or a join control.
    var isWordCharacter: Bool {
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// Neither `\s`, `\p{L}` nor `\p{N}`: punctuation, symbols, controls and the like.
    var isOther: Bool { !isSpace && !isLetter && !isNumber }
}
