// DocumentedAnswers.swift — the exercises solved with plain loops from ExerciseBook's documentation
// alone, as a careful student would. That they pass every check shows the documentation states each
// rule exactly (NF4 bit for bit, the budget's truncation), independently of the project's code.

import ExerciseBook

enum DocumentedAnswers: ExerciseBook {
    static func loraForward(x: Matrix, base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> Matrix {
        let r = a.rows, scale = Float(alpha / Double(r))
        var y = Matrix(rows: x.rows, columns: base.rows)
        for i in 0..<x.rows {
            let u = (0..<r).map { q in (0..<x.columns).reduce(Float(0)) { $0 + x[i, $1] * a[q, $1] } }   // x·Aᵀ
            for o in 0..<base.rows {
                let frozen = (0..<x.columns).reduce(Float(0)) { $0 + x[i, $1] * base[o, $1] }
                let update = (0..<r).reduce(Float(0)) { $0 + u[$1] * b[o, $1] }
                y[i, o] = frozen + scale * update
            }
        }
        return y
    }

    static func loraMerge(base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> Matrix {
        let scale = Float(alpha / Double(a.rows))
        var w = base
        for i in 0..<base.rows {
            for j in 0..<base.columns {
                w[i, j] += scale * (0..<a.rows).reduce(Float(0)) { $0 + b[i, $1] * a[$1, j] }
            }
        }
        return w
    }

    static func loraParameterCount(model: ModelShape, r: Int, targetModules: [String]) -> Int {
        let (h, d) = (model.hiddenSize, model.headDim)
        let shapes: [String: (out: Int, in: Int)] = [
            "q_proj": (model.attentionHeads * d, h), "k_proj": (model.keyValueHeads * d, h),
            "v_proj": (model.keyValueHeads * d, h), "o_proj": (h, model.attentionHeads * d),
            "gate_proj": (model.intermediateSize, h), "up_proj": (model.intermediateSize, h),
            "down_proj": (h, model.intermediateSize),
        ]
        let perLayer = targetModules.reduce(0) { total, name in
            guard let shape = shapes[name] else { return total }
            return total + r * (shape.in + shape.out)
        }
        return model.layers * perLayer
    }

    static func subspaceSimilarity(_ a: Matrix, _ b: Matrix) -> [[Double]] {
        let u = a.rightSingularVectors(), v = b.rightSingularVectors()
        return (1...a.rows).map { i in
            (1...b.rows).map { j in
                var sum = 0.0
                for k in 0..<i {
                    for l in 0..<j {
                        let dot = (0..<a.columns).reduce(0.0) { $0 + Double(u[k, $1]) * Double(v[l, $1]) }
                        sum += dot * dot
                    }
                }
                return sum / Double(min(i, j))
            }
        }
    }

    static func quantizeNF4(_ values: [Float], blockSize: Int) -> NF4Blocks {
        quantize(values, blockSize: blockSize, below: <)
    }

    /// NF4 with the code of v = the number of midpoints m with `below(m, v)` (`<` is the rule).
    static func quantize(_ values: [Float], blockSize: Int, below: (Float, Float) -> Bool) -> NF4Blocks {
        let midpoints = (0..<15).map { (NF4.code[$0] + NF4.code[$0 + 1]) / 2 }
        func code(_ v: Float) -> UInt8 { UInt8(midpoints.filter { below($0, v) }.count) }
        let n = values.count
        var codes: [UInt8] = [], absmax: [Float] = []
        for start in stride(from: 0, to: n, by: blockSize) {
            let block = values[start..<min(start + blockSize, n)]
            let largest = block.map(abs).max() ?? 0
            absmax.append(largest)
            let s = max(largest, 1e-38), isFull = block.count == blockSize
            codes += block.map { x in code(min(max(isFull ? x * (1 / s) : x / s, -1), 1)) }
        }
        if n % 2 == 1 { codes.append(7) }
        let packed = stride(from: 0, to: codes.count, by: 2).map { codes[$0] << 4 | codes[$0 + 1] }
        return NF4Blocks(packed: packed, absmax: absmax)
    }

    static func adaLoraBudget(step: Int, schedule s: BudgetSettings) -> BudgetStep {
        if step <= s.tinit { return BudgetStep(budget: s.initialBudget, prune: false) }
        if step > s.totalSteps - s.tfinal { return BudgetStep(budget: s.targetBudget, prune: true) }
        let p = 1 - Double(step - s.tinit) / Double(s.totalSteps - s.tfinal - s.tinit)
        let budget = Double(s.initialBudget - s.targetBudget) * p * p * p + Double(s.targetBudget)
        return BudgetStep(budget: Int(budget), prune: step % s.deltaT == 0)
    }

    static func promptTuningInput(prompt: Matrix, embeddings: Matrix, batchSize: Int) -> Matrix {
        let (n, t) = (prompt.rows, embeddings.rows / batchSize)
        var out = Matrix(rows: batchSize * (n + t), columns: embeddings.columns)
        for b in 0..<batchSize {
            for p in 0..<(n + t) {
                for c in 0..<out.columns {
                    out[b * (n + t) + p, c] = p < n ? prompt[p, c] : embeddings[b * t + p - n, c]
                }
            }
        }
        return out
    }

    static func promptTuningLabels(_ labels: [Int], batchSize: Int, virtualTokens n: Int) -> [Int] {
        let t = labels.count / batchSize
        return (0..<batchSize).flatMap { b in [Int](repeating: -100, count: n) + labels[(b * t)..<((b + 1) * t)] }
    }
}

/// Answers with one typical mistake each, to see that the checker catches it and says what is wrong.
enum WrongAnswers: ExerciseBook {
    /// Scales by 1/r instead of alpha/r.
    static func loraForward(x: Matrix, base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> Matrix {
        DocumentedAnswers.loraForward(x: x, base: base, a: a, b: b, alpha: 1)
    }

    /// Returns (B·A)ᵀ-shaped nonsense: the transpose of the right answer.
    static func loraMerge(base: Matrix, a: Matrix, b: Matrix, alpha: Double) -> Matrix {
        let w = DocumentedAnswers.loraMerge(base: base, a: a, b: b, alpha: alpha)
        var t = Matrix(rows: w.columns, columns: w.rows)
        for i in 0..<w.rows { for j in 0..<w.columns { t[j, i] = w[i, j] } }
        return t
    }

    /// Counts only A (r·in), not B.
    static func loraParameterCount(model: ModelShape, r: Int, targetModules: [String]) -> Int {
        DocumentedAnswers.loraParameterCount(model: model, r: r, targetModules: targetModules) / 2
    }

    /// Divides by max(i, j) instead of min(i, j).
    static func subspaceSimilarity(_ a: Matrix, _ b: Matrix) -> [[Double]] {
        DocumentedAnswers.subspaceSimilarity(a, b).enumerated().map { i, row in
            row.enumerated().map { j, phi in phi * Double(min(i, j) + 1) / Double(max(i, j) + 1) }
        }
    }

    /// Ties go to the upper code (≤ instead of <), nothing else changes.
    static func quantizeNF4(_ values: [Float], blockSize: Int) -> NF4Blocks {
        DocumentedAnswers.quantize(values, blockSize: blockSize, below: <=)
    }

    /// Rounds the cubic instead of truncating it.
    static func adaLoraBudget(step: Int, schedule s: BudgetSettings) -> BudgetStep {
        var result = DocumentedAnswers.adaLoraBudget(step: step, schedule: s)
        if step > s.tinit && step <= s.totalSteps - s.tfinal {
            let p = 1 - Double(step - s.tinit) / Double(s.totalSteps - s.tfinal - s.tinit)
            result.budget = Int((Double(s.initialBudget - s.targetBudget) * p * p * p + Double(s.targetBudget))
                .rounded())
        }
        return result
    }

    /// Puts the prompt after the tokens.
    static func promptTuningInput(prompt: Matrix, embeddings: Matrix, batchSize: Int) -> Matrix {
        let right = DocumentedAnswers.promptTuningInput(prompt: prompt, embeddings: embeddings, batchSize: batchSize)
        let (n, t) = (prompt.rows, embeddings.rows / batchSize)
        var out = right
        for b in 0..<batchSize {
            for p in 0..<(n + t) {
                let from = p < t ? b * (n + t) + n + p : b * (n + t) + p - t
                for c in 0..<out.columns { out[b * (n + t) + p, c] = right[from, c] }
            }
        }
        return out
    }

    /// Pads once in front of the whole batch instead of in front of every row.
    static func promptTuningLabels(_ labels: [Int], batchSize: Int, virtualTokens n: Int) -> [Int] {
        [Int](repeating: -100, count: n * batchSize) + labels
    }
}
