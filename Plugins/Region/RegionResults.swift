import BorderlineCore
import Foundation

/// Writes a ``RegionAnalysisReport`` into the run: numbers (summary.json), arrays (results.h5),
/// tables and pictures (report.html).
enum RegionResults {
    static func percent(_ v: Double?) -> String { v.map { $0.isNaN ? "—" : String(format: "%.1f %%", 100 * $0) } ?? "—" }

    static func store(_ r: RegionAnalysisReport, settings: RegionAnalysisSettings, classifier: any Classifier, data: Dataset,
                      plotImages: Int, store: RunStore) throws {
        let k = classifier.classCount
        // Numbers.
        try store.addNumber(Double(r.radius), name: "radius")
        try store.addNumber(Double(settings.regionSamples), name: "region_samples")
        try store.addNumber(r.benignPointAccuracy, name: "benign_point_accuracy")
        try store.addNumber(r.benignRegionAccuracy, name: "benign_region_accuracy")
        try store.addNumber(Double(r.benignRows.count), name: "benign_images")
        try store.addNumber(Double(r.attackedRows.count), name: "attacked_images")
        try store.addNumber(Double(r.directions.batchSize), name: "directions")
        if let s = r.selection {
            try store.addNumber(s.pointAccuracy, name: "heldout_point_accuracy")
            try store.addNumber(Double(r.heldOutRows.count), name: "heldout_images")
            try store.addArray(Tensor(shape: [s.radii.count], scalars: s.radii), name: "radius_grid")
            try store.addArray(Tensor(shape: [s.accuracies.count], scalars: s.accuracies.map(Float.init)), name: "radius_grid_accuracy")
        }
        for a in r.attacks {
            let n = a.outcome.name
            try store.addNumber(a.outcome.successRate, name: "\(n)_success_rate")
            try store.addNumber(a.outcome.meanRMSDistortion, name: "\(n)_mean_rms_distortion")
            try store.addNumber(a.pointAccuracy, name: "\(n)_point_accuracy")
            try store.addNumber(a.regionAccuracy, name: "\(n)_region_accuracy")
            try store.addNumber(a.regionRecovery, name: "\(n)_region_recovery")
            try store.addNumber(a.regionRecoveryLowDistortion, name: "\(n)_region_recovery_low_distortion")
            try store.addNumber(a.outcome.seconds, name: "\(n)_seconds")
            if let v = a.detectionRate { try store.addNumber(v, name: "\(n)_detector_detection_rate") }
            if let v = a.detectionAccuracy { try store.addNumber(v, name: "\(n)_detector_accuracy") }
            if let v = a.detectorBenignAccuracy { try store.addNumber(v, name: "\(n)_detector_benign_accuracy") }
            try store.addArray(a.outcome.adversarials, name: "\(n)_adversarials")
            try store.addIntegers(a.outcome.succeeded.map { $0 ? 1 : 0 }, name: "\(n)_succeeded")
            try store.addArray(Tensor(shape: [a.outcome.rmsDistortion.count], scalars: a.outcome.rmsDistortion), name: "\(n)_rms_distortion")
        }
        for (key, seconds) in r.seconds.sorted(by: { $0.key < $1.key }) { try store.addNumber(seconds, name: "seconds_\(key)") }
        try store.addIntegers(r.attackedRows, name: "attacked_rows")
        try store.addIntegers(r.heldOutRows, name: "heldout_rows")
        for set in r.probed {
            let m = set.distances.directionCount, n = set.rows.count
            try store.addArray(Tensor(shape: [n, m], scalars: set.distances.distances), name: "\(set.name)_direction_distances")
            try store.addIntegers(set.distances.classes, shape: [n, m], name: "\(set.name)_direction_classes")
            try store.addIntegers(set.rows, name: "\(set.name)_rows")
            try store.addArray(Tensor(shape: [k], scalars: set.meanPurity.map(Float.init)), name: "\(set.name)_mean_purity")
            for j in 0..<min(3, k) { try store.addNumber(set.meanPurity[j], name: "\(set.name)_mean_purity_top\(j + 1)") }
            let found = set.distances.classes.filter { $0 >= 0 }.count
            try store.addNumber(Double(found) / Double(max(1, set.distances.classes.count)), name: "\(set.name)_directions_with_boundary")
            let reached = zip(set.distances.distances, set.distances.classes).filter { $0.1 >= 0 }.map { Double($0.0) }
            try store.addNumber(reached.isEmpty ? .nan : reached.reduce(0, +) / Double(reached.count), name: "\(set.name)_mean_boundary_distance")
        }
        if !r.detectorLosses.isEmpty { try store.addArray(Tensor(shape: [r.detectorLosses.count], scalars: r.detectorLosses), name: "detector_training_loss") }

        // Tables: the slides' Tables 1 and 2, with the detector.
        var rows = [["benign", "—", "—", percent(r.evaluatedPointAccuracy), percent(r.evaluatedRegionAccuracy), "—", "—", "—", "—"]]
        for a in r.attacks {
            rows.append([a.outcome.name, percent(a.outcome.successRate), String(format: "%.4f", a.outcome.meanRMSDistortion),
                         percent(a.pointAccuracy), percent(a.regionAccuracy), percent(a.regionRecovery), percent(a.regionRecoveryLowDistortion),
                         a.detectionRate.map { percent($0) + " (\(a.heldOutAdversarials))" } ?? "—",
                         a.detectorBenignAccuracy.map { percent($0) + " (\(a.heldOutBenign))" } ?? "—"])
        }
        store.addTable(ResultTable(title: "Point vs region classification (r = \(r.radius), m = \(settings.regionSamples)) on \(r.evaluatedRows.count) evaluated images; attacks on the \(r.attackedRows.count) the point classifier gets right",
                                   columns: ["examples", "attack success", "mean RMS distortion", "point accuracy", "region accuracy",
                                             "region recovers (successful)", "region recovers (low-distortion half)",
                                             "detector: adversarials flagged (held out)", "detector: benign passed (held out)"],
                                   rows: rows))
        store.addTable(ResultTable(title: "Benign accuracy on \(r.benignRows.count) images (not held out)", columns: ["point", "region"],
                                   rows: [[percent(r.benignPointAccuracy), percent(r.benignRegionAccuracy)]]))
        store.addTable(ResultTable(title: "Boundary distances along \(r.directions.batchSize) random directions and adjacent-class purity",
                                   columns: ["examples", "images", "directions meeting a boundary", "mean distance (met)", "purity top-1", "top-2", "top-3"],
                                   rows: r.probed.map { s in
                                       let found = s.distances.classes.filter { $0 >= 0 }.count
                                       let met = zip(s.distances.distances, s.distances.classes).filter { $0.1 >= 0 }.map { Double($0.0) }
                                       return [s.name, String(s.rows.count), percent(Double(found) / Double(max(1, s.distances.classes.count))),
                                               met.isEmpty ? "—" : String(format: "%.4f", met.reduce(0, +) / Double(met.count)),
                                               String(format: "%.3f", s.meanPurity[0]), String(format: "%.3f", s.meanPurity[min(1, k - 1)]),
                                               String(format: "%.3f", s.meanPurity[min(2, k - 1)])]
                                   }))
        for (name, reason) in r.skippedAttacks { store.addNote("\(name) skipped: \(reason)") }

        // Pictures.
        if let s = r.selection {
            store.addPicture(ResultPicture(name: "radius-selection", caption: "Region accuracy on \(r.heldOutRows.count) held-out images against r (m = \(settings.selectionSamples)); dashed: point accuracy. Chosen: the largest r not below it, \(r.radius).",
                                           image: try RegionDrawing.radiusChart(s)))
        }
        store.addPicture(ResultPicture(name: "purity", caption: "Mean adjacent-class purity of the top k classes (He et al., Figure 5)", image: try RegionDrawing.purityCurves(r.probed)))
        let shown = Array(0..<min(plotImages, r.attackedRows.count))
        for i in shown {
            for set in r.probed {
                guard let local = set.rows.firstIndex(of: i) else { continue }
                let row = r.attackedRows[i]
                let title = "\(set.name): image \(row) (\(data.className(data.labels[row])))"
                store.addPicture(ResultPicture(name: "directions-\(set.name)-\(row)",
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
            store.addPicture(ResultPicture(name: "examples", caption: "Columns: benign, " + r.attacks.map(\.outcome.name).joined(separator: ", ") + ". " + lines.joined(separator: "; "),
                                           image: try RegionDrawing.examples(benign: r.probed[0].images, rows: shown, attacks: r.attacks)))
        }
    }
}
