import Foundation

/// Small vector kernels for reductions that the compiler will not vectorise on its own
/// (IEEE addition is not associative, so a plain `sum += p[i]` loop stays one scalar chain).
public enum VectorKernels {
    /// `Σ p[i]` for `i < count`, accumulated in 8 independent lanes (then across lanes), about
    /// 8× faster than a scalar loop. The summation order differs from left-to-right, so
    /// results can differ from it in the last bits.
    @inlinable
    public static func sum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = acc.sum()
        while i < count { total += p[i]; i += 1 }
        return total
    }

    /// `Σ a[i]·b[i]` for `i < count`, in 8 lanes like ``sum(_:count:)``.
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = acc.sum()
        while i < count { total += a[i] * b[i]; i += 1 }
        return total
    }

    /// Writes `e^{z_j − m}` of one row into `out` with `m = max_j z_j` (so large scores cannot
    /// overflow) and returns `m` and `Σ_j e^{z_j − m}` — the shared first half of softmax and of
    /// log-sum-exp.
    @inlinable
    public static func shiftedExp(_ z: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) -> (max: Float, sum: Float) {
        var m = -Float.infinity
        for j in 0..<count { m = Swift.max(m, z[j]) }
        var sum: Float = 0
        for j in 0..<count { let e = Foundation.exp(z[j] - m); out[j] = e; sum += e }
        return (m, sum)
    }

    /// `out_j = e^{z_j − m} / Σ_k e^{z_k − m}` for one row (see ``shiftedExp(_:into:count:)``).
    @inlinable
    public static func softmax(_ z: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        let inv = 1 / shiftedExp(z, into: out, count: count).sum
        for j in 0..<count { out[j] *= inv }
    }
}
