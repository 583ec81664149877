import BorderlineCore
import Foundation

/// One computed slice: the plane, its exact feasible polygon, the rectangle drawn, the grid and
/// the classifier's decision on it (and a second model's, when asked).
public struct ComputedSlice {
    public var name: String
    public var plane: SlicePlane
    public var polygon: FeasiblePolygon
    public var grid: SliceGrid
    public var mask: [Bool]
    public var decision: SliceDecision
    /// Labelled points drawn on the slice, with their plane coordinates.
    public var markers: [SliceMarker]
    /// Wall-clock seconds of the whole slice: polygon, rectangle, mask, building the points and
    /// the classifier's evaluation.
    public var evaluationSeconds: Double
}

/// Builds slices: Definition 1 rectangles through three points, windows around a point, and
/// the evaluation of their feasible pixels.
public struct SliceMaker {
    public var rows: Int
    public var columns: Int
    public var batchSize: Int
    /// The input box slices are cut from (the classifier's ``Classifier/inputBox``).
    public var box: InputBox
    public var checkStop: () throws -> Void
    public var progress: (String, Int, Int) -> Void

    public init(rows: Int = 512, columns: Int = 512, batchSize: Int = 4096, box: InputBox = .unit,
                checkStop: @escaping () throws -> Void = {}, progress: @escaping (String, Int, Int) -> Void = { _, _, _ in }) {
        self.rows = rows
        self.columns = columns
        self.batchSize = batchSize
        self.box = box
        self.checkStop = checkStop
        self.progress = progress
    }

    /// The slice through three anchors (Definition 1): the plane through them, its polygon in the
    /// box, and the polygon's bounding rectangle with one side along `x2 − x1` — or, with
    /// `window`, that square window of the same plane (a local view).
    public func slice(_ name: String, anchors: [(label: String, point: [Float])], sampleShape: [Int],
                      classifier: any Classifier, window: SliceRectangle? = nil) throws -> ComputedSlice {
        guard anchors.count == 3 else { throw BorderlineError(.invalidArgument, "slices: a slice needs three anchors, got \(anchors.count)") }
        let plane = try SlicePlane(through: anchors[0].point, anchors[1].point, anchors[2].point, sampleShape: sampleShape)
        let markers = anchors.map { a -> SliceMarker in
            let c = plane.coordinates(of: a.point)
            return SliceMarker(label: a.label, a: c.a, b: c.b)
        }
        return try evaluate(name, plane: plane, markers: markers, classifier: classifier, window: window)
    }

    /// Evaluates a plane on `window` (or on the polygon's Definition-1 rectangle when nil).
    /// With `projectOntoBox`, every pixel is evaluated at its point clamped to the box (the
    /// projection onto the box, as church-window plots usually do) instead of only the
    /// feasible ones; `mask` still says which pixels are feasible.
    public func evaluate(_ name: String, plane: SlicePlane, markers: [SliceMarker], classifier: any Classifier,
                         window: SliceRectangle? = nil, projectOntoBox: Bool = false) throws -> ComputedSlice {
        let started = Date()
        let polygon = FeasiblePolygon(plane: plane, box: box)
        guard let rectangle = window ?? polygon.boundingBox else {
            throw BorderlineError(.invalidArgument, "slices: the plane of slice '\(name)' does not meet the box \(box) (the model's input box)")
        }
        let grid = try SliceGrid(plane: plane, rectangle: rectangle, rows: rows, columns: columns)
        let mask = grid.feasibleMask(polygon)
        let evaluated = projectOntoBox ? [Bool](repeating: true, count: grid.pixelCount) : mask
        let decision = try SliceDecision.evaluate(classifier, grid: grid, mask: evaluated, box: box, batchSize: batchSize,
                                                  checkStop: checkStop) { done, total in progress(name, done, total) }
        return ComputedSlice(name: name, plane: plane, polygon: polygon, grid: grid, mask: mask, decision: decision,
                             markers: markers, evaluationSeconds: Date().timeIntervalSince(started))
    }

    /// The classifier's probabilities at `count` evenly spaced points of each segment between
    /// consecutive anchors (`x1→x2`, `x2→x3`, `x3→x1`), built in plane coordinates (the segments lie
    /// in the plane and, the box being convex, in the box).
    public func profiles(_ slice: ComputedSlice, classifier: any Classifier, count: Int) throws -> [(name: String, probabilities: Tensor)] {
        let m = slice.markers
        guard m.count == 3, count >= 2 else { return [] }
        return try [(0, 1), (1, 2), (2, 0)].map { (i, j) in
            let coordinates = (0..<count).map { q -> (a: Double, b: Double) in
                let t = Double(q) / Double(count - 1)
                return (m[i].a + t * (m[j].a - m[i].a), m[i].b + t * (m[j].b - m[i].b))
            }
            let p = try classifier.probabilities(slice.plane.points(coordinates: coordinates, box: box))
            return ("\(m[i].label) → \(m[j].label)", p)
        }
    }
}
