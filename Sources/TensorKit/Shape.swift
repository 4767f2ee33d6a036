// Shape.swift — reshape, permute/transpose, concat and slice; sum and mean over axes.
//
// Every op here moves values without arithmetic, so its backward moves the gradient back
// the same way: reshape copies it, permute applies the inverse permutation, concat splits it,
// slice adds it into the sliced window, sum broadcasts it over the reduced axis.

/// Splits a shape around `axis` as [outer, axis extent, inner].
@inline(__always)
func split(_ shape: [Int], _ axis: Int) -> (outer: Int, n: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
}

@inline(__always)
func normalize(axis: Int, rank: Int) -> Int {
    let a = axis < 0 ? axis + rank : axis
    precondition(a >= 0 && a < rank, "axis \(axis) out of range for rank \(rank)")
    return a
}

extension Tensor {
    /// The same values with a new shape of the same element count; one axis may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var shape = newShape
        if let i = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            shape[i] = known == 0 ? 0 : count / known
        }
        precondition(shape.reduce(1, *) == count, "cannot reshape \(self.shape) to \(newShape)")
        let out = Tensor(uninitialized: shape)
        out.data.update(from: data, count: count)
        out.record([self]) { g in
            let gx = self.gradBuffer()
            for i in 0..<self.count { gx[i] += g[i] }
        }
        return out
    }

    /// Axes reordered: output axis i is input axis `order[i]`.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(order.sorted() == Array(0..<rank), "permutation \(order) for rank \(rank)")
        let outShape = order.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        let strides = order.map { inStrides[$0] }  // input stride of each output axis
        let out = Tensor(uninitialized: outShape)
        let zeros = [Int](repeating: 0, count: rank)
        forEachBroadcastRow(outShape, strides, zeros) { o, ia, _, n, da, _ in
            for j in 0..<n { out.data[o + j] = self.data[ia + j * da] }
        }
        out.record([self]) { g in
            let gx = self.gradBuffer()
            forEachBroadcastRow(outShape, strides, zeros) { o, ia, _, n, da, _ in
                for j in 0..<n { gx[ia + j * da] += g[o + j] }
            }
        }
        return out
    }

    /// Two axes swapped.
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(normalize(axis: a, rank: rank), normalize(axis: b, rank: rank))
        return permuted(order)
    }

    /// The window `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = normalize(axis: axis, rank: rank)
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[axis],
                     "slice \(range) of axis \(axis) with extent \(shape[axis])")
        let (outer, n, inner) = split(shape, axis)
        var outShape = shape; outShape[axis] = range.count
        let out = Tensor(uninitialized: outShape)
        let len = range.count * inner
        for o in 0..<outer {
            (out.data + o * len).update(from: data + (o * n + range.lowerBound) * inner, count: len)
        }
        out.record([self]) { g in
            let gx = self.gradBuffer()
            for o in 0..<outer {
                let dst = gx + (o * n + range.lowerBound) * inner, src = g + o * len
                for i in 0..<len { dst[i] += src[i] }
            }
        }
        return out
    }

    /// The rows `indices` of the tensor read as a matrix [N, C] (every axis but the last
    /// flattened), in that order: [S, C] with S = `indices.count` (an index may repeat). PyTorch's
    /// `x.reshape(-1, C)[indices]`. Backward is a scatter-add: dx[indices[s]] += dy[s].
    public func rows(at indices: [Int]) -> Tensor {
        let c = shape.last ?? 1, n = count / max(c, 1)
        for i in indices { precondition(i >= 0 && i < n, "rows(at:): row \(i) is outside 0..<\(n)") }
        return gatheredRows(indices, shape: [indices.count, c])
    }

    /// `rows(at:)` laid out as `outShape` (whose last axis is C and whose other axes hold the
    /// indices), without checking the indices: the caller has (`embedding` is this gather).
    func gatheredRows(_ indices: [Int], shape outShape: [Int]) -> Tensor {
        let c = shape.last ?? 1
        let out = Tensor(uninitialized: outShape)
        for (s, i) in indices.enumerated() { (out.data + s * c).update(from: data + i * c, count: c) }
        out.record([self]) { g in
            let gx = self.gradBuffer()
            for (s, i) in indices.enumerated() {
                let dst = gx + i * c, src = g + s * c
                for j in 0..<c { dst[j] += src[j] }
            }
        }
        return out
    }

    /// The inverse of `rows(at:)`: a zero tensor of `shape` (read as a matrix [M, C], C its last
    /// axis and this tensor's) whose row `indices[s]` holds row s of this tensor [S, C]. The
    /// indices must be distinct. Backward gathers: dx[s] = dy[indices[s]].
    public func placingRows(at indices: [Int], in shape: [Int]) -> Tensor {
        let c = self.shape.last ?? 1, m = shape.reduce(1, *) / max(c, 1)
        precondition(shape.last == c && indices.count * c == count,
                     "placingRows: \(indices.count) rows of \(self.shape) into \(shape)")
        var taken = [Bool](repeating: false, count: m)
        for i in indices {
            precondition(i >= 0 && i < m, "placingRows(at:in:): row \(i) is outside 0..<\(m)")
            precondition(!taken[i], "placingRows(at:in:): row \(i) is given twice")
            taken[i] = true
        }
        let out = Tensor(zeros: shape)
        for (s, i) in indices.enumerated() { (out.data + i * c).update(from: data + s * c, count: c) }
        out.record([self]) { g in
            let gx = self.gradBuffer()
            for (s, i) in indices.enumerated() {
                let dst = gx + s * c, src = g + i * c
                for j in 0..<c { dst[j] += src[j] }
            }
        }
        return out
    }

    /// The tensor repeated over a new leading batch axis: [n, …] → [batch, n, …] (PyTorch's
    /// `x.unsqueeze(0).expand(batch, …)`). A prompt shared by every row of a batch is one tensor
    /// that trains; each row reads the same values. Backward sums the rows: dx = Σ_b dy[b].
    public func expanded(batch: Int) -> Tensor {
        precondition(batch > 0, "expanded(batch:) needs a positive batch, got \(batch)")
        let out = Tensor(uninitialized: [batch] + shape)
        for b in 0..<batch { (out.data + b * count).update(from: data, count: count) }
        out.record([self]) { g in
            let gx = self.gradBuffer()
            for b in 0..<batch { let src = g + b * self.count; for i in 0..<self.count { gx[i] += src[i] } }
        }
        return out
    }

    /// Sum over `axes`, keeping them as extent 1 when `keepDims`.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let axes = Set(axes.map { normalize(axis: $0, rank: rank) }).sorted(by: >)
        var result = self
        for axis in axes { result = result.sumAxis(axis) }  // keeps dims
        if !keepDims {
            result = result.reshaped(shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))
        }
        return result
    }

    /// Sum of every element, as a one-element tensor.
    public func sum() -> Tensor { reshaped([count]).sumAxis(0) }

    /// Mean over `axes`.
    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let n = axes.map { shape[normalize(axis: $0, rank: rank)] }.reduce(1, *)
        return sum(axes: Array(Set(axes.map { normalize(axis: $0, rank: rank) })), keepDims: keepDims) * (1 / Float(n))
    }

    /// Mean of every element.
    public func mean() -> Tensor { sum() * (1 / Float(count)) }

    /// Sum over one axis, kept with extent 1. y[o, i] = Σ_j x[o, j, i]; dx[o, j, i] = dy[o, i].
    func sumAxis(_ axis: Int) -> Tensor {
        let (outer, n, inner) = split(shape, axis)
        var outShape = shape; outShape[axis] = 1
        let out = Tensor(zeros: outShape)
        for o in 0..<outer {
            let dst = out.data + o * inner
            for j in 0..<n {
                let src = data + (o * n + j) * inner
                for i in 0..<inner { dst[i] += src[i] }
            }
        }
        out.record([self]) { g in
            let gx = self.gradBuffer()
            for o in 0..<outer {
                for j in 0..<n {
                    let dst = gx + (o * n + j) * inner, src = g + o * inner
                    for i in 0..<inner { dst[i] += src[i] }
                }
            }
        }
        return out
    }
}

