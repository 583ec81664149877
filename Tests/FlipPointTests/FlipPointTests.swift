import BorderlineCore
import BorderlineTestSupport
@testable import FlipPointKit
import XCTest

/// Two-class model with logits `(−u(x)/2, u(x)/2)`, `u(x) = w·x + b + q/2·‖x‖²`: linear for
/// `q = 0`, where the top-1 logit's gradient is `±w/2` (the boundary normal) and the distance to
/// the boundary is `|w·x + b| / ‖w‖`. With `halfOnly`, logits `(0, u(x))`: class 0's logit is
/// constant, so a point of class 0 never flips along its gradient.
final class TwoClassModel: DifferentiableClassifier {
    let w: [Float], b: Float, q: Float, halfOnly: Bool
    let inputBox: InputBox
    init(w: [Float], b: Float, q: Float = 0, halfOnly: Bool = false, box: InputBox = .unit) {
        self.w = w; self.b = b; self.q = q; self.halfOnly = halfOnly; self.inputBox = box
    }
    var inputShape: [Int] { [1, 1, w.count] }
    let classNames = ["a", "b"]
    func u(_ x: Tensor, _ r: Int) -> Float {
        var s = b
        for j in w.indices { let v = x.scalars[r * w.count + j]; s += w[j] * v + q / 2 * v * v }
        return s
    }
    func logits(_ x: Tensor) throws -> Tensor {
        let n = x.batchSize
        return Tensor(shape: [n, 2], scalars: (0..<n).flatMap { r -> [Float] in
            let v = u(x, r); return halfOnly ? [0, v] : [-v / 2, v / 2]
        })
    }
    func probabilities(_ x: Tensor) throws -> Tensor { try logits(x).softmaxRows() }
    func vjp(_ x: Tensor, cotangent: Tensor, of output: ClassifierOutput) throws -> VectorJacobianProduct {
        let z = try logits(x), n = x.batchSize, d = w.count
        var v = cotangent
        if output == .probabilities { v = Self.probabilityCotangentToLogits(cotangent, probabilities: z.softmaxRows()) }
        var g = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            let du = halfOnly ? v.scalars[r * 2 + 1] : (v.scalars[r * 2 + 1] - v.scalars[r * 2]) / 2
            for j in 0..<d { g[r * d + j] = du * (w[j] + q * x.scalars[r * d + j]) }
        }
        return VectorJacobianProduct(output: output == .logits ? z : z.softmaxRows(), inputGradient: Tensor(shape: x.shape, scalars: g))
    }
}

final class FlipPointTests: XCTestCase {
    let w: [Float] = [0.6, -0.8, 0.3]
    let b: Float = 0.1

