import BorderlineCore
import Foundation

/// A 2-D affine plane in input space, `x(a, b) = o + a·u + b·v`, with orthonormal `u`, `v`.
///
/// **Maths.** Through three inputs `x1, x2, x3` (flattened to `ℝ^D`) the plane has origin
/// `o = x1` and the Gram–Schmidt basis `u = (x2 − x1)/‖x2 − x1‖`,
/// `v = w/‖w‖` with `w = (x3 − x1) − ⟨x3 − x1, u⟩u`. The plane coordinates of a point `x` of the
/// plane are `(⟨x − o, u⟩, ⟨x − o, v⟩)`; `x1` is `(0, 0)` and `x2` is `(‖x2 − x1‖, 0)`, so the
/// first axis runs along `x2 − x1` (the side of the slice rectangle of Definition 1 of the paper).
/// Computed in double precision and stored as `Float`.
public struct SlicePlane: Sendable {
    /// `o`, `u`, `v`, each of length `D`.
    public let origin: [Float]
    public let u: [Float]
    public let v: [Float]
    /// The input shape (without the batch dimension) the plane lives in.
    public let sampleShape: [Int]

    public var dimension: Int { origin.count }

    /// A plane from an origin and two directions, orthonormalised by Gram–Schmidt (`u` along
    /// `first`).
    /// - Throws: `.invalidArgument` when the directions are zero, not finite or (numerically)
    ///   parallel — the three points then do not span a plane.
    public init(origin: [Float], first: [Float], second: [Float], sampleShape: [Int]) throws {
        let d = origin.count
        guard d > 0, first.count == d, second.count == d, Tensor.count(of: sampleShape) == d else {
            throw BorderlineError(.shapeMismatch, "slice plane: origin and directions must have \(Tensor.count(of: sampleShape)) values (shape \(sampleShape)), got \(origin.count), \(first.count), \(second.count)")
        }
        let a = first.map(Double.init), b = second.map(Double.init)
        let na = SlicePlane.norm(a)
        guard na.isFinite, na > 1e-9 else {
            throw BorderlineError(.invalidArgument, "slice plane: the first direction (x2 − x1) has length \(na); the first two points must differ")
        }
        let ua = a.map { $0 / na }
        var dot = 0.0
        for i in 0..<d { dot += b[i] * ua[i] }
        var w = b
        for i in 0..<d { w[i] -= dot * ua[i] }
        let nw = SlicePlane.norm(w)
        let nb = SlicePlane.norm(b)
        guard nw.isFinite, nw > 1e-6 * max(1, nb) else {
            throw BorderlineError(.invalidArgument, "slice plane: the third point lies on the line through the first two (its component orthogonal to x2 − x1 has length \(nw)); choose another third point")
        }
        self.origin = origin
        self.u = ua.map(Float.init)
        self.v = w.map { Float($0 / nw) }
        self.sampleShape = sampleShape
    }

    /// The plane through three inputs (each one sample of `sampleShape`).
    public init(through x1: [Float], _ x2: [Float], _ x3: [Float], sampleShape: [Int]) throws {
        guard x2.count == x1.count, x3.count == x1.count else {
            throw BorderlineError(.shapeMismatch, "slice plane: the three points have \(x1.count), \(x2.count) and \(x3.count) values")
        }
        try self.init(origin: x1, first: zip(x2, x1).map { $0 - $1 }, second: zip(x3, x1).map { $0 - $1 }, sampleShape: sampleShape)
    }

