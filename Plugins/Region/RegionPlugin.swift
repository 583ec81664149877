import BorderlineCore
import Foundation

/// The in-tree "region" plugin: region-based classification (Cao & Gong) and decision-boundary
/// analysis of adversarial examples (He, Li & Song, ICLR 2018): boundary distances along random
/// orthonormal directions, adjacent-class purity, point vs region accuracy under FGSM, PGD, C&W
/// and OPTMARGIN, and a boundary-based adversarial detector. See docs/region.md.
public final class RegionPlugin: BorderlinePlugin {
    public init() {}
    public let name = "region"
    public let version = "0.1.0"
    public let summary = "Region-based classification vs point classification under attacks; boundary distances along random directions, adjacent-class purity, boundary-based adversarial detector."
    public let probers: [any BoundaryProber] = [DirectionProber()]
}

/// Runs the analysis once per run (on the first class pair) and gives every pair `s → t` the
/// boundary points met along random directions: for each analysed benign image of `s`, the
/// nearest boundary point along a direction whose adjacent class is `t`.
public final class DirectionProber: BoundaryProber {
    public init() {}
    public let name = "directions"
    public let summary = "Boundary distances along random orthonormal directions (and the whole region analysis, once per run); the pair's set holds the nearest s→t crossing per benign image."
    public let needsGradients = false
    public let options: [PluginOption] = [
        .integer("images", default: 100, in: 1...100_000, help: "images attacked and probed along directions (the first of the evaluation pool)"),
        .integer("benign-images", default: 1000, in: 0...1_000_000, help: "images for benign point-vs-region accuracy (0: every image not held out)"),
        .integer("radius-images", default: 500, in: 1...100_000, help: "held-out images (a seeded random subset, never evaluated) on which r is chosen"),
        .number("radius", default: -1, in: -1...10, help: "region radius r (L∞ half-side of the hypercube); −1: choose it on the held-out images"),
        .number("radius-max", default: 0.1, in: 1e-4...10, help: "largest radius of the selection grid"),
        .number("radius-step", default: 0.005, in: 1e-4...10, help: "spacing of the selection grid (r = step, 2·step, …, max)"),
        .integer("selection-samples", default: 100, in: 1...100_000, help: "m while choosing the radius"),
        .integer("region-samples", default: 1000, in: 1...100_000, help: "m, the region classifier's samples per input"),
        .integer("directions", default: 0, in: 0...1_000_000, help: "random directions per input (0: all D QR basis vectors and their negatives, 2D)"),
        .number("max-distance", default: 1, in: 1e-4...100, help: "t_max, the largest RMS distance searched along a direction"),
        .integer("coarse-steps", default: 10, in: 1...1000, help: "S, the coarse-scan steps up to t_max"),
        .integer("bisection-steps", default: 12, in: 0...60, help: "B, the bisection halvings inside the bracket"),
        .string("attacks", default: "fgsm,pgd-linf,cw-l2,optmargin", help: "comma-separated attacks against the point classifier (fgsm, pgd-linf, pgd-l2, cw-l2, optmargin; empty: none)"),
        .number("fgsm-epsilon", default: 0.1, in: 0...1, help: "FGSM L∞ step ε"),
        .number("pgd-epsilon", default: 0.1, in: 0...1, help: "PGD L∞ radius ε"),
        .number("pgd-l2-epsilon", default: 2, in: 0...100, help: "PGD L2 radius ε"),
        .number("pgd-step-size", default: 0.01, in: 1e-6...10, help: "PGD step size (L2: scaled by pgd-l2-epsilon / pgd-epsilon)"),
        .integer("pgd-steps", default: 40, in: 1...100_000, help: "PGD steps"),
        .integer("cw-iterations", default: 1000, in: 1...100_000, help: "C&W / OPTMARGIN Adam iterations per binary-search step"),
        .integer("cw-binary-steps", default: 4, in: 1...100, help: "C&W / OPTMARGIN binary-search steps over c"),
        .number("cw-learning-rate", default: 0.2, in: 1e-6...10, help: "C&W / OPTMARGIN Adam learning rate"),
        .number("cw-initial-constant", default: 0.2, in: 1e-6...1e6, help: "C&W / OPTMARGIN initial c"),
        .number("optmargin-epsilon", default: 0.3, in: 0...10, help: "OPTMARGIN: RMS magnitude ε of the 19 fixed random orthogonal perturbations"),
        .integer("detector-epochs", default: 60, in: 1...100_000, help: "boundary detector: Adam epochs"),
        .number("detector-learning-rate", default: 1e-3, in: 1e-7...1, help: "boundary detector: Adam learning rate"),
        .number("detector-train-share", default: 0.5, in: 0.01...0.99, help: "share of attacked images whose benign and adversarial versions train the detector (the rest is held out)"),
        .integer("plot-images", default: 3, in: 0...50, help: "images drawn in the direction plots and the example grid"),
    ]

    private var cache: (environment: ObjectIdentifier, report: RegionAnalysisReport)?

