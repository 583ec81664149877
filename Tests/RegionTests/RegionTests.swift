import BorderlineCore
import Foundation
import RegionKit
import XCTest

/// A classifier on `[2]` inputs with known regions: class 1 inside the slab
/// `|x₀ − centre| < halfWidth`, class 0 elsewhere (one-hot probabilities).
final class SlabClassifier: Classifier {
    let centre: Float, halfWidth: Float
    init(centre: Float = 0.5, halfWidth: Float) { self.centre = centre; self.halfWidth = halfWidth }
    var inputShape: [Int] { [2] }
    var classNames: [String] { ["out", "in"] }
    func probabilities(_ x: Tensor) throws -> Tensor {
        try checkBatch(x)
        let n = x.batchSize
        var p = [Float](repeating: 0, count: n * 2)
        for i in 0..<n { p[i * 2 + (abs(x.scalars[i * 2] - centre) < halfWidth ? 1 : 0)] = 1 }
        return Tensor(shape: [n, 2], scalars: p)
    }
}

/// Two classes with logits `(0, w·x + b)`: the boundary is the hyperplane `w·x + b = 0`.
final class LinearClassifier: Classifier {
    let w: [Float], b: Float, shape: [Int]?
    init(w: [Float], b: Float, shape: [Int]? = nil) { self.w = w; self.b = b; self.shape = shape }
    var inputShape: [Int] { shape ?? [w.count] }
    var classNames: [String] { ["negative", "positive"] }
    func logits(_ x: Tensor) throws -> Tensor {
        try checkBatch(x)
        let n = x.batchSize, d = w.count
        var z = [Float](repeating: 0, count: n * 2)
        for i in 0..<n {
            var s = b
            for c in 0..<d { s += w[c] * x.scalars[i * d + c] }
            z[i * 2 + 1] = s
        }
        return Tensor(shape: [n, 2], scalars: z)
    }
    func probabilities(_ x: Tensor) throws -> Tensor { try logits(x).softmaxRows() }
}

final class RegionClassifierTests: XCTestCase {
    /// The vote fraction of class "in" is the share of the hypercube inside the slab:
    /// x₀ = 0.45, r = 0.1, slab [0.4, 0.6] → the box [0.35, 0.55] is 75 % inside.
    func testVoteFractionsMatchTheRegionGeometry() throws {
        let f = SlabClassifier(halfWidth: 0.1)
        let region = try RegionClassifier(f, radius: 0.1, samples: 20_000, seed: 3)
        let x = Tensor(shape: [3, 2], scalars: [0.45, 0.5, 0.35, 0.5, 0.9, 0.5])
        let p = try region.probabilities(x)
        XCTAssertEqual(p.scalars[1], 0.75, accuracy: 0.015)   // row 0: 75 % in
        XCTAssertEqual(p.scalars[3], 0.25, accuracy: 0.015)   // row 1: box [0.25, 0.45], 25 % in
        XCTAssertEqual(p.scalars[5], 0, accuracy: 1e-6)       // row 2: far away
        XCTAssertEqual(try region.predictions(x), [1, 0, 0])
        for i in 0..<3 { XCTAssertEqual(p.scalars[2 * i] + p.scalars[2 * i + 1], 1, accuracy: 1e-5) }
    }

    /// Clipping: near the domain's edge the samples pile up on the edge, whose class wins.
    func testSamplesAreClippedToTheDomain() throws {
        let f = SlabClassifier(centre: 1, halfWidth: 0.05)  // in: x₀ > 0.95
        let region = try RegionClassifier(f, radius: 0.2, samples: 4000, seed: 1)
        // Box [0.8, 1.2] clipped: half the samples land on 1.0 (in), 0.05/0.4 of the rest too.
        let p = try region.probabilities(Tensor(shape: [1, 2], scalars: [1.0, 0.5]))
        XCTAssertEqual(p.scalars[1], 0.5 + 0.125, accuracy: 0.03)
    }