    func points(_ n: Int, seed: UInt64 = 1) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return g.uniform(shape: [n, 1, 1, 3], low: -2, high: 2)
    }

    func analytic(_ x: Tensor) -> [Float] {
        let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return (0..<x.batchSize).map { r in abs(TwoClassModel(w: w, b: b).u(x, r)) / norm }
    }

    func testJacobianFlipEqualsAnalyticDistanceOnLinearModel() throws {
        let model = TwoClassModel(w: w, b: b)
        let x = points(40)
        for output in [ClassifierOutput.logits, .probabilities] {
          for schedule in JacobianFlipSearch.AlphaSchedule.allCases {
            var c = JacobianFlipSearch.Configuration()
            c.box = nil
            c.output = output
            c.schedule = schedule
            c.alphaStart = output == .logits ? 1e-3 : 1e-2
            let o = try JacobianFlipSearch.search(model, x, configuration: c)
            let d = RowDistances.between(x, o.points)
            let truth = analytic(x)
            let p0 = try model.predictions(x)
            for r in 0..<40 {
                XCTAssertEqual(o.status[r], .resolved, "row \(r)")
                XCTAssertLessThan(o.gaps[r], 1e-4)
                XCTAssertEqual(o.flipClasses[r], 1 - p0[r])
                XCTAssertEqual(try model.predictions(o.points.slice(batch: r..<(r + 1)))[0], 1 - p0[r], "flip point is on the other side")
                XCTAssertEqual(d.l2[r], truth[r], accuracy: 1e-3 + 1e-3 * truth[r], "row \(r) \(output) \(schedule)")
            }
          }
        }
    }

    func testDeepFoolEqualsAnalyticDistanceWithOvershootOnLinearModel() throws {
        let model = TwoClassModel(w: w, b: b)
        let x = points(40, seed: 2)
        var c = DeepFoolSearch.Configuration()
        c.box = nil
        let o = try DeepFoolSearch.search(model, x, configuration: c)
        let d = RowDistances.between(x, o.points)
        let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let truth = analytic(x)
        for r in 0..<40 {
            XCTAssertTrue(o.flipped[r])
            XCTAssertEqual(o.iterations[r], 1, "a linear model needs one DeepFool step")
            // x₁ = x₀ + 1.02 · (|f|/‖w‖ + 1e-4) w / ‖w‖ (the reference's step): the analytic
            // distance plus 1e-4 in input space, times the overshoot.
            XCTAssertEqual(d.l2[r], 1.02 * (truth[r] + 1e-4), accuracy: 1e-6 + 1e-5 * truth[r])
        }
        c.overshoot = 0
        let none = try DeepFoolSearch.search(model, x, configuration: c)
        let d0 = RowDistances.between(x, none.points)
        for r in 0..<40 { XCTAssertEqual(d0.l2[r], truth[r] + 1e-4, accuracy: 1e-6 + 1e-5 * truth[r]) }
        _ = norm
    }

    func testDeepFoolOnEstimatedGradientsMeasuresTheStepSlope() throws {
        // D = 200, NES with 10 direction pairs: the estimate's norm is mostly noise and only about
        // √(10/200) of it points along w, so the plain Newton step |f|/‖ŵ‖ would fall short by a
        // factor of ~20 each iteration. With the measured slope one step along ŵ reaches the
        // (linear) boundary.
        var g = RandomGenerator(seed: 5)
        let w = (0..<200).map { _ in g.nextNormal() }
        let model = TwoClassModel(w: w, b: 0.3)
        let estimator = try ZerothOrderGradientEstimator(model, configuration: .init(method: .nes, samples: 10, step: 0.01, seed: 3))
        let x = g.uniform(shape: [16, 1, 1, 200], low: -0.05, high: 0.05)
        var c = DeepFoolSearch.Configuration()
        c.box = nil
        c.maxIterations = 3
        let o = try DeepFoolSearch.search(estimator, x, configuration: c)
        let d = RowDistances.between(x, o.points)
        let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for r in 0..<16 {
            XCTAssertTrue(o.flipped[r], "row \(r) did not flip in \(c.maxIterations) iterations")
            XCTAssertEqual(o.iterations[r], 1, "row \(r)")
            let exact = abs(model.u(x, r)) / norm
            XCTAssertGreaterThanOrEqual(d.l2[r], exact * 0.999, "no step can be shorter than the minimal distance")
        }
    }

    func testDeepFoolOvershootScalesTheTotalPerturbationAtEveryIterate() throws {
        // Curved boundary: DeepFool needs several steps; the final point must be x₀ + 1.02·r_tot,
        // not x₀ + r_tot + 0.02·r_last (overshoot once) or x₀ + r_tot (none).
        let model = TwoClassModel(w: w, b: b, q: 3)
        let x = points(30, seed: 3).map { $0 / 4 }
        var c = DeepFoolSearch.Configuration()
        c.box = nil
        let o = try DeepFoolSearch.search(model, x, configuration: c)
        XCTAssertGreaterThan(o.iterations.max()!, 1, "the test needs rows with more than one iteration")
        for r in 0..<30 where o.flipped[r] {
            for j in 0..<3 {
                XCTAssertEqual(o.points.scalars[r * 3 + j], x.scalars[r * 3 + j] + 1.02 * o.totalPerturbation.scalars[r * 3 + j], accuracy: 1e-5)
            }
            XCTAssertNotEqual(try model.predictions(o.points.slice(batch: r..<(r + 1)))[0], o.startClasses[r])
        }
        XCTAssertGreaterThan(o.flipped.filter { $0 }.count, 25)
    }

    /// DeepFool on the shipped CNN: every point it reports as flipped is classified differently
    /// from its start class when classified again on its own (a fresh batch of one row), and
    /// lies in [0, 1].
    func testDeepFoolFlipPointsOnTheShippedCNNHaveAnotherClass() throws {
        let path = CLI.repository.appendingPathComponent("Models/fashion-cnn.h5").path
        let data: Dataset
        do { data = try Dataset.named("fashion-mnist", split: .test) } catch { throw XCTSkip("fashion-mnist is not installed") }
        let model = ModelClassifier(try Model.load(contentsOf: path))
        let x = data.images.slice(batch: 0..<24)
        var c = DeepFoolSearch.Configuration()
        c.batchSize = 8
        let o = try DeepFoolSearch.search(model, x, configuration: c)
        XCTAssertGreaterThanOrEqual(o.flipped.filter { $0 }.count, 22)
        for r in 0..<24 where o.flipped[r] {
            let alone = try model.predictions(o.points.slice(batch: r..<(r + 1)))[0]
            XCTAssertNotEqual(alone, o.startClasses[r], "row \(r)")
            XCTAssertEqual(alone, o.finalClasses[r], "row \(r)")
        }
        XCTAssertTrue(InputBox.unit.contains(o.points))
    }

    /// The per-row start and flip classes of either prober's output.
    static func classes(_ output: any Encodable) -> (start: [Int], flip: [Int])? {
        switch output {
        case let o as JacobianFlipProber.Output: return (o.startClass, o.flipClass)
        case let o as DeepFoolProber.Output: return (o.startClass, o.flipClass)
        default: return nil
        }
    }

    func testMisclassifiedStartsAreAttackedFromTheirPredictedClass() throws {
        // Labels say class 0 for every image; half are predicted 1. No prober may return the input.
        let model = TwoClassModel(w: w, b: b)
        let x = points(20, seed: 4).map { min(max($0 / 4 + 0.5, 0), 1) }
        let data = try Dataset(name: "t", images: x, labels: [Int](repeating: 0, count: 20), classNames: ["a", "b"])
        let env = try RunEnvironment(classifier: model, data: data, pairs: [ClassPair(0, 1)], samplesPerPair: 4, seed: 0)
        let record = PluginRecord(name: "flip-point", version: "0", summary: "")
        let predicted = try model.predictions(x)
        XCTAssertTrue(predicted.contains(1) && predicted.contains(0))
        for prober in FlipPointPlugin().probers {
            let (set, output) = try prober.probe(ClassPair(0, 1), erasedOptions: try prober.makeOptions(["starts": .string("all-images")]),
                                                 context: env.context(plugin: record, component: prober.name, kind: .prober, visibleSets: []))
            let classes = try XCTUnwrap(Self.classes(output), prober.name)
            XCTAssertEqual(set.startIndices, Array(0..<20))
            for r in 0..<20 {
                XCTAssertEqual(classes.start[r], predicted[r], "\(prober.name) starts from the prediction")
                if set.succeeded[r] {
                    XCTAssertEqual(classes.flip[r], 1 - predicted[r], prober.name)
                    XCTAssertGreaterThan(set.extras["l2"]!.scalars[r], 0, "\(prober.name) returned the input for row \(r)")
                }
            }
            XCTAssertGreaterThanOrEqual(set.successCount, 18, prober.name)
        }
    }

    func testNeverFlippedPointsAreReportedNotGivenAHugeDistance() throws {
        // Class 0's logit is constant: its gradient is zero, so its points never move.
        let model = TwoClassModel(w: w, b: b, halfOnly: true)
        let x = points(20, seed: 5)
        let p0 = try model.predictions(x)
        for schedule in JacobianFlipSearch.AlphaSchedule.allCases {
            var c = JacobianFlipSearch.Configuration()
            c.box = nil
            c.maxAlpha = 1e6
            c.schedule = schedule
            let o = try JacobianFlipSearch.search(model, x, configuration: c)
            for r in 0..<20 {
                if p0[r] == 0 {
                    XCTAssertEqual(o.status[r], .neverFlipped, "\(schedule)")
                    XCTAssertTrue(o.alphas[r].isNaN)
                    XCTAssertEqual(o.flipClasses[r], -1)
                    XCTAssertEqual(o.gradientNorms[r], 0)
                } else {
                    XCTAssertEqual(o.status[r], .resolved, "\(schedule)")
                }
            }
        }
        // Through the prober: never-flipped rows fail with a reason, have NaN distances, and are
        // counted and listed in the prober's output — by data-set index (the run's rows are a
        // subset of the data set: row r is image 1000 + 3r here).
        let data = try Dataset(name: "t", images: x, labels: p0, classNames: ["a", "b"])
        let env = try RunEnvironment(classifier: model, data: data, pairs: [ClassPair(0, 1)], samplesPerPair: 10, seed: 0,
                                     dataSetIndices: (0..<20).map { 1000 + 3 * $0 })
        let prober = JacobianFlipProber()
        var options = JacobianFlipProber.Options()
        options.domain.clip = false
        let probe = try prober.probe(ClassPair(0, 1), options: options,
                                     context: env.context(plugin: PluginRecord(name: "flip-point", version: "0", summary: ""),
                                                          component: prober.name, kind: .prober, visibleSets: []))
        let set = probe.set, output = probe.output
        var never: [Int] = []
        for r in 0..<set.count where output.startClass[r] == 0 {
            XCTAssertFalse(set.succeeded[r])
            XCTAssertEqual(output.status[r], .neverFlipped)
            XCTAssertEqual(output.flipClass[r], -1)
            XCTAssertTrue(set.failureReasons[r]!.contains("never flipped"))
            XCTAssertTrue(set.extras["l2"]!.scalars[r].isNaN)
            never.append(set.startIndices[r])
        }
        XCTAssertFalse(never.isEmpty)
        XCTAssertEqual(output.neverFlipped, never.count)
        XCTAssertEqual(output.neverFlippedIndices, never.map { 1000 + 3 * $0 }, "data-set indices, like start_indices in results.h5")
        XCTAssertEqual(output.settings?.alphaSchedule, "scaled")
        XCTAssertEqual(output.settings?.clip, false)
        XCTAssertEqual(output.resolved, set.count - never.count)
        XCTAssertEqual(try ResultEncoder.encode(output)["status"].flatMap { if case .array(.int64(let v, _)) = $0 { return v } else { return nil } },
                       output.status.map { Int64($0.rawValue) }, "status is stored as int64 codes")
    }

    func testBatchingDoesNotChangeResults() throws {
        let model = TwoClassModel(w: w, b: b, q: 2)
        let x = points(17, seed: 6).map { $0 / 4 }
        var c = JacobianFlipSearch.Configuration()
        c.box = nil
        c.batchSize = 256
        let all = try JacobianFlipSearch.search(model, x, configuration: c)
        c.batchSize = 3
        let split = try JacobianFlipSearch.search(model, x, configuration: c)
        XCTAssertEqual(all.points, split.points)
        var d = DeepFoolSearch.Configuration()
        d.box = nil
        let dAll = try DeepFoolSearch.search(model, x, configuration: d)
        d.batchSize = 4
        XCTAssertEqual(dAll.points, try DeepFoolSearch.search(model, x, configuration: d).points)
    }

    func testDistanceSampleSets() throws {
        let keys = Array(100..<200)
        let l2 = (0..<100).map { Double(($0 * 37) % 100) }   // a permutation of 0…99
        let sets = try XCTUnwrap(FlipDistanceAnalysis.sampleSets(keys: keys, l2: l2, fraction: 0.1, seed: 1))
        let byName = Dictionary(uniqueKeysWithValues: sets.named)
        func distances(_ idx: [Int]) -> [Double] { idx.map { l2[$0 - 100] }.sorted() }
        XCTAssertEqual(distances(byName["lowest_distance_10pct"]!), (0..<10).map(Double.init))
        XCTAssertEqual(distances(byName["highest_distance_10pct"]!), (90..<100).map(Double.init))
        let uniform = distances(byName["uniform_over_distance"]!)
        XCTAssertEqual(uniform.count, 10)
        XCTAssertEqual(Set(uniform).count, 10)
        XCTAssertLessThan(uniform.first!, 10)
        XCTAssertGreaterThan(uniform.last!, 89)
        XCTAssertEqual(byName["random_10pct"]!.count, 10)
    }

    /// The option names and defaults of the old value declarations, now read from the structs.
    func testOptionsKeepTheirNamesAndDefaults() throws {
        let probers = FlipPointPlugin().probers
        // clip-low/clip-high are gone (issue 15): the box is the model's input box.
        XCTAssertEqual(try probers[0].declaredOptions().map(\.option.name),
                       ["starts", "per-pair", "gradient-of", "alpha-schedule", "first-step", "step-growth", "alpha-start", "max-alpha", "tolerance",
                        "bracket", "max-steps", "clip", "batch-size"])
        XCTAssertEqual(try probers[1].declaredOptions().map(\.option.name),
                       ["starts", "per-pair", "max-iterations", "overshoot", "candidates", "clip", "batch-size"])
        XCTAssertEqual(try FlipDistanceAnalysis().declaredOptions().map(\.option.name), ["norm", "dense-check", "dense-check-steps", "extraction-epochs"])
        let j = try XCTUnwrap(try probers[0].makeOptions([:]) as? JacobianFlipProber.Options).configuration()
        XCTAssertEqual(j.schedule, .scaled, "the scaled ladder is the default (issue 20 item 1)")
        XCTAssertEqual(j.firstStep, Float(1e-3 as Double))
        XCTAssertEqual(j.stepGrowth, 1.1)
        XCTAssertEqual(j.alphaStart, 1)
        XCTAssertEqual(j.alphaGrowth, 10)
        XCTAssertEqual(j.maxAlpha, 1e10)
        XCTAssertEqual(j.tolerance, Float(1e-4 as Double))
        XCTAssertEqual(j.maxSteps, 60)
        XCTAssertEqual(j.box, .unit)
        XCTAssertEqual(j.output, .logits)
        XCTAssertEqual(j.batchSize, 256)
        let d = try XCTUnwrap(try probers[1].makeOptions([:]) as? DeepFoolProber.Options)
        XCTAssertEqual(d.start.starts, .pair)
        XCTAssertEqual([d.maxIterations, d.candidates, d.domain.batchSize], [50, 10, 256])
        XCTAssertEqual(d.overshoot, 0.02)
        let set = try XCTUnwrap(try probers[0].makeOptions(["gradient-of": .string("probability"), "starts": .string("all-images"), "clip": .bool(false),
                                                            "alpha-schedule": .string("paper")])
            as? JacobianFlipProber.Options)
        XCTAssertEqual(set.configuration().output, .probabilities)
        XCTAssertNil(set.configuration().box)
        XCTAssertEqual(set.configuration().schedule, .paper)
        XCTAssertEqual(set.start.starts, .allImages)
        XCTAssertThrowsError(try probers[0].makeOptions(["alpha-schedule": .string("fast")])) { e in
            XCTAssertTrue("\(e)".contains("alphaSchedule") && "\(e)".contains("fast"), "\(e)")
        }
    }

    func testStatistics() {
        XCTAssertEqual(Stats.pearson([1, 2, 3], [2, 4, 6]), 1, accuracy: 1e-12)
        XCTAssertEqual(Stats.spearman([1, 2, 3, 4], [1, 8, 27, 64]), 1, accuracy: 1e-12)
        XCTAssertEqual(Stats.spearman([1, 2, 3], [3, 2, 1]), -1, accuracy: 1e-12)
        XCTAssertEqual(Stats.median([3, 1, 2, 10]), 2.5)
    }
}
