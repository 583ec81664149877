import BorderlineCore
import Foundation

/// One slice's plane and grid as a plane file stores it: enough to evaluate exactly the same
/// pixels again (on the same or on another model) without an attack or an image choice.
public struct StoredSlicePlane {
    /// The slice's name (`adversarial`, `adversarial-local`, `images`, `church-adversarial`,
    /// `church-random`, `third-point-<strategy>`).
    public var name: String
    /// Origin `o` (x1) and orthonormal basis `u`, `v`, float32 as the grid uses them.
    public var plane: SlicePlane
    /// The rectangle the grid covers, in plane coordinates (float64).
    public var rectangle: SliceRectangle
    public var rows: Int
    public var columns: Int
    /// Labelled points drawn on the slice (x1, x2, x3 of slices through three anchors).
    public var markers: [SliceMarker]
    /// x1, x2, x3 (slices through three anchors; nil for windows).
    public var anchors: [[Float]]?
    /// Church windows evaluate every pixel at its point clamped to the box.
    public var projectOntoBox: Bool

    public init(name: String, plane: SlicePlane, rectangle: SliceRectangle, rows: Int, columns: Int, markers: [SliceMarker],
                anchors: [[Float]]?, projectOntoBox: Bool) {
        self.name = name
        self.plane = plane
        self.rectangle = rectangle
        self.rows = rows
        self.columns = columns
        self.markers = markers
        self.anchors = anchors
        self.projectOntoBox = projectOntoBox
    }

    public init(_ slice: ComputedSlice, anchors: [[Float]]?, projectOntoBox: Bool) {
        self.init(name: slice.name, plane: slice.plane, rectangle: slice.grid.rectangle, rows: slice.grid.rows, columns: slice.grid.columns,
                  markers: slice.markers, anchors: anchors, projectOntoBox: projectOntoBox)
    }
}

/// The plane file of `slices.plane-out` / `slices.plane-in` (HDF5, docs/slices.md "Fixed planes").
///
/// Layout: root attributes `format = "borderline-slice-planes"`, `version = 1`, `sample_shape`;
/// one group `pair_<s>_<t>` per class pair (attributes `source`, `target`, `slices`: the slice
/// names in order) holding one group per slice with `basis` [3, D] float32 (o, u, v),
/// `rectangle` [a_min, a_max, b_min, b_max] float64, `grid` [rows, columns] int64,
/// `marker_coordinates` [M, 2] float64 (attribute `labels`), optional `anchors` [3, D] float32, and
/// the attribute `project_onto_box` (0/1).
public enum SlicePlaneFile {
    public static let format = "borderline-slice-planes"

    static func groupName(_ pair: ClassPair) -> String { "pair_\(pair.source)_\(pair.target)" }

    /// Writes `slices` as the group of `pair`: creates the file when `create` (replacing any file
    /// there), else adds to it (replacing the pair's group if the file has one).
    public static func write(_ slices: [StoredSlicePlane], pair: ClassPair, sampleShape: [Int], to path: String, create: Bool) throws {
        let file = try create || !FileManager.default.fileExists(atPath: path) ? HDF5File.create(path) : HDF5File.openForUpdate(path)
        defer { try? file.close() }
        let root = try file.root()
        if !root.hasAttribute("format") {
            try root.setAttribute("format", string: format)
            try root.setAttribute("version", int: 1)
            try root.setAttribute("sample_shape", ints: sampleShape)
        } else {
            let stored = try root.intArrayAttribute("sample_shape")
            guard stored == sampleShape else {
                throw BorderlineError(.shapeMismatch, "plane file holds planes for inputs of shape \(stored); this run's are \(sampleShape)", file: path)
            }
        }
        let name = groupName(pair)
        if root.contains(name) { try root.remove(name) }
        let group = try root.createGroup(name)
        try group.setAttribute("source", int: pair.source)
        try group.setAttribute("target", int: pair.target)
        try group.setAttribute("slices", strings: slices.map(\.name))
        for s in slices {
            let g = try group.createGroup(s.name)
            let d = s.plane.dimension
            try g.writeTensor(Tensor(shape: [3, d], scalars: s.plane.origin + s.plane.u + s.plane.v), name: "basis")
            try g.writeDoubles([s.rectangle.aRange.lowerBound, s.rectangle.aRange.upperBound, s.rectangle.bRange.lowerBound, s.rectangle.bRange.upperBound],
                               name: "rectangle")
            try g.writeInt64s([Int64(s.rows), Int64(s.columns)], name: "grid")
            try g.writeDoubles(s.markers.flatMap { [$0.a, $0.b] }, shape: [s.markers.count, 2], name: "marker_coordinates")
            try g.dataset("marker_coordinates").setAttribute("labels", strings: s.markers.map(\.label))
            if let anchors = s.anchors {
                try g.writeTensor(Tensor(shape: [anchors.count, d], scalars: anchors.flatMap { $0 }), name: "anchors")
            }
            try g.setAttribute("project_onto_box", int: s.projectOntoBox ? 1 : 0)
        }
        try file.flush()
    }

