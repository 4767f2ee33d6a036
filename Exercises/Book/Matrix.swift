// Matrix.swift — the one array type of the exercises: a small row-major matrix of Float, so that
// a student needs no knowledge of the autograd `Tensor` to write an answer.

import TensorKit

/// A matrix of `rows` × `columns` Float values, stored row-major: element (i, j) is
/// `values[i * columns + j]`, rows and columns counted from 0.
public struct Matrix: Equatable, Sendable, CustomStringConvertible {
    public var rows: Int
    public var columns: Int
    /// rows · columns values, row after row.
    public var values: [Float]

    /// A matrix holding `values` (row-major); `values.count` must be `rows * columns`.
    public init(rows: Int, columns: Int, values: [Float]) {
        precondition(rows >= 0 && columns >= 0, "a Matrix needs non-negative sizes, got \(rows) × \(columns)")
        precondition(values.count == rows * columns,
                     "a \(rows) × \(columns) Matrix holds \(rows * columns) values, got \(values.count)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// A `rows` × `columns` matrix with every element equal to `value` (zero by default).
    public init(rows: Int, columns: Int, repeating value: Float = 0) {
        let count = max(rows, 0) * max(columns, 0)
        self.init(rows: rows, columns: columns, values: [Float](repeating: value, count: count))
    }

    /// A matrix from its rows, e.g. `Matrix([[1, 2, 3], [4, 5, 6]])` is 2 × 3.
    public init(_ rowList: [[Float]]) {
        let columns = rowList.first?.count ?? 0
        precondition(rowList.allSatisfy { $0.count == columns }, "every row of a Matrix has the same length")
        self.init(rows: rowList.count, columns: columns, values: rowList.flatMap { $0 })
    }

    /// The 0 × 0 matrix: what the unsolved exercises return.
    public static let empty = Matrix(rows: 0, columns: 0, values: [])

    /// Element (i, j), counted from 0.
    public subscript(i: Int, j: Int) -> Float {
        get { values[i * columns + j] }
        set { values[i * columns + j] = newValue }
    }

    /// [rows, columns], as the exercises write shapes.
    public var shape: [Int] { [rows, columns] }

    /// `[[1.0, 2.0], [3.0, 4.0]]`: each value with the fewest digits that read back as the same Float.
    public var description: String {
        "[" + (0..<rows).map { i in
            "[" + (0..<columns).map { j in self[i, j].description }.joined(separator: ", ") + "]"
        }.joined(separator: ", ") + "]"
    }

    /// The right singular vectors of this matrix, as rows, largest singular value first:
    /// M = U·Σ·Vᵀ, and the result is Vᵀ ([k, columns] with k = min(rows, columns)). Given, for the
    /// subspace-similarity exercise (TensorKit's `SVD`); a singular vector's sign is arbitrary.
    public func rightSingularVectors() -> Matrix {
        let svd = SVD(values, rows: rows, columns: columns)
        return Matrix(rows: svd.k, columns: columns, values: svd.vt.map(Float.init))
    }
}

extension Matrix {
    /// The matrix as a TensorKit tensor of shape [rows, columns] (for the reference solutions).
    var tensor: Tensor { Tensor(shape: [rows, columns], values: values) }

    /// A [rows, columns] matrix from a tensor of that many elements.
    init(_ tensor: Tensor, rows: Int, columns: Int) {
        self.init(rows: rows, columns: columns, values: tensor.array)
    }
}
