import CBLAS

/// Orthonormal bases by Householder QR (LAPACK `sgeqrf` + `sorgqr`).
///
/// `n` vectors of length `m` stored one after another (row-major `[n, m]`) are, for column-major
/// LAPACK, the columns of an `m × n` matrix `A`. Its thin QR factorisation `A = QR` gives `Q`
/// (`m × n`, `QᵀQ = I`) whose columns span the same space; column `j` is the Gram–Schmidt
/// orthonormalisation of the first `j + 1` vectors up to sign. The result is stored the same
/// way: vector `j` at `[j·m, (j+1)·m)`.
public enum Orthonormalization {
    /// The orthonormalised vectors (row-major `[n, m]`, each of unit L2 norm, pairwise orthogonal).
    /// - Throws: `.invalidArgument` unless `1 ≤ n ≤ m` and `vectors.count == n·m`;
    ///   `.nonFiniteValues` for NaN/∞ input or a LAPACK failure.
    public static func qr(_ vectors: [Float], count n: Int, length m: Int) throws -> [Float] {
        guard n >= 1, m >= 1, n <= m else {
            throw BorderlineError(.invalidArgument, "QR orthonormalisation needs 1 ≤ count ≤ length, got \(n) vectors of length \(m)")
        }
        guard vectors.count == n * m else {
            throw BorderlineError(.invalidArgument, "QR orthonormalisation: expected \(n) × \(m) = \(n * m) values, got \(vectors.count)")
        }
        guard vectors.allSatisfy({ $0.isFinite }) else {
            throw BorderlineError(.nonFiniteValues, "QR orthonormalisation: the vectors contain NaN or infinite values")
        }
        var a = vectors
        var tau = [Float](repeating: 0, count: n)
        var mm = Int32(m), nn = Int32(n), kk = Int32(n), lda = Int32(m), info: Int32 = 0
        var query: Float = 0, lwork: Int32 = -1
        sgeqrf_(&mm, &nn, &a, &lda, &tau, &query, &lwork, &info)
        guard info == 0 else { throw BorderlineError(.nonFiniteValues, "QR: LAPACK sgeqrf workspace query failed (info \(info))") }
        lwork = max(1, Int32(query.rounded(.up)))
        var work = [Float](repeating: 0, count: Int(lwork))
        sgeqrf_(&mm, &nn, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw BorderlineError(.nonFiniteValues, "QR: LAPACK sgeqrf failed (info \(info))") }
        lwork = -1
        sorgqr_(&mm, &nn, &kk, &a, &lda, &tau, &query, &lwork, &info)
        guard info == 0 else { throw BorderlineError(.nonFiniteValues, "QR: LAPACK sorgqr workspace query failed (info \(info))") }
        lwork = max(1, Int32(query.rounded(.up)))
        if Int(lwork) > work.count { work = [Float](repeating: 0, count: Int(lwork)) }
        sorgqr_(&mm, &nn, &kk, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw BorderlineError(.nonFiniteValues, "QR: LAPACK sorgqr failed (info \(info))") }
        return a
    }

    /// `n` random orthonormal vectors of length `m`: the QR basis of a seeded standard Gaussian
    /// `[n, m]` matrix (uniformly distributed on the Stiefel manifold up to column signs).
    public static func randomBasis(count n: Int, length m: Int, random: inout RandomGenerator) throws -> [Float] {
        guard n >= 1, m >= 1, n <= m else {
            throw BorderlineError(.invalidArgument, "random orthonormal basis needs 1 ≤ count ≤ length, got \(n) vectors of length \(m)")
        }
        var g = [Float](repeating: 0, count: n * m)
        for i in g.indices { g[i] = random.nextNormal() }
        return try qr(g, count: n, length: m)
    }
}
