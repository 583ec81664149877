import XCTest
import BorderlineCore
@testable import DeepDIGKit

/// A three-class linear classifier on 16 pixels that looks only at the mean intensity μ:
/// z₀ = 10(0.5 − μ), z₁ = 10(μ − 0.5), z₂ = −5 (class 2 never wins).
private func toyClassifier() throws -> ModelClassifier {
    var g = RandomGenerator(seed: 1)
    let fc = Dense(inFeatures: 16, outFeatures: 3, generator: &g)
    var w = [Float](repeating: 0, count: 48)
    for j in 0..<16 { w[j] = -10 / 16; w[16 + j] = 10 / 16 }
    fc.weight.value = Tensor(shape: [3, 16], scalars: w)
    fc.bias!.value = Tensor(shape: [3], scalars: [5, -5, -5])
    return ModelClassifier(try Model.sequential(inputShape: [1, 4, 4], [("flat", Flatten()), ("fc", fc)]), classNames: ["dark", "bright", "never"])
}

/// 40 dark images (pixels in [0, 0.3]) labelled 0 and 40 bright ones (pixels in [0.7, 1]) labelled 1.
private func toyData() throws -> Dataset {
    var g = RandomGenerator(seed: 2)
    let dark = g.uniform(shape: [40, 1, 4, 4], low: 0, high: 0.3), bright = g.uniform(shape: [40, 1, 4, 4], low: 0.7, high: 1)
    return try Dataset(name: "toy", images: Tensor.concatenate(batches: [dark, bright]),
                       labels: Array(repeating: 0, count: 40) + Array(repeating: 1, count: 40), classNames: ["dark", "bright", "never"])
}

/// A prober with typed options built from option names and values (as `--set` gives them, after
/// the options' own checks) and a context on the toy data.
private struct Harness<P: BoundaryProber> {
    let prober: P
    let options: P.Options
    let context: RunContext
    let record: PluginRecord
    func probe(_ pair: ClassPair) throws -> Probe<P.Output> { try prober.probe(pair, options: options, context: context) }
    var notes: [String] { record.notes.map(\.text) }
}

private func harness<P: BoundaryProber>(_ prober: P, _ overrides: [String: JSONValue], classifier: ModelClassifier) throws -> Harness<P> {
    let environment = try RunEnvironment(classifier: classifier, data: try toyData(), pairs: [ClassPair(0, 1)], samplesPerPair: 10, seed: 7)
    let record = PluginRecord(name: "deepdig", version: "0", summary: "")
    let options = try XCTUnwrap(try prober.makeOptions(overrides) as? P.Options)
    return Harness(prober: prober, options: options, context: environment.context(plugin: record, component: prober.name, kind: .prober, visibleSets: []),
                   record: record)
}

/// A context for calling ``Autoencoders/train`` directly.
private func trainingContext(_ classifier: ModelClassifier, data: Dataset, pair: ClassPair) throws -> RunContext {
    let environment = try RunEnvironment(classifier: classifier, data: data, pairs: [pair], samplesPerPair: 1, seed: 7)
    return environment.context(plugin: PluginRecord(name: "deepdig", version: "0", summary: ""), component: "deepdig", kind: .prober, visibleSets: [])
}

