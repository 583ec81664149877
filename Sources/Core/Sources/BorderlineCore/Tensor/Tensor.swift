/// A dense, row-major, batch-first array of `Float`.
///
/// `Tensor` is a value type: its storage is a Swift `Array`, so copies share memory until one
/// of them is written (copy-on-write). Image batches are laid out NCHW; a dense batch is
/// `[batch, features]`. Hot loops work on `withUnsafe…BufferPointer` views, never on the
/// bounds-checked subscript, so no per-element allocation or check happens there.
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`.
    public var scalars: [Float] {
        didSet { precondition(scalars.count == Tensor.count(of: shape), "Tensor: scalar count changed") }
    }

    /// Creates a tensor from its shape and row-major elements.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition(scalars.count == Tensor.count(of: shape),
                     "Tensor: \(scalars.count) scalars do not fill shape \(shape)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of the given shape filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: Tensor.count(of: shape)))
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// A tensor whose elements are written once by `initializer`; the buffer starts uninitialised,
    /// so the closure must write every element.
    public init(shape: [Int], unsafeUninitialized initializer: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let n = Tensor.count(of: shape)
        let scalars = [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            initializer(buffer)
            initialized = n
        }
        self.init(shape: shape, scalars: scalars)
    }

    /// The number of elements a shape holds.
    @inlinable public static func count(of shape: [Int]) -> Int { shape.reduce(1, *) }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }
    /// The leading (batch) dimension.
    public var batchSize: Int { shape.first ?? 1 }
    /// The shape of one sample: every dimension after the batch.
    public var sampleShape: [Int] { Array(shape.dropFirst()) }
    /// Elements per sample.
    public var sampleCount: Int { shape.isEmpty ? 1 : Tensor.count(of: Array(shape.dropFirst())) }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.count(of: newShape) == count, "Tensor: cannot reshape \(shape) to \(newShape)")
        var t = self
        t.shape = newShape
        return t
    }

    /// Rows `range` of the leading dimension.
    public func slice(batch range: Range<Int>) -> Tensor {
        precondition(range.lowerBound >= 0 && range.upperBound <= batchSize, "Tensor: batch range \(range) outside 0..<\(batchSize)")
        let per = sampleCount
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape, scalars: Array(scalars[(range.lowerBound * per)..<(range.upperBound * per)]))
    }

    /// Selected rows of the leading dimension, in the order given.
    public func gather(batch indices: [Int]) -> Tensor {
        let per = sampleCount
        var newShape = shape
        newShape[0] = indices.count
        return Tensor(shape: newShape) { out in
            scalars.withUnsafeBufferPointer { src in
                for (row, index) in indices.enumerated() {
                    precondition(index >= 0 && index < batchSize, "Tensor: batch index \(index) outside 0..<\(batchSize)")
                    (out.baseAddress! + row * per).update(from: src.baseAddress! + index * per, count: per)
                }
            }
        }
    }

    /// Joins tensors along the leading dimension; all must share the sample shape.
    public static func concatenate(batches parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty, "Tensor.concatenate: no tensors")
        let sample = parts[0].sampleShape
        precondition(parts.allSatisfy { $0.sampleShape == sample }, "Tensor.concatenate: sample shapes differ")
        var scalars: [Float] = []
        scalars.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for p in parts { scalars.append(contentsOf: p.scalars) }
        return Tensor(shape: [parts.reduce(0) { $0 + $1.batchSize }] + sample, scalars: scalars)
    }

    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeBufferPointer(body)
    }

    @inlinable public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try scalars.withUnsafeMutableBufferPointer(body)
    }

    public var description: String {
        let head = scalars.prefix(8).map { String(format: "%.5g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > 8 ? ", …" : "")])"
    }
}

import Foundation
