// TorchMean.swift — the float32 mean that PyTorch computes on an x86 CPU, in its summation
// order, so that double quantization's offset (and the JSON that stores it) matches to the bit.
//
// torch.mean(x) = sum(x) / n in float32, where sum is ATen's cascade sum (SumKernel.cpp) with
// float32 accumulators and 8-lane AVX2 vectors:
//   n ≥ 8: the first 8·⌊n/8⌋ values form ⌊n/8⌋ vectors; they are summed lane-wise by `rowSum`
//          (4 interleaved accumulators, each a 4-level cascade of chunks); the scalar tail is
//          summed in order, then the 8 lanes are added to it one by one.
//   n < 8: the scalars themselves go through `rowSum`.
// rowSum(size): accumulator k gets items 4i + k (i < size/4) through the cascade, the leftover
// items go into accumulator 0, then accumulators 1, 2, 3 are added to accumulator 0.
// Above 32,768 values torch splits the sum over its threads, and the last bit then depends on
// their number; this serial order is what it does for smaller tensors.

/// PyTorch's `x.mean()` of a float32 CPU tensor (AVX2 build), bit for bit up to 32,768 values.
public func torchMean(_ x: [Float]) -> Float {
    guard !x.isEmpty else { return .nan }
    return torchSum(x) / Float(x.count)
}

/// PyTorch's float32 `x.sum()` on an AVX2 CPU (see the file comment for the order).
public func torchSum(_ x: [Float]) -> Float {
    let width = 8, n = x.count
    if n < width {
        return 0 + cascadeRowSum(size: n, lanes: 1) { i, _ in x[i] }[0]
    }
    let vectors = n / width
    let lanes = cascadeRowSum(size: vectors, lanes: width) { i, lane in x[i * width + lane] }
    var total: Float = 0
    for k in (vectors * width)..<n { total += x[k] }
    for lane in lanes { total += lane }
    return 0 + total
}

/// ATen's `row_sum` over `size` items, each item `lanes` wide: 4 interleaved cascades, then
/// the leftovers into the first, then the four added together.
private func cascadeRowSum(size: Int, lanes: Int, _ load: (_ item: Int, _ lane: Int) -> Float) -> [Float] {
    let ilp = 4, groups = size / ilp
    var partial = multiRowSum(size: groups, rows: ilp, lanes: lanes) { i, row, lane in load(i * ilp + row, lane) }
    for i in (groups * ilp)..<size { for l in 0..<lanes { partial[0][l] += load(i, l) } }
    for row in 1..<ilp { for l in 0..<lanes { partial[0][l] += partial[row][l] } }
    return partial[0]
}

/// ATen's `multi_row_sum`: `rows` accumulators summed over `size` steps with a 4-level cascade
/// (chunks of 2^p items at the first level, p = max(4, ⌈log₂ size⌉ / 4)), each `lanes` wide.
private func multiRowSum(size: Int, rows: Int, lanes: Int,
                         _ load: (_ step: Int, _ row: Int, _ lane: Int) -> Float) -> [[Float]] {
    let levels = 4
    let ceilLog2 = size <= 2 ? 1 : Int.bitWidth - (size - 1).leadingZeroBitCount
    let power = max(4, ceilLog2 / levels), step = 1 << power, mask = step - 1
    let zero = [[Float]](repeating: [Float](repeating: 0, count: lanes), count: rows)
    var acc = [[[Float]]](repeating: zero, count: levels)
    var i = 0
    while i + step <= size {
        for _ in 0..<step {
            for r in 0..<rows { for l in 0..<lanes { acc[0][r][l] += load(i, r, l) } }
            i += 1
        }
        for j in 1..<levels {
            for r in 0..<rows { for l in 0..<lanes { acc[j][r][l] += acc[j - 1][r][l]; acc[j - 1][r][l] = 0 } }
            if i & (mask << (j * power)) != 0 { break }
        }
    }
    while i < size {
        for r in 0..<rows { for l in 0..<lanes { acc[0][r][l] += load(i, r, l) } }
        i += 1
    }
    for j in 1..<levels { for r in 0..<rows { for l in 0..<lanes { acc[0][r][l] += acc[j][r][l] } } }
    return acc[0]
}
