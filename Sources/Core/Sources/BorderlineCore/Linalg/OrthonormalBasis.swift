import CBLAS

/// Random orthonormal vectors: the Q factor (LAPACK `sgeqrf` + `sorgqr`) of a `d × k` matrix of
/// independent standard normal entries, each column's sign fixed so that `R`'s diagonal is
/// positive. The `k` vectors are then uniformly (Haar) distributed among orthonormal `k`-frames.
public enum OrthonormalBasis {
    /// `count` orthonormal vectors of dimension `dimension`, row-major `[count, dimension]`.
    public static func random(dimension d: Int, count k: Int, generator: inout RandomGenerator) throws -> [Float] {
        guard d >= 1, k >= 0, k <= d else {
            throw BorderlineError(.invalidArgument, "OrthonormalBasis: cannot have \(k) orthonormal vectors in \(d) dimensions")
        }
        guard k > 0 else { return [] }
        // Column-major d × k is row-major [k, d]: column j is vector j.
        var a = generator.normal(shape: [k, d]).scalars
        var m = Int32(d), n = Int32(k), lda = Int32(d), info: Int32 = 0, lwork: Int32 = -1
        var tau = [Float](repeating: 0, count: k)
        var query: Float = 0
        sgeqrf_(&m, &n, &a, &lda, &tau, &query, &lwork, &info)
        guard info == 0 else { throw BorderlineError(.invalidArgument, "OrthonormalBasis: LAPACK sgeqrf workspace query failed (info \(info))") }
        var size = max(Int32(query.rounded(.up)), n)
        var work = [Float](repeating: 0, count: Int(size))
        sgeqrf_(&m, &n, &a, &lda, &tau, &work, &size, &info)
        guard info == 0 else { throw BorderlineError(.nonFiniteValues, "OrthonormalBasis: LAPACK sgeqrf failed (info \(info))") }
        let rSigns = (0..<k).map { a[$0 * d + $0] < 0 ? Float(-1) : 1 }
        lwork = -1
        sorgqr_(&m, &n, &n, &a, &lda, &tau, &query, &lwork, &info)
        guard info == 0 else { throw BorderlineError(.invalidArgument, "OrthonormalBasis: LAPACK sorgqr workspace query failed (info \(info))") }
        size = max(Int32(query.rounded(.up)), n)
        if Int(size) > work.count { work = [Float](repeating: 0, count: Int(size)) }
        sorgqr_(&m, &n, &n, &a, &lda, &tau, &work, &size, &info)
        guard info == 0 else { throw BorderlineError(.nonFiniteValues, "OrthonormalBasis: LAPACK sorgqr failed (info \(info))") }
        for j in 0..<k where rSigns[j] < 0 { for i in j * d..<(j + 1) * d { a[i] = -a[i] } }
        return a
    }
}
