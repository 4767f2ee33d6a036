// ChoiceScoring.swift — multiple-choice tasks scored by rank classification: each option's
// tokens get their total log-probability after the prompt, and the most probable option is the
// prediction (as `lm-evaluation-harness` scores such tasks).
//
// Two ways to compute the same totals:
//  - rows: every (prompt + option) is one row of a batch, through any logits function. The
//    prompt is read once per option.
//  - a key/value cache: each prompt is read once (a prefill), then each option's tokens continue
//    it from the cache, which goes back to the prompt before the next option. Sentiment (a prompt
//    of ~44 tokens, two options of ~7) reads ~57 tokens instead of ~102; topic (five options) saves
//    more. The totals equal the rows' up to rounding (CachedEvaluationTests holds them to 1e-4).

import Corpus
import Llama
import TensorKit

/// Each example's total log-probability of each of its options' tokens after its prompt, one row
/// per (prompt + option) through `logits`. When every option of an example is one token after the
/// prompt, one row (the prompt) scores them all from the logits at its last position. Rows of
/// about `batchSize` run together, an example's rows always in one batch, and the logits are
/// computed only at the positions read.
public func optionScores(_ examples: [Example], options: (Example) -> [String], tokenizer: Tokenizer,
                         logits: PositionLogitsFunction, batchSize: Int) -> [[Float]] {
    /// Where a token's log-probability comes from: `token` after `position` of `row`.
    typealias Read = (row: Int, position: Int, token: Int)
    var scores: [[Float]] = []
    var start = 0
    while start < examples.count {
        var chunk: [[[Read]]] = [], rows: [EncodedExample] = []                 // per example, per option
        while start < examples.count {
            let e = examples[start], choices = options(e)
            let prompt = tokenizer.promptIds(e.prompt)
            let encoded = choices.map { tokenizer.encode(prompt: e.prompt, continuation: $0, endOfText: false) }
            let oneToken = !encoded.isEmpty && !prompt.isEmpty
                && encoded.allSatisfy { $0.ids.count == prompt.count + 1 && $0.ids.starts(with: prompt) }
            let rowsNeeded = oneToken ? 1 : encoded.count
            guard chunk.isEmpty || rows.count + rowsNeeded <= batchSize else { break }
            var reads: [[Read]] = []
            if oneToken {
                reads = encoded.map { [(rows.count, prompt.count - 1, $0.ids[prompt.count])] }
                rows.append(EncodedExample(ids: prompt, labels: prompt.map { _ in -100 }, taskId: e.taskId))
            } else {
                for var row in encoded {
                    reads.append(row.labels.indices.dropFirst().filter { row.labels[$0] != -100 }
                        .map { (rows.count, $0 - 1, row.labels[$0]) })
                    row.taskId = e.taskId
                    rows.append(row)
                }
            }
            chunk.append(reads)
            start += 1
        }
        guard !rows.isEmpty else {                                  // examples without options
            scores += chunk.map { _ in [] }
            continue
        }
        let batch = TokenBatch(padding: rows, padId: tokenizer.padId)
        let t = batch.sequenceLength
        var positions: [Int] = [], slot: [Int: Int] = [:]                    // flat position → row of lp
        for read in chunk.joined().joined() where slot[read.row * t + read.position] == nil {
            slot[read.row * t + read.position] = positions.count
            positions.append(read.row * t + read.position)
        }
        let lp = logSoftmax(logits(batch, positions))                                    // [S, V]
        let v = lp.shape[1]
        for reads in chunk {
            scores.append(reads.map { option in
                option.reduce(Float(0)) { $0 + lp.data[slot[$1.row * t + $1.position]! * v + $1.token] }
            })
        }
    }
    return scores
}

