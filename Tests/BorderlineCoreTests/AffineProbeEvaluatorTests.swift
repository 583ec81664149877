import XCTest
@testable import BorderlineCore

/// The first-layer split of ``AffineProbeEvaluator`` against evaluating the points themselves.
final class AffineProbeEvaluatorTests: XCTestCase {
    /// Hides the model: the evaluator must fall back to the points themselves.
    final class Opaque: Classifier {
        let inner: ModelClassifier
        init(_ inner: ModelClassifier) { self.inner = inner }
        var inputShape: [Int] { inner.inputShape }
        var classNames: [String] { inner.classNames }
        func probabilities(_ x: Tensor) throws -> Tensor { try inner.probabilities(x) }
        func logits(_ x: Tensor) throws -> Tensor { try inner.logits(x) }
    }

    func maxError(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    func testSegmentsAndPlanesMatchThePointsThemselves() throws {
        var g = RandomGenerator(seed: 8)
        let fcn = ModelClassifier(try Model.fashionFCN(seed: 2), batchSize: 7)
        let cnn = ModelClassifier(try Model.fashionCNN(seed: 2))
        let anchors = g.uniform(shape: [6, 1, 28, 28], low: 0, high: 1)
        // Segments (arity 2, λ from −0.5 to 1.5) and planes (arity 3, weights summing to 1).
        var seg: ([Int], [Float]) = ([], []), plane: ([Int], [Float]) = ([], [])
        for q in 0..<20 {
            let l = -0.5 + 2 * Float(q) / 19
            seg.0 += [q % 6, (q + 1) % 6]; seg.1 += [1 - l, l]
            let u = Float(q % 5) / 4 - 0.3, v = Float(q / 5) / 3
            plane.0 += [0, q % 5 + 1, 5 - q % 3]; plane.1 += [1 - u - v, u, v]
        }
        for (classifier, split) in [(fcn as any Classifier, true), (cnn, false), (Opaque(fcn), false)] {
            let e = try AffineProbeEvaluator(classifier, anchors: anchors)
            XCTAssertEqual(e.isSplit, split)
            for (indices, weights, arity) in [(seg.0, seg.1, 2), (plane.0, plane.1, 3)] {
                let points = try e.points(indices: indices, weights: weights, arity: arity)
                let direct = try classifier.logits(points)
                let viaSplit = try e.logits(indices: indices, weights: weights, arity: arity)
                XCTAssertLessThanOrEqual(maxError(viaSplit, direct), 1e-5, "split \(split), arity \(arity)")
                XCTAssertLessThanOrEqual(maxError(try e.probabilities(indices: indices, weights: weights, arity: arity), direct.softmaxRows()), 1e-6)
            }
        }
    }

    func testSplitSkipsTheFirstLayersWork() throws {
        // The split really interpolates: perturbing the anchors after preparing does not change it.
        let fcn = ModelClassifier(try Model.fashionFCN(seed: 2))
        var g = RandomGenerator(seed: 1)
        let e = try AffineProbeEvaluator(fcn, anchors: g.uniform(shape: [2, 1, 28, 28], low: 0, high: 1))
        XCTAssertTrue(e.isSplit)
        XCTAssertEqual(AffineProbeEvaluator.splitNode(of: fcn.model), 1, "Flatten, then the first Dense")
    }

    func testBadQueriesAreErrors() throws {
        let fcn = ModelClassifier(try Model.fashionFCN(seed: 2))
        let e = try AffineProbeEvaluator(fcn, anchors: Tensor(zeros: [2, 1, 28, 28]))
        XCTAssertThrowsError(try e.logits(indices: [0, 1], weights: [0.5, 0.6], arity: 2)) { error in
            XCTAssertTrue("\(error)".contains("sum to"), "\(error)")
        }
        XCTAssertThrowsError(try e.logits(indices: [0, 2], weights: [0.5, 0.5], arity: 2))
        XCTAssertThrowsError(try e.logits(indices: [0, 1, 1], weights: [0.5, 0.5, 0], arity: 2))
        XCTAssertThrowsError(try AffineProbeEvaluator(fcn, anchors: Tensor(zeros: [2, 784])))
    }

    func testBisectionThroughTheSplitFindsTheSameBoundary() throws {
        let model = try Model.fashionFCN(seed: 4)
        let fcn = ModelClassifier(model)
        var g = RandomGenerator(seed: 3)
        let pool = g.uniform(shape: [200, 1, 28, 28], low: 0, high: 1)
        let predicted = try fcn.predictions(pool)
        var a: [Int] = [], b: [Int] = []
        for i in 0..<200 { for j in 0..<200 where predicted[i] != predicted[j] && a.count < 40 && i < j { a.append(i); b.append(j) } }
        let config = BoundaryBisection.Configuration(tolerance: 1e-3, maxSteps: 30)
        let from = pool.gather(batch: a), to = pool.gather(batch: b)
        let s = a.map { predicted[$0] }, t = b.map { predicted[$0] }
        let split = try BoundaryBisection.bisect(fcn, from: from, to: to, sources: s, targets: t, configuration: config)
        let plain = try BoundaryBisection.bisect(Opaque(fcn), from: from, to: to, sources: s, targets: t, configuration: config)
        XCTAssertEqual(split.succeeded, plain.succeeded)
        XCTAssertGreaterThan(split.succeeded.filter { $0 }.count, 10)
        for r in 0..<a.count where split.succeeded[r] {
            XCTAssertEqual(split.lambdas[r], plain.lambdas[r], accuracy: 1e-4, "row \(r)")
        }
        XCTAssertLessThanOrEqual(maxError(split.probabilities, plain.probabilities), 1e-3)
        // The points are the segment points at the reported λ.
        let expected = try AffineProbeEvaluator(Opaque(fcn), anchors: Tensor.concatenate(batches: [from, to]))
            .points(indices: (0..<a.count).flatMap { [$0, a.count + $0] }, weights: split.lambdas.flatMap { [1 - $0, $0] }, arity: 2)
        XCTAssertLessThanOrEqual(maxError(split.points, expected), 1e-6)
    }
    /// The convolution split (lane plans): the first convolution interpolated from the anchors'
    /// outputs, with pool, bias and activation fused behind, on every instruction set, for the
    /// shipped CNN and a strided, padded, pool-free CNN with leaky ReLU on 3-channel inputs.
    func testConvolutionSplitMatchesThePointsThemselves() throws {
        defer { LaneKernels.select(nil) }
        var g = RandomGenerator(seed: 21)
        let p = Padding2D(top: 1, bottom: 1, left: 1, right: 1)
        let strided = try Model.sequential(inputShape: [3, 12, 12], [
            ("c1", Conv2D(inChannels: 3, outChannels: 5, kernelSize: (4, 4), stride: (2, 2), padding: p, generator: &g)),
            ("a1", LeakyReLU(negativeSlope: 0.1)),
            ("c2", Conv2D(inChannels: 5, outChannels: 4, kernelSize: (3, 3), generator: &g)), ("a2", ReLU()),
            ("flat", Flatten()), ("fc", Dense(inFeatures: 4 * 4 * 4, outFeatures: 6, generator: &g)),
        ])
        // A 3 × 3 pool: the mixing kernel's general window (2 × 2 has its own unrolled code).
        let pooled = try Model.sequential(inputShape: [1, 11, 11], [
            ("c1", Conv2D(inChannels: 1, outChannels: 3, kernelSize: (3, 3), generator: &g)),
            ("p1", try MaxPool2D(kernelSize: (3, 3))), ("r1", ReLU()),
            ("flat", Flatten()), ("fc", Dense(inFeatures: 3 * 3 * 3, outFeatures: 4, generator: &g)),
        ])
        for set in LaneKernels.InstructionSet.allCases {
            guard LaneKernels.select(set) == set else { continue }
            for model in [try Model.fashionCNN(seed: 5), strided, pooled] {
                let counter = QueryCounter()
                let classifier = QueryCountingClassifier(ModelClassifier(model), counter: counter)
                XCTAssertNotNil(model.lanePlan, "\(set.name)")
                let anchors = g.uniform(shape: [11] + model.inputShape, low: 0, high: 1)
                let e = try AffineProbeEvaluator(classifier, anchors: anchors, convolutions: true)
                XCTAssertTrue(e.isSplit, "\(set.name)")
                XCTAssertFalse(try AffineProbeEvaluator(classifier, anchors: anchors).isSplit, "convolutions are opt-in")
                // 37 rows (not a multiple of any lane width) of segments, planes and 5-anchor
                // mixtures (5·16 > 64 anchors per AVX-512 block: the fallback path).
                for arity in [2, 3, 5] {
                    var indices: [Int] = [], weights: [Float] = []
                    for q in 0..<37 {
                        var w: [Float] = (0..<arity).map { _ in Float.random(in: -0.5...1.5, using: &g) }
                        w[arity - 1] = 1 - w.dropLast().reduce(0, +)
                        indices += (0..<arity).map { (q * 3 + $0 * 5) % 11 }
                        weights += w
                    }
                    let before = counter.count
                    let via = try e.logits(indices: indices, weights: weights, arity: arity)
                    XCTAssertEqual(counter.count - before, 37, "queries are counted")
                    let direct = try ModelClassifier(model).logits(try e.points(indices: indices, weights: weights, arity: arity))
                    XCTAssertLessThanOrEqual(maxError(via, direct), 1e-4, "\(set.name), arity \(arity)")
                    XCTAssertEqual(via.argmaxRows(), direct.argmaxRows())
                }
            }
        }
    }
}
