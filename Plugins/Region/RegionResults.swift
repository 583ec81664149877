import BorderlineCore
import Foundation

/// The output of the region analysis: the ``RegionAnalysisReport`` with its tables and pictures,
/// filed under the keys docs/region.md lists — numbers in summary.json, arrays in results.h5,
/// tables and pictures in the report. Per attack and per probed set (`benign` and each attack's
/// successful adversarials) the keys carry the name as a prefix (`fgsm_success_rate`,
/// `benign_mean_purity_top1`), as one flat group.
struct RegionResults: Encodable {
    var report: RegionAnalysisReport
    /// `m` of the region classifier.
    var regionSamples: Int
    var tables: [ResultTable]
    var pictures: [ResultPicture]
    /// The section's key numbers (cards at the top of the report section).
    var highlights: [ResultHighlight]

    static func percent(_ v: Double?) -> String { v.map { $0.isNaN ? "—" : String(format: "%.1f %%", 100 * $0) } ?? "—" }

    /// Share of directions meeting a boundary, and the mean distance over those.
    static func boundaryStatistics(_ s: ProbedSet) -> (met: Double, meanDistance: Double) {
        let found = s.distances.classes.filter { $0 >= 0 }.count
        let reached = zip(s.distances.distances, s.distances.classes).filter { $0.1 >= 0 }.map { Double($0.0) }
        return (Double(found) / Double(max(1, s.distances.classes.count)), reached.isEmpty ? .nan : reached.reduce(0, +) / Double(reached.count))
    }

