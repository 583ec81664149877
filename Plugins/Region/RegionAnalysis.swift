import BorderlineCore
import Foundation

/// Everything the region analysis computes for one run (the slides' Tables 1–2, Figures 4–5 and
/// the boundary detector).
public struct RegionAnalysisSettings: Sendable {
    /// Images attacked and probed along directions (the first of the evaluation pool).
    public var images = 100
    /// Images for the benign point-vs-region accuracy (0: the whole evaluation pool).
    public var benignImages = 1000
    /// Held-out images for choosing the radius (disjoint from every evaluated image).
    public var radiusImages = 500
    /// A fixed radius, or nil to choose it on the held-out images.
    public var radius: Float?
    public var radiusGrid: [Float] = stride(from: 0.005, through: 0.1, by: 0.005).map { Float($0) }
    /// `m` while choosing the radius.
    public var selectionSamples = 100
    /// `m` of the region classifier.
    public var regionSamples = 1000
    /// Directions per input (nil: all `2D`).
    public var directionCount: Int?
    public var directions = DirectionSettings()
    public var attacks: [String] = ["fgsm", "pgd-linf", "cw-l2", "optmargin"]
    public var attackParameters = RegionAttacks.Parameters()
    /// Budgets ε (L∞) of the robustness curve on the evaluated images (empty: no curve).
    public var sweepEpsilons: [Float] = [0, 0.01, 0.02, 0.03, 0.05, 0.1]
    /// `s`, the EOT samples per step of the adaptive attack on the region classifier (0: none).
    public var eotSamples = 32
    public var detector = BoundaryDetector.Settings()
    /// Share of the attacked images whose benign and adversarial versions train the detector.
    public var detectorTrainShare = 0.5
    public var seed: UInt64 = 0
    public init() {}

    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw BorderlineError(.invalidArgument, "region: " + message) } }
        try check(images >= 1, "images must be ≥ 1, got \(images)")
        try check(benignImages >= 0, "benign-images must be ≥ 0, got \(benignImages)")
        try check(radiusImages >= 1 || radius != nil, "radius-images must be ≥ 1 when the radius is chosen, got \(radiusImages)")
        try check(selectionSamples >= 1 && regionSamples >= 1, "samples must be ≥ 1")
        try check(radius.map { $0.isFinite && $0 >= 0 } ?? true, "radius must be ≥ 0")
        try check(!radiusGrid.isEmpty && radiusGrid.allSatisfy { $0.isFinite && $0 >= 0 }, "the radius grid must be non-empty radii ≥ 0")
        try check(detectorTrainShare > 0 && detectorTrainShare < 1, "detector-train-share must be in (0, 1), got \(detectorTrainShare)")
        try check(sweepEpsilons.allSatisfy { $0.isFinite && $0 >= 0 }, "sweep-epsilons must be finite budgets ≥ 0, got \(sweepEpsilons)")
        try check(eotSamples >= 0, "eot-samples must be ≥ 0, got \(eotSamples)")
        for a in attacks where !RegionAttacks.known.contains(a) {
            throw BorderlineError(.invalidArgument, "region: unknown attack '\(a)'; known: \(RegionAttacks.known.joined(separator: ", "))")
        }
        try directions.validate()
    }
}

/// One set of probed inputs (benign, or one attack's successful adversarials).
public struct ProbedSet {
    public var name: String
    /// Rows of the attacked inputs these come from.
    public var rows: [Int]
    public var images: Tensor
    public var distances: DirectionDistances
    /// Mean purity curve over the set, `k = 1…K`.
    public var meanPurity: [Double]
}

public struct AttackEvaluation {
    public var outcome: AttackOutcome
    public var pointAccuracy: Double
    public var regionAccuracy: Double
    /// Region accuracy on the successful adversarials only.
    public var regionRecovery: Double
    /// Region accuracy on successful adversarials with distortion at most the median (low-distortion half).
    public var regionRecoveryLowDistortion: Double
    public var detectionRate: Double?
    public var detectionAccuracy: Double?
    /// The attack's detector on held-out benign images (share called benign).
    public var detectorBenignAccuracy: Double?
    public var heldOutAdversarials = 0
    public var heldOutBenign = 0
}