    /// A plane from a stored origin and orthonormal basis, taken bit for bit (no Gram–Schmidt:
    /// a plane read back from a plane file reproduces the same grid points exactly).
    /// - Throws: `.shapeMismatch` for lengths that differ from the shape's, `.invalidArgument` when
    ///   a value is not finite or `u`, `v` are not orthonormal (to 1e-3).
    public init(origin: [Float], u: [Float], v: [Float], sampleShape: [Int]) throws {
        let d = Tensor.count(of: sampleShape)
        guard d > 0, origin.count == d, u.count == d, v.count == d else {
            throw BorderlineError(.shapeMismatch, "slice plane: origin and basis must have \(d) values (shape \(sampleShape)), got \(origin.count), \(u.count), \(v.count)")
        }
        guard (origin + u + v).allSatisfy(\.isFinite) else {
            throw BorderlineError(.invalidArgument, "slice plane: the stored origin or basis has a value that is not finite")
        }
        var uu = 0.0, vv = 0.0, uv = 0.0
        for i in 0..<d { uu += Double(u[i]) * Double(u[i]); vv += Double(v[i]) * Double(v[i]); uv += Double(u[i]) * Double(v[i]) }
        guard abs(uu - 1) < 1e-3, abs(vv - 1) < 1e-3, abs(uv) < 1e-3 else {
            throw BorderlineError(.invalidArgument, "slice plane: the stored basis is not orthonormal (‖u‖² = \(uu), ‖v‖² = \(vv), ⟨u, v⟩ = \(uv))")
        }
        self.origin = origin
        self.u = u
        self.v = v
        self.sampleShape = sampleShape
    }

    /// The angle in degrees between a direction `d` and the plane, `θ = arccos(‖P d‖ / ‖d‖)` with
    /// `P` the orthogonal projection onto span(u, v), `‖P d‖² = ⟨d, u⟩² + ⟨d, v⟩²` (double
    /// precision): 0 when `d` lies in the plane, 90 when it is orthogonal to it. NaN for `d = 0`.
    public func angle(to d: [Float]) -> Double {
        precondition(d.count == origin.count, "angle: the direction has \(d.count) values, the plane \(origin.count)")
        var du = 0.0, dv = 0.0, dd = 0.0
        for i in 0..<d.count {
            let x = Double(d[i])
            du += x * Double(u[i]); dv += x * Double(v[i]); dd += x * x
        }
        guard dd > 0, dd.isFinite else { return .nan }
        let ratio = min(1, ((du * du + dv * dv) / dd).squareRoot())
        return acos(ratio) * 180 / Double.pi
    }

    static func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// Plane coordinates `(⟨x − o, u⟩, ⟨x − o, v⟩)` of `x` (its orthogonal projection onto the plane).
    public func coordinates(of x: [Float]) -> (a: Double, b: Double) {
        var a = 0.0, b = 0.0
        for i in 0..<origin.count {
            let r = Double(x[i]) - Double(origin[i])
            a += r * Double(u[i]); b += r * Double(v[i])
        }
        return (a, b)
    }

    /// The input `o + a·u + b·v` (double-precision accumulation).
    public func point(a: Double, b: Double) -> [Float] {
        (0..<origin.count).map { Float(Double(origin[$0]) + a * Double(u[$0]) + b * Double(v[$0])) }
    }

    /// The inputs at many plane coordinates in one sgemm: row `n` of the result is
    /// `o + aₙ·u + bₙ·v`, i.e. `[1 aₙ bₙ] · [o; u; v]` (an `N × 3` by `3 × D` product), clamped to
    /// `box` (the coordinates are exact feasible points; the clamp only removes float rounding
    /// of order 1e-7 at the polygon's edge).
    public func points(coordinates: [(a: Double, b: Double)], box: InputBox? = nil) -> Tensor {
        let n = coordinates.count, d = origin.count
        var coefficients = [Float](repeating: 1, count: n * 3)
        for (i, c) in coordinates.enumerated() {
            coefficients[i * 3 + 1] = Float(c.a); coefficients[i * 3 + 2] = Float(c.b)
        }
        let basis = origin + u + v
        var points = Tensor(shape: [n] + sampleShape) { o in
            coefficients.withUnsafeBufferPointer { c in
                basis.withUnsafeBufferPointer { m in
                    BLAS.gemm(m: n, n: d, k: 3, a: c.baseAddress!, lda: 3, b: m.baseAddress!, ldb: d, c: o.baseAddress!, ldc: d)
                }
            }
        }
        box?.clamp(&points)
        return points
    }
}
