import CBLAS

/// Principal component analysis: the eigenvectors of the sample covariance of `[n, d]` rows
/// (LAPACK `ssyevd`, covariance by one `sgemm`), largest variance first.
///
/// `fit` centres the rows, forms C = XcᵀXc / (n − 1) and keeps the `components` leading
/// eigenvectors. Each axis's sign is fixed so that its largest-magnitude entry is positive
/// (eigenvectors are defined up to sign; this makes projections reproducible across LAPACK
/// builds). `transform` projects rows: (x − mean)·axesᵀ.
public struct PCA: Sendable {
    /// Mean of the fitted rows, `[d]`.
    public let mean: [Float]
    /// The principal axes, row-major `[k, d]`, unit length, largest variance first.
    public let axes: [Float]
    /// Variance along each axis (the covariance's eigenvalues), `[k]`, descending.
    public let variances: [Float]
    public let dimension: Int
    public var componentCount: Int { variances.count }

    public init(mean: [Float], axes: [Float], variances: [Float]) {
        self.mean = mean
        self.axes = axes
        self.variances = variances
        self.dimension = mean.count
    }

    /// Fits `components` axes to the rows of `x` (`[n, d]` or `[n] + sampleShape`, flattened).
    public static func fit(_ x: Tensor, components k: Int) throws -> PCA {
        let n = x.batchSize, d = x.sampleCount
        guard n >= 2 else { throw BorderlineError(.invalidArgument, "PCA needs at least 2 rows, got \(n)") }
        guard k >= 1, k <= d else { throw BorderlineError(.invalidArgument, "PCA: components must be in 1…\(d) for \(d)-dimensional rows, got \(k)") }
        var mean = [Float](repeating: 0, count: d)
        var centred = x.scalars
        guard centred.allSatisfy({ $0.isFinite }) else { throw BorderlineError(.nonFiniteValues, "PCA: the rows contain NaN or infinite values") }
        for r in 0..<n { for c in 0..<d { mean[c] += centred[r * d + c] } }
        for c in 0..<d { mean[c] /= Float(n) }
        for r in 0..<n { for c in 0..<d { centred[r * d + c] -= mean[c] } }
        // Row-major C = Xcᵀ Xc / (n − 1) is symmetric, so column-major LAPACK sees the same matrix.
        var cov = [Float](repeating: 0, count: d * d)
        centred.withUnsafeBufferPointer { a in
            cov.withUnsafeMutableBufferPointer { c in
                BLAS.gemm(transA: true, m: d, n: d, k: n, alpha: 1 / Float(n - 1), a: a.baseAddress!, lda: d,
                          b: a.baseAddress!, ldb: d, c: c.baseAddress!, ldc: d)
            }
        }
        var w = [Float](repeating: 0, count: d)
        var jobz: CChar = 86 /* V */, uplo: CChar = 85 /* U */
        var nn = Int32(d), lda = Int32(d), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workQuery: Float = 0, iworkQuery: Int32 = 0
        ssyevd_(&jobz, &uplo, &nn, &cov, &lda, &w, &workQuery, &lwork, &iworkQuery, &liwork, &info)
        guard info == 0 else { throw BorderlineError(.nonFiniteValues, "PCA: LAPACK ssyevd workspace query failed (info \(info))") }
        lwork = Int32(workQuery.rounded(.up)); liwork = max(1, iworkQuery)
        var work = [Float](repeating: 0, count: Int(max(1, lwork)))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        ssyevd_(&jobz, &uplo, &nn, &cov, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw BorderlineError(.nonFiniteValues, "PCA: LAPACK ssyevd failed to converge (info \(info))") }
        // Column-major eigenvectors: eigenvector j is cov[j*d ..< (j+1)*d], eigenvalues ascending.
        var axes = [Float](repeating: 0, count: k * d)
        var variances = [Float](repeating: 0, count: k)
        for i in 0..<k {
            let j = d - 1 - i
            var v = Array(cov[(j * d)..<((j + 1) * d)])
            if let big = v.indices.max(by: { abs(v[$0]) < abs(v[$1]) }), v[big] < 0 { v = v.map { -$0 } }
            for c in 0..<d { axes[i * d + c] = v[c] }
            variances[i] = max(0, w[j])
        }
        return PCA(mean: mean, axes: axes, variances: variances)
    }

    /// Projects the rows of `x` (`[n, d]` or `[n] + sampleShape`) onto the axes: `[n, k]`.
    public func transform(_ x: Tensor) throws -> Tensor {
        let n = x.batchSize, d = x.sampleCount, k = componentCount
        guard d == dimension else { throw BorderlineError(.shapeMismatch, "PCA was fitted on \(dimension)-dimensional rows, got \(d)") }
        var centred = x.scalars
        for r in 0..<n { for c in 0..<d { centred[r * d + c] -= mean[c] } }
        var out = [Float](repeating: 0, count: n * k)
        centred.withUnsafeBufferPointer { a in
            axes.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { c in
                    BLAS.gemm(transB: true, m: n, n: k, k: d, a: a.baseAddress!, lda: d, b: b.baseAddress!, ldb: d,
                              c: c.baseAddress!, ldc: k)
                }
            }
        }
        return Tensor(shape: [n, k], scalars: out)
    }
}
