// BPEModel.swift — the BPE model of tokenizer.json: a vocabulary with any ids, merges by rank, an
// unknown token, byte fallback (<0x41> tokens for characters outside the vocabulary) and
// `ignore_merges`, merging each word exactly as `tokenizers` does (its priority queue, its order).

import Synchronization

/// A BPE vocabulary and its merges. Immutable but for a cache of tokenized words, which a lock
/// guards: one tokenizer may serve training runs side by side.
final class BPEModel: Sendable {
    /// Token text → id (keys are exact scalars: "é" and "e" + U+0301 are different tokens).
    let ids: [[Unicode.Scalar]: Int]
    /// Id → token text.
    let tokens: [Int: String]
    /// (left id, right id) → (rank, merged id).
    private let merges: [Pair: (rank: Int, id: Int)]
    let unknownId: Int?
    let fuseUnknown: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    /// The ids of the <0x00>…<0xFF> tokens (nil where the vocabulary lacks one).
    private let byteIds: [Int?]
    /// The id of each one-character token.
    private let characterIds: [Unicode.Scalar: Int]
    private let cache = Mutex<[[Unicode.Scalar]: [Int]]>([:])
    private static let cacheLimit = 100_000
    /// Number of entries in the vocabulary (what `tokenizers` calls the model's vocabulary size).
    var count: Int { ids.count }

    struct Pair: Hashable { let a: Int, b: Int }

    init(ids: [[Unicode.Scalar]: Int], merges: [(a: Int, b: Int, id: Int)], unknownId: Int?, fuseUnknown: Bool,
         byteFallback: Bool, ignoreMerges: Bool) {
        self.ids = ids
        var tokens: [Int: String] = [:]
        var characters: [Unicode.Scalar: Int] = [:]
        for (text, id) in ids {
            tokens[id] = text.text
            if text.count == 1 { characters[text[0]] = id }
        }
        self.tokens = tokens
        self.characterIds = characters
        var table: [Pair: (rank: Int, id: Int)] = [:]
        for (rank, m) in merges.enumerated() { table[Pair(a: m.a, b: m.b)] = (rank, m.id) }  // a repeat: the last wins
        self.merges = table
        self.unknownId = unknownId
        self.fuseUnknown = fuseUnknown
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        self.byteIds = (0..<256).map { ids[Array(BPEModel.byteTokenName($0).unicodeScalars)] }
    }

    /// The name of the byte-fallback token of `byte`: "<0x0A>" for a newline.
    static func byteTokenName(_ byte: Int) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "<0x" + (hex.count < 2 ? "0" : "") + hex + ">"
    }

    /// The ids of one pre-tokenized word.
    func tokenize(_ word: [Unicode.Scalar]) -> [Int] {
        if let hit = cache.withLock({ $0[word] }) { return hit }
        if ignoreMerges, let id = ids[word] { return [id] }
        var symbols = Word()
        var unknown: (id: Int, length: Int)?
        for c in word {
            let length = c.utf8Length
            if let id = characterIds[c] {
                if let pending = unknown { symbols.add(pending.id, length: pending.length); unknown = nil }
                symbols.add(id, length: length)
                continue
            }
            if byteFallback {
                let bytes = Array(String(c).utf8)
                if bytes.allSatisfy({ byteIds[Int($0)] != nil }) {
                    // As `tokenizers` does: a pending unknown token is not flushed first.
                    for b in bytes { symbols.add(byteIds[Int(b)] ?? 0, length: 1) }
                    continue
                }
            }
            guard let unknownId else { continue }  // no unknown token: the character is dropped, as in `tokenizers`
            if let pending = unknown {
                if fuseUnknown {
                    unknown = (pending.id, pending.length + length)
                } else {
                    symbols.add(pending.id, length: pending.length)
                    unknown = (unknownId, length)
                }
            } else {
                unknown = (unknownId, length)
            }
        }
        if let pending = unknown { symbols.add(pending.id, length: pending.length) }
        let result = symbols.mergeAll(merges)
        cache.withLock {
            if $0.count >= BPEModel.cacheLimit { $0.removeAll(keepingCapacity: true) }
            $0[word] = result
        }
        return result
    }
}

/// A word being merged: a linked list of symbols over an array, as `tokenizers`' `Word`.
private struct Word {
    struct Symbol { var id: Int, previous: Int, next: Int, length: Int }
    var symbols: [Symbol] = []

    mutating func add(_ id: Int, length: Int) {
        let n = symbols.count
        if n > 0 { symbols[n - 1].next = n }
        symbols.append(Symbol(id: id, previous: n - 1, next: -1, length: length))
    }