    /// Lays out the report: the slides' Tables 1 and 2 with the detector, the benign accuracy, the
    /// boundary statistics, and the pictures (radius selection, purity, direction plots of the
    /// first `plotImages` attacked images, examples).
    init(_ r: RegionAnalysisReport, settings: RegionAnalysisSettings, classifier: any Classifier, data: Dataset, plotImages: Int) throws {
        report = r
        regionSamples = settings.regionSamples
        let k = classifier.classCount
        var rows = [["benign", "—", "—", Self.percent(r.evaluatedPointAccuracy), Self.percent(r.evaluatedRegionAccuracy), "—", "—", "—", "—"]]
        for a in r.attacks {
            rows.append([a.outcome.name, Self.percent(a.outcome.successRate), String(format: "%.4f", a.outcome.meanRMSDistortion),
                         Self.percent(a.pointAccuracy), Self.percent(a.regionAccuracy), Self.percent(a.regionRecovery), Self.percent(a.regionRecoveryLowDistortion),
                         a.detectionRate.map { Self.percent($0) + " (\(a.heldOutAdversarials))" } ?? "—",
                         a.detectorBenignAccuracy.map { Self.percent($0) + " (\(a.heldOutBenign))" } ?? "—"])
        }
        var tables = [
            ResultTable(title: "Point vs region classification (r = \(r.radius), m = \(settings.regionSamples)) on \(r.evaluatedRows.count) evaluated images; attacks on the \(r.attackedRows.count) the point classifier gets right",
                        columns: ["examples", "attack success", "mean RMS distortion", "point accuracy", "region accuracy",
                                  "region recovers (successful)", "region recovers (low-distortion half)",
                                  "detector: adversarials flagged (held out)", "detector: benign passed (held out)"],
                        rows: rows),
            ResultTable(title: "Benign accuracy on \(r.benignRows.count) images (not held out)", columns: ["point", "region"],
                        rows: [[Self.percent(r.benignPointAccuracy), Self.percent(r.benignRegionAccuracy)]]),
            ResultTable(title: "Boundary distances along \(r.directions.batchSize) random directions and adjacent-class purity",
                        columns: ["examples", "images", "directions meeting a boundary", "mean distance (met)", "purity top-1", "top-2", "top-3"],
                        rows: r.probed.map { s in
                            let b = Self.boundaryStatistics(s)
                            return [s.name, String(s.rows.count), Self.percent(b.met), b.meanDistance.isNaN ? "—" : String(format: "%.4f", b.meanDistance),
                                    String(format: "%.3f", s.meanPurity[0]), String(format: "%.3f", s.meanPurity[min(1, k - 1)]),
                                    String(format: "%.3f", s.meanPurity[min(2, k - 1)])]
                        }),
        ]

        if let c = r.curve {
            tables.append(ResultTable(title: "Accuracy vs ε (L∞) on the \(c.images) evaluated images: PGD-L∞ against the point classifier (\(c.steps) steps, α = ε/10), the region classifier (r = \(r.radius), m = \(settings.regionSamples)) on those examples, and EOT-PGD against the region classifier (\(c.eotSamples) samples per step)",
                                      columns: ["ε", "point accuracy (PGD)", "region accuracy (PGD examples)", "region accuracy (EOT-PGD)"],
                                      rows: c.epsilons.indices.map { i in
                                          [String(format: "%g", Double(c.epsilons[i])), Self.percent(c.pointAccuracy[i]), Self.percent(c.regionAccuracy[i]),
                                           i < c.regionAccuracyEOT.count ? Self.percent(c.regionAccuracyEOT[i]) : "—"]
                                      }))
        }

        var pictures: [ResultPicture] = []
        if let c = r.curve {
            pictures.append(ResultPicture(name: "robustness-curve",
                                          caption: "Accuracy against the L∞ budget ε on \(c.images) images: point classifier under PGD, region classifier on the same examples (transferred) and under EOT-PGD against itself (adaptive).",
                                          image: try RegionDrawing.robustnessCurve(c, radius: r.radius), key: true))
        }
        if let s = r.selection {
            pictures.append(ResultPicture(name: "radius-selection", caption: "Region accuracy on \(r.heldOutRows.count) held-out images against r (m = \(settings.selectionSamples)); dashed: point accuracy. Chosen: the largest r not below it, \(r.radius).",
                                          image: try RegionDrawing.radiusChart(s), key: true))
        }
        pictures.append(ResultPicture(name: "purity", caption: "Mean adjacent-class purity of the top k classes (He et al., Figure 5)", image: try RegionDrawing.purityCurves(r.probed), key: true))
        let shown = Array(0..<min(plotImages, r.attackedRows.count))
        for i in shown {
            for set in r.probed {
                guard let local = set.rows.firstIndex(of: i) else { continue }
                let row = r.attackedRows[i]
                let title = "\(set.name): image \(row) (\(data.className(data.labels[row])))"
                pictures.append(ResultPicture(name: "directions-\(set.name)-\(row)",
                                              caption: "\(title): distance to the boundary along each of \(set.distances.directionCount) directions, coloured by the class met; dashed: r/√3, the RMS distance of a uniform point of the region hypercube",
                                              image: try RegionDrawing.directionPlot(set, index: local, classNames: classifier.classNames,
                                                                                    maxDistance: settings.directions.maxDistance, radius: r.radius, title: title)))
            }
        }
        if !shown.isEmpty, !r.attacks.isEmpty, ImageGrid.canDraw(r.probed[0].images.sampleShape) {
            let lines = shown.map { i -> String in
                "image \(r.attackedRows[i]): " + r.attacks.map { a in
                    a.outcome.succeeded[i] ? String(format: "%@ RMS %.3f", a.outcome.name, a.outcome.rmsDistortion[i]) : "\(a.outcome.name) failed"
                }.joined(separator: ", ")
            }
            pictures.append(ResultPicture(name: "examples", caption: "Columns: benign, " + r.attacks.map(\.outcome.name).joined(separator: ", ") + ". " + lines.joined(separator: "; "),
                                          image: try RegionDrawing.examples(benign: r.probed[0].images, rows: shown, attacks: r.attacks)))
        }
        self.pictures = pictures
        self.tables = tables
        highlights = Self.highlights(r, settings: settings)
    }

    /// Benign accuracy of the region classifier (point accuracy beside it), the share of successful
    /// adversarials the region classifier classifies correctly (mean over the attacks), and the
    /// benign images' mean distance to the boundary along random directions.
    static func highlights(_ r: RegionAnalysisReport, settings: RegionAnalysisSettings) -> [ResultHighlight] {
        var out = [ResultHighlight("region classifier accuracy (benign)", value: r.benignRegionAccuracy, unit: "%",
                                   detail: "point classifier \(percent(r.benignPointAccuracy)); r = \(r.radius), m = \(settings.regionSamples), \(r.benignRows.count) images")]
        let recoveries = r.attacks.map(\.regionRecovery).filter(\.isFinite)
        if !recoveries.isEmpty {
            out.append(ResultHighlight("successful adversarials the region classifier corrects", value: recoveries.reduce(0, +) / Double(recoveries.count), unit: "%",
                                       detail: r.attacks.map { "\($0.outcome.name) \(percent($0.regionRecovery))" }.joined(separator: ", ")))
        }
        if let benign = r.probed.first {
            let b = boundaryStatistics(benign)
            out.append(ResultHighlight("mean distance to the boundary along random directions", value: b.meanDistance, unit: "RMS",
                                       detail: "\(benign.name) images; \(percent(b.met)) of directions meet one within \(settings.directions.maxDistance)"))
        }
        return out
    }