/// Robust accuracy against the L∞ budget ε on the evaluated images (``RegionAnalysisSettings/sweepEpsilons``):
/// the point classifier under PGD-L∞ against it, the region classifier on those same examples
/// (transferred), and the region classifier under EOT-PGD against itself (adaptive).
public struct RobustnessCurve {
    public var epsilons: [Float]
    public var pointAccuracy: [Double]
    public var regionAccuracy: [Double]
    /// Empty when EOT is off.
    public var regionAccuracyEOT: [Double]
    public var images: Int
    public var steps: Int
    public var eotSamples: Int
}

public struct RegionAnalysisReport {
    public var selection: RegionClassifier.RadiusSelection?
    public var radius: Float
    public var heldOutRows: [Int]
    public var benignRows: [Int]
    public var benignPointAccuracy: Double
    public var benignRegionAccuracy: Double
    /// Data rows attacked (correctly classified among the first `images` of the pool).
    public var attackedRows: [Int]
    public var evaluatedRows: [Int]
    public var evaluatedPointAccuracy: Double
    public var evaluatedRegionAccuracy: Double
    public var attacks: [AttackEvaluation]
    public var curve: RobustnessCurve?
    public var skippedAttacks: [(name: String, reason: String)]
    public var directions: Tensor
    public var probed: [ProbedSet]
    /// The first detector's training loss per epoch.
    public var detectorLosses: [Float]
    public var detectorTrainRows: [Int]
    public var seconds: [String: Double]
}

/// What the prober and the analysis share, computed once per run (``RegionAnalysis/probe``): which
/// images are held out for the radius, evaluated and attacked, the random directions, and the
/// attacked images' boundary distances along them.
public struct RegionProbe {
    /// What the shared part depends on, so that a prober and an analysis whose options agree use
    /// one computation (and ones that differ, e.g. after `--set region.directions.max-distance=…`,
    /// each get their own).
    public struct Key: Hashable, Sendable {
        public var images: Int
        public var heldOut: Int
        public var directionCount: Int?
        public var directions: DirectionSettings
        public var seed: UInt64
    }

    /// Held-out rows (for the radius, never evaluated) and the rest, in order: the evaluation pool.
    public var heldOutRows: [Int]
    public var pool: [Int]
    /// The first `images` rows of the pool, and those of them the point classifier gets right.
    public var evaluatedRows: [Int]
    public var attackedRows: [Int]
    public var directions: Tensor
    /// The attacked images and their boundary distances (``ProbedSet`` named `benign`).
    public var benign: ProbedSet
    /// The generator that drew the held-out rows, where it stopped: the detector's split continues it.
    var random: RandomGenerator
    var seconds: [String: Double]
}

extension RegionAnalysisSettings {
    /// The settings the shared part depends on.
    public var probeKey: RegionProbe.Key {
        RegionProbe.Key(images: images, heldOut: radius == nil ? radiusImages : 0, directionCount: directionCount,
                        directions: directions, seed: seed)
    }
}

public enum RegionAnalysis {
    public typealias Progress = (_ task: String, _ done: Int, _ total: Int) -> Void

    /// The part of the analysis the per-pair prober needs too: held-out and attacked rows, the
    /// directions, and the benign boundary distances along them.
    public static func probe(classifier: any Classifier, data: Dataset, predictions: [Int], settings: RegionAnalysisSettings,
                             checkStop: () throws -> Void = {}, progress: Progress = { _, _, _ in }) throws -> RegionProbe {
        try settings.validate()
        let n = data.count, labels = data.labels
        // Held-out images for the radius: a seeded random subset; the rest, in order, is the pool.
        var random = RandomGenerator(seed: settings.seed ^ 0x7265_6769_6f6e)
        let heldCount = settings.probeKey.heldOut
        guard heldCount + settings.images <= n else {
            throw BorderlineError(.invalidArgument, "region: the run has \(n) images, fewer than radius-images (\(heldCount)) + images (\(settings.images)); use --images-per-class 0 or smaller counts")
        }
        let order = random.permutation(n)
        let heldOut = Array(order.prefix(heldCount)).sorted()
        let heldSet = Set(heldOut)
        let pool = (0..<n).filter { !heldSet.contains($0) }
        // The attacked images: the correctly classified ones among the first `images` of the pool.
        let evaluated = Array(pool.prefix(settings.images))
        let attacked = evaluated.filter { predictions[$0] == labels[$0] }
        guard !attacked.isEmpty else { throw BorderlineError(.dataMismatch, "region: none of the \(evaluated.count) evaluated images is classified correctly") }
        let x = data.images.gather(batch: attacked)
        let directions = try DirectionProbe.directions(dimension: x.sampleCount, count: settings.directionCount, seed: settings.seed ^ 0x6469_7273)
        let t0 = Date()
        let benign = try probedSet("benign", rows: Array(0..<attacked.count), images: x, classifier: classifier, directions: directions,
                                   settings: settings, checkStop: checkStop, progress: progress)
        return RegionProbe(heldOutRows: heldOut, pool: pool, evaluatedRows: evaluated, attackedRows: attacked, directions: directions,
                           benign: benign, random: random, seconds: ["directions_benign": Date().timeIntervalSince(t0)])
    }