/// `optionScores(_:options:tokenizer:logits:batchSize:)` through a key/value cache: the prompts of
/// `batchSize` examples (of similar length) are read once (one prefill, `IncrementalDecoder`), then
/// each option's tokens continue every row from the cache (rewound after each option). Where an
/// option's first token merges with the end of the prompt (a tokenizer that glues them), the
/// prefill stops at the shortest prefix any option shares with the prompt.
public func optionScores(_ examples: [Example], options: (Example) -> [String], tokenizer: Tokenizer,
                         model: any CausalLanguageModel, batchSize: Int) -> [[Float]] {
    // Prompts of similar length share a prefill (less padding): the examples go in order of length.
    let order = examples.indices.sorted {
        (examples[$0].prompt.utf8.count, $0) < (examples[$1].prompt.utf8.count, $1)
    }
    var scores = [[Float]](repeating: [], count: examples.count)
    for start in stride(from: 0, to: examples.count, by: max(1, batchSize)) {
        let members = Array(order[start..<min(start + max(1, batchSize), examples.count)])
        let chunk = members.map { examples[$0] }
        // Per example: each option's ids and the index of its first scored token; the prefill is
        // the ids every option shares with the prompt (ids[0..<stem]).
        let encoded = chunk.map { e in
            options(e).map { tokenizer.encode(prompt: e.prompt, continuation: $0, endOfText: false) }
        }
        let firstScored = encoded.map { $0.map { row in row.labels.firstIndex { $0 != -100 } ?? row.ids.count } }
        let prompts = chunk.indices.map { r in
            encoded[r].isEmpty ? tokenizer.promptIds(chunk[r].prompt)
                               : Array(encoded[r][0].ids[0..<firstScored[r].min()!])
        }
        guard prompts.allSatisfy({ !$0.isEmpty }) else {     // nothing to prefill: one row per option instead
            let perRow = optionScores(chunk, options: options, tokenizer: tokenizer, logits: model.logits(_:at:),
                                      batchSize: batchSize)
            for (i, totals) in zip(members, perRow) { scores[i] = totals }
            continue
        }
        let stems = prompts.map(\.count)
        let taskIds = chunk.compactMap(\.taskId)
        let longest = encoded.joined().map(\.ids.count).max() ?? 0
        let decoder = IncrementalDecoder(model, prompts: prompts, taskIds: taskIds.count == chunk.count ? taskIds : nil,
                                         padId: tokenizer.padId, maxNewTokens: max(0, longest - stems.min()!))
        let afterPrompt = logSoftmax(decoder.nextLogits)                                  // [B, V]
        let v = afterPrompt.shape[1]
        var totals = encoded.map { $0.map { _ in Float(0) } }
        for k in 0..<(encoded.map(\.count).max() ?? 0) {
            // Option k of row r: its tokens after the stem, all but the last, continue the row;
            // token j (j ≥ first scored) is read after token j − 1.
            var tokens = [[Int]](repeating: [], count: chunk.count), reads = tokens
            for r in chunk.indices where k < encoded[r].count {
                let ids = encoded[r][k].ids, stem = stems[r]
                tokens[r] = Array(ids[stem..<max(stem, ids.count - 1)])
                reads[r] = (max(firstScored[r][k], stem + 1)..<max(stem + 1, ids.count)).map { $0 - 1 - stem }
            }
            let continued = decoder.logits(continuing: tokens, readAfter: reads).map(logSoftmax)   // [S, V]
            var s = 0                                                          // next row of `continued`
            for r in chunk.indices where k < encoded[r].count {
                let ids = encoded[r][k].ids, stem = stems[r]
                for j in firstScored[r][k]..<ids.count {
                    if j == stem {                                             // read after the prompt
                        totals[r][k] += afterPrompt.data[r * v + ids[j]]
                    } else if let continued {
                        totals[r][k] += continued.data[s * v + ids[j]]
                        s += 1
                    }
                }
            }
        }
        for (i, rowTotals) in zip(members, totals) { scores[i] = rowTotals }
    }
    return scores
}

/// Accuracy of picking, for each example, the option with the highest score (the first of equal
/// ones); an example without options counts as wrong.
func rankClassification(_ examples: [Example], options: (Example) -> [String], scores: [[Float]]) -> Score {
    var perItem: [Double] = [], samples: [(String, String, String)] = []
    for (e, totals) in zip(examples, scores) {
        let choices = options(e)
        var best = 0, bestScore = -Float.infinity
        for (k, s) in totals.enumerated() where s > bestScore { best = k; bestScore = s }
        perItem.append(!choices.isEmpty && choices[best] == e.answer ? 1 : 0)
        if samples.count < 4 { samples.append((e.prompt, choices.isEmpty ? "" : choices[best], e.answer)) }
    }
    return Score(value: perItem.reduce(0, +) / Double(max(examples.count, 1)), perItem: perItem, slotCoverage: nil,
                 samples: samples)
}