final class DeepDIGTests: XCTestCase {
    func testDeepDIGFindsBorderlinePointsOnAToyClassifier() throws {
        let classifier = try toyClassifier()
        // The toy's 16 pixels sum to a far smaller reconstruction term than a real image's, so the
        // pixel-mean reduction is the balance under which 150 steps suffice here.
        let settings: [String: JSONValue] = ["train-data": .string("run"), "steps": .number(150), "batch-size": .number(16),
                                             "grid-rows": .number(0), "reconstruction-reduction": .string("mean")]
        let h = try harness(DeepDIGProber(), settings, classifier: classifier)
        let probe = try h.probe(ClassPair(0, 1))
        let set = probe.set, numbers = probe.output
        XCTAssertEqual(numbers.component1Images, 40)
        XCTAssertEqual(numbers.component1ValidationImages, 8)
        XCTAssertLessThanOrEqual(numbers.component1AccuracyValidation, 0.05, "A1 moves dark images to bright")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(numbers.component2Accuracy), 0.95, "A2 moves them back")
        XCTAssertGreaterThan(set.count, 30)
        XCTAssertEqual(set.successCount, set.count, "a linear boundary: every pair bisects to |f_s − f_t| < β")
        for i in set.successfulIndices { XCTAssertLessThan(set.probabilityGaps[i], 1e-4) }
        // Deterministic for a seed.
        let again = try harness(DeepDIGProber(), settings, classifier: classifier).probe(ClassPair(0, 1)).set
        XCTAssertEqual(again.points.scalars, set.points.scalars)
    }

    /// The autoencoders live in the classifier's input box mapped onto [0, 1] (issue 15): a model
    /// whose box is [−1, 1] and which first maps x′ ↦ (x′ + 1)/2 onto the toy is the toy in other
    /// coordinates, so A1 must train exactly as on the toy with x = (x′ + 1)/2, and its outputs be
    /// 2·A1(x) − 1 — negative pixels a bare sigmoid could never give. BCE's targets stay in [0, 1].
    func testAutoencodersWorkInTheClassifiersInputBox() throws {
        let toy = try toyClassifier()
        let shifted = try Model.sequential(inputShape: [1, 4, 4], [("to-unit", try Rescaling(scale: [0.5], offset: [0.5]))]
                                           + toy.model.nodes.map { ($0.name, $0.layer) })
        shifted.inputBox = try InputBox(lower: -1, upper: 1)
        let boxed = ModelClassifier(shifted, classNames: toy.classNames)
        let x = try toyData().images.slice(batch: 0..<40).reshaped([40, 16])
        let xBox = x.map { 2 * $0 - 1 }
        var settings = AutoencoderSettings()
        settings.steps = 5
        settings.batchSize = 8
        settings.reconstruction = .bce
        var outputs: [Tensor] = [], weights: [[Float]] = []
        for (classifier, images) in [(toy, x), (boxed, xBox)] {
            var g = RandomGenerator(seed: 3), random = RandomGenerator(seed: 4)
            let a1 = try Autoencoders.table2(inputSize: 16, generator: &g)
            let ctx = try trainingContext(classifier, data: try toyData(), pair: ClassPair(0, 1))
            try Autoencoders.train(a1, images: images, target: 1, settings: settings, context: ctx, random: &random, task: "A1")
            weights.append(a1.namedParameters.flatMap { $0.parameter.value.scalars })
            outputs.append(Autoencoders.apply(a1, to: images, coordinates: BoxCoordinates(box: classifier.inputBox, imageShape: [1, 4, 4])))
        }
        let worst = zip(weights[0], weights[1]).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-5, "the same training in box coordinates")
        for (a, b) in zip(outputs[0].scalars, outputs[1].scalars) { XCTAssertEqual(b, 2 * a - 1, accuracy: 1e-5) }
        XCTAssertTrue(outputs[1].scalars.contains { $0 < 0 } && outputs[1].scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
        // Per channel: [C=2] bounds map each channel's block.
        let c = BoxCoordinates(box: try InputBox(lower: [0, -2], upper: [1, 2]), imageShape: [2, 1, 2])
        let v = Tensor(shape: [1, 2, 1, 2], scalars: [0.25, 1, -2, 1])
        XCTAssertEqual(c.toUnit(v).scalars, [0.25, 1, 0, 0.75])
        XCTAssertEqual(c.toInput(c.toUnit(v)).scalars, v.scalars)
        XCTAssertEqual(c.pullback(Tensor(shape: [1, 4], scalars: [1, 1, 1, 1])).scalars, [1, 1, 4, 4])
    }

    /// With two threads a step's batch halves run on two replicas of the autoencoder and their
    /// gradients are summed: the same training as one pass up to float rounding, for both loss
    /// variants; the replica is refused for batches too small to split and for one thread.
    func testDataParallelStepsTrainAsOnePass() throws {
        defer { ComputePolicy.reset() }
        let toy = try toyClassifier()
        let x = try toyData().images.slice(batch: 0..<40).reshaped([40, 16])
        for reconstruction in [Reconstruction.mse, .bce] {
            var settings = AutoencoderSettings()
            settings.steps = 6
            settings.batchSize = 64
            settings.reconstruction = reconstruction
            var weights: [[Float]] = [], losses: [[Float]] = []
            for threads in [1, 2] {
                ComputePolicy.configure(threads: threads)
                var g = RandomGenerator(seed: 3), random = RandomGenerator(seed: 4)
                let a1 = try Autoencoders.table2(inputSize: 16, generator: &g)
                let images = Tensor.concatenate(batches: [x, x])      // 80 rows: a 64-row batch splits
                let ctx = try trainingContext(toy, data: try toyData(), pair: ClassPair(0, 1))
                var seen: [Float] = []
                var made = 0
                try Autoencoders.train(a1, images: images, target: 1, settings: settings, context: ctx, random: &random, task: "A1",
                                       onStep: { _, r, c in seen += [r, c] },
                                       makeReplica: { made += 1; var u = RandomGenerator(seed: 9); return try Autoencoders.table2(inputSize: 16, generator: &u) })
                XCTAssertEqual(made, threads == 2 ? 1 : 0, "a replica only with two threads")
                weights.append(a1.namedParameters.flatMap { $0.parameter.value.scalars })
                losses.append(seen)
            }
            let worst = zip(weights[0], weights[1]).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 1e-5, "\(reconstruction): two halves on two replicas = one pass")
            var g0 = RandomGenerator(seed: 3)
            let initial = try Autoencoders.table2(inputSize: 16, generator: &g0).namedParameters.flatMap { $0.parameter.value.scalars }
            XCTAssertGreaterThan(zip(weights[0], initial).map { abs($0 - $1) }.max()!, 1e-3, "training moved the weights")
            for (a, b) in zip(losses[0], losses[1]) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a))) }
        }
        ComputePolicy.configure(threads: 2)
        var g1 = RandomGenerator(seed: 1)
        let ae = try Autoencoders.table2(inputSize: 16, generator: &g1)
        XCTAssertNil(try Autoencoders.dataParallelReplica(of: ae, batch: 63, make: { ae }), "under 2 × 32 rows: one pass")
        ComputePolicy.configure(threads: 1)
        XCTAssertNil(try Autoencoders.dataParallelReplica(of: ae, batch: 128, make: { ae }), "one thread: one pass")
    }

    func testNoAdversarialFromComponentIGivesAnEmptySetNotAFailure() throws {
        // Class 2 never wins on the toy classifier, so A1 cannot turn a dark image into it.
        let classifier = try toyClassifier()
        let h = try harness(DeepDIGProber(), ["train-data": .string("run"), "steps": .number(20), "batch-size": .number(16),
                                              "grid-rows": .number(0)], classifier: classifier)
        let probe = try h.probe(ClassPair(0, 2))
        let set = probe.set
        XCTAssertEqual(set.count, 0)
        XCTAssertEqual(set.points.shape, [0, 1, 4, 4])
        XCTAssertEqual(probe.output.component1Kept, 0)
        XCTAssertTrue(h.notes.contains { $0.contains("component I produced no adversarial classified as 2") })
    }

    func testHalvingCapCountsAsFailureWithItsReason() throws {
        let classifier = try toyClassifier()
        let set = try harness(RandomPairBaseline(), ["train-data": .string("run"), "max-halvings": .number(2), "beta": .number(1e-6)],
                              classifier: classifier).probe(ClassPair(0, 1)).set
        XCTAssertEqual(set.count, 40)
        XCTAssertEqual(set.successCount, 0)
        XCTAssertTrue(set.failureReasons.allSatisfy { $0?.contains("step cap of 2 halvings") == true }, "\(set.failureHistogram)")
        XCTAssertTrue(set.iterations.allSatisfy { $0 == 2 })
        let uncapped = try harness(RandomPairBaseline(), ["train-data": .string("run")], classifier: classifier).probe(ClassPair(0, 1)).set
        XCTAssertEqual(uncapped.successCount, 40)
    }

    func testMidpointOfAThirdClassFailsUnderAlgorithm1() throws {
        // 1-D: class 2 wins around x = 0.5; class 0 at x = 0, class 1 at x = 1.
        var g = RandomGenerator(seed: 1)
        let fc = Dense(inFeatures: 1, outFeatures: 3, generator: &g)
        fc.weight.value = Tensor(shape: [3, 1], scalars: [-10, 10, 0])
        fc.bias!.value = Tensor(shape: [3], scalars: [4, -6, 0])   // z at 0.5: −1, −1, 0
        let classifier = ModelClassifier(try Model.sequential(inputShape: [1], [("fc", fc)]))
        let a = Tensor(shape: [1, 1], scalars: [0]), b = Tensor(shape: [1, 1], scalars: [1])
        let strict = try BoundaryBisection.bisect(classifier, from: a, to: b, sources: [0], targets: [1],
                                                  configuration: .init(tolerance: 1e-4, maxSteps: 40, failOnThirdClassMidpoint: true))
        XCTAssertFalse(strict.succeeded[0])
        XCTAssertTrue(strict.failureReasons[0]!.contains("midpoint left both classes"), strict.failureReasons[0]!)
        XCTAssertEqual(strict.steps[0], 1)
    }

    func testEPBSPairsEachSourceWithItsOwnNearestTarget() {
        let queries = Tensor(shape: [3, 2], scalars: [0, 0, 10, 10, 5, 0])
        let pool = Tensor(shape: [3, 2], scalars: [9, 9, 1, 0, 5, 1])
        XCTAssertEqual(EmbeddingPairBaseline.nearest(queries, in: pool), [1, 0, 2])
    }

    func testIDCOnHandBuiltCases() throws {
        var random = RandomGenerator(seed: 3)
        let two = Tensor(shape: [2, 1], scalars: [0, 1])
        // Threshold at 0.5: one change along each segment of m = 5 points → O = 1/5.
        let threshold = try XCTUnwrap(InputSpaceComplexity.compute(two, k: 50, m: 5, maxPoints: 0, random: &random) { x in
            x.scalars.map { $0 > 0.5 ? 1 : 0 }
        })
        XCTAssertEqual(threshold.value, 0.2, accuracy: 1e-12)
        XCTAssertEqual(threshold.partners, 1, "fewer than k + 1 points: every other point is the partner")
        XCTAssertEqual(threshold.pointsUsed, 2)
        // Stripes of width 1/4: m = 9 points 0, 1/8, …, 1 give classes 0 0 1 1 0 0 1 1 0 → 4 changes → O = 4/9.
        let stripes = try XCTUnwrap(InputSpaceComplexity.compute(two, k: 3, m: 9, maxPoints: 0, random: &random) { x in
            x.scalars.map { Int(($0 * 4 + 1e-4).rounded(.down)) % 2 }
        })
        XCTAssertEqual(stripes.value, 4.0 / 9.0, accuracy: 1e-12)
        XCTAssertNil(try InputSpaceComplexity.compute(Tensor(shape: [1, 1], scalars: [0]), k: 5, m: 5, maxPoints: 0, random: &random) { _ in [] })
    }

    /// IDC through ``AffineProbeEvaluator`` (the CNN's first convolution interpolated from the
    /// borderline points) against classifying the segment points themselves: the same anchors,
    /// partners and τ, so the same value unless a point sits within float rounding of a boundary.
    func testIDCThroughTheConvolutionSplitMatchesThePoints() throws {
        let cnn = ModelClassifier(try Model.fashionCNN(seed: 7))
        var g = RandomGenerator(seed: 4)
        // Images of different brightness, so the random CNN's classes differ between them.
        let noise = g.uniform(shape: [24, 1, 28, 28], low: 0, high: 1).scalars
        let points = Tensor(shape: [24, 1, 28, 28], scalars: noise.enumerated().map { $0.element * Float($0.offset / 784 + 1) / 6 })
        let evaluator = try AffineProbeEvaluator(cnn, anchors: points, convolutions: true)
        XCTAssertTrue(evaluator.isSplit)
        var r1 = RandomGenerator(seed: 9), r2 = RandomGenerator(seed: 9)
        let plain = try XCTUnwrap(InputSpaceComplexity.compute(points, k: 10, m: 20, maxPoints: 0, random: &r1) { try cnn.predictions($0) })
        let split = try XCTUnwrap(InputSpaceComplexity.compute(24, k: 10, m: 20, maxPoints: 0, random: &r2) {
            try evaluator.logits(indices: $0, weights: $1, arity: 2).argmaxRows()
        })
        XCTAssertGreaterThan(plain.value, 0, "the random CNN changes class along some segments")
        XCTAssertEqual(split.value, plain.value, accuracy: 1e-3)
        XCTAssertEqual(split.pointsUsed, plain.pointsUsed)
    }

    /// The authors' code samples τ = p/m, p < m, so the anchor x_i itself is never classified.
    /// Two points 0 and 1 with the class boundary exactly at 1 (C(x) = 1 iff x ≥ 1), m = 5:
    /// paper (τ = 0, ¼, …, 1): segment 0 → 1 gives classes 1 0 0 0 0 and segment 1 → 0 gives
    /// 0 0 0 0 1, one change each → IDC = 1/5. Authors (τ = 0, 0.2, …, 0.8): anchor 0 sees
    /// x = 1, 0.8, …, 0.2 → 1 0 0 0 0 (one change), anchor 1 sees x = 0, 0.2, …, 0.8 → no change
    /// → IDC = (1/5 + 0)/2 = 1/10. With the boundary inside the segment (at ½) both give 1/5.
    func testIDCAuthorsSamplingLeavesTheAnchorOut() throws {
        let two = Tensor(shape: [2, 1], scalars: [0, 1])
        func idc(_ sampling: IDCSampling, _ classify: @escaping (Float) -> Int) throws -> Double {
            var random = RandomGenerator(seed: 3)
            return try XCTUnwrap(InputSpaceComplexity.compute(two, k: 1, m: 5, maxPoints: 0, sampling: sampling, random: &random) {
                $0.scalars.map(classify)
            }).value
        }
        XCTAssertEqual(IDCSampling.authors.taus(m: 5), [0, 0.2, 0.4, 0.6, 0.8])
        XCTAssertEqual(IDCSampling.paper.taus(m: 5), [0, 0.25, 0.5, 0.75, 1])
        let atTheEnd: (Float) -> Int = { $0 >= 1 ? 1 : 0 }
        XCTAssertEqual(try idc(.paper, atTheEnd), 0.2, accuracy: 1e-12)
        XCTAssertEqual(try idc(.authors, atTheEnd), 0.1, accuracy: 1e-12)
        let inside: (Float) -> Int = { $0 > 0.5 ? 1 : 0 }
        XCTAssertEqual(try idc(.paper, inside), 0.2, accuracy: 1e-12)
        XCTAssertEqual(try idc(.authors, inside), 0.2, accuracy: 1e-12)
    }

    func testLinearSVMSeparatesAndMeasuresDistances() throws {
        // Class 3 on the left (x ≤ −1), class 8 on the right (x ≥ 1), y anything: hyperplane x ≈ 0.
        var g = RandomGenerator(seed: 5)
        var rows: [Float] = [], labels: [Int] = []
        for i in 0..<200 {
            let left = i % 2 == 0
            rows += [(left ? -1 : 1) * (1 + 2 * g.nextUniform()), 10 * g.nextUniform() - 5]
            labels.append(left ? 3 : 8)
        }
        let svm = try LinearSVM.train(Tensor(shape: [200, 2], scalars: rows), labels: labels)
        XCTAssertEqual(svm.predict(Tensor(shape: [200, 2], scalars: rows)), labels)
        XCTAssertEqual(svm.predict(Tensor(shape: [2, 2], scalars: [-3, 0, 3, 0])), [3, 8])
        let d = svm.distances(Tensor(shape: [2, 2], scalars: [0, 4, 2, 0]))
        XCTAssertLessThan(d[0], 0.3, "a point on x = 0 lies near the hyperplane")
        XCTAssertEqual(d[1], 2, accuracy: 0.3)
        XCTAssertThrowsError(try LinearSVM.train(Tensor(shape: [2, 2], scalars: [0, 0, 1, 1]), labels: [1, 1]))
        XCTAssertEqual(EmbeddingComplexity.edc1([1, 3]).normalised, 2.0 / 3.0, accuracy: 1e-12)
    }

    func testSVMToleranceAndSolverReachLIBLINEAR() throws {
        // Two overlapping Gaussian classes in 8 dimensions (not separable: the solvers need many steps).
        var g = RandomGenerator(seed: 11)
        var rows: [Float] = [], labels: [Int] = []
        for i in 0..<400 {
            let c = i % 2
            for d in 0..<8 { rows.append(Float(g.nextNormal()) + (c == 0 ? -0.3 : 0.3) * Float(d % 3)) }
            labels.append(c == 0 ? 1 : 2)
        }
        let x = Tensor(shape: [400, 8], scalars: rows)
        let loose = try LinearSVM.train(x, labels: labels, tolerance: 0.5, solver: .dual)
        let tight = try LinearSVM.train(x, labels: labels, tolerance: 1e-6, solver: .dual)
        let primal = try LinearSVM.train(x, labels: labels, tolerance: 1e-6, solver: .primal)
        XCTAssertGreaterThan(loose.iterations, 0, "LIBLINEAR's iteration count is read")
        XCTAssertGreaterThan(tight.iterations, loose.iterations, "a tighter tolerance takes more passes: \(tight.iterations) vs \(loose.iterations)")
        XCTAssertFalse(tight.reachedIterationLimit)
        XCTAssertGreaterThan(primal.iterations, 0)
        XCTAssertFalse(primal.reachedIterationLimit)
        // Same problem: both solvers agree at a tight tolerance, far better than the loose one does.
        func gap(_ a: LinearSVM, _ b: LinearSVM) -> Double {
            zip(a.weights + [a.bias], b.weights + [b.bias]).map { abs($0 - $1) }.max()! / b.weightNorm
        }
        XCTAssertLessThan(gap(tight, primal), 1e-4, "dual and primal reach the same SVM")
        XCTAssertGreaterThan(gap(loose, primal), 10 * max(gap(tight, primal), 1e-6), "the loose stop leaves another hyperplane")
        // Bad values are refused with a message naming them.
        for bad in [0, -1e-3, Double.nan, .infinity] {
            XCTAssertThrowsError(try LinearSVM.train(x, labels: labels, tolerance: bad)) {
                XCTAssertTrue("\($0)".contains("tolerance"), "\($0)")
            }
        }
        XCTAssertThrowsError(try LinearSVM.train(x, labels: labels, C: 0)) { XCTAssertTrue("\($0)".contains("C must be"), "\($0)") }
        // The metric's options: the authors' call's values by default; out-of-range values refused before a run.
        let defaults = try XCTUnwrap(try EmbeddingComplexity().makeOptions([:]) as? EmbeddingComplexity.Options)
        XCTAssertEqual(defaults.svmTolerance, 1e-4)
        XCTAssertEqual(defaults.svmSolver, .dual)
        let set = try XCTUnwrap(try EmbeddingComplexity().makeOptions(["svm-tolerance": .number(1e-2), "svm-solver": .string("primal")])
                                as? EmbeddingComplexity.Options)
        XCTAssertEqual(set.svmTolerance, 1e-2); XCTAssertEqual(set.svmSolver.liblinear, .primal)
        let declared = try XCTUnwrap(try EmbeddingComplexity().declaredOptions().first { $0.option.name == "svm-tolerance" })
        XCTAssertEqual(declared.option.kind, .number(1e-12...1), "the host's range check before a run")
        for bad: JSONValue in [.number(0), .number(-1), .number(2)] {
            XCTAssertThrowsError(try EmbeddingComplexity().makeOptions(["svm-tolerance": bad])) {
                XCTAssertTrue("\($0)".contains("svm-tolerance"), "\($0)")
            }
        }
        XCTAssertThrowsError(try EmbeddingComplexity().makeOptions(["svm-solver": .string("newton")])) {
            XCTAssertTrue("\($0)".contains("newton"), "\($0)")
        }
    }
}

