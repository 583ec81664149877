import BorderlineCore
import Foundation

/// A `rows × columns` pixel grid over a rectangle of a plane, and the classifier's decision on it.
///
/// **Maths.** Pixel `(i, j)` (row `i` from the top, column `j` from the left) is the point with
/// plane coordinates `a_j = a_min + (j + ½)·w/columns`, `b_i = b_max − (i + ½)·h/rows` (pixel
/// centres; `a` grows to the right along `x2 − x1`, `b` upwards). A pixel is *feasible*
/// (Definition 2) when its point lies in the box, i.e. inside the ``FeasiblePolygon``; for a
/// convex polygon that is `a_j ∈ span(b_i)`, one interval per row.
public struct SliceGrid: Sendable {
    public let plane: SlicePlane
    public let rectangle: SliceRectangle
    public let rows: Int
    public let columns: Int

    public init(plane: SlicePlane, rectangle: SliceRectangle, rows: Int, columns: Int) throws {
        guard rows >= 2, columns >= 2, rows * columns <= 16_777_216 else {
            throw BorderlineError(.invalidArgument, "slice grid: \(rows) × \(columns) pixels; each side needs at least 2 and the grid at most 4096 × 4096")
        }
        guard rectangle.width > 0, rectangle.height > 0, rectangle.width.isFinite, rectangle.height.isFinite else {
            throw BorderlineError(.invalidArgument, "slice grid: the rectangle \(rectangle.aRange) × \(rectangle.bRange) has no area")
        }
        self.plane = plane
        self.rectangle = rectangle
        self.rows = rows
        self.columns = columns
    }

    public var pixelCount: Int { rows * columns }

    public func a(column j: Int) -> Double { rectangle.aRange.lowerBound + (Double(j) + 0.5) * rectangle.width / Double(columns) }
    public func b(row i: Int) -> Double { rectangle.bRange.upperBound - (Double(i) + 0.5) * rectangle.height / Double(rows) }

    /// The pixel whose cell holds plane point `(a, b)`, or nil outside the rectangle.
    public func pixel(a: Double, b: Double) -> (row: Int, column: Int)? {
        let j = Int(((a - rectangle.aRange.lowerBound) / rectangle.width * Double(columns)).rounded(.down))
        let i = Int(((rectangle.bRange.upperBound - b) / rectangle.height * Double(rows)).rounded(.down))
        guard (0..<rows).contains(i), (0..<columns).contains(j) else { return nil }
        return (i, j)
    }

    /// Feasibility of every pixel (row-major) from the exact polygon.
    public func feasibleMask(_ polygon: FeasiblePolygon) -> [Bool] {
        var mask = [Bool](repeating: false, count: pixelCount)
        for i in 0..<rows {
            guard let span = polygon.span(atB: b(row: i)) else { continue }
            for j in 0..<columns where span.contains(a(column: j)) { mask[i * columns + j] = true }
        }
        return mask
    }

    /// The largest violation of the box at every pixel, `max_k max(lo − x_k, x_k − hi)` (≤ 0 means
    /// feasible), checking every coordinate of every pixel's point — the per-point oracle the
    /// polygon is tested against. Costs `rows · columns · D` and memory for one row of points.
    public func boxViolation(box: InputBox = .unit) -> [Double] {
        let (lo, hi) = box.elementBounds(sampleShape: plane.sampleShape), d = plane.dimension
        var out = [Double](repeating: 0, count: pixelCount)
        for i in 0..<rows {
            let b = self.b(row: i)
            for j in 0..<columns {
                let a = self.a(column: j)
                var worst = -Double.infinity
                for k in 0..<d {
                    let x = Double(plane.origin[k]) + a * Double(plane.u[k]) + b * Double(plane.v[k])
                    worst = max(worst, lo[k] - x, x - hi[k])
                }
                out[i * columns + j] = worst
            }
        }
        return out
    }

    /// The paper's method (Section 2.2): flood fill over 4-neighbours from a feasible seed pixel,
    /// adding pixels for which `isFeasible` holds. For a convex feasible set and a fine enough
    /// grid it finds every feasible pixel.
    public static func floodFill(rows: Int, columns: Int, seed: (row: Int, column: Int), isFeasible: (Int) -> Bool) -> [Bool] {
        var filled = [Bool](repeating: false, count: rows * columns)
        let s = seed.row * columns + seed.column
        guard (0..<rows).contains(seed.row), (0..<columns).contains(seed.column), isFeasible(s) else { return filled }
        var stack = [s]
        filled[s] = true
        while let p = stack.popLast() {
            let i = p / columns, j = p % columns
            for (di, dj) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                let ni = i + di, nj = j + dj
                guard (0..<rows).contains(ni), (0..<columns).contains(nj) else { continue }
                let q = ni * columns + nj
                if !filled[q] && isFeasible(q) { filled[q] = true; stack.append(q) }
            }
        }
        return filled
    }
}