/// Tensors joined along `axis`; all other extents must agree.
public func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concat of no tensors")
    let first = tensors[0]
    let axis = normalize(axis: axis, rank: first.rank)
    for t in tensors {
        var a = t.shape, b = first.shape
        a[axis] = 0; b[axis] = 0
        precondition(a == b, "concat along axis \(axis): shapes \(t.shape) and \(first.shape) differ elsewhere")
    }
    let (outer, _, inner) = split(first.shape, axis)
    let total = tensors.map { $0.shape[axis] }.reduce(0, +)
    var outShape = first.shape; outShape[axis] = total
    let out = Tensor(uninitialized: outShape)
    var offset = 0
    var offsets: [Int] = []
    for t in tensors {
        offsets.append(offset)
        let len = t.shape[axis] * inner
        for o in 0..<outer {
            (out.data + (o * total + offset) * inner).update(from: t.data + o * len, count: len)
        }
        offset += t.shape[axis]
    }
    out.record(tensors) { g in
        for (t, start) in zip(tensors, offsets) where t.requiresGrad {
            let gx = t.gradBuffer(), len = t.shape[axis] * inner
            for o in 0..<outer {
                let src = g + (o * total + start) * inner, dst = gx + o * len
                for i in 0..<len { dst[i] += src[i] }
            }
        }
    }
    return out
}