final class DeepDIGAllPairsTests: XCTestCase {
    func testHeatmapMatricesAndCorrelation() throws {
        // One producer's IDC per ordered pair (the analysis takes them from the `idc` metric's outputs).
        let entries: [(pair: ClassPair, value: Double)] = [
            (ClassPair(0, 1), 0.1), (ClassPair(1, 0), 0.2), (ClassPair(2, 0), 0.4),
            (ClassPair(5, 0), 9),   // out of range: ignored
        ]
        let m = AllPairsSummary.matrix(entries, classes: [0, 1, 2])
        let sub = AllPairsSummary.matrix(entries, classes: [0, 2])
        XCTAssertEqual(sub[1][0], 0.4, "rows and columns follow the listed classes")
        XCTAssertTrue(sub[0][1].isNaN)
        XCTAssertEqual(m[0][1], 0.1); XCTAssertEqual(m[1][0], 0.2); XCTAssertEqual(m[2][0], 0.4)
        XCTAssertTrue(m[0][0].isNaN && m[1][2].isNaN, "no value: NaN (grey)")
        // Perfectly linear relation over the 3 defined cells → r = 1; anti-linear → −1.
        let linear = m.map { $0.map { 2 * $0 + 1 } }, anti = m.map { $0.map { -$0 } }
        XCTAssertEqual(AllPairsSummary.correlation(m, linear).r, 1, accuracy: 1e-12)
        XCTAssertEqual(AllPairsSummary.correlation(m, linear).cells, 3)
        XCTAssertEqual(AllPairsSummary.correlation(m, anti).r, -1, accuracy: 1e-12)
        XCTAssertEqual(Charts.pearson([1, 2, 3, 4], [2, 1, 4, 3]), 0.6, accuracy: 1e-12)
        XCTAssertTrue(Charts.pearson([1, 1], [2, 3]).isNaN, "zero variance")
        let image = try Charts.heatmap(m, title: "IDC")
        XCTAssertEqual(image.height, 52 + 3 * 32 + 48)
        XCTAssertEqual(Charts.viridis(0), [68, 1, 84]); XCTAssertEqual(Charts.viridis(1), [253, 231, 37])
        // Cell centres (the grid starts right of the widest row label): (0, 1) holds the smallest
        // value, (2, 0) the largest, (0, 0) none.
        let left = 12 + max(["0", "1", "2"].map { TextRenderer.shared.measure($0, size: 12).width }.max()!, 16) + 8
        func cell(_ row: Int, _ column: Int) -> [UInt8] {
            let i = 3 * ((52 + row * 32 + 16) * image.width + left + column * 32 + 16)
            return Array(image.pixels[i..<(i + 3)])
        }
        XCTAssertEqual(cell(0, 1), Charts.viridis(0)); XCTAssertEqual(cell(2, 0), Charts.viridis(1))
        XCTAssertEqual(cell(1, 0), Charts.viridis((0.2 - 0.1) / 0.3)); XCTAssertEqual(cell(0, 0), Palette.missing)
        let scatter = try Charts.scatter([.init(label: "a", colour: [230, 20, 20], points: [(0, 0), (1, 1)], size: 3)], title: "T")
        XCTAssertGreaterThan(scatter.width, 0)
        // Both points are drawn as 3×3 squares of the series colour (the legend adds one more swatch).
        let red = stride(from: 0, to: scatter.pixels.count, by: 3).filter { scatter.pixels[$0] == 230 && scatter.pixels[$0 + 1] == 20 && scatter.pixels[$0 + 2] == 20 }.count
        XCTAssertGreaterThanOrEqual(red, 2 * 9)
    }
}

