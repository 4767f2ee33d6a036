// Elementwise.swift — add, sub, mul, div with NumPy broadcasting, scalar ops and activations.
//
// Broadcasting aligns shapes from the right; an axis of extent 1 (or a missing one) is
// repeated. In backward, the gradient of a broadcast input is the sum of the output gradient
// over the repeated positions — done here by accumulating (+=) through a zero stride.

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#endif
import FastMath

/// The shape two shapes broadcast to, or nil if they are incompatible.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
}

/// Strides of a tensor of shape `s` read as the (larger) shape `out`: 0 on broadcast axes.
func broadcastStrides(_ s: [Int], to out: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: out.count)
    var step = 1
    for i in stride(from: s.count - 1, through: 0, by: -1) {
        let o = i + out.count - s.count
        strides[o] = s[i] == 1 ? 0 : step
        step *= s[i]
    }
    return strides
}

/// Walks `out` row by row (the last axis innermost) and calls `body(o, ia, ib, n, da, db)` for
/// each row: output offset `o`, input offsets `ia`/`ib`, row length `n` and the inputs' strides
/// along the last axis.
@inline(__always)
func forEachBroadcastRow(_ out: [Int], _ sa: [Int], _ sb: [Int],
                         _ body: (Int, Int, Int, Int, Int, Int) -> Void) {
    let rank = out.count
    if rank == 0 { body(0, 0, 0, 1, 0, 0); return }
    let n = out[rank - 1], da = sa[rank - 1], db = sb[rank - 1]
    let rows = n == 0 ? 0 : out.reduce(1, *) / n
    var index = [Int](repeating: 0, count: rank)
    var ia = 0, ib = 0
    for r in 0..<rows {
        body(r * n, ia, ib, n, da, db)
        var axis = rank - 2
        while axis >= 0 {
            index[axis] += 1; ia += sa[axis]; ib += sb[axis]
            if index[axis] < out[axis] { break }
            ia -= sa[axis] * out[axis]; ib -= sb[axis] * out[axis]; index[axis] = 0
            axis -= 1
        }
    }
}

enum BinaryKind { case add, sub, mul, div }

func binary(_ a: Tensor, _ b: Tensor, _ kind: BinaryKind) -> Tensor {
    Profiler.measure("elementwise") { binaryForward(a, b, kind) }
}

@inline(__always)
private func binaryForward(_ a: Tensor, _ b: Tensor, _ kind: BinaryKind) -> Tensor {
    guard let shape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Tensor(uninitialized: shape)
    let (x, y, z) = (a.data, b.data, out.data)
    if a.shape == b.shape {  // fast path: same shape
        parallelRanges(out.count) { range in
            switch kind {
            case .add: for i in range { z[i] = x[i] + y[i] }
            case .sub: for i in range { z[i] = x[i] - y[i] }
            case .mul: for i in range { z[i] = x[i] * y[i] }
            case .div: for i in range { z[i] = x[i] / y[i] }
            }
        }
    } else {
        let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
        forEachBroadcastRow(shape, sa, sb) { o, ia, ib, n, da, db in
            switch kind {
            case .add: for j in 0..<n { z[o + j] = x[ia + j * da] + y[ib + j * db] }
            case .sub: for j in 0..<n { z[o + j] = x[ia + j * da] - y[ib + j * db] }
            case .mul: for j in 0..<n { z[o + j] = x[ia + j * da] * y[ib + j * db] }
            case .div: for j in 0..<n { z[o + j] = x[ia + j * da] / y[ib + j * db] }
            }
        }
    }
    out.record([a, b]) { g in
        // d(a+b) = (g, g); d(a-b) = (g, -g); d(a*b) = (g*b, g*a); d(a/b) = (g/b, -g*a/b²)
        if a.shape == b.shape {
            // every element gets its term, so a new gradient buffer is written (0 + v), not zeroed and added to
            let ga = a.requiresGrad ? a.gradBufferToFill() : nil
            let gb = b.requiresGrad ? b.gradBufferToFill() : nil  // after a's: for a + a it is a's buffer, not new
            parallelRanges(shape.reduce(1, *)) { range in
                if let (ga, fresh) = ga {
                    switch (kind, fresh) {
                    case (.add, false), (.sub, false): for i in range { ga[i] += g[i] }
                    case (.add, true), (.sub, true): for i in range { ga[i] = 0 + g[i] }
                    case (.mul, false): for i in range { ga[i] += g[i] * y[i] }
                    case (.mul, true): for i in range { ga[i] = 0 + g[i] * y[i] }
                    case (.div, false): for i in range { ga[i] += g[i] / y[i] }
                    case (.div, true): for i in range { ga[i] = 0 + g[i] / y[i] }
                    }
                }
                if let (gb, fresh) = gb {
                    switch (kind, fresh) {
                    case (.add, false): for i in range { gb[i] += g[i] }
                    case (.add, true): for i in range { gb[i] = 0 + g[i] }
                    case (.sub, false): for i in range { gb[i] -= g[i] }
                    case (.sub, true): for i in range { gb[i] = 0 - g[i] }
                    case (.mul, false): for i in range { gb[i] += g[i] * x[i] }
                    case (.mul, true): for i in range { gb[i] = 0 + g[i] * x[i] }
                    case (.div, false): for i in range { gb[i] -= g[i] * x[i] / (y[i] * y[i]) }
                    case (.div, true): for i in range { gb[i] = 0 - g[i] * x[i] / (y[i] * y[i]) }
                    }
                }
            }
            return
        }
        let sa = broadcastStrides(a.shape, to: shape), sb = broadcastStrides(b.shape, to: shape)
        let ga = a.requiresGrad ? a.gradBuffer() : nil
        let gb = b.requiresGrad ? b.gradBuffer() : nil
        forEachBroadcastRow(shape, sa, sb) { o, ia, ib, n, da, db in
            if let ga {
                switch kind {
                case .add, .sub: for j in 0..<n { ga[ia + j * da] += g[o + j] }
                case .mul: for j in 0..<n { ga[ia + j * da] += g[o + j] * y[ib + j * db] }
                case .div: for j in 0..<n { ga[ia + j * da] += g[o + j] / y[ib + j * db] }
                }
            }
            if let gb {
                switch kind {
                case .add: for j in 0..<n { gb[ib + j * db] += g[o + j] }
                case .sub: for j in 0..<n { gb[ib + j * db] -= g[o + j] }
                case .mul: for j in 0..<n { gb[ib + j * db] += g[o + j] * x[ia + j * da] }
                case .div:
                    for j in 0..<n {
                        let yv = y[ib + j * db]
                        gb[ib + j * db] -= g[o + j] * x[ia + j * da] / (yv * yv)
                    }
                }
            }
        }
    }
    return out
}