    /// Row independence and determinism: a row gets the same votes alone and inside a batch,
    /// and r = 0 is the point classifier.
    func testDeterministicAndRowIndependent() throws {
        let f = SlabClassifier(halfWidth: 0.1)
        let region = try RegionClassifier(f, radius: 0.12, samples: 500, seed: 9, pointsPerBatch: 700)
        let x = Tensor(shape: [4, 2], scalars: [0.45, 0.5, 0.62, 0.1, 0.3, 0.3, 0.5, 0.5])
        let all = try region.votes(x)
        for i in 0..<4 { XCTAssertEqual(Array(all[(2 * i)..<(2 * i + 2)]), try region.votes(x.slice(batch: i..<(i + 1)))) }
        let point = try RegionClassifier(f, radius: 0, samples: 7)
        XCTAssertEqual(try point.predictions(x), try f.predictions(x))
    }

    /// The rule: the largest grid radius whose held-out accuracy is not below the point
    /// classifier's. A slab of half-width 0.05 around 0.5 keeps the majority for r < 0.1.
    func testRadiusSelectionRule() throws {
        let f = SlabClassifier(halfWidth: 0.05)
        let x = Tensor(shape: [3, 2], scalars: [0.5, 0.5, 0.1, 0.5, 0.9, 0.5])
        let s = try RegionClassifier.selectRadius(f, images: x, labels: [1, 0, 0], radii: [0.2, 0.02, 0.08, 0.12], samples: 2000, seed: 4)
        XCTAssertEqual(s.pointAccuracy, 1)
        XCTAssertEqual(s.radii, [0, 0.02, 0.08, 0.12, 0.2])
        XCTAssertEqual(s.accuracies.map { ($0 * 3).rounded() }, [3, 3, 3, 2, 2])
        XCTAssertEqual(s.radius, 0.08)
    }

    func testBadArgumentsThrow() {
        let f = SlabClassifier(halfWidth: 0.1)
        XCTAssertThrowsError(try RegionClassifier(f, radius: -0.1))
        XCTAssertThrowsError(try RegionClassifier(f, radius: .nan))
        XCTAssertThrowsError(try RegionClassifier(f, radius: 0.1, samples: 0))
        XCTAssertThrowsError(try RegionClassifier(f, radius: 0.1, domain: 1...1))
        XCTAssertThrowsError(try RegionClassifier.selectRadius(f, images: Tensor(zeros: [1, 2]), labels: [0], radii: [], samples: 1, seed: 0))
        XCTAssertThrowsError(try RegionClassifier.selectRadius(f, images: Tensor(zeros: [1, 2]), labels: [0, 1], radii: [0.1], samples: 1, seed: 0))
        XCTAssertThrowsError(try RegionClassifier(f, radius: 0.1).probabilities(Tensor(zeros: [1, 3]))) { e in
            XCTAssertEqual((e as? BorderlineError)?.kind, .shapeMismatch)
        }
    }
}

