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
    struct Options: PluginOptions {
        @Option(help: "successful attempts shown in the picture (0: no picture)", in: 0...50)
        var gridRows = 6
    }

    /// What the metric gives for one set (summary.json keys in snake case: `success_rate`, …).
    struct Output: Encodable {
        var attempts: Int
        var successes: Int
        var successRate: Double
        var meanGap: Double
        var meanIterations: Double
        var meanDistanceToStart: Double
        var meanDistanceToEnd: Double?
        var meanSegmentLength: Double?
        var modelQueries: Int
        var gap: [Float]
        var distanceToStart: [Float]
        var distanceToEnd: [Float]?
        var failures: ResultTable?
        var grid: ResultPicture?
    }

    static func distances(_ x: Tensor, _ y: Tensor) -> [Float] {
        let d = x.sampleCount
        return (0..<x.batchSize).map { r in
            var s: Float = 0
            for j in 0..<d { let v = x.scalars[r * d + j] - y.scalars[r * d + j]; s += v * v }
            return s.squareRoot()
        }
    }

    func evaluate(_ set: BoundarySet, options: Options, context: RunContext) throws -> Output {
        let ok = set.successfulIndices
        func mean(_ values: [Float], over rows: [Int]) -> Double {
            rows.isEmpty ? .nan : rows.reduce(0.0) { $0 + Double(values[$1]) } / Double(rows.count)
        }
        let gaps = set.probabilityGaps
        let toStart = BoundarySummary.distances(set.points, set.startPoints)
        var output = Output(
            attempts: set.count, successes: ok.count,
            successRate: set.count == 0 ? .nan : Double(ok.count) / Double(set.count),
            meanGap: mean(gaps, over: ok),
            meanIterations: set.count == 0 ? .nan : Double(set.iterations.reduce(0, +)) / Double(set.count),
            meanDistanceToStart: mean(toStart, over: ok),
            modelQueries: set.queries, gap: gaps, distanceToStart: toStart)
        if let end = set.endPoints {
            let toEnd = BoundarySummary.distances(set.points, end)
            output.meanDistanceToEnd = mean(toEnd, over: ok)
            output.meanSegmentLength = mean(BoundarySummary.distances(end, set.startPoints), over: ok)
            output.distanceToEnd = toEnd
        }
        let failures = set.failureHistogram
        if !failures.isEmpty {
            output.failures = ResultTable(title: "Failed attempts by reason", columns: ["reason", "attempts"],
                                          rows: failures.map { [$0.reason, "\($0.count)"] })
        }
        let rows = min(options.gridRows, ok.count)
        if rows > 0, ImageGrid.canDraw(set.points.sampleShape) {
            let columns = set.endPoints == nil ? 2 : 3
            var grid = try ImageGrid(sampleShape: set.points.sampleShape, rows: rows, columns: columns, scale: 2)
            for (r, i) in ok.prefix(rows).enumerated() {
                grid.set(row: r, column: 0, batch: set.startPoints, index: i)
                grid.set(row: r, column: 1, batch: set.points, index: i)
                if let end = set.endPoints { grid.set(row: r, column: 2, batch: end, index: i) }
            }
            let s = context.classifier.className(set.pair.source), t = context.classifier.className(set.pair.target)
            output.grid = ResultPicture(name: "grid", caption:
                "Each row one successful attempt: start image (\(s)), boundary point" + (columns == 3 ? ", end image (\(t))." : ".") +
                " Made by \(set.producer).", image: try grid.render())
        }
        return output
    }
}
