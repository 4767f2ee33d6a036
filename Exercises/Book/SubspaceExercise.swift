// SubspaceExercise.swift — the lesson-rank exercise: the LoRA paper's subspace similarity φ between
// two A matrices, on random pairs and on pairs whose answer is known (nested, identical, the whole
// space).

extension Exercise {
    /// φ(i, j) = ‖Uᵢᵀ·Vⱼ‖²_F / min(i, j).
    static let subspaceSimilarity = Exercise(
        name: "subspace-similarity", title: "Subspace similarity φ(i, j) of two A matrices", lesson: "lesson-rank",
        function: "subspaceSimilarity(_:_:)",
        hint: "Take the right singular vectors of both matrices (rightSingularVectors()); φ(i, j) sums the squared "
            + "dot products of the first i of a's with the first j of b's and divides by min(i, j), with i and j "
            + "counted from 1. lesson-rank, section \"Do r = 8 and r = 64 learn the same directions?\".",
        makeCases: { seed in
            let inputs = Inputs(seed: seed, stream: 8)
            let a3 = inputs.matrix(3, 5), mix = inputs.matrix(2, 3)
            let inside = Matrix(rows: 2, columns: 5, values: (0..<2).flatMap { i in
                (0..<5).map { j in (0..<3).reduce(Float(0)) { $0 + mix[i, $1] * a3[$1, j] } }
            })
            let cases: [(Matrix, Matrix, String)] = [
                (inputs.matrix(2, 6), inputs.matrix(3, 6), "two random matrices, rA ≠ rB"),
                (a3, inside, "b's rows lie in a's row space: φ(3, j) = 1 at i = rA"),
                (a3, a3, "the same matrix twice: φ = 1 everywhere"),
                (inputs.matrix(1, 4), inputs.matrix(1, 4), "rank 1: one value"),
                (inputs.matrix(4, 4), inputs.matrix(2, 4), "a spans the whole space: φ(4, j) = 1"),
            ]
            return cases.map { a, b, note in
                let expected = ReferenceSolutions.subspaceSimilarity(a, b)
                return ExerciseCase("a \(a.shape), b \(b.shape) — \(note)", inputs: ["a = \(a)", "b = \(b)"]) {
                    compare($0.subspaceSimilarity(a, b), expected: expected)
                }
            }
        })

    /// φ against the reference: rA rows of rB values, then the first (i, j) off by more than the tolerance.
    private static func compare(_ got: [[Double]], expected: [[Double]]) -> String? {
        let (ra, rb) = (expected.count, expected.first?.count ?? 0)
        guard got.count == ra, got.allSatisfy({ $0.count == rb }) else {
            let lengths = Set(got.map(\.count)).sorted().map(String.init).joined(separator: " or ")
            return "shape: expected \(ra) × \(rb) (a.rows lists of b.rows values), got "
                + (got.isEmpty ? "an empty array" : "\(got.count) lists of \(lengths) values")
        }
        for i in 0..<ra {
            for j in 0..<rb where !Judge.close(got[i][j], expected[i][j]) {
                return "φ(\(i + 1), \(j + 1)) = result[\(i)][\(j)]: expected \(Judge.text(expected[i][j])), "
                    + "got \(Judge.text(got[i][j])) (tolerance \(Judge.tolerance) relative)"
            }
        }
        return nil
    }
}
