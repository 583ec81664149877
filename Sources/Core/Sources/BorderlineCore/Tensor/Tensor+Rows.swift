import CBLAS

extension Tensor {
    /// `‖xᵢ‖₂` of every row `i` (sample) of the batch.
    public func rowNorms() -> [Float] {
        let n = batchSize, d = sampleCount
        return withUnsafeBufferPointer { p in
            (0..<n).map { r in cblas_snrm2(Int32(d), p.baseAddress! + r * d, 1) }
        }
    }

    /// `xᵢ ← xᵢ + αᵢ·yᵢ` for every row `i`: one scale per sample (0 leaves the row alone).
    public mutating func addScaledRows(_ y: Tensor, by alphas: [Float]) {
        precondition(y.shape == shape, "addScaledRows: shapes \(y.shape) and \(shape) differ")
        precondition(alphas.count == batchSize, "addScaledRows: \(alphas.count) scales for \(batchSize) rows")
        let d = sampleCount
        y.withUnsafeBufferPointer { yp in
            withUnsafeMutableBufferPointer { xp in
                for (r, a) in alphas.enumerated() where a != 0 {
                    cblas_saxpy(Int32(d), a, yp.baseAddress! + r * d, 1, xp.baseAddress! + r * d, 1)
                }
            }
        }
    }
}
