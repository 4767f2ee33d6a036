// QuantizationExercise.swift — the lesson-qlora exercise: NF4 quantization, bit for bit as
// bitsandbytes does it, on random blocks and on the edge cases (a short last block, an odd count,
// an all-zero block, values exactly on a midpoint and just above one).

extension Exercise {
    /// Blockwise absmax scaling, nearest NF4 code (ties to the lower), two codes a byte.
    static let nf4Quantize = Exercise(
        name: "nf4-quantize", title: "NF4 quantization of blocks, as bitsandbytes does it", lesson: "lesson-qlora",
        function: "quantizeNF4(_:blockSize:)",
        hint: "Per block: divide by its absmax, count the NF4 midpoints strictly below each value (that count is the "
            + "code), then pack two codes a byte, the first in the high nibble. lesson-qlora, section \"NF4: sixteen "
            + "values at the quantiles of N(0, 1)\".",
        makeCases: { seed in
            let inputs = Inputs(seed: seed, stream: 4)
            func random(_ n: Int) -> [Float] { (0..<n).map { _ in inputs.value() } }
            let code = NF4.code
            let midpoints = (0..<15).map { (code[$0] + code[$0 + 1]) / 2 }
            var zeroBlock = random(12)
            for i in 4..<8 { zeroBlock[i] = 0 }
            let cases: [(values: [Float], blockSize: Int, note: String)] = [
                (random(8), 8, "one full block"),
                (random(10), 4, "three blocks, the last one short (2 values)"),
                (random(7), 4, "an odd count: the last byte's low nibble is the padding code 7"),
                (zeroBlock, 4, "the middle block is all zero: absmax 0, every code 7"),
                ([1] + midpoints, 16, "ties: values exactly on the midpoints take the lower code"),
                ([-1] + midpoints.map(\.nextUp), 16, "values just above the midpoints take the upper code"),
            ]
            return cases.map { values, blockSize, note in
                let expected = ReferenceSolutions.quantizeNF4(values, blockSize: blockSize)
                let n = values.count, blocks = (n + blockSize - 1) / blockSize
                return ExerciseCase(
                    "\(n) values, blockSize \(blockSize) — \(note)",
                    inputs: ["values = \(values)", "blockSize = \(blockSize)"]
                ) { answers in
                    let got = answers.quantizeNF4(values, blockSize: blockSize)
                    return Judge.exactly(got.absmax, expected: expected.absmax, name: "absmax",
                                         length: "one per block: ⌈\(n) / \(blockSize)⌉ = \(blocks)",
                                         element: { "of block \($0) (elements \(blockRange($0, blockSize, n)))" })
                        ?? Judge.exactly(got.packed, expected: expected.packed, name: "packed",
                                         length: "two codes a byte: (\(n) + 1) / 2 = \((n + 1) / 2)",
                                         element: { "byte \($0) (elements \(2 * $0) and \(2 * $0 + 1))" },
                                         show: byteText)
                }
            }
        })

    /// "4..<8" for block b.
    private static func blockRange(_ b: Int, _ blockSize: Int, _ n: Int) -> String {
        "\(b * blockSize)..<\(min((b + 1) * blockSize, n))"
    }

    /// A byte in hex with its two codes: "0x7A (codes 7 and 10)".
    private static func byteText(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "0x" + (hex.count < 2 ? "0" : "") + hex + " (codes \(byte >> 4) and \(byte & 15))"
    }
}