    /// Applies merges lowest rank first (then leftmost), re-queueing the pairs each merge creates.
    mutating func mergeAll(_ merges: [BPEModel.Pair: (rank: Int, id: Int)]) -> [Int] {
        var queue = MergeQueue()
        for i in symbols.indices.dropLast() {
            if let m = merges[BPEModel.Pair(a: symbols[i].id, b: symbols[i + 1].id)] {
                queue.push(MergeQueue.Entry(rank: m.rank, position: i, id: m.id))
            }
        }
        while let top = queue.pop() {
            let current = symbols[top.position]
            guard current.length != 0, current.next != -1 else { continue }
            let right = symbols[current.next]
            guard let m = merges[BPEModel.Pair(a: current.id, b: right.id)], m.id == top.id else { continue }
            symbols[top.position].id = top.id
            symbols[top.position].length += right.length
            symbols[top.position].next = right.next
            symbols[current.next].length = 0
            if right.next > -1 && right.next < symbols.count { symbols[right.next].previous = top.position }
            let merged = symbols[top.position]
            if merged.previous >= 0, let m = merges[BPEModel.Pair(a: symbols[merged.previous].id, b: merged.id)] {
                queue.push(MergeQueue.Entry(rank: m.rank, position: merged.previous, id: m.id))
            }
            if merged.next >= 0 && merged.next < symbols.count,
               let m = merges[BPEModel.Pair(a: merged.id, b: symbols[merged.next].id)] {
                queue.push(MergeQueue.Entry(rank: m.rank, position: top.position, id: m.id))
            }
        }
        return symbols.filter { $0.length != 0 }.map(\.id)
    }
}

/// A binary min-heap of pending merges ordered by (rank, position).
private struct MergeQueue {
    struct Entry { var rank: Int, position: Int, id: Int }
    private var heap: [Entry] = []

    private static func before(_ x: Entry, _ y: Entry) -> Bool {
        x.rank != y.rank ? x.rank < y.rank : x.position < y.position
    }

    mutating func push(_ entry: Entry) {
        heap.append(entry)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard MergeQueue.before(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return first }
        heap[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < heap.count && MergeQueue.before(heap[l], heap[smallest]) { smallest = l }
            if r < heap.count && MergeQueue.before(heap[r], heap[smallest]) { smallest = r }
            guard smallest != i else { break }
            heap.swapAt(i, smallest)
            i = smallest
        }
        return first
    }
}

extension Unicode.Scalar {
    /// Bytes of the scalar in UTF-8.
    var utf8Length: Int { value < 0x80 ? 1 : value < 0x800 ? 2 : value < 0x10000 ? 3 : 4 }
}

extension BPEModel {
    /// The BPE model of tokenizer.json's `model`, or an error naming the field refused or damaged.
    static func read(_ model: JSONValue, file: TokenizerFile) throws -> BPEModel {
        let type = model["type"]?.string ?? (model["merges"] != nil ? "BPE" : "(none)")
        guard type == "BPE" else { throw file.unsupported("model.type \(type)", "only BPE models are implemented") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = model[key], !value.isNull, value.string != "" {
                throw file.unsupported("model.\(key) \(value.brief)", "only BPE without subword markers")
            }
        }
        if let dropout = model["dropout"], !dropout.isNull, (dropout.double ?? 1) != 0 {
            throw file.unsupported("model.dropout \(dropout.brief)",
                                   "BPE dropout makes encoding random; set it to null")
        }
        guard let vocabulary = model["vocab"]?.members else {
            throw file.invalid("model.vocab must be an object {token: id}; save the tokenizer again")
        }
        var ids: [[Unicode.Scalar]: Int] = [:]
        var owner: [Int: String] = [:]
        ids.reserveCapacity(vocabulary.count)
        for (token, value) in vocabulary.map({ ($0.key, $0.value) }) {
            guard let id = value.integer, id >= 0, id <= Int(UInt32.max) else {
                throw file.invalid("vocab gives \(JSONValue.string(token).brief) the id \(value.brief), not an integer "
                                   + "in 0…\(UInt32.max); ids are whole numbers from 0")
            }
            if let other = owner[id], !other.unicodeScalars.elementsEqual(token.unicodeScalars) {
                throw file.invalid("vocab gives the id \(id) to both \(JSONValue.string(other).brief) and "
                                   + "\(JSONValue.string(token).brief); every token needs its own id")
            }
            owner[id] = token
            ids[Array(token.unicodeScalars)] = id
        }
        let mergeList = try file.list(model, "merges", "model")
        var merges: [(a: Int, b: Int, id: Int)] = []
        merges.reserveCapacity(mergeList.count)
        for (n, entry) in mergeList.enumerated() {
            let parts: [String]
            if let line = entry.string {
                parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else {
                parts = entry.array?.compactMap(\.string) ?? []
            }
            guard parts.count == 2, entry.array?.count ?? 2 == 2 else {
                throw file.invalid("merge \(n) (\(entry.brief)) is not two tokens: write \"left right\" or "
                                   + "[left, right]")
            }
            let (left, right) = (Array(parts[0].unicodeScalars), Array(parts[1].unicodeScalars))
            guard let a = ids[left], let b = ids[right], let id = ids[left + right] else {
                throw file.invalid("merge \(n) (\(entry.brief)) is not two known tokens whose joined text is in the "
                                   + "vocabulary too; every merge must join vocabulary tokens into a vocabulary token")
            }
            merges.append((a, b, id))
        }
        var unknownId: Int?
        if let unk = model["unk_token"], !unk.isNull {
            guard let name = unk.string, let id = ids[Array(name.unicodeScalars)] else {
                throw file.invalid("model.unk_token \(unk.brief) is not in the vocabulary; add it or set it to null")
            }
            unknownId = id
        }
        return BPEModel(ids: ids, merges: merges, unknownId: unknownId,
                        fuseUnknown: try file.bool(model, "fuse_unk", "model", default: false),
                        byteFallback: try file.bool(model, "byte_fallback", "model", default: false),
                        ignoreMerges: try file.bool(model, "ignore_merges", "model", default: false))
    }
}