final class DeepDIGBoundaryTests: XCTestCase {
    /// A boundary needs both directions; its IDC is the mean of the two, its EDC the pooled values
    /// stored under the pair with s < t; Pearson runs over boundaries.
    func testBoundariesPairTheTwoDirections() throws {
        // One producer's `idc` and `edc` outputs (another producer's are another DirectionValues).
        func idc(_ v: Double) -> InputSpaceComplexity.Output { .init(idc: v, borderlinePoints: 0) }
        var values = DirectionValues()
        values.idc = [ClassPair(0, 1): idc(0.1), ClassPair(1, 0): idc(0.3), ClassPair(1, 2): idc(0.05), ClassPair(2, 1): idc(0.07),
                      ClassPair(0, 2): idc(0.5)]   // one direction only: no boundary
        values.edc = [ClassPair(0, 1): .init(edc1Test: 0.8, edc2Test: 99, boundaryEdc1Borderline: 0.2, boundaryEdc2Borderline: 40, boundaryBorderlinePoints: 120),
                      ClassPair(1, 2): .init(boundaryEdc2Borderline: 80)]
        let pairs: Set<ClassPair> = [ClassPair(0, 1), ClassPair(1, 0), ClassPair(1, 2), ClassPair(2, 1), ClassPair(0, 2)]
        let found = AllPairsSummary.boundaries(values, pairs: pairs)
        XCTAssertEqual(found.map(\.pair), [ClassPair(0, 1), ClassPair(1, 2)])
        XCTAssertEqual(found[0].idc, 0.2, accuracy: 1e-12)
        XCTAssertEqual(found[0].idcForward, 0.1); XCTAssertEqual(found[0].idcReverse, 0.3)
        XCTAssertEqual(found[0].edc2Borderline, 40); XCTAssertEqual(found[0].edc1Test, 0.8)
        XCTAssertEqual(found[0].points, 120)
        XCTAssertEqual(found[1].idc, 0.06, accuracy: 1e-12)
        XCTAssertTrue(found[1].edc2Test.isNaN, "absent: NaN")
        // Two boundaries: higher IDC, lower EDC2_borderline → r = −1.
        let r = AllPairsSummary.correlation(found, .idc, .edc2Borderline)
        XCTAssertEqual(r.cells, 2); XCTAssertEqual(r.r, -1, accuracy: 1e-12)
    }

