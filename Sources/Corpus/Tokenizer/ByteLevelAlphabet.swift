// ByteLevelAlphabet.swift — GPT-2's reversible map between the 256 bytes and 256 printable
// characters, which byte-level vocabularies are written in ("Ġ" is the space byte, "Ċ" the newline).

/// The byte ↔ character tables of byte-level BPE (`bytes_to_unicode` in GPT-2 and `tokenizers`).
///
/// The printable bytes 33…126, 161…172 and 174…255 stand for themselves; the other 68 bytes take the
/// characters U+0100, U+0101, … in byte order.
enum ByteLevelAlphabet {
    /// Byte → its character.
    static let scalarOfByte: [Unicode.Scalar] = {
        var bytes = Array(33...126) + Array(161...172) + Array(174...255)
        var scalars = bytes
        var n = 0
        for b in 0..<256 where !bytes.contains(b) { bytes.append(b); scalars.append(256 + n); n += 1 }
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for (b, c) in zip(bytes, scalars) { table[b] = Unicode.Scalar(UInt32(c))! }
        return table
    }()

    /// Character → its byte (nil for characters outside the alphabet).
    static let byteOfScalar: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, c) in scalarOfByte.enumerated() { map[c.value] = UInt8(b) }
        return map
    }()

    /// The characters of `scalars`' UTF-8 bytes.
    static func encode(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(scalars.count)
        for scalar in scalars {
            for byte in String(scalar).utf8 { out.append(scalarOfByte[Int(byte)]) }
        }
        return out
    }

    /// The characters of `bytes`, as a string (how byte-level vocabularies write a token).
    static func printable(_ bytes: [UInt8]) -> String {
        var view = String.UnicodeScalarView()
        for byte in bytes { view.append(scalarOfByte[Int(byte)]) }
        return String(view)
    }
}
