// OptimizerStateStorage.swift — where an optimizer keeps its per-parameter state (AdamW's two
// moments): ordinary heap memory by default, or memory the system may page out
// (`PagedOptimizerState`). The storage only decides where the floats live; the arithmetic is
// the optimizer's and does not change.

/// Memory for optimizer state buffers.
public protocol OptimizerStateStorage: AnyObject {
    /// A zero-filled buffer of `count` floats, valid as long as the storage lives.
    func allocate(count: Int) -> UnsafeMutablePointer<Float>
    /// The optimizer is about to read and write these buffers (allocations of this storage),
    /// all of them together: a paged storage makes room for them under its budget here.
    func willAccess(_ buffers: [(pointer: UnsafeMutablePointer<Float>, count: Int)])
}
