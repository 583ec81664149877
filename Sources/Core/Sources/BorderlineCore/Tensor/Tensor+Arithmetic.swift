import CBLAS

/// Element-wise arithmetic used outside the hot layer kernels (losses, optimisers, probers).
/// Each operation makes one output allocation and runs a single pass over raw pointers.
extension Tensor {
    /// Applies `f` to every element.
    @inlinable public func map(_ f: (Float) -> Float) -> Tensor {
        Tensor(shape: shape) { out in
            scalars.withUnsafeBufferPointer { src in
                for i in 0..<src.count { out[i] = f(src[i]) }
            }
        }
    }

    /// Combines two same-shaped tensors element by element.
    @inlinable public func zip(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "Tensor: shapes \(shape) and \(other.shape) differ")
        return Tensor(shape: shape) { out in
            scalars.withUnsafeBufferPointer { a in
                other.scalars.withUnsafeBufferPointer { b in
                    for i in 0..<a.count { out[i] = f(a[i], b[i]) }
                }
            }
        }
    }

    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.zip(rhs, +) }
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.zip(rhs, -) }
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { lhs.zip(rhs, *) }
    public static func * (lhs: Float, rhs: Tensor) -> Tensor { rhs.map { lhs * $0 } }

    /// `self += alpha * x` through BLAS `saxpy`.
    public mutating func addScaled(_ x: Tensor, by alpha: Float) {
        precondition(shape == x.shape, "Tensor: shapes \(shape) and \(x.shape) differ")
        let n = Int32(count)
        x.scalars.withUnsafeBufferPointer { xp in
            scalars.withUnsafeMutableBufferPointer { yp in
                cblas_saxpy(n, alpha, xp.baseAddress, 1, yp.baseAddress, 1)
            }
        }
    }

    /// Sum of all elements (accumulated in Double for stability).
    public func sum() -> Float {
        scalars.withUnsafeBufferPointer { p in
            var s = 0.0
            for v in p { s += Double(v) }
            return Float(s)
        }
    }

    /// Index of the largest element in each row of a `[batch, n]` tensor.
    public func argmaxRows() -> [Int] {
        let n = sampleCount
        return scalars.withUnsafeBufferPointer { p in
            (0..<batchSize).map { row in
                var best = 0
                var bestValue = p[row * n]
                for j in 1..<max(n, 1) where p[row * n + j] > bestValue {
                    best = j
                    bestValue = p[row * n + j]
                }
                return best
            }
        }
    }

    /// Whether every element is finite.
    public var isFinite: Bool { scalars.withUnsafeBufferPointer { $0.allSatisfy { $0.isFinite } } }
}