/// What a classifier decides on the feasible pixels of a grid.
public struct SliceDecision: Sendable {
    /// Predicted class per pixel (row-major), −1 outside the feasible polygon.
    public var classes: [Int]
    /// The top probability per pixel, 0 outside.
    public var topProbability: [Float]
    /// Pixels evaluated (the feasible ones, or all with a projection onto the box).
    public var evaluatedCount: Int { classes.lazy.filter { $0 >= 0 }.count }

    /// Evaluates `classifier` on every feasible pixel of `grid` in batches of `batchSize` rows:
    /// each batch of points is one sgemm (``SlicePlane/points(coordinates:box:)``), then one
    /// `probabilities` call. `checkStop` runs before every batch; `progress(done, total)` after.
    public static func evaluate(_ classifier: any Classifier, grid: SliceGrid, mask: [Bool], box: InputBox,
                                batchSize: Int = 4096, checkStop: () throws -> Void = {},
                                progress: (Int, Int) -> Void = { _, _ in }) throws -> SliceDecision {
        let k = classifier.classCount
        var classes = [Int](repeating: -1, count: grid.pixelCount)
        var top = [Float](repeating: 0, count: grid.pixelCount)
        let feasible = mask.indices.filter { mask[$0] }
        var start = 0
        while start < feasible.count {
            try checkStop()
            let end = min(feasible.count, start + max(1, batchSize))
            let pixels = feasible[start..<end]
            let coordinates = pixels.map { (a: grid.a(column: $0 % grid.columns), b: grid.b(row: $0 / grid.columns)) }
            let p = try classifier.probabilities(grid.plane.points(coordinates: coordinates, box: box))
            p.withUnsafeBufferPointer { buffer in
                for (r, pixel) in pixels.enumerated() {
                    var best = 0
                    for c in 1..<k where buffer[r * k + c] > buffer[r * k + best] { best = c }
                    classes[pixel] = best
                    top[pixel] = buffer[r * k + best]
                }
            }
            start = end
            progress(start, feasible.count)
        }
        return SliceDecision(classes: classes, topProbability: top)
    }

    /// Share of pixels feasible in both where the two decisions agree (the IoU-style agreement of
    /// two models' decision regions on one slice); NaN without common feasible pixels.
    public func agreement(with other: SliceDecision) -> Double {
        var both = 0, same = 0
        for (a, b) in zip(classes, other.classes) where a >= 0 && b >= 0 {
            both += 1
            if a == b { same += 1 }
        }
        return both == 0 ? .nan : Double(same) / Double(both)
    }

    /// Per class `c`: `|R_c ∩ R'_c| / |R_c ∪ R'_c|` over feasible pixels (NaN when neither model
    /// predicts `c` anywhere on the slice).
    public func intersectionOverUnion(with other: SliceDecision, classCount: Int) -> [Double] {
        var inter = [Int](repeating: 0, count: classCount), union = [Int](repeating: 0, count: classCount)
        for (a, b) in zip(classes, other.classes) where a >= 0 && b >= 0 {
            if a == b { inter[a] += 1; union[a] += 1 } else { union[a] += 1; union[b] += 1 }
        }
        return (0..<classCount).map { union[$0] == 0 ? .nan : Double(inter[$0]) / Double(union[$0]) }
    }

    /// Connected components of every class's region on a `rows × columns` grid: pixels of class
    /// `c` (feasible pixels only; −1 is outside) joined when they touch by a side or a corner
    /// (8-connectivity). Entry `c` is the number of components of class `c` (0 when it does not occur).
    public func componentsPerClass(rows: Int, columns: Int, classCount: Int) -> [Int] {
        precondition(rows * columns == classes.count, "componentsPerClass: \(rows) × \(columns) is not the decision's \(classes.count) pixels")
        var label = [Bool](repeating: false, count: classes.count)
        var counts = [Int](repeating: 0, count: classCount)
        var stack: [Int] = []
        for start in classes.indices where classes[start] >= 0 && !label[start] {
            let c = classes[start]
            if c < classCount { counts[c] += 1 }
            label[start] = true
            stack.append(start)
            while let p = stack.popLast() {
                let i = p / columns, j = p % columns
                for di in -1...1 {
                    for dj in -1...1 where di != 0 || dj != 0 {
                        let ni = i + di, nj = j + dj
                        guard ni >= 0, ni < rows, nj >= 0, nj < columns else { continue }
                        let q = ni * columns + nj
                        if !label[q] && classes[q] == c { label[q] = true; stack.append(q) }
                    }
                }
            }
        }
        return counts
    }
}
