import BorderlineCore
import Foundation

/// The exact intersection of a ``SlicePlane`` with the input box `∏ᵢ [loᵢ, hiᵢ]` (the model's
/// ``InputBox``, one bound pair or one per channel), a convex polygon in plane coordinates.
///
/// **Maths.** The point `o + a·u + b·v` lies in the box iff for every coordinate `i`
/// `loᵢ ≤ oᵢ + a·uᵢ + b·vᵢ ≤ hiᵢ`: `2·D` half-planes `uᵢa + vᵢb ≤ hiᵢ − oᵢ` and
/// `−uᵢa − vᵢb ≤ oᵢ − loᵢ` in the `(a, b)` plane. Their intersection is convex. It is computed by
/// Sutherland–Hodgman clipping: start from a square that surely holds it (every feasible point is
/// within `‖o − c‖ + ‖hi − lo‖/2` of `o`, `c` the box centre) and clip it by each half-plane in
/// turn, `O(D · vertices)`. Coordinates where `uᵢ = vᵢ = 0` give no half-plane; if such an `oᵢ`
/// is outside `[loᵢ, hiᵢ]` the polygon is empty.
public struct FeasiblePolygon: Sendable {
    /// Vertices in order (counter-clockwise), plane coordinates `(a, b)`; empty when the plane
    /// misses the box.
    public let vertices: [(a: Double, b: Double)]

    public var isEmpty: Bool { vertices.count < 3 }

    public init(vertices: [(a: Double, b: Double)]) { self.vertices = vertices }

    /// Intersects the plane with the box.
    public init(plane: SlicePlane, box: InputBox = .unit) {
        let d = plane.dimension
        let (lower, upper) = box.elementBounds(sampleShape: plane.sampleShape)
        var centreDistance = 0.0, diagonal = 0.0
        for i in 0..<d {
            let r = Double(plane.origin[i]) - (lower[i] + upper[i]) / 2, w = upper[i] - lower[i]
            centreDistance += r * r
            diagonal += w * w
        }
        let radius = centreDistance.squareRoot() + diagonal.squareRoot() / 2 + 1
        var polygon: [(a: Double, b: Double)] = [(-radius, -radius), (radius, -radius), (radius, radius), (-radius, radius)]
        for i in 0..<d where !polygon.isEmpty {
            let ui = Double(plane.u[i]), vi = Double(plane.v[i]), oi = Double(plane.origin[i]), lo = lower[i], hi = upper[i]
            if ui == 0 && vi == 0 {
                if oi < lo || oi > hi { polygon = [] }
                continue
            }
            polygon = FeasiblePolygon.clip(polygon, p: ui, q: vi, r: hi - oi)       // u a + v b ≤ hi − o
            polygon = FeasiblePolygon.clip(polygon, p: -ui, q: -vi, r: oi - lo)     // −u a − v b ≤ o − lo
        }
        vertices = FeasiblePolygon.withoutRepeats(polygon, scale: radius)
    }

    /// Drops vertices within `1e-12 · scale` of the previous one (clipping through a vertex
    /// repeats it); fewer than three distinct vertices make an empty polygon (a point or segment).
    static func withoutRepeats(_ polygon: [(a: Double, b: Double)], scale: Double) -> [(a: Double, b: Double)] {
        let eps = 1e-12 * scale
        var out: [(a: Double, b: Double)] = []
        for p in polygon {
            if let last = out.last, abs(last.a - p.a) <= eps, abs(last.b - p.b) <= eps { continue }
            out.append(p)
        }
        while out.count > 1, let first = out.first, let last = out.last, abs(last.a - first.a) <= eps, abs(last.b - first.b) <= eps { out.removeLast() }
        return out.count >= 3 ? out : []
    }

    /// Sutherland–Hodgman: the part of a convex polygon with `p·a + q·b ≤ r`.
    static func clip(_ polygon: [(a: Double, b: Double)], p: Double, q: Double, r: Double) -> [(a: Double, b: Double)] {
        guard !polygon.isEmpty else { return [] }
        var out: [(a: Double, b: Double)] = []
        out.reserveCapacity(polygon.count + 1)
        var previous = polygon[polygon.count - 1]
        var previousValue = p * previous.a + q * previous.b - r
        for current in polygon {
            let value = p * current.a + q * current.b - r
            if value <= 0 {
                if previousValue > 0 { out.append(intersection(previous, previousValue, current, value)) }
                out.append(current)
            } else if previousValue <= 0 {
                out.append(intersection(previous, previousValue, current, value))
            }
            previous = current
            previousValue = value
        }
        return out
    }