    /// The two analyses read the metrics' typed outputs of each producer's sets (no result paths)
    /// and file the boundary's values under `pairs."0-1".boundary.<producer>`.
    func testAnalysesReadTheMetricOutputsOfEachProducer() throws {
        let record = RunRecord()
        let environment = try RunEnvironment(classifier: try toyClassifier(), data: try toyData(), pairs: [ClassPair(0, 1), ClassPair(1, 0)],
                                             samplesPerPair: 1, seed: 0, record: record)
        let plugin = PluginRecord(name: "deepdig", version: "0", summary: "")
        record.add(plugin)
        let none = Tensor(shape: [0, 1, 4, 4], scalars: [])
        func add(_ producer: String, _ pair: ClassPair, idc: Double, edc: EmbeddingComplexity.Output) throws {
            let set = try BoundarySet(pair: pair, points: none, startPoints: none, startIndices: [], probabilities: Tensor(shape: [0, 3], scalars: []),
                                      succeeded: [], failureReasons: [], iterations: [], producer: producer)
            record.add(set)
            record.add(OutputRecord(plugin: "deepdig", component: "idc", kind: .metric, componentType: ObjectIdentifier(InputSpaceComplexity.self),
                                    pair: pair, set: set, value: InputSpaceComplexity.Output(idc: idc, borderlinePoints: 0), tree: .empty))
            record.add(OutputRecord(plugin: "deepdig", component: "edc", kind: .metric, componentType: ObjectIdentifier(EmbeddingComplexity.self),
                                    pair: pair, set: set, value: edc, tree: .empty))
        }
        try add("deepdig/deepdig", ClassPair(0, 1), idc: 0.1, edc: .init(edc1Test: 0.8, edc2Test: 99, boundaryEdc1Borderline: 0.2,
                                                                           boundaryEdc2Borderline: 40, boundaryBorderlinePoints: 12))
        try add("deepdig/deepdig", ClassPair(1, 0), idc: 0.3, edc: .init(edc1Test: 0.8))
        try add("deepdig/rpbs", ClassPair(0, 1), idc: 9, edc: .init(boundaryEdc2Borderline: 70))
        try add("deepdig/rpbs", ClassPair(1, 0), idc: 7, edc: .init())
        func context(_ component: String) -> RunContext {
            environment.context(plugin: plugin, component: component, kind: .analysis, visibleSets: record.boundarySets)
        }
        let boundaries = try BoundaryAnalysis().analyse(options: NoOptions(), context: context("boundary"))
        XCTAssertNil(boundaries[ClassPair(1, 0)], "one boundary, filed under s < t")
        let values = try XCTUnwrap(boundaries[ClassPair(0, 1)])
        XCTAssertEqual(values.entries.map(\.key), ["deepdig.deepdig", "deepdig.rpbs"])
        XCTAssertEqual(values.entries[0].value.idc, 0.2, accuracy: 1e-12)
        XCTAssertEqual(values.entries[1].value.idc, 8)
        XCTAssertEqual(values.entries[1].value.edc2Borderline, 70)
        // As filed: per pair, producer, then the five values (absent ones NaN, i.e. null).
        let leaves = try ResultEncoder.encode(boundaries).leaves()
        XCTAssertEqual(leaves.map(\.pair), Array(repeating: Optional(ClassPair(0, 1)), count: 10))
        XCTAssertEqual(leaves.prefix(5).map(\.path), ["idc", "edc1_borderline", "edc1_test", "edc2_borderline", "edc2_test"].map { ["deepdig.deepdig", $0] })
        XCTAssertEqual(leaves[3].value.number(), 40)

        record.add(OutputRecord(plugin: "deepdig", component: "boundary", kind: .analysis, componentType: ObjectIdentifier(BoundaryAnalysis.self),
                                pair: nil, set: nil, value: boundaries, tree: .empty))
        let all = try AllPairsAnalysis().analyse(options: NoOptions(), context: context("all-pairs"))
        XCTAssertEqual(all.producers.entries.map(\.key), ["deepdig.deepdig", "deepdig.rpbs"])
        let table = try XCTUnwrap(all.producers.entries[0].value.table)
        XCTAssertEqual(table.rows, [["0 dark – 1 bright", "0.1000", "0.3000", "0.2000", "0.8000", "0.2000", "99.00", "40.00", "12"]])
        XCTAssertNil(all.producers.entries[0].value.heatmaps, "two classes: no heatmaps")
        XCTAssertNil(all.producers.entries[0].value.pearsonPairs)
        // The section's key numbers: DeepDIG's own success rate first, then its mean IDC over the
        // two directions ((0.1 + 0.3) / 2).
        XCTAssertEqual(all.highlights.first?.label, "deepdig success rate")
        XCTAssertTrue(all.highlights.first?.detail.contains("rpbs") ?? false, "\(all.highlights)")
        let idc = try XCTUnwrap(all.highlights.first { $0.label.hasPrefix("mean IDC") })
        XCTAssertEqual(idc.value, 0.2, accuracy: 1e-9)
    }
}