    /// The pairs a plane file holds.
    public static func pairs(in path: String) throws -> [ClassPair] {
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        let root = try file.root()
        return try root.memberNames().compactMap { n -> ClassPair? in
            guard root.kind(of: n) == .group else { return nil }
            let g = try root.group(n)
            guard g.hasAttribute("source"), g.hasAttribute("target") else { return nil }
            return ClassPair(try g.intAttribute("source"), try g.intAttribute("target"))
        }
    }

    /// The planes of `pair`, in the order they were written.
    /// - Throws: a ``BorderlineError`` naming the file when it is missing or not a plane file, holds
    ///   planes for another input shape, has no group for the pair (listing the pairs it has), or a
    ///   slice's arrays have the wrong shapes.
    public static func read(_ path: String, pair: ClassPair, sampleShape: [Int]) throws -> [StoredSlicePlane] {
        let file = try HDF5File.open(path)
        defer { try? file.close() }
        let root = try file.root()
        guard root.hasAttribute("format"), try root.stringAttribute("format") == format else {
            throw BorderlineError(.unreadableFile, "is not a slices plane file (no root attribute format = \"\(format)\"); write one with --set slices.plane-out=PATH", file: path)
        }
        let stored = try root.intArrayAttribute("sample_shape")
        guard stored == sampleShape else {
            throw BorderlineError(.shapeMismatch, "holds planes for inputs of shape \(stored); the run's classifier takes \(sampleShape)", file: path)
        }
        let name = groupName(pair)
        guard root.kind(of: name) == .group else {
            let have = try pairs(in: path).map { "\($0.source):\($0.target)" }
            throw BorderlineError(.missingEntry, "has no planes for pair \(pair.source):\(pair.target) (group /\(name)); it has \(have.isEmpty ? "no pairs" : "pairs " + have.joined(separator: ", "))", file: path)
        }
        let group = try root.group(name)
        let d = Tensor.count(of: sampleShape)
        return try group.stringArrayAttribute("slices").map { sliceName in
            guard group.kind(of: sliceName) == .group else {
                throw BorderlineError(.missingEntry, "group /\(name)/\(sliceName) listed in the pair's slices is missing", file: path)
            }
            let g = try group.group(sliceName)
            let where_ = "/\(name)/\(sliceName)"
            let basis = try g.readTensor("basis")
            guard basis.shape == [3, d] else {
                throw BorderlineError(.shapeMismatch, "\(where_)/basis has shape \(basis.shape); expected [3, \(d)] (o, u, v)", file: path)
            }
            let plane: SlicePlane
            do {
                plane = try SlicePlane(origin: Array(basis.scalars[0..<d]), u: Array(basis.scalars[d..<(2 * d)]), v: Array(basis.scalars[(2 * d)...]),
                                       sampleShape: sampleShape)
            } catch let e as BorderlineError {
                throw BorderlineError(e.kind, "\(where_): \(e.message)", file: path)
            }
            let r = try g.dataset("rectangle").readDoubles()
            guard r.count == 4, r.allSatisfy(\.isFinite), r[0] < r[1], r[2] < r[3] else {
                throw BorderlineError(.invalidConfiguration, "\(where_)/rectangle is \(r); expected [a_min, a_max, b_min, b_max] with a_min < a_max, b_min < b_max", file: path)
            }
            let grid = try g.readInt64s("grid").values
            guard grid.count == 2, grid.allSatisfy({ (2...4096).contains($0) }) else {
                throw BorderlineError(.invalidConfiguration, "\(where_)/grid is \(grid); expected [rows, columns], each 2…4096", file: path)
            }
            let m = try g.dataset("marker_coordinates")
            let coordinates = try m.readDoubles()
            let labels = m.hasAttribute("labels") ? try m.stringArrayAttribute("labels") : []
            guard coordinates.count == 2 * labels.count else {
                throw BorderlineError(.shapeMismatch, "\(where_)/marker_coordinates has \(coordinates.count) values for \(labels.count) labels", file: path)
            }
            let markers = labels.indices.map { SliceMarker(label: labels[$0], a: coordinates[2 * $0], b: coordinates[2 * $0 + 1]) }
            var anchors: [[Float]]?
            if g.kind(of: "anchors") == .dataset {
                let a = try g.readTensor("anchors")
                guard a.rank == 2, a.shape[1] == d else {
                    throw BorderlineError(.shapeMismatch, "\(where_)/anchors has shape \(a.shape); expected [3, \(d)]", file: path)
                }
                anchors = (0..<a.shape[0]).map { Array(a.scalars[($0 * d)..<(($0 + 1) * d)]) }
            }
            let project = g.hasAttribute("project_onto_box") ? try g.intAttribute("project_onto_box") != 0 : false
            return StoredSlicePlane(name: sliceName, plane: plane, rectangle: SliceRectangle(aRange: r[0]...r[1], bRange: r[2]...r[3]),
                                    rows: Int(grid[0]), columns: Int(grid[1]), markers: markers, anchors: anchors, projectOntoBox: project)
        }
    }
}
