// Normalization.swift — softmax and log-softmax over the last axis, RMSNorm and LayerNorm.
//
// Each works row by row on [rows, C]; the max is subtracted before exp so that no value
// overflows (softmax(x) = softmax(x − max x)).

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif
import FastMath

/// softmax over the last axis: y_i = e^(x_i − m) / Σ_j e^(x_j − m).
/// Backward: dx_i = y_i · (dy_i − Σ_j dy_j y_j).
public func softmax(_ x: Tensor) -> Tensor {
    let c = x.shape.last ?? 1, rows = x.count / max(c, 1)
    let out = Tensor(uninitialized: x.shape)
    for r in 0..<rows { softmaxRow(x.data + r * c, out.data + r * c, c) }
    out.record([x]) { g in
        let gx = x.gradBuffer()
        for r in 0..<rows {
            let y = out.data + r * c, dy = g + r * c, d = gx + r * c
            var dot: Float = 0
            for i in 0..<c { dot += dy[i] * y[i] }
            for i in 0..<c { d[i] += y[i] * (dy[i] - dot) }
        }
    }
    return out
}

/// log-softmax over the last axis: y_i = x_i − m − log Σ_j e^(x_j − m).
/// Backward: dx_i = dy_i − e^(y_i) · Σ_j dy_j.
public func logSoftmax(_ x: Tensor) -> Tensor {
    let c = x.shape.last ?? 1, rows = x.count / max(c, 1)
    let out = Tensor(uninitialized: x.shape)
    for r in 0..<rows {
        let xr = x.data + r * c, yr = out.data + r * c
        let lse = logSumExp(xr, c)
        for i in 0..<c { yr[i] = xr[i] - lse }
    }
    out.record([x]) { g in
        let gx = x.gradBuffer()
        for r in 0..<rows {
            let y = out.data + r * c, dy = g + r * c, d = gx + r * c
            var s: Float = 0
            for i in 0..<c { s += dy[i] }
            for i in 0..<c { d[i] += dy[i] - fastExp(y[i]) * s }
        }
    }
    return out
}

/// RMSNorm (LLaMA): y = x / √(mean(x²) + ε) ⊙ w, over the last axis, `weight` [C].
/// With r = (mean(x²)+ε)^(−½) and x̂ = x·r:
///   dw = Σ_rows dy ⊙ x̂,   dx = r · (dx̂ − x̂ · mean(dx̂ ⊙ x̂)),   dx̂ = dy ⊙ w.
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor {
    Profiler.measure("rmsnorm") { rmsNormForward(x, weight: weight, eps: eps) }
}

private func rmsNormForward(_ x: Tensor, weight: Tensor, eps: Float) -> Tensor {
    let c = x.shape.last!, rows = x.count / c
    precondition(weight.count == c, "rmsNorm: weight \(weight.shape) for rows of \(c)")
    let out = Tensor(uninitialized: x.shape)
    let inv = UnsafeMutablePointer<Float>.allocate(capacity: rows)  // r per row, kept for backward
    parallelRanges(rows, grain: max(1, (1 << 14) / c)) { range in for r in range {
        let xr = x.data + r * c, yr = out.data + r * c
        var ss: Float = 0
        for i in 0..<c { ss += xr[i] * xr[i] }
        let ri = 1 / (ss / Float(c) + eps).squareRoot()
        inv[r] = ri
        for i in 0..<c { yr[i] = xr[i] * ri * weight.data[i] }
    } }
    let buffer = Buffer(inv, count: rows)
    out.record([x, weight]) { g in
        let gx = x.requiresGrad ? x.gradBuffer() : nil
        if weight.requiresGrad {  // a reduction over rows: kept serial so the sum's order never changes
            let gw = weight.gradBuffer()
            for r in 0..<rows {
                let xr = x.data + r * c, dy = g + r * c, ri = buffer.pointer[r]
                for i in 0..<c { gw[i] += dy[i] * xr[i] * ri }
            }
        }
        if let gx { parallelRanges(rows, grain: max(1, (1 << 14) / c)) { range in for r in range {
            let xr = x.data + r * c, dy = g + r * c, ri = buffer.pointer[r]
            do {  // dx = r · (dx̂ − x̂ · mean(dx̂ ⊙ x̂))
                var dot: Float = 0  // Σ dx̂ ⊙ x̂
                for i in 0..<c { dot += dy[i] * weight.data[i] * xr[i] * ri }
                let k = dot / Float(c)
                let d = gx + r * c
                for i in 0..<c { d[i] += ri * (dy[i] * weight.data[i] - xr[i] * ri * k) }
            }
        } } }
    }
    return out
}

/// LayerNorm: y = (x − μ)/√(σ² + ε) ⊙ w + b over the last axis (biased variance).
/// With x̂ the normalised input and r = (σ²+ε)^(−½):
///   dx = r · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)),   dx̂ = dy ⊙ w,   dw = Σ dy ⊙ x̂,   db = Σ dy.
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
    let c = x.shape.last!, rows = x.count / c
    precondition(weight.count == c && bias.count == c, "layerNorm: weight/bias for rows of \(c)")
    let out = Tensor(uninitialized: x.shape)
    let xhat = Tensor(uninitialized: x.shape)
    let inv = UnsafeMutablePointer<Float>.allocate(capacity: rows)
    for r in 0..<rows {
        let xr = x.data + r * c, h = xhat.data + r * c, yr = out.data + r * c
        var mu: Float = 0
        for i in 0..<c { mu += xr[i] }
        mu /= Float(c)
        var v: Float = 0
        for i in 0..<c { let d = xr[i] - mu; v += d * d }
        let ri = 1 / (v / Float(c) + eps).squareRoot()
        inv[r] = ri
        for i in 0..<c { h[i] = (xr[i] - mu) * ri; yr[i] = h[i] * weight.data[i] + bias.data[i] }
    }
    let buffer = Buffer(inv, count: rows)
    out.record([x, weight, bias]) { g in
        let gx = x.requiresGrad ? x.gradBuffer() : nil
        for r in 0..<rows {
            let h = xhat.data + r * c, dy = g + r * c
            if weight.requiresGrad { let gw = weight.gradBuffer(); for i in 0..<c { gw[i] += dy[i] * h[i] } }
            if bias.requiresGrad { let gb = bias.gradBuffer(); for i in 0..<c { gb[i] += dy[i] } }
            if let gx {
                var s1: Float = 0, s2: Float = 0
                for i in 0..<c { let dh = dy[i] * weight.data[i]; s1 += dh; s2 += dh * h[i] }
                s1 /= Float(c); s2 /= Float(c)
                let d = gx + r * c, ri = buffer.pointer[r]
                for i in 0..<c { d[i] += ri * (dy[i] * weight.data[i] - s1 - h[i] * s2) }
            }
        }
    }
    return out
}