/// a + b, broadcasting.
public func + (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .add) }
/// a − b, broadcasting.
public func - (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .sub) }
/// a ⊙ b (elementwise), broadcasting: with b of shape [C] or [N, 1] this scales columns or
/// rows by a vector (DoRA's magnitude, AdaLoRA's singular values).
public func * (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .mul) }
/// a / b (elementwise), broadcasting.
public func / (a: Tensor, b: Tensor) -> Tensor { binary(a, b, .div) }

/// y = scale · x + shift, elementwise with constants. dy/dx = scale.
public func affine(_ x: Tensor, scale: Float, shift: Float = 0) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    for i in 0..<x.count { out.data[i] = scale * x.data[i] + shift }
    out.record([x]) { g in
        let gx = x.gradBuffer()
        for i in 0..<x.count { gx[i] += scale * g[i] }
    }
    return out
}

public func * (x: Tensor, s: Float) -> Tensor { affine(x, scale: s) }
public func * (s: Float, x: Tensor) -> Tensor { affine(x, scale: s) }
public func + (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1, shift: s) }
public func - (x: Tensor, s: Float) -> Tensor { affine(x, scale: 1, shift: -s) }
public prefix func - (x: Tensor) -> Tensor { affine(x, scale: -1) }

/// An elementwise function y = f(x) whose derivative is given from x and y.
@inline(__always)
func unary(_ x: Tensor, _ f: (Float) -> Float,
           _ derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    for i in 0..<x.count { out.data[i] = f(x.data[i]) }
    out.record([x]) { g in
        let gx = x.gradBuffer()
        for i in 0..<x.count { gx[i] += g[i] * derivative(x.data[i], out.data[i]) }
    }
    return out
}

/// exp(x); d/dx = exp(x).
public func exp(_ x: Tensor) -> Tensor { unary(x, { fastExp($0) }, { _, y in y }) }
/// log(x); d/dx = 1/x.
public func log(_ x: Tensor) -> Tensor { unary(x, { logf($0) }, { x, _ in 1 / x }) }
/// tanh(x); d/dx = 1 − tanh².
public func tanh(_ x: Tensor) -> Tensor { unary(x, { tanhf($0) }, { _, y in 1 - y * y }) }
/// σ(x) = 1/(1+e^−x); d/dx = σ(1−σ).
public func sigmoid(_ x: Tensor) -> Tensor { unary(x, { fastSigmoid($0) }, { _, y in y * (1 - y) }) }
/// max(x, 0); d/dx = [x > 0].
public func relu(_ x: Tensor) -> Tensor { unary(x, { max($0, 0) }, { x, _ in x > 0 ? 1 : 0 }) }
/// x²; d/dx = 2x.
public func square(_ x: Tensor) -> Tensor { unary(x, { $0 * $0 }, { x, _ in 2 * x }) }
/// √x; d/dx = 1/(2√x).
public func sqrt(_ x: Tensor) -> Tensor { unary(x, { $0.squareRoot() }, { _, y in 0.5 / y }) }