final class DirectionTests: XCTestCase {
    /// The directions are the rows of an orthonormal basis, then their negatives.
    func testDirectionsAreOrthonormalBasisAndNegatives() throws {
        let d = 12
        let u = try DirectionProbe.directions(dimension: d, seed: 5)
        XCTAssertEqual(u.shape, [2 * d, d])
        for i in 0..<d {
            for j in 0..<d {
                var dot: Float = 0
                for c in 0..<d { dot += u.scalars[i * d + c] * u.scalars[j * d + c] }
                XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-5)
            }
            for c in 0..<d { XCTAssertEqual(u.scalars[(d + i) * d + c], -u.scalars[i * d + c]) }
        }
        XCTAssertEqual(try DirectionProbe.directions(dimension: d, count: 5, seed: 5).shape, [5, d])
        XCTAssertEqual(try DirectionProbe.directions(dimension: d, seed: 5), u)  // seeded
        XCTAssertThrowsError(try DirectionProbe.directions(dimension: d, count: 2 * d + 1, seed: 5))
    }

    /// Against a linear classifier the boundary along a unit direction u from x is at L2 distance
    /// s = −(w·x + b)/(w·u) (when positive), i.e. RMS distance s/√D; the class met is the other one.
    func testDistancesMatchALinearClassifierExactly() throws {
        let d = 6
        var g = RandomGenerator(seed: 11)
        let w = (0..<d).map { _ in g.nextNormal() }
        let f = LinearClassifier(w: w, b: 0.3)
        let x = Tensor(shape: [2, d], scalars: (0..<(2 * d)).map { _ in g.nextUniform(-0.3, 0.3) })
        let u = try DirectionProbe.directions(dimension: d, seed: 2)
        var settings = DirectionSettings()
        settings.maxDistance = 2
        settings.coarseSteps = 8
        settings.bisectionSteps = 20
        settings.domain = -100...100
        let r = try DirectionProbe.measure(f, images: x, directions: u, settings: settings)
        let resolution = settings.maxDistance / Float(settings.coarseSteps) / Float(1 << settings.bisectionSteps)
        var found = 0, missing = 0
        for i in 0..<2 {
            var wx: Float = 0.3
            for c in 0..<d { wx += w[c] * x.scalars[i * d + c] }
            let c0 = wx > 0 ? 1 : 0
            XCTAssertEqual(r.originalClasses[i], c0)
            for j in 0..<(2 * d) {
                var wu: Float = 0
                for c in 0..<d { wu += w[c] * u.scalars[j * d + c] }
                let s = -wx / wu, t = s / Float(d).squareRoot()
                if s > 0 && t < settings.maxDistance {
                    found += 1
                    XCTAssertEqual(r.classes[i * 2 * d + j], 1 - c0)
                    XCTAssertGreaterThanOrEqual(r.distances[i * 2 * d + j], t - 1e-4)
                    XCTAssertEqual(r.distances[i * 2 * d + j], t, accuracy: resolution + 1e-4)
                } else {
                    missing += 1
                    XCTAssertEqual(r.classes[i * 2 * d + j], -1)
                    XCTAssertEqual(r.distances[i * 2 * d + j], settings.maxDistance)
                }
            }
        }
        XCTAssertGreaterThan(found, 0)
        XCTAssertGreaterThan(missing, 0)  // u and −u: one side of a hyperplane only
    }

    func testBadSettingsThrow() throws {
        let f = LinearClassifier(w: [1, 1], b: 0)
        let x = Tensor(zeros: [1, 2])
        let u = try DirectionProbe.directions(dimension: 2, seed: 0)
        var s = DirectionSettings(); s.maxDistance = 0
        XCTAssertThrowsError(try DirectionProbe.measure(f, images: x, directions: u, settings: s))
        s = DirectionSettings(); s.coarseSteps = 0
        XCTAssertThrowsError(try DirectionProbe.measure(f, images: x, directions: u, settings: s))
        XCTAssertThrowsError(try DirectionProbe.measure(f, images: x, directions: Tensor(zeros: [3, 5])))
        var a = RegionAnalysisSettings(); a.attacks = ["deepfool"]
        XCTAssertThrowsError(try a.validate())
        a = RegionAnalysisSettings(); a.images = 0
        XCTAssertThrowsError(try a.validate())
        XCTAssertThrowsError(try BoundaryDetector(directionCount: 10))
    }
}

final class PurityTests: XCTestCase {
    /// Classes met 2,2,2,2,5,5,7 and one direction without a boundary: sorted counts 4, 2, 1 of 8.
    func testPurityOfAConstructedCase() {
        let p = AdjacentClassPurity.curve([2, 5, 2, -1, 7, 2, 5, 2], classCount: 10)
        XCTAssertEqual(p.count, 10)
        XCTAssertEqual(p[0], 0.5, accuracy: 1e-12)
        XCTAssertEqual(p[1], 0.75, accuracy: 1e-12)
        XCTAssertEqual(p[2], 0.875, accuracy: 1e-12)
        XCTAssertEqual(p[9], 0.875, accuracy: 1e-12)
        XCTAssertEqual(AdjacentClassPurity.curve([3, 3, 3], classCount: 4), [1, 1, 1, 1])
    }
}