    private static func intersection(_ s: (a: Double, b: Double), _ fs: Double, _ e: (a: Double, b: Double), _ fe: Double) -> (a: Double, b: Double) {
        let t = fs / (fs - fe)
        return (s.a + t * (e.a - s.a), s.b + t * (e.b - s.b))
    }

    /// The axis-aligned bounding box in plane coordinates: the slice rectangle of Definition 1
    /// (the smallest rectangle with one side parallel to `u`, i.e. to `x2 − x1`, that holds the
    /// polygon).
    public var boundingBox: SliceRectangle? {
        guard !isEmpty else { return nil }
        return SliceRectangle(aRange: vertices.map(\.a).min()!...vertices.map(\.a).max()!,
                              bRange: vertices.map(\.b).min()!...vertices.map(\.b).max()!)
    }

    /// Area (shoelace formula).
    public var area: Double {
        guard !isEmpty else { return 0 }
        var s = 0.0
        for i in vertices.indices {
            let p = vertices[i], q = vertices[(i + 1) % vertices.count]
            s += p.a * q.b - q.a * p.b
        }
        return abs(s) / 2
    }

    /// Whether `(a, b)` is inside or on the polygon (the vertices are counter-clockwise; the
    /// clipping keeps the orientation of the starting square).
    public func contains(a: Double, b: Double, tolerance: Double = 0) -> Bool {
        guard !isEmpty else { return false }
        for i in vertices.indices {
            let p = vertices[i], q = vertices[(i + 1) % vertices.count]
            let cross = (q.a - p.a) * (b - p.b) - (q.b - p.b) * (a - p.a)
            let length = ((q.a - p.a) * (q.a - p.a) + (q.b - p.b) * (q.b - p.b)).squareRoot()
            if cross < -tolerance * length { return false }
        }
        return true
    }

    /// The interval of `a` where the horizontal line at `b` meets the polygon, or nil.
    public func span(atB b: Double) -> ClosedRange<Double>? {
        guard !isEmpty else { return nil }
        var low = Double.infinity, high = -Double.infinity
        for i in vertices.indices {
            let p = vertices[i], q = vertices[(i + 1) % vertices.count]
            if (p.b <= b && b <= q.b) || (q.b <= b && b <= p.b) {
                if p.b == q.b {
                    low = min(low, p.a, q.a); high = max(high, p.a, q.a)
                } else {
                    let a = p.a + (b - p.b) / (q.b - p.b) * (q.a - p.a)
                    low = min(low, a); high = max(high, a)
                }
            }
        }
        return low <= high ? low...high : nil
    }
}

/// An axis-aligned rectangle in plane coordinates: `a ∈ aRange` (along `u`), `b ∈ bRange`.
public struct SliceRectangle: Sendable, Equatable {
    public var aRange: ClosedRange<Double>
    public var bRange: ClosedRange<Double>
    public init(aRange: ClosedRange<Double>, bRange: ClosedRange<Double>) {
        self.aRange = aRange
        self.bRange = bRange
    }
    /// The square of half-width `halfWidth` centred at `(a, b)` (a local view or church window).
    public static func window(centre: (a: Double, b: Double), halfWidth: Double) -> SliceRectangle {
        SliceRectangle(aRange: (centre.a - halfWidth)...(centre.a + halfWidth), bRange: (centre.b - halfWidth)...(centre.b + halfWidth))
    }
    public var width: Double { aRange.upperBound - aRange.lowerBound }
    public var height: Double { bRange.upperBound - bRange.lowerBound }
}

extension InputBox {
    /// The bounds of every element of one sample of shape `sampleShape` (element `i` lies in
    /// channel `i / (D / C)` when the box has `C` per-channel bounds).
    func elementBounds(sampleShape: [Int]) -> (lower: [Double], upper: [Double]) {
        let d = sampleShape.reduce(1, *), c = isUniform ? 1 : channelCount
        let block = max(1, d / max(1, c))
        var lower = [Double](repeating: 0, count: d), upper = [Double](repeating: 0, count: d)
        for i in 0..<d {
            let (lo, hi) = bounds(channel: min(c - 1, i / block))
            lower[i] = Double(lo)
            upper[i] = Double(hi)
        }
        return (lower, upper)
    }
}