/// SiLU (swish): x·σ(x); d/dx = σ(x)·(1 + x·(1 − σ(x))).
public func silu(_ x: Tensor) -> Tensor {
    Profiler.measure("elementwise") { siluForward(x) }
}

private func siluForward(_ x: Tensor) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let (src, dst) = (x.data, out.data)
    parallelRanges(x.count) { range in
        for i in range { dst[i] = src[i] / (1 + fastExp(-src[i])) }
    }
    out.record([x]) { g in
        let gx = x.gradBuffer()
        parallelRanges(x.count) { range in
            for i in range {
                let s = fastSigmoid(src[i])
                gx[i] += g[i] * s * (1 + src[i] * (1 - s))
            }
        }
    }
    return out
}

/// SwiGLU's gate, fused: y = silu(gate) ⊙ up = gate·σ(gate)·up, both [..., F].
/// One pass forward and one backward instead of three ops and two temporaries, with the same
/// float operations in the same order as `silu(gate) * up`, so the numbers are identical:
///   dgate = dy·up·σ(gate)·(1 + gate·(1 − σ(gate))),   dup = dy·silu(gate).
public func swiglu(gate: Tensor, up: Tensor) -> Tensor {
    Profiler.measure("swiglu") { swigluForward(gate, up) }
}

private func swigluForward(_ gate: Tensor, _ up: Tensor) -> Tensor {
    precondition(gate.shape == up.shape, "swiglu: gate \(gate.shape) and up \(up.shape) differ")
    let out = Tensor(uninitialized: gate.shape)
    let (g, u, y) = (gate.data, up.data, out.data)
    parallelRanges(gate.count) { range in
        for i in range { y[i] = g[i] / (1 + fastExp(-g[i])) * u[i] }
    }
    out.record([gate, up]) { dy in
        // Both gradients starting here (the usual case: gate and up come from their own products) are
        // filled, not zeroed and added to (`gradBufferToFill`); a shared tensor or one gradient already
        // there takes the adding path.
        let fill = gate.requiresGrad && up.requiresGrad && gate !== up && gate.grad == nil && up.grad == nil
        let dg = gate.requiresGrad ? (fill ? gate.gradBufferToFill().pointer : gate.gradBuffer()) : nil
        let du = up.requiresGrad ? (fill ? up.gradBufferToFill().pointer : up.gradBuffer()) : nil
        parallelRanges(gate.count) { range in
            swigluBackward(dy, g, u, dg, du, range, fill: fill)
        }
    }
    return out
}

/// dgate += dy·up·σ·(1 + gate·(1 − σ)) and dup += dy·silu(gate) over `range` (either may be nil);
/// with `fill` (both given, both new) each is written as 0 + its term: the same bits, no read.
@inline(__always)
private func swigluBackward(_ dy: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ u: UnsafePointer<Float>,
                            _ dg: UnsafeMutablePointer<Float>?, _ du: UnsafeMutablePointer<Float>?,
                            _ range: Range<Int>, fill: Bool) {
    @inline(__always) func terms(_ i: Int) -> (gate: Float, up: Float) {
        let e = fastExp(-g[i]), s = 1 / (1 + e)
        return (dy[i] * u[i] * s * (1 + g[i] * (1 - s)), dy[i] * (g[i] / (1 + e)))
    }
    if let dg, let du, fill {
        for i in range { let t = terms(i); dg[i] = 0 + t.gate; du[i] = 0 + t.up }
    } else if let dg, let du {
        for i in range { let t = terms(i); dg[i] += t.gate; du[i] += t.up }
    } else if let dg {
        for i in range {
            let s = fastSigmoid(g[i])
            dg[i] += dy[i] * u[i] * s * (1 + g[i] * (1 - s))
        }
    } else if let du {
        for i in range { du[i] += dy[i] * (g[i] / (1 + fastExp(-g[i]))) }
    }
}

/// GELU, exact (erf) form as PyTorch's default: x·Φ(x) = ½x(1 + erf(x/√2));
/// d/dx = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π).
public func gelu(_ x: Tensor) -> Tensor {
    unary(x, { 0.5 * $0 * (1 + erff($0 * 0.70710678118654752)) }, { x, _ in
        0.5 * (1 + erff(x * 0.70710678118654752)) + x * fastExp(-0.5 * x * x) * 0.39894228040143268
    })
}