final class DeepDIGConvAutoencoderTests: XCTestCase {
    /// A tiny classifier on 3×8×8 images that looks at the mean intensity (dark = 0, bright = 1).
    private func rgbClassifier() throws -> ModelClassifier {
        var g = RandomGenerator(seed: 11)
        let fc = Dense(inFeatures: 192, outFeatures: 2, generator: &g)
        fc.weight.value = Tensor(shape: [2, 192], scalars: Array(repeating: -10 / 192, count: 192) + Array(repeating: 10 / 192, count: 192))
        fc.bias!.value = Tensor(shape: [2], scalars: [5, -5])
        return ModelClassifier(try Model.sequential(inputShape: [3, 8, 8], [("flat", Flatten()), ("fc", fc)]), classNames: ["dark", "bright"])
    }

    func testAutoChoosesByShapeAndTheConvolutionalOneTrainsThroughAClassifier() throws {
        var g = RandomGenerator(seed: 4)
        let conv = try Autoencoders.make(kind: "auto", imageShape: [3, 8, 8], generator: &g)
        XCTAssertTrue(conv.nodes.contains { $0.name == "enc1" && $0.layer is Conv2D })
        let dense = try Autoencoders.make(kind: "auto", imageShape: [1, 28, 28], generator: &g)
        XCTAssertTrue(dense.nodes.contains { $0.name == "enc1" && $0.layer is Dense })
        XCTAssertThrowsError(try Autoencoders.make(kind: "conv", imageShape: [3, 10, 10], generator: &g))

        let classifier = try rgbClassifier()
        var dg = RandomGenerator(seed: 5)
        let dark = dg.uniform(shape: [24, 3, 8, 8], low: 0, high: 0.3), bright = dg.uniform(shape: [24, 3, 8, 8], low: 0.7, high: 1)
        let data = try Dataset(name: "rgb", images: Tensor.concatenate(batches: [dark, bright]),
                               labels: Array(repeating: 0, count: 24) + Array(repeating: 1, count: 24), classNames: ["dark", "bright"])
        let ctx = try trainingContext(classifier, data: data, pair: ClassPair(0, 1))
        var settings = AutoencoderSettings()
        settings.steps = 60
        settings.batchSize = 8
        settings.reconstructionReduction = .mean   // the toy's balance, as in DeepDIGTests
        XCTAssertEqual(try classifier.predictions(dark).filter { $0 == 1 }.count, 0)
        var random = RandomGenerator(seed: 6)
        try Autoencoders.train(conv, images: dark, target: 1, settings: settings, context: ctx, random: &random, task: "conv A1")
        let moved = Autoencoders.apply(conv, to: dark)
        XCTAssertEqual(moved.shape, dark.shape)
        XCTAssertTrue(moved.scalars.allSatisfy { $0 >= 0 && $0 <= 1 }, "sigmoid output")
        let share = Double(try classifier.predictions(moved).filter { $0 == 1 }.count) / 24
        XCTAssertGreaterThanOrEqual(share, 0.95, "the convolutional A1 moves dark images across the boundary")
    }
}

final class DeepDIGLossTests: XCTestCase {
    /// The authors'-code classification term (BCE of softmax probabilities vs one-hot) against
    /// central finite differences, and against a hand value.
    func testBCEClassificationTermGradient() throws {
        let z: [Float] = [0.3, -1.2, 2.0, 0.5, 0.1, -0.4]
        let labels = [1, 0]
        let loss = try Autoencoders.classificationLoss(Tensor(shape: [2, 3], scalars: z), labels: labels, kind: .bce)
        func value(_ v: [Float]) throws -> Double {
            Double(try Autoencoders.classificationLoss(Tensor(shape: [2, 3], scalars: v), labels: labels, kind: .bce).value)
        }
        for i in 0..<6 {
            var up = z, down = z
            up[i] += 1e-2; down[i] -= 1e-2
            let numeric = (try value(up) - value(down)) / 2e-2
            XCTAssertEqual(Double(loss.gradient.scalars[i]), numeric, accuracy: 2e-4, "∂L/∂z\(i)")
        }
        // Hand value: mean over 6 entries of −[y log p + (1 − y) log(1 − p)].
        var expected = 0.0
        for r in 0..<2 {
            let e = (0..<3).map { exp(Double(z[r * 3 + $0])) }, sum = e.reduce(0, +)
            for c in 0..<3 { let p = e[c] / sum; expected -= c == labels[r] ? log(p) : log(1 - p) }
        }
        XCTAssertEqual(Double(loss.value), expected / 6, accuracy: 1e-5)
        let ce = try Autoencoders.classificationLoss(Tensor(shape: [2, 3], scalars: z), labels: labels, kind: .ce)
        XCTAssertEqual(ce.value, try Loss.softmaxCrossEntropy(logits: Tensor(shape: [2, 3], scalars: z), labels: labels).value)
    }
}