final class DetectorTests: XCTestCase {
    /// Benign: distances spread over [0.3, 1], mixed classes; adversarial: a few very short
    /// distances to one class. The detector separates them on held-out rows.
    func testDetectorLearnsASeparableCase() throws {
        let m = 64, n = 40
        var g = RandomGenerator(seed: 7)
        var distances: [Float] = [], classes: [Int] = []
        for i in 0..<n {
            for _ in 0..<m {
                if i % 2 == 0 { distances.append(g.nextUniform(0.3, 1)); classes.append(Int(g.next() % 5)) }
                else { distances.append(g.nextUniform() < 0.5 ? g.nextUniform(0.001, 0.02) : g.nextUniform(0.3, 1)); classes.append(0) }
            }
        }
        let d = DirectionDistances(distances: distances, classes: classes, originalClasses: [Int](repeating: 1, count: n), directionCount: m)
        var settings = BoundaryDetector.Settings()
        settings.epochs = 40
        settings.learningRate = 0.01
        let detector = try BoundaryDetector(directionCount: m, settings: settings)
        let train = Array(0..<30), test = Array(30..<40)
        let ft = BoundaryDetector.features(d, rows: train, maxDistance: 1, classCount: 5)
        let losses = try detector.train(distances: ft.distances, purities: ft.purities, labels: train.map { $0 % 2 })
        XCTAssertLessThan(losses.last!, losses.first!)
        let fe = BoundaryDetector.features(d, rows: test, maxDistance: 1, classCount: 5)
        XCTAssertEqual(detector.predict(distances: fe.distances, purities: fe.purities), test.map { $0 % 2 })
    }
}

/// The plugin through the API: its options, and the prober and the analysis sharing one
/// measurement of the benign boundary distances.
final class RegionPluginTests: XCTestCase {
    func testOptionsKeepTheirNamesAndCheckAttacksBeforeTheRun() throws {
        let plugin = RegionPlugin()
        let prober = plugin.probers[0], analysis = plugin.analyses[0]
        XCTAssertEqual(try prober.declaredOptions().map(\.option.name),
                       ["images", "radius-images", "radius", "directions", "max-distance", "coarse-steps", "bisection-steps"])
        XCTAssertEqual(Set(try analysis.declaredOptions().map(\.option.name)), [
            "images", "benign-images", "radius-images", "radius", "radius-max", "radius-step", "selection-samples", "region-samples",
            "directions", "max-distance", "coarse-steps", "bisection-steps", "attacks", "fgsm-epsilon", "pgd-epsilon", "pgd-l2-epsilon",
            "pgd-step-size", "pgd-steps", "cw-iterations", "cw-binary-steps", "cw-learning-rate", "cw-initial-constant",
            "cw-confidence", "optmargin-epsilon", "sweep-epsilons", "eot-samples", "detector-epochs", "detector-learning-rate", "detector-train-share", "plot-images"])
        let attacks = try XCTUnwrap(try analysis.declaredOptions().first { $0.option.name == "attacks" })
        XCTAssertEqual(attacks.option.defaultValue, .string("fgsm,pgd-linf,cw-l2,optmargin"))
        XCTAssertNoThrow(try analysis.makeOptions(["attacks": .string(" fgsm , pgd-l2,")]))
        XCTAssertNoThrow(try analysis.makeOptions(["attacks": .string("")]))
        XCTAssertThrowsError(try analysis.makeOptions(["attacks": .string("fgsm,deepfool")])) { e in
            XCTAssertEqual((e as? BorderlineError)?.kind, .invalidArgument)
            XCTAssertTrue("\(e)".contains("unknown attack 'deepfool'"), "\(e)")
        }
        XCTAssertThrowsError(try analysis.makeOptions(["radius-step": .number(0.2), "radius-max": .number(0.1)]))
        XCTAssertEqual(AttackList(parsing: " fgsm , pgd-l2,").names, ["fgsm", "pgd-l2"])
        XCTAssertEqual(AttackList(parsing: "").names, [])
    }