    func encode(to encoder: Encoder) throws {
        let r = report
        var c = encoder.container(keyedBy: ResultKey.self)
        func put<V: Encodable>(_ value: V, _ key: String) throws { try c.encode(value, forKey: ResultKey(key)) }
        try put(Double(r.radius), "radius")
        try put(regionSamples, "region_samples")
        try put(r.benignPointAccuracy, "benign_point_accuracy")
        try put(r.benignRegionAccuracy, "benign_region_accuracy")
        try put(r.benignRows.count, "benign_images")
        try put(r.attackedRows.count, "attacked_images")
        try put(r.directions.batchSize, "directions")
        if let s = r.selection {
            try put(s.pointAccuracy, "heldout_point_accuracy")
            try put(r.heldOutRows.count, "heldout_images")
            try put(s.radii, "radius_grid")
            try put(s.accuracies.map(Float.init), "radius_grid_accuracy")
        }
        for a in r.attacks {
            let n = a.outcome.name
            try put(a.outcome.successRate, "\(n)_success_rate")
            try put(a.outcome.meanRMSDistortion, "\(n)_mean_rms_distortion")
            try put(a.pointAccuracy, "\(n)_point_accuracy")
            try put(a.regionAccuracy, "\(n)_region_accuracy")
            try put(a.regionRecovery, "\(n)_region_recovery")
            try put(a.regionRecoveryLowDistortion, "\(n)_region_recovery_low_distortion")
            try put(a.outcome.seconds, "\(n)_seconds")
            if let v = a.detectionRate { try put(v, "\(n)_detector_detection_rate") }
            if let v = a.detectionAccuracy { try put(v, "\(n)_detector_accuracy") }
            if let v = a.detectorBenignAccuracy { try put(v, "\(n)_detector_benign_accuracy") }
            try put(a.outcome.adversarials, "\(n)_adversarials")
            try put(a.outcome.succeeded.map { $0 ? 1 : 0 }, "\(n)_succeeded")
            try put(a.outcome.rmsDistortion, "\(n)_rms_distortion")
        }
        if let curve = r.curve {
            try put(curve.epsilons, "sweep_epsilon")
            try put(curve.pointAccuracy.map(Float.init), "sweep_point_accuracy")
            try put(curve.regionAccuracy.map(Float.init), "sweep_region_accuracy")
            if !curve.regionAccuracyEOT.isEmpty { try put(curve.regionAccuracyEOT.map(Float.init), "sweep_region_accuracy_eot") }
        }
        for (key, seconds) in r.seconds.sorted(by: { $0.key < $1.key }) { try put(seconds, "seconds_\(key)") }
        try put(r.attackedRows, "attacked_rows")
        try put(r.heldOutRows, "heldout_rows")
        for set in r.probed {
            let m = set.distances.directionCount, n = set.rows.count
            try put(Tensor(shape: [n, m], scalars: set.distances.distances), "\(set.name)_direction_distances")
            try put((0..<n).map { Array(set.distances.classes(of: $0)) }, "\(set.name)_direction_classes")
            try put(set.rows, "\(set.name)_rows")
            try put(set.meanPurity.map(Float.init), "\(set.name)_mean_purity")
            for j in 0..<min(3, set.meanPurity.count) { try put(set.meanPurity[j], "\(set.name)_mean_purity_top\(j + 1)") }
            let b = Self.boundaryStatistics(set)
            try put(b.met, "\(set.name)_directions_with_boundary")
            try put(b.meanDistance, "\(set.name)_mean_boundary_distance")
        }
        if !r.detectorLosses.isEmpty { try put(r.detectorLosses, "detector_training_loss") }
        for (i, t) in tables.enumerated() { try put(t, "table_\(i)") }
        for p in pictures { try put(p, "picture_\(p.name)") }
        try put(highlights, "highlights")
    }
}