/// Step-by-step agreement of ``Autoencoders/train`` with PyTorch (golden from
/// tools/deepdig_torch_golden.py): same deterministic autoencoder weights, the first 128 Pullover
/// training images, target Trouser, through the shipped FCN, for Eq. 1 as printed (the default:
/// squared error summed over each image's pixels), Eq. 1 with the squared error averaged over pixels
/// (the earlier default, whose collapse docs/deepdig.md explains: PyTorch collapses too, so it is
/// not a bug of ours) and the authors'-code loss.
final class DeepDIGGoldenTests: XCTestCase {
    struct Golden: Decodable {
        struct Run: Decodable {
            var reconstruction: String, reduction: String, classification: String
            var rec: [Double], cls: [Double]
            var final_output_spread: Double, final_target_share: Double
        }
        var steps: Int, source_class: Int, target_class: Int, images: Int
        var runs: [String: Run]
    }

    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    func testAutoencoderTrainingMatchesPyTorch() throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: DeepDIGGoldenTests.here.appendingPathComponent("Golden/deepdig-autoencoder.json")))
        let repository = DeepDIGGoldenTests.here.deletingLastPathComponent().deletingLastPathComponent()
        let train: Dataset
        do { train = try Dataset.named("fashion-mnist", split: .train) } catch { throw XCTSkip("Fashion-MNIST not installed: \(error)") }
        let model = try Model.load(contentsOf: repository.appendingPathComponent("Models/fashion-fcn.h5").path)
        let classifier = ModelClassifier(model)
        let rows = Array(train.labels.indices.filter { train.labels[$0] == golden.source_class }.prefix(golden.images))
        let images = train.images.gather(batch: rows).reshaped([rows.count, 784])
        let data = try Dataset(name: "golden", images: train.images.gather(batch: rows), labels: rows.map { _ in golden.source_class },
                               classNames: train.classNames)
        let ctx = try trainingContext(classifier, data: data, pair: ClassPair(2, 1))
        for (name, run) in golden.runs.sorted(by: { $0.key < $1.key }) {
            var g = RandomGenerator(seed: 0)
            let ae = try Autoencoders.table2(inputSize: 784, generator: &g)
            // w[i] = bound · sin(1.7 i + 0.3 layer), bias with offset 0.5 (the golden script's pattern).
            for (layer, node) in ["enc1", "dec1", "dec2"].enumerated() {
                let dense = try XCTUnwrap(ae.nodes.first { $0.name == node }?.layer as? Dense)
                let bound = 1 / Double(dense.inFeatures).squareRoot()
                func pattern(_ count: Int, _ offset: Double) -> [Float] {
                    (0..<count).map { Float(bound * sin(1.7 * Double($0) + 0.3 * Double(layer) + offset)) }
                }
                dense.weight.value = Tensor(shape: dense.weight.value.shape, scalars: pattern(dense.weight.value.count, 0))
                dense.bias!.value = Tensor(shape: dense.bias!.value.shape, scalars: pattern(dense.bias!.value.count, 0.5))
            }
            var settings = AutoencoderSettings()
            settings.steps = golden.steps
            settings.batchSize = golden.images
            settings.reconstruction = try XCTUnwrap(Reconstruction(rawValue: run.reconstruction))
            settings.reconstructionReduction = try XCTUnwrap(ReconstructionReduction(rawValue: run.reduction))
            settings.classification = try XCTUnwrap(Classification(rawValue: run.classification))
            var rec: [Double] = [], cls: [Double] = []
            var random = RandomGenerator(seed: 1)
            try Autoencoders.train(ae, images: images, target: golden.target_class, settings: settings, context: ctx, random: &random,
                                   task: name) { _, r, c in rec.append(Double(r)); cls.append(Double(c)) }
            if run.classification == "ce" {
                // Squared error + 0.8·softmax CE: the trajectory agrees with PyTorch step by step; with
                // the per-pixel mean ("paper-mean") into the collapse (CE → 0 at step 2, outputs
                // saturate, every output the same image), with Eq. 1's per-image sum ("eq1") not.
                // Eq. 1 does not collapse, so its trajectory stays comparable for longer: both terms
                // for 10 steps (then the CE term drifts by ~0.5 %), the smooth reconstruction term
                // (to 2 %) for all 40.
                let exactSteps = name == "eq1" ? 10 : 8
                for step in 0..<exactSteps {
                    XCTAssertEqual(rec[step], run.rec[step], accuracy: 1e-3 * max(1, abs(run.rec[step])), "\(name) reconstruction term, step \(step)")
                    XCTAssertEqual(cls[step], run.cls[step], accuracy: 1e-3 * max(1, abs(run.cls[step])), "\(name) classification term, step \(step)")
                }
                if name == "eq1" {
                    for step in exactSteps..<golden.steps {
                        XCTAssertEqual(rec[step], run.rec[step], accuracy: 0.02 * abs(run.rec[step]), "\(name) reconstruction term, step \(step)")
                    }
                }
                let out = Autoencoders.apply(ae, to: images)
                let share = Double(try classifier.predictions(out.reshaped([rows.count, 1, 28, 28])).filter { $0 == golden.target_class }.count) / Double(rows.count)
                if name == "eq1" {
                    // The late CE term is small and noisy (0.09 vs 0.15 at step 40), so which of the
                    // last few images cross is not comparable; that A1 fools the classifier is.
                    XCTAssertGreaterThanOrEqual(share, 0.9, "\(name): share of outputs classified as the target after \(golden.steps) steps")
                    XCTAssertGreaterThanOrEqual(run.final_target_share, 0.9)
                } else {
                    XCTAssertEqual(share, run.final_target_share, accuracy: 0.05, "\(name): share of outputs classified as the target after \(golden.steps) steps")
                }
                XCTAssertEqual(Autoencoders.outputDiagnostics(out).spread, run.final_output_spread, accuracy: 0.01, "\(name): output spread (collapse)")
            } else {
                // BCE + 0.8·BCE(softmax, one-hot): equal at step 0; from step 1 on the trajectories part,
                // because the gradient of BCE(softmax) at a saturated softmax (1 − p rounds to 0, PyTorch's
                // 1e-12 clamp, terms of ±1e9 cancelling) depends on the last bits of the softmax.
                XCTAssertEqual(rec[0], run.rec[0], accuracy: 1e-4, "\(name) reconstruction term, step 0")
                // Even its value at step 0 depends on rounding: −log(1 − p) with p within a few ulps of
                // 1. PyTorch 2.13 itself gives 5.553 with AVX-512 kernels and 5.623 with AVX2 ones.
                XCTAssertEqual(cls[0], run.cls[0], accuracy: 0.02 * run.cls[0], "\(name) classification term, step 0")
            }
        }
    }
}

