import BorderlineCore
import Foundation

/// Metric `boundary-summary`, for any boundary set: how many attempts succeeded, how undecided
/// the classifier is at the points (`|p_s − p_t|`), how many steps the prober took, and how far
/// the points lie from where the attempts started (and ended, for two-point probers), plus a
/// picture of start / boundary / end images for the first successful attempts.
///
/// Distances are Euclidean in input space, `‖x* − x₀‖₂`; means are over successful attempts
/// (NaN, shown as "—", when none succeeded), except `mean_iterations` (all attempts).
final class BoundarySummary: Metric {
    let name = "boundary-summary"
    let summary = "Success rate, |p_s − p_t|, steps and distances from the start (and end) points; picture of start/boundary/end images."
    let options: [PluginOption] = [
        .integer("grid-rows", default: 6, in: 0...50, help: "successful attempts shown in the picture (0: no picture)"),
    ]

    static func distances(_ x: Tensor, _ y: Tensor) -> [Float] {
        let d = x.sampleCount
        return (0..<x.batchSize).map { r in
            var s: Float = 0
            for j in 0..<d { let v = x.scalars[r * d + j] - y.scalars[r * d + j]; s += v * v }
            return s.squareRoot()
        }
    }

    func evaluate(_ set: BoundarySet, context: RunContext) throws -> MetricResult {
        let ok = set.successfulIndices
        func mean(_ values: [Float], over rows: [Int]) -> Double {
            rows.isEmpty ? .nan : rows.reduce(0.0) { $0 + Double(values[$1]) } / Double(rows.count)
        }
        let gaps = set.probabilityGaps
        let toStart = BoundarySummary.distances(set.points, set.startPoints)
        var numbers: [(name: String, value: Double)] = [
            ("attempts", Double(set.count)),
            ("successes", Double(ok.count)),
            ("success_rate", set.count == 0 ? .nan : Double(ok.count) / Double(set.count)),
            ("mean_gap", mean(gaps, over: ok)),
            ("mean_iterations", set.count == 0 ? .nan : Double(set.iterations.reduce(0, +)) / Double(set.count)),
            ("mean_distance_to_start", mean(toStart, over: ok)),
        ]
        var arrays: [(name: String, value: Tensor)] = [
            ("gap", Tensor(shape: [set.count], scalars: gaps)),
            ("distance_to_start", Tensor(shape: [set.count], scalars: toStart)),
        ]
        if let end = set.endPoints {
            let toEnd = BoundarySummary.distances(set.points, end)
            let segment = BoundarySummary.distances(end, set.startPoints)
            numbers.append(("mean_distance_to_end", mean(toEnd, over: ok)))
            numbers.append(("mean_segment_length", mean(segment, over: ok)))
            arrays.append(("distance_to_end", Tensor(shape: [set.count], scalars: toEnd)))
        }
        numbers.append(("model_queries", Double(set.queries)))

        var tables: [ResultTable] = []
        let failures = set.failureHistogram
        if !failures.isEmpty {
            tables.append(ResultTable(title: "Failed attempts by reason", columns: ["reason", "attempts"],
                                      rows: failures.map { [$0.reason, "\($0.count)"] }))
        }
        var pictures: [ResultPicture] = []
        let rows = min(try context.options.int("grid-rows"), ok.count)
        if rows > 0, ImageGrid.canDraw(set.points.sampleShape) {
            let columns = set.endPoints == nil ? 2 : 3
            var grid = try ImageGrid(sampleShape: set.points.sampleShape, rows: rows, columns: columns, scale: 2)
            for (r, i) in ok.prefix(rows).enumerated() {
                grid.set(row: r, column: 0, batch: set.startPoints, index: i)
                grid.set(row: r, column: 1, batch: set.points, index: i)
                if let end = set.endPoints { grid.set(row: r, column: 2, batch: end, index: i) }
            }
            let names = context.classifier.classNames
            let s = set.pair.source < names.count ? names[set.pair.source] : "\(set.pair.source)"
            let t = set.pair.target < names.count ? names[set.pair.target] : "\(set.pair.target)"
            pictures.append(ResultPicture(name: "grid", caption:
                "Each row one successful attempt: start image (\(s)), boundary point" + (columns == 3 ? ", end image (\(t))." : ".") +
                " Made by \(set.producer).", image: try grid.render()))
        }
        return MetricResult(numbers: numbers, arrays: arrays, tables: tables, pictures: pictures)
    }
}