    func testProberAndAnalysisMeasureTheBenignDistancesOnce() throws {
        var g = RandomGenerator(seed: 3)
        let w = (0..<6).map { _ in g.nextNormal() }
        // The boundary through the centre of the cube, so that both classes have images.
        let f = LinearClassifier(w: w, b: -w.reduce(0, +) / 2, shape: [1, 1, 6])
        let x = g.uniform(shape: [30, 1, 1, 6], low: 0, high: 1)
        let data = try Dataset(name: "t", images: x, labels: try f.predictions(x))
        let pairs = [ClassPair(0, 1), ClassPair(1, 0)]
        let env = try RunEnvironment(classifier: f, data: data, pairs: pairs, samplesPerPair: 2, seed: 5)
        let record = PluginRecord(name: "region", version: "0", summary: "")
        env.record.add(record)
        let plugin = RegionPlugin()
        let prober = plugin.probers[0], analysis = plugin.analyses[0]
        let values: [String: JSONValue] = ["images": .number(10), "radius": .number(0.05), "benign-images": .number(12),
                                           "region-samples": .number(7), "attacks": .string(""), "coarse-steps": .number(4), "bisection-steps": .number(3)]
        let proberOptions = try prober.makeOptions(values.filter { ["images", "radius", "coarse-steps", "bisection-steps"].contains($0.key) })
        let context = env.context(plugin: record, component: prober.name, kind: .prober, visibleSets: [])
        var sets: [BoundarySet] = []
        var queries: [Int] = []
        for pair in pairs {
            let before = env.counter.count
            sets.append(try prober.probe(pair, erasedOptions: proberOptions, context: context).set)
            queries.append(env.counter.count - before)
        }
        // The second pair only evaluates its own points: the distances come from the cache.
        XCTAssertEqual(queries[1], sets[1].count)
        XCTAssertGreaterThan(queries[0], 10 * sets[0].count)
        XCTAssertEqual(sets[0].count + sets[1].count, 10, "every attacked image is a start of the pair of its class")
        XCTAssertGreaterThan(sets[1].count, 0)

        let before = env.counter.count
        let output = try analysis.analyse(erasedOptions: try analysis.makeOptions(values),
                                          context: env.context(plugin: record, component: analysis.name, kind: .analysis, visibleSets: sets))
        // Without attacks and with a fixed radius the analysis only runs the region classifier
        // (m = 7 points per image) on the 12 benign and the 10 evaluated images.
        XCTAssertEqual(env.counter.count - before, (12 + 10) * 7)
        let tree = try ResultEncoder.encode(output)
        XCTAssertEqual(tree.number("attacked_images"), 10)
        XCTAssertEqual(tree.number("directions"), 12)
        XCTAssertEqual(tree.number("radius")!, Double(Float(0.05)))
        // The analysis's benign distances are the prober's: a fresh measurement gives the same.
        var settings = RegionAnalysisSettings()
        settings.images = 10
        settings.radius = 0.05
        settings.directions.coarseSteps = 4
        settings.directions.bisectionSteps = 3
        settings.seed = 5
        let fresh = try RegionAnalysis.probe(classifier: f, data: data, predictions: env.predictions, settings: settings)
        guard case .array(.float(let distances))? = tree["benign_direction_distances"] else { return XCTFail("no benign distances") }
        XCTAssertEqual(distances.scalars, fresh.benign.distances.distances)
        XCTAssertEqual(distances.shape, [10, 12])
    }
}