/// `autoencoder=<model file>`: A1 and A2 take the file's architecture and start from its weights.
final class DeepDIGModelFileAutoencoderTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("deepdig-ae-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// A Dense with the given weight W = scale·I (n×n) and constant bias.
    private func diagonal(_ n: Int, scale: Float, bias: Float) -> Dense {
        var g = RandomGenerator(seed: 9)
        let fc = Dense(inFeatures: n, outFeatures: n, generator: &g)
        var w = [Float](repeating: 0, count: n * n)
        for i in 0..<n { w[i * n + i] = scale }
        fc.weight.value = Tensor(shape: [n, n], scalars: w)
        fc.bias!.value = Tensor(repeating: bias, shape: [n])
        return fc
    }

    /// A dense autoencoder on [1, 4, 4] images that swaps the toy classes from the start:
    /// Flatten · Dense(I)-ReLU · Dense(−8I, 4)-Sigmoid · Reshape, i.e. A(x) = σ(4 − 8x)
    /// (dark pixels ≤ 0.3 → ≥ 0.83, bright ≥ 0.7 → ≤ 0.17).
    private func swappingAutoencoder() throws -> Model {
        try Model.sequential(inputShape: [1, 4, 4], [
            ("flat", Flatten()), ("enc", diagonal(16, scale: 1, bias: 0)), ("enc.relu", ReLU()),
            ("dec", diagonal(16, scale: -8, bias: 4)), ("dec.sigmoid", Sigmoid()), ("image", try Reshape(shape: [1, 4, 4])),
        ])
    }

    func testA1AndA2StartFromTheFileWeightsAndShapesFlow() throws {
        let file = try swappingAutoencoder()
        let path = folder.appendingPathComponent("ae.h5").path
        try file.save(to: path)
        // Two fresh copies: training one leaves the other (and the file) as it was.
        var g = RandomGenerator(seed: 1)
        let a = try Autoencoders.make(kind: path, imageShape: [1, 4, 4], generator: &g)
        let b = try Autoencoders.make(kind: path, imageShape: [1, 4, 4], generator: &g)
        XCTAssertEqual(a.inputShape, [16]); XCTAssertEqual(a.outputShape, [16])
        let x = try toyData().images.slice(batch: 0..<40)
        let expected = file.forward(x)
        XCTAssertEqual(Autoencoders.apply(a, to: x).scalars, expected.scalars)
        for p in a.trainableParameters { p.value = p.value.map { $0 + 1 } }
        XCTAssertEqual(Autoencoders.apply(b, to: x).scalars, expected.scalars, "A2 is not A1: each loads its own copy")

        // Trained exactly like a built-in: Table 2's autoencoder and its copy from a file, same
        // batches, same settings → the same weights after 5 steps.
        var tg = RandomGenerator(seed: 3)
        let builtIn = try Autoencoders.table2(inputSize: 16, generator: &tg)
        let table2Path = folder.appendingPathComponent("table2.h5").path
        try builtIn.save(to: table2Path)
        let copy = try Autoencoders.make(kind: table2Path, imageShape: [1, 4, 4], generator: &g)
        let trainCtx = try trainingContext(try toyClassifier(), data: try toyData(), pair: ClassPair(0, 1))
        var settings = AutoencoderSettings()
        settings.steps = 5
        settings.batchSize = 8
        for model in [builtIn, copy] {
            var random = RandomGenerator(seed: 4)
            try Autoencoders.train(model, images: x.reshaped([40, 16]), target: 1, settings: settings, context: trainCtx, random: &random, task: "A1")
        }
        XCTAssertEqual(copy.namedParameters.map(\.parameter.value.scalars), builtIn.namedParameters.map(\.parameter.value.scalars))
        XCTAssertNotEqual(copy.forward(x.reshaped([40, 16])).scalars, try Model.load(contentsOf: table2Path).forward(x.reshaped([40, 16])).scalars,
                          "training moved the weights")

        // Through the prober with a learning rate of 1e-7: A1 and A2 are (to ~1e-5) the file's model.
        let h = try harness(DeepDIGProber(), ["train-data": .string("run"), "steps": .number(2), "batch-size": .number(16),
                                              "learning-rate": .number(1e-7), "grid-rows": .number(0), "autoencoder": .string(path)],
                            classifier: try toyClassifier())
        let probe = try h.probe(ClassPair(0, 1))
        let set = probe.set, n = probe.output
        XCTAssertEqual(n.component1AccuracyValidation, 0, "the file's A1 already moves every dark image to bright")
        XCTAssertEqual(n.component2Accuracy, 1, "the file's A2 moves them back")
        XCTAssertEqual(set.count, 40)
        XCTAssertEqual(set.successCount, 40)
        let source = try XCTUnwrap(set.extras["source_image"])
        let xt = try XCTUnwrap(set.endPoints), xs = try XCTUnwrap(set.startPoints)
        for (got, want) in zip(xt.scalars, file.forward(source).scalars) { XCTAssertEqual(got, want, accuracy: 1e-4, "x̂t = A1(x)") }
        for (got, want) in zip(xs.scalars, file.forward(xt).scalars) { XCTAssertEqual(got, want, accuracy: 1e-4, "x̂s = A2(x̂t)") }
        XCTAssertTrue(h.notes.contains { $0.contains("A1/A2 = the model file \(path)") }, "\(h.notes)")
        XCTAssertFalse(h.notes.contains { $0.contains("not a sigmoid") })
    }

    func testKerasFileWithoutSigmoidIsNotedOnceAndUsedUnclamped() throws {
        // A(x) = 1 − x on flattened rows ([16] → [16]), written as a Keras .h5; relative path.
        let file = try Model.sequential(inputShape: [16], [("invert", diagonal(16, scale: -1, bias: 1))])
        try file.save(to: folder.appendingPathComponent("invert.h5").path, format: .keras)
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(folder.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        let resolved = try Autoencoders.resolveArchitecture("invert.h5")
        XCTAssertEqual(URL(fileURLWithPath: resolved).resolvingSymlinksInPath().path,
                       folder.appendingPathComponent("invert.h5").resolvingSymlinksInPath().path)

        let h = try harness(DeepDIGProber(), ["train-data": .string("run"), "steps": .number(1), "batch-size": .number(16),
                                              "learning-rate": .number(1e-7), "grid-rows": .number(0), "autoencoder": .string("invert.h5")],
                            classifier: try toyClassifier())
        for pair in [ClassPair(0, 1), ClassPair(1, 0)] {
            let set = try h.probe(pair).set
            XCTAssertEqual(set.successCount, set.count, "\(pair)")
            let source = try XCTUnwrap(set.extras["source_image"])
            for (got, x) in zip(try XCTUnwrap(set.endPoints).scalars, source.scalars) { XCTAssertEqual(got, 1 - x, accuracy: 1e-4) }
        }
        XCTAssertEqual(h.notes.filter { $0.contains("ends in Dense, not a sigmoid") }.count, 1, "\(h.notes)")
    }

    func testBadFilesGiveErrorsNamingTheFile() throws {
        var g = RandomGenerator(seed: 1)
        func error(_ body: () throws -> Void) -> BorderlineError? {
            do { try body(); return nil } catch { return error as? BorderlineError }
        }
        // Missing file: the option check names it, before any run (validate()).
        let missing = folder.appendingPathComponent("nope.h5").path
        let e1 = try XCTUnwrap(error { _ = try Autoencoders.resolveArchitecture(missing) })
        XCTAssertEqual(e1.kind, .fileNotFound)
        XCTAssertTrue(e1.description.contains(missing), e1.description)
        XCTAssertThrowsError(try DeepDIGProber().makeOptions(["train-data": .string("run"), "autoencoder": .string(missing)])) {
            XCTAssertTrue("\($0)".contains(missing), "\($0)")
        }
        XCTAssertThrowsError(try RandomPairBaseline().makeOptions(["train-data": .string(folder.appendingPathComponent("none.h5").path)])) {
            XCTAssertTrue("\($0)".contains("none.h5"), "\($0)")
        }
        // Not a model file.
        let garbage = folder.appendingPathComponent("garbage.h5").path
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: garbage))
        let e2 = try XCTUnwrap(error { _ = try Autoencoders.make(kind: garbage, imageShape: [1, 4, 4], generator: &g) })
        XCTAssertTrue(e2.description.contains(garbage) && e2.description.contains("autoencoder"), e2.description)
        // Wrong shape: 16 → 8.
        let narrow = folder.appendingPathComponent("narrow.h5").path
        try Model.sequential(inputShape: [16], [("fc", Dense(inFeatures: 16, outFeatures: 8, generator: &g))]).save(to: narrow)
        let e3 = try XCTUnwrap(error { _ = try Autoencoders.make(kind: narrow, imageShape: [1, 4, 4], generator: &g) })
        XCTAssertEqual(e3.kind, .shapeMismatch)
        for part in [narrow, "[16] to [8]", "[1, 4, 4]"] { XCTAssertTrue(e3.description.contains(part), e3.description) }
        // Right size, wrong shape: [4, 4] is neither [1, 4, 4] nor [16].
        let square = folder.appendingPathComponent("square.h5").path
        try Model.sequential(inputShape: [4, 4], [("s", Sigmoid())]).save(to: square)
        XCTAssertEqual(error { _ = try Autoencoders.make(kind: square, imageShape: [1, 4, 4], generator: &g) }?.kind, .shapeMismatch)
        // Nothing to train.
        let fixed = folder.appendingPathComponent("fixed.h5").path
        try Model.sequential(inputShape: [16], [("s", Sigmoid())]).save(to: fixed)
        let e4 = try XCTUnwrap(error { _ = try Autoencoders.make(kind: fixed, imageShape: [1, 4, 4], generator: &g) })
        XCTAssertTrue(e4.description.contains(fixed) && e4.description.contains("no trainable parameters"), e4.description)
    }
}
