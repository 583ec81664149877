import BorderlineCore
import Foundation

/// Analysis `atlas`: the model's decision boundaries at a glance, from the `random-pair-bisection`
/// sets of every pair of the run and their `boundary-summary` outputs (no model queries).
///
/// For classes r ≠ c (the classes of the run's pairs, sorted):
/// - **success rate**: the share of bisection attempts between images of r and c that reached a
///   point with `|p_r − p_c| < β`, pooled over the sets r→c and c→r (symmetric);
/// - **mean distance** `d[r][c]`: the mean of `‖x* − x_r‖₂` over successful attempts, where `x_r`
///   is the attempt's image of class r (the start of the set r→c, the end of the set c→r) and `x*`
///   the crossing on the segment — an upper bound of the distance from `x_r` to the r/c boundary;
/// - **intruder**: among attempts that failed because the top class at the last midpoint was neither
///   r nor c (a third class's region lies on the segment), the most frequent such class, and the
///   share of all attempts it took (symmetric).
/// Pairs are ranked by the pooled mean distance of both directions (smallest first: the most
/// fragile pairs).
final class BoundaryAtlas: Analysis {
    let name = "atlas"
    let summary = "Class × class heatmaps of bisection success, distance to the boundary and intruding third classes; the most fragile pairs ranked."

    struct Options: PluginOptions {
        @Option(help: "rows of the most-fragile-pairs table", in: 1...10_000)
        var fragilePairs = 10
    }

    /// One unordered pair {r, c} of the ranking.
    struct RankedPair {
        var source: Int
        var target: Int
        var meanDistance: Double
        var successRate: Double
        var intruder: Int
        var intruderShare: Double
    }

    /// The ranking as arrays (results.h5), most fragile first.
    struct Ranking: Encodable {
        var source: [Int]
        var target: [Int]
        var meanDistance: [Double]
        var successRate: [Double]
        var intruder: [Int]
        init(_ pairs: [RankedPair]) {
            source = pairs.map(\.source); target = pairs.map(\.target); meanDistance = pairs.map(\.meanDistance)
            successRate = pairs.map(\.successRate); intruder = pairs.map(\.intruder)
        }
    }

    struct Output: Encodable {
        /// The classes of the matrices' rows and columns.
        var classes: [Int]
        /// `[K, K]` over ``classes`` (NaN: no pair, the diagonal).
        var successRate: [[Double]]
        var meanDistance: [[Double]]
        /// The most frequent intruding class (−1: none) and the share of attempts it took.
        var intruder: [[Int]]
        var intruderShare: [[Double]]
        var ranking: Ranking
        var overallSuccessRate: Double
        var medianDistance: Double
        var highlights: [ResultHighlight]
        var fragile: ResultTable
        var successPicture: ResultPicture?
        var distancePicture: ResultPicture?
        var intruderPicture: ResultPicture?
    }

    static let producer = "bisection/random-pair-bisection"

