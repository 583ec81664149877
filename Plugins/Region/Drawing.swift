import BorderlineCore
import Foundation

/// The analysis's pictures, drawn with the core's ``Chart`` and ``ImageGrid``.
enum RegionDrawing {
    /// Robust accuracy against the L∞ budget ε: point classifier under PGD, region classifier on
    /// the same examples, region classifier under EOT-PGD against itself.
    static func robustnessCurve(_ c: RobustnessCurve, radius: Float) throws -> PNGImage {
        var chart = Chart(title: "Accuracy vs ε on \(c.images) images (r = \(radius))", xLabel: "ε (L∞)", yLabel: "accuracy", width: 560, height: 360)
        chart.yRange = 0...1
        let x = c.epsilons.map(Double.init)
        chart.line(x: x, y: c.pointAccuracy, label: "point, PGD", colour: Palette.colour(0))
        chart.line(x: x, y: c.regionAccuracy, label: "region, PGD examples", colour: Palette.colour(1))
        if !c.regionAccuracyEOT.isEmpty { chart.line(x: x, y: c.regionAccuracyEOT, label: "region, EOT-PGD (adaptive)", colour: Palette.colour(2)) }
        return try chart.render()
    }

    /// Distance along every direction, directions sorted by distance, coloured by the adjacent
    /// class met (He et al., Figure 4). The dashed rule is `r/√3`, the RMS distance of a uniform
    /// point of the region classifier's hypercube.
    static func directionPlot(_ set: ProbedSet, index i: Int, classNames: [String], maxDistance: Float, radius: Float, title: String) throws -> PNGImage {
        var chart = Chart(title: title, xLabel: "direction (sorted by distance)", yLabel: "RMS distance to boundary", width: 560, height: 360)
        let distances = Array(set.distances.distances(of: i)), classes = Array(set.distances.classes(of: i))
        let order = distances.indices.sorted { distances[$0] < distances[$1] }
        var byClass: [Int: (x: [Double], y: [Double])] = [:]
        for (rank, j) in order.enumerated() {
            byClass[classes[j], default: ([], [])].x.append(Double(rank))
            byClass[classes[j], default: ([], [])].y.append(Double(distances[j]))
        }
        for c in byClass.keys.sorted() {
            let s = byClass[c]!
            if c < 0 {
                chart.scatter(x: s.x, y: s.y, label: "none ≤ t_max", colour: Palette.missing, radius: 1)
            } else {
                chart.scatter(x: s.x, y: s.y, label: c < classNames.count ? classNames[c] : String(c), colour: Palette.colour(c), radius: 1)
            }
        }
        chart.yRange = 0...Double(maxDistance)
        if radius > 0 { chart.horizontalRules = [Double(radius) / 3.0.squareRoot()] }
        return try chart.render()
    }

    /// Mean adjacent-class purity of the top k classes against k, one line per set (Figure 5).
    static func purityCurves(_ sets: [ProbedSet]) throws -> PNGImage {
        var chart = Chart(title: "Adjacent-class purity", xLabel: "k (top classes)", yLabel: "mean purity", width: 560, height: 360)
        for (s, set) in sets.enumerated() {
            chart.line(x: set.meanPurity.indices.map { Double($0 + 1) }, y: set.meanPurity, label: "\(set.name) (\(set.rows.count))", colour: Palette.colour(s))
        }
        chart.yRange = 0...1
        return try chart.render()
    }

    /// Region accuracy on the held-out images against the radius, with the point accuracy.
    static func radiusChart(_ s: RegionClassifier.RadiusSelection) throws -> PNGImage {
        var chart = Chart(title: "Radius selection (held-out images)", xLabel: "radius r (L∞ half-side)", yLabel: "accuracy", width: 560, height: 360)
        chart.line(x: s.radii.map(Double.init), y: s.accuracies, label: "region classifier")
        chart.horizontalRules = [s.pointAccuracy]
        return try chart.render()
    }

    /// Benign images and their adversarials, one row per image, one column per set.
    static func examples(benign: Tensor, rows: [Int], attacks: [AttackEvaluation]) throws -> PNGImage {
        var grid = try ImageGrid(sampleShape: benign.sampleShape, rows: rows.count, columns: 1 + attacks.count, scale: 3)
        for (r, i) in rows.enumerated() {
            grid.set(row: r, column: 0, batch: benign, index: i)
            for (c, a) in attacks.enumerated() { grid.set(row: r, column: c + 1, batch: a.outcome.adversarials, index: i) }
        }
        return try grid.render()
    }
}