    /// The analysis settings from the checked options.
    public static func settings(_ o: PluginOptionValues, seed: UInt64) throws -> RegionAnalysisSettings {
        var s = RegionAnalysisSettings()
        s.images = try o.int("images")
        s.benignImages = try o.int("benign-images")
        s.radiusImages = try o.int("radius-images")
        let r = try o.float("radius")
        s.radius = r < 0 ? nil : r
        let maxR = try o.double("radius-max"), stepR = try o.double("radius-step")
        guard stepR <= maxR else { throw BorderlineError(.invalidArgument, "region: radius-step (\(stepR)) must not exceed radius-max (\(maxR))") }
        s.radiusGrid = (1...Int((maxR / stepR + 1e-9).rounded(.down))).map { Float(Double($0) * stepR) }
        s.selectionSamples = try o.int("selection-samples")
        s.regionSamples = try o.int("region-samples")
        let count = try o.int("directions")
        s.directionCount = count == 0 ? nil : count
        s.directions.maxDistance = try o.float("max-distance")
        s.directions.coarseSteps = try o.int("coarse-steps")
        s.directions.bisectionSteps = try o.int("bisection-steps")
        s.attacks = try o.string("attacks").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var a = RegionAttacks.Parameters()
        a.fgsmEpsilon = try o.float("fgsm-epsilon")
        a.pgdEpsilon = try o.float("pgd-epsilon")
        a.pgdL2Epsilon = try o.float("pgd-l2-epsilon")
        a.pgdStepSize = try o.float("pgd-step-size")
        a.pgdSteps = try o.int("pgd-steps")
        a.cwIterations = try o.int("cw-iterations")
        a.cwBinarySteps = try o.int("cw-binary-steps")
        a.cwLearningRate = try o.float("cw-learning-rate")
        a.cwInitialConstant = try o.float("cw-initial-constant")
        a.optMarginEpsilon = try o.float("optmargin-epsilon")
        s.attackParameters = a
        s.detector.epochs = try o.int("detector-epochs")
        s.detector.learningRate = try o.float("detector-learning-rate")
        s.detector.seed = seed
        s.detectorTrainShare = try o.double("detector-train-share")
        s.seed = seed
        try s.validate()
        return s
    }

    public func probe(_ pair: ClassPair, context: RunContext) throws -> BoundarySet {
        let key = ObjectIdentifier(context.environment)
        let report: RegionAnalysisReport
        if let cache, cache.environment == key {
            report = cache.report
        } else {
            let settings = try Self.settings(context.options, seed: context.seed)
            var lastTask = ""
            report = try RegionAnalysis.run(classifier: context.classifier, gradients: { try context.gradients() }, data: context.data,
                                            predictions: context.predictions, settings: settings, checkStop: context.checkInterrupted) { task, done, total in
                if task != lastTask {
                    if !lastTask.isEmpty { context.progress.end(summary: lastTask + " done") }
                    context.progress.begin(task, total: total)
                    lastTask = task
                }
                context.progress.update(completed: done, detail: "\(done)/\(total)")
            }
            if !lastTask.isEmpty { context.progress.end(summary: lastTask + " done") }
            try RegionResults.store(report, settings: settings, classifier: context.classifier, data: context.data,
                                    plotImages: try context.options.int("plot-images"), store: context.store)
            cache = (key, report)
        }
        return try pairSet(pair, report: report, context: context)
    }

    /// For each probed benign image of class `s`, the nearest boundary point along a direction
    /// whose adjacent class is `t`.
    func pairSet(_ pair: ClassPair, report: RegionAnalysisReport, context: RunContext) throws -> BoundarySet {
        let benign = report.probed[0]
        let maxDistance = try context.options.float("max-distance")
        let d = benign.images.sampleCount, scale = Float(d).squareRoot()
        let rows = (0..<benign.rows.count).filter { context.data.labels[report.attackedRows[benign.rows[$0]]] == pair.source }
        let m = benign.distances.directionCount
        var points = [Float](), reasons: [String?] = [], ok: [Bool] = [], starts: [Int] = []
        for i in rows {
            let x = Array(benign.images.scalars[(i * d)..<((i + 1) * d)])
            let dist = benign.distances.distances(of: i), cls = benign.distances.classes(of: i)
            let best = (0..<m).filter { cls[cls.startIndex + $0] == pair.target }.min { dist[dist.startIndex + $0] < dist[dist.startIndex + $1] }
            starts.append(report.attackedRows[benign.rows[i]])
            if let j = best {
                let t = dist[dist.startIndex + j]
                let u = report.directions.scalars[(j * d)..<((j + 1) * d)]
                points += zip(x, u).map { min(1, max(0, $0 + t * scale * $1)) }
                ok.append(true); reasons.append(nil)
            } else {
                points += x
                ok.append(false); reasons.append("no direction met class \(context.classifier.className(pair.target)) within RMS distance \(maxDistance)")
            }
        }
        let shape = [rows.count] + context.classifier.inputShape
        let p = Tensor(shape: shape, scalars: points)
        let probabilities = rows.isEmpty ? Tensor(zeros: [0, context.classifier.classCount]) : try context.classifier.probabilities(p)
        return try BoundarySet(pair: pair, points: p, startPoints: context.data.images.gather(batch: starts), startIndices: starts,
                               probabilities: probabilities, succeeded: ok, failureReasons: reasons,
                               iterations: [Int](repeating: 1, count: rows.count), queries: 0, producer: "region/directions")
    }
}
