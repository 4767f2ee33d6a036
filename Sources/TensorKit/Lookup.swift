// Lookup.swift — embedding lookup, cross-entropy with an ignore index, and dropout.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif
import FastMath

/// Rows of `weight` [V, C] picked by `ids` (any shape `idsShape`): returns [idsShape..., C].
/// Backward is a scatter-add: dW[id] += dy for every position holding id.
public func embedding(_ ids: [Int], shape idsShape: [Int], weight: Tensor) -> Tensor {
    Profiler.measure("embedding") { embeddingForward(ids, shape: idsShape, weight: weight) }
}

private func embeddingForward(_ ids: [Int], shape idsShape: [Int], weight: Tensor) -> Tensor {
    let (vocab, c) = (weight.shape[0], weight.shape[1])
    precondition(ids.count == idsShape.reduce(1, *), "embedding: \(ids.count) ids for shape \(idsShape)")
    for id in ids { precondition(id >= 0 && id < vocab, "token id \(id) is outside the vocabulary 0..<\(vocab)") }
    return weight.gatheredRows(ids, shape: idsShape + [c])
}

/// Mean cross-entropy of `logits` [..., V] against `targets` (one per row), skipping rows whose
/// target is `ignoreIndex` (PyTorch's −100):  L = −(1/N) Σ_valid log softmax(z)[target].
/// Backward: dz = (softmax(z) − onehot(target)) / N on valid rows, 0 elsewhere.
/// With no valid row the loss is 0 (PyTorch gives NaN), so an empty batch cannot poison training.
public func crossEntropy(_ logits: Tensor, targets: [Int], ignoreIndex: Int = -100) -> Tensor {
    Profiler.measure("cross-entropy") { crossEntropyForward(logits, targets: targets, ignoreIndex: ignoreIndex) }
}

private func crossEntropyForward(_ logits: Tensor, targets: [Int], ignoreIndex: Int) -> Tensor {
    let v = logits.shape.last!, rows = logits.count / v
    precondition(targets.count == rows, "crossEntropy: \(targets.count) targets for \(rows) rows")
    let lse = Buffer(count: rows)
    for t in targets where t != ignoreIndex {
        precondition(t >= 0 && t < v, "crossEntropy: target \(t) is outside 0..<\(v)")
    }
    parallelRanges(rows, grain: max(1, parallelGrain / v)) { range in
        for r in range where targets[r] != ignoreIndex { lse.pointer[r] = logSumExp(logits.data + r * v, v) }
    }
    var total: Double = 0
    var valid = 0
    for r in 0..<rows where targets[r] != ignoreIndex {
        total += Double(lse.pointer[r] - logits.data[r * v + targets[r]])
        valid += 1
    }
    let out = Tensor(scalar: valid == 0 ? 0 : Float(total / Double(valid)))
    out.record([logits]) { g in
        guard valid > 0 else { return }
        let gz = logits.gradBuffer(), k = g[0] / Float(valid)
        parallelRanges(rows, grain: max(1, parallelGrain / v)) { range in
            for r in range where targets[r] != ignoreIndex {
                let z = logits.data + r * v, d = gz + r * v, l = lse.pointer[r]
                for i in 0..<v { d[i] += k * fastExp(z[i] - l) }
                d[targets[r]] -= k
            }
        }
    }
    return out
}

/// Inverted dropout: each element is zeroed with probability `p` and the rest scaled by
/// 1/(1−p), so the expectation is unchanged; identity when `p` is 0 or `training` is false.
/// The mask is drawn from `generator`, so the same seed drops the same elements.
public func dropout(_ x: Tensor, p: Float, generator: Generator, training: Bool = true) -> Tensor {
    precondition(p >= 0 && p < 1, "dropout probability \(p) must be in [0, 1)")
    guard training && p > 0 else { return x }
    let mask = Buffer(count: x.count)
    let keep = 1 / (1 - p)
    for i in 0..<x.count { mask.pointer[i] = generator.uniform() < p ? 0 : keep }
    let out = Tensor(uninitialized: x.shape)
    for i in 0..<x.count { out.data[i] = x.data[i] * mask.pointer[i] }
    out.record([x]) { g in
        let gx = x.gradBuffer()
        for i in 0..<x.count { gx[i] += g[i] * mask.pointer[i] }
    }
    return out
}
