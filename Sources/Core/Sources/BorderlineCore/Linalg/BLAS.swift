import CBLAS

/// Thin, typed wrappers over OpenBLAS. All heavy arithmetic in Borderline funnels through here,
/// so threading and kernel choices are made in one place.
public enum BLAS {
    /// `C = alpha · op(A) · op(B) + beta · C`, row-major. `op(A)` is `m×k`, `op(B)` is `k×n`.
    @inlinable
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if beta == 0 { c.update(repeating: 0, count: (m - 1) * ldc + n) }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of OpenBLAS threads (the library's own pool).
    public static func setThreadCount(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// The kernel family OpenBLAS picked for this CPU (e.g. "Haswell", "SkylakeX").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS's kernel families that use AVX-512 (the host re-executes into them on AVX-512 CPUs;
    /// ``ComputePolicy/denseThreading`` chooses by them).
    public static let avx512KernelFamilies: Set<String> = ["SkylakeX", "Cooperlake", "SapphireRapids"]

    /// Whether OpenBLAS runs one of its AVX-512 kernel families.
    public static var usesAVX512Kernels: Bool { avx512KernelFamilies.contains(coreName) }
}