    /// Boundary distances of `images` along `directions` and their mean purity curve.
    static func probedSet(_ name: String, rows: [Int], images: Tensor, classifier: any Classifier, directions: Tensor,
                          settings: RegionAnalysisSettings, checkStop: () throws -> Void, progress: Progress) throws -> ProbedSet {
        let k = classifier.classCount
        let distances = try DirectionProbe.measure(classifier, images: images, directions: directions, settings: settings.directions, checkStop: checkStop) { done, total in
            progress("boundary distances (\(name)), \(directions.batchSize) directions", done, total)
        }
        var mean = [Double](repeating: 0, count: k)
        for i in 0..<rows.count {
            for (j, p) in AdjacentClassPurity.curve(distances.classes(of: i), classCount: k).enumerated() { mean[j] += p / Double(max(1, rows.count)) }
        }
        return ProbedSet(name: name, rows: rows, images: images, distances: distances, meanPurity: mean)
    }

    /// Runs the rest of the analysis on `data` for `classifier` (gradients for the attacks), given
    /// the shared part `probe` made with the same settings.
    public static func run(classifier: any Classifier, gradients: (() throws -> any DifferentiableClassifier)?,
                           data: Dataset, predictions: [Int], settings: RegionAnalysisSettings, probe shared: RegionProbe,
                           checkStop: () throws -> Void = {}, progress: Progress = { _, _, _ in }) throws -> RegionAnalysisReport {
        try settings.validate()
        let k = classifier.classCount, labels = data.labels
        var seconds = shared.seconds
        func timed<T>(_ key: String, _ body: () throws -> T) rethrows -> T {
            let t0 = Date(); defer { seconds[key, default: 0] += Date().timeIntervalSince(t0) }
            return try body()
        }
        func accuracy(_ p: [Int], _ rows: [Int]) -> Double {
            rows.isEmpty ? .nan : Double(zip(p, rows).filter { $0 == labels[$1] }.count) / Double(rows.count)
        }
        var random = shared.random
        let heldOut = shared.heldOutRows, pool = shared.pool

        var selection: RegionClassifier.RadiusSelection?
        let radius: Float
        if let fixed = settings.radius {
            radius = fixed
        } else {
            progress("choosing the radius on \(heldOut.count) held-out images", 0, 1)
            selection = try timed("radius_selection") {
                try RegionClassifier.selectRadius(classifier, images: data.images.gather(batch: heldOut), labels: heldOut.map { labels[$0] },
                                                  radii: settings.radiusGrid, samples: settings.selectionSamples, seed: settings.seed)
            }
            radius = selection!.radius
        }
        let region = try RegionClassifier(classifier, radius: radius, samples: settings.regionSamples, seed: settings.seed)
        func regionPredictions(_ x: Tensor, task: String) throws -> [Int] {
            var out: [Int] = []
            let chunk = 64
            var start = 0
            while start < x.batchSize {
                try checkStop()
                let end = min(x.batchSize, start + chunk)
                out += try region.predictions(x.slice(batch: start..<end))
                progress(task, end, x.batchSize)
                start = end
            }
            return out
        }

        // Benign point vs region accuracy.
        let benignRows = settings.benignImages == 0 ? pool : Array(pool.prefix(settings.benignImages))
        let benignPoint = accuracy(benignRows.map { predictions[$0] }, benignRows)
        let benignRegion = try timed("region_benign") {
            accuracy(try regionPredictions(data.images.gather(batch: benignRows), task: "region classification of \(benignRows.count) benign images"), benignRows)
        }

        let evaluated = shared.evaluatedRows
        let evaluatedPoint = accuracy(evaluated.map { predictions[$0] }, evaluated)
        let evaluatedRegion = try accuracy(regionPredictions(data.images.gather(batch: evaluated), task: "region classification of the evaluated images"), evaluated)
        let attacked = shared.attackedRows
        let x = shared.benign.images, y = attacked.map { labels[$0] }

        var evaluations: [AttackEvaluation] = []
        var skipped: [(String, String)] = []
        if !settings.attacks.isEmpty {
            let model: (any DifferentiableClassifier)?
            do { model = try gradients?() } catch { model = nil; skipped += settings.attacks.map { ("attack \($0)", "\(error)") } }
            if let model {
                for name in settings.attacks {
                    guard RegionAttacks.available.contains(name) else {
                        skipped.append(("attack \(name)", "not available: the core has no \(name) attack in this build"))
                        continue
                    }
                    try checkStop()
                    progress("attack \(name) on \(attacked.count) images", 0, 1)
                    let outcome = try timed("attack_\(name)") {
                        try RegionAttacks.run(name, classifier: model, inputs: x, labels: y, parameters: settings.attackParameters, radius: radius,
                                              seed: settings.seed ^ StableHash.fnv1a(name), progress: nil)
                    }
                    let pointPredicted = try classifier.predictions(outcome.adversarials)
                    let regionPredicted = try timed("region_adversarial") { try regionPredictions(outcome.adversarials, task: "region classification of \(name) examples") }
                    let all = Array(0..<attacked.count)
                    func acc(_ p: [Int], _ rows: [Int]) -> Double { rows.isEmpty ? .nan : Double(rows.filter { p[$0] == y[$0] }.count) / Double(rows.count) }
                    let ok = all.filter { outcome.succeeded[$0] }
                    let median = ok.map { outcome.rmsDistortion[$0] }.sorted().dropFirst(max(0, ok.count - 1) / 2).first ?? 0
                    let low = ok.filter { outcome.rmsDistortion[$0] <= median }
                    evaluations.append(AttackEvaluation(outcome: outcome, pointAccuracy: acc(pointPredicted, all), regionAccuracy: acc(regionPredicted, all),
                                                        regionRecovery: acc(regionPredicted, ok), regionRecoveryLowDistortion: acc(regionPredicted, low)))
                }
            }
        }

        // The robustness curve on the evaluated images (misclassified ones included, so ε = 0 is
        // the clean accuracy): PGD-L∞ against the point classifier, α = ε/10, and EOT-PGD
        // against the region classifier with the same budget and steps.
        var curve: RobustnessCurve?
        var sweepModel: (any DifferentiableClassifier)?
        if !settings.sweepEpsilons.isEmpty {
            do { sweepModel = try gradients?() } catch { skipped.append(("robustness curve", "\(error)")) }
            if gradients == nil { skipped.append(("robustness curve", "the run's classifier has no gradients")) }
        }
        if let model = sweepModel {
            do {   // a scope for the curve's locals
                let xe = data.images.gather(batch: evaluated), ye = evaluated.map { labels[$0] }
                let steps = settings.attackParameters.pgdSteps
                var c = RobustnessCurve(epsilons: settings.sweepEpsilons, pointAccuracy: [], regionAccuracy: [], regionAccuracyEOT: [],
                                        images: evaluated.count, steps: steps, eotSamples: settings.eotSamples)
                func acc(_ p: [Int]) -> Double { Double(zip(p, ye).filter { $0 == $1 }.count) / Double(max(1, ye.count)) }
                for (i, e) in settings.sweepEpsilons.enumerated() {
                    try checkStop()
                    progress("robustness curve: ε = \(e)", i, settings.sweepEpsilons.count)
                    try timed("robustness_curve") {
                        let pgd = ProjectedGradientDescent(norm: .linf, epsilon: e, stepSize: e / 10, steps: steps)
                        let adv = try pgd.attack(model, inputs: xe, labels: ye, goal: .untargeted, seed: settings.seed ^ 0x7377_6570, progress: nil)
                        c.pointAccuracy.append(acc(adv.predictions))
                        c.regionAccuracy.append(acc(try regionPredictions(adv.adversarials, task: "robustness curve: region classification, ε = \(e)")))
                        if settings.eotSamples > 0 && !model.gradientsAreEstimated {
                            let eot = RegionEOTAttack(epsilon: e, stepSize: e / 10, steps: steps, samples: settings.eotSamples)
                            let o = try eot.attack(model, region: region, inputs: xe, labels: ye, seed: settings.seed ^ 0x656f_74, checkStop: checkStop)
                            c.regionAccuracyEOT.append(Double(o.succeeded.filter { !$0 }.count) / Double(max(1, ye.count)))
                        }
                    }
                }
                curve = c
            }
            if settings.eotSamples > 0 && model.gradientsAreEstimated {
                skipped.append(("EOT attack on the region classifier", "the gradients are zeroth-order estimates (\(settings.eotSamples) EOT samples per step would multiply their queries)"))
            }
        }

        // Boundary distances along the same directions for each attack's successful adversarials.
        let directions = shared.directions
        var probed = [shared.benign]
        for e in evaluations {
            let ok = (0..<attacked.count).filter { e.outcome.succeeded[$0] }
            if ok.isEmpty { continue }
            probed.append(try timed("directions_\(e.outcome.name)") {
                try probedSet(e.outcome.name, rows: ok, images: e.outcome.adversarials.gather(batch: ok), classifier: classifier,
                              directions: directions, settings: settings, checkStop: checkStop, progress: progress)
            })
        }

        // The boundary detectors: one per attack, benign vs that attack's adversarials, split by
        // attacked image (the same images train every detector), classes balanced 1:1 per image.
        var losses: [Float] = []
        var trainRows: [Int] = []
        if probed.count > 1 {
            let perm = random.permutation(attacked.count)
            let trainCount = max(1, min(attacked.count - 1, Int((Double(attacked.count) * settings.detectorTrainShare).rounded())))
            let trainSet = Set(perm.prefix(trainCount))
            trainRows = Array(trainSet).sorted()
            let maxDistance = settings.directions.maxDistance
            func split(_ set: ProbedSet) -> (train: [Int], test: [Int]) {
                let local = Array(0..<set.rows.count)
                return (local.filter { trainSet.contains(set.rows[$0]) }, local.filter { !trainSet.contains(set.rows[$0]) })
            }
            let benign = probed[0], benignSplit = split(benign)
            for set in probed.dropFirst() {
                guard let idx = evaluations.firstIndex(where: { $0.outcome.name == set.name }) else { continue }
                let attackSplit = split(set)
                guard !benignSplit.train.isEmpty, !attackSplit.train.isEmpty, !benignSplit.test.isEmpty, !attackSplit.test.isEmpty else { continue }
                let detector: BoundaryDetector
                do { detector = try BoundaryDetector(directionCount: directions.batchSize, settings: settings.detector) }
                catch { skipped.append(("boundary detector", "\(error)")); break }
                let fb = BoundaryDetector.features(benign.distances, rows: benignSplit.train, maxDistance: maxDistance, classCount: k)
                let fa = BoundaryDetector.features(set.distances, rows: attackSplit.train, maxDistance: maxDistance, classCount: k)
                let l = try timed("detector_training") {
                    try detector.train(distances: Tensor.concatenate(batches: [fb.distances, fa.distances]),
                                       purities: Tensor.concatenate(batches: [fb.purities, fa.purities]),
                                       labels: [Int](repeating: 0, count: benignSplit.train.count) + [Int](repeating: 1, count: attackSplit.train.count))
                }
                if losses.isEmpty { losses = l }
                let tb = BoundaryDetector.features(benign.distances, rows: benignSplit.test, maxDistance: maxDistance, classCount: k)
                let ta = BoundaryDetector.features(set.distances, rows: attackSplit.test, maxDistance: maxDistance, classCount: k)
                let benignCorrect = detector.predict(distances: tb.distances, purities: tb.purities).filter { $0 == 0 }.count
                let attackCorrect = detector.predict(distances: ta.distances, purities: ta.purities).filter { $0 == 1 }.count
                evaluations[idx].detectorBenignAccuracy = Double(benignCorrect) / Double(benignSplit.test.count)
                evaluations[idx].detectionRate = Double(attackCorrect) / Double(attackSplit.test.count)
                evaluations[idx].heldOutAdversarials = attackSplit.test.count
                evaluations[idx].heldOutBenign = benignSplit.test.count
                evaluations[idx].detectionAccuracy = Double(benignCorrect + attackCorrect) / Double(benignSplit.test.count + attackSplit.test.count)
            }
        }

        return RegionAnalysisReport(selection: selection, radius: radius, heldOutRows: heldOut, benignRows: benignRows,
                                    benignPointAccuracy: benignPoint, benignRegionAccuracy: benignRegion,
                                    attackedRows: attacked, evaluatedRows: evaluated, evaluatedPointAccuracy: evaluatedPoint,
                                    evaluatedRegionAccuracy: evaluatedRegion, attacks: evaluations, curve: curve,
                                    skippedAttacks: skipped, directions: directions, probed: probed,
                                    detectorLosses: losses, detectorTrainRows: trainRows, seconds: seconds)
    }
}