    func analyse(options: Options, context: RunContext) throws -> Output {
        let summaries = context.outputs(of: BoundarySummary.self).filter { $0.set.producer == BoundaryAtlas.producer }
        let f = context.classifier
        let classes = Set(summaries.flatMap { [$0.pair.source, $0.pair.target] }).sorted()
        let k = classes.count
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($0.element, $0.offset) })
        var attempts = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        var successes = attempts
        var distanceSum = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        var distanceCount = attempts
        var intrusions = [[[Int: Int]]](repeating: [[Int: Int]](repeating: [:], count: k), count: k)
        var allDistances: [Double] = []
        for s in summaries {
            let set = s.set, out = s.output
            guard let a = position[set.pair.source], let b = position[set.pair.target] else { continue }
            let kk = set.probabilities.shape.last ?? 0
            for i in 0..<set.count {
                attempts[a][b] += 1; attempts[b][a] += 1
                if set.succeeded[i] {
                    successes[a][b] += 1; successes[b][a] += 1
                    if i < out.distanceToStart.count, out.distanceToStart[i].isFinite {
                        distanceSum[a][b] += Double(out.distanceToStart[i]); distanceCount[a][b] += 1
                        allDistances.append(Double(out.distanceToStart[i]))
                    }
                    if let end = out.distanceToEnd, i < end.count, end[i].isFinite {
                        distanceSum[b][a] += Double(end[i]); distanceCount[b][a] += 1
                        allDistances.append(Double(end[i]))
                    }
                } else if kk > 0 {
                    // The top class where the attempt stopped; a third class is an intruder.
                    let row = set.probabilities.scalars[(i * kk)..<((i + 1) * kk)]
                    let top = row.indices.max { row[$0] < row[$1] }! - i * kk
                    if top != set.pair.source, top != set.pair.target {
                        intrusions[a][b][top, default: 0] += 1; intrusions[b][a][top, default: 0] += 1
                    }
                }
            }
        }
        var success = [[Double]](repeating: [Double](repeating: .nan, count: k), count: k)
        var distance = success, share = success
        var intruder = [[Int]](repeating: [Int](repeating: -1, count: k), count: k)
        for a in 0..<k {
            for b in 0..<k where a != b && attempts[a][b] > 0 {
                success[a][b] = Double(successes[a][b]) / Double(attempts[a][b])
                if distanceCount[a][b] > 0 { distance[a][b] = distanceSum[a][b] / Double(distanceCount[a][b]) }
                // The most frequent intruder; ties go to the smaller class index.
                if let best = intrusions[a][b].max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }) {
                    intruder[a][b] = best.key
                    share[a][b] = Double(best.value) / Double(attempts[a][b])
                } else {
                    share[a][b] = 0
                }
            }
        }

        // The ranking: unordered pairs by pooled mean distance, smallest first.
        var ranking: [RankedPair] = []
        for a in 0..<k {
            for b in (a + 1)..<k where attempts[a][b] > 0 {
                let n = distanceCount[a][b] + distanceCount[b][a]
                let mean = n > 0 ? (distanceSum[a][b] + distanceSum[b][a]) / Double(n) : .nan
                ranking.append(RankedPair(source: classes[a], target: classes[b], meanDistance: mean, successRate: success[a][b],
                                          intruder: intruder[a][b], intruderShare: share[a][b]))
            }
        }
        ranking.sort { x, y in
            switch (x.meanDistance.isNaN, y.meanDistance.isNaN) {
            case (false, false): return x.meanDistance != y.meanDistance ? x.meanDistance < y.meanDistance : (x.source, x.target) < (y.source, y.target)
            case (false, true): return true
            case (true, false): return false
            case (true, true): return (x.source, x.target) < (y.source, y.target)
            }
        }
        func name(_ c: Int) -> String { f.className(c) }
        func percent(_ v: Double) -> String { v.isFinite ? String(format: "%.0f %%", 100 * v) : "—" }
        let rows = ranking.prefix(options.fragilePairs).enumerated().map { i, r -> [String] in
            let ra = position[r.source]!, rb = position[r.target]!
            return ["\(i + 1)", "\(name(r.source)) ↔ \(name(r.target))", Self.decimal(r.meanDistance), Self.decimal(distance[ra][rb]),
                    Self.decimal(distance[rb][ra]), percent(r.successRate),
                    r.intruder >= 0 ? "\(name(r.intruder)) (\(percent(r.intruderShare)) of attempts)" : "none"]
        }
        let fragile = ResultTable(
            title: "Most fragile pairs: smallest mean L2 distance from an image to the boundary along bisection segments (first \(rows.count) of \(ranking.count))",
            columns: ["rank", "pair", "mean distance", "from the first class's images", "from the second class's images", "bisection success", "most frequent intruder"],
            rows: rows, key: true)

        let total = attempts.enumerated().flatMap { a, row in row.enumerated().filter { $0.offset > a }.map(\.element) }.reduce(0, +)
        let totalSuccesses = successes.enumerated().flatMap { a, row in row.enumerated().filter { $0.offset > a }.map(\.element) }.reduce(0, +)
        let overall = total > 0 ? Double(totalSuccesses) / Double(total) : .nan
        let median = Self.median(allDistances)
        var highlights = [
            ResultHighlight("bisection success rate", value: overall, unit: "%", detail: "\(totalSuccesses) of \(total) attempts over \(ranking.count) pairs"),
            ResultHighlight("median distance to the boundary", value: median, unit: "L2", detail: "image to crossing, \(allDistances.count) crossings"),
        ]
        if let most = ranking.first, most.meanDistance.isFinite {
            highlights.append(ResultHighlight("most fragile pair", value: most.meanDistance, unit: "L2", detail: "\(name(most.source)) ↔ \(name(most.target))"))
        }
        var counts: [Int: Int] = [:]
        for a in 0..<k { for b in (a + 1)..<k { for (c, n) in intrusions[a][b] { counts[c, default: 0] += n } } }
        if let top = counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }), total > 0 {
            highlights.append(ResultHighlight("most frequent intruding class", value: Double(top.value) / Double(total), unit: "%",
                                              detail: "\(name(top.key)) wins on the segment in that share of all attempts"))
        }

        var output = Output(classes: classes, successRate: success, meanDistance: distance, intruder: intruder, intruderShare: share,
                            ranking: Ranking(ranking), overallSuccessRate: overall, medianDistance: median, highlights: highlights, fragile: fragile)
        // Heatmaps need a few classes to say anything.
        guard k >= 3 else { return output }
        let labels = classes.map { "\($0) \(name($0))" }
        var successMap = Heatmap(title: "Bisection success rate", values: success, rowLabels: labels, columnLabels: labels)
        successMap.range = 0...1
        successMap.axes = "symmetric: attempts between images of the two classes"
        output.successPicture = ResultPicture(name: "atlas-success", caption:
            "Share of bisection attempts between correctly classified images of the row and column classes that reached the r/c boundary (|p_r − p_c| < β); grey: no pair.",
            image: try successMap.render(), key: true)
        var distanceMap = Heatmap(title: "Mean distance to the boundary (L2)", values: distance, rowLabels: labels, columnLabels: labels)
        distanceMap.brightLow = true
        distanceMap.axes = "rows: class of the image · columns: class across the boundary"
        output.distancePicture = ResultPicture(name: "atlas-distance", caption:
            "Mean L2 distance from an image of the row class to the crossing with the column class on the bisection segment (an upper bound of its distance to that boundary); bright: close, fragile.",
            image: try distanceMap.render(), key: true)
        var intruderMap = Heatmap(title: "Which third class intrudes", categories: intruder.map { $0.map { $0 >= 0 ? $0 : nil } },
                                  names: (0..<f.classCount).map { "\($0) \(name($0))" }, rowLabels: labels, columnLabels: labels)
        intruderMap.cellText = (0..<k).map { a in (0..<k).map { b in intruder[a][b] >= 0 ? String(format: "%.0f", 100 * share[a][b]) : "" } }
        intruderMap.axes = "symmetric · colour: the intruding class · number: % of attempts"
        output.intruderPicture = ResultPicture(name: "atlas-intruder", caption:
            "The class that most often wins on the segment between images of the row and column classes, so that bisection fails (its colour), and the share of attempts it took (%); white: no third class intruded.",
            image: try intruderMap.render(), key: true)
        return output
    }

    static func decimal(_ v: Double) -> String { v.isFinite ? String(format: "%.3f", v) : "—" }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let s = values.sorted(), n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }
}
