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

private func context(for component: any BoundaryProber, _ overrides: [String: JSONValue], classifier: ModelClassifier) throws -> RunContext {
    let environment = try RunEnvironment(classifier: classifier, data: try toyData(), pairs: [ClassPair(0, 1)], samplesPerPair: 10, seed: 7)
    var values = PluginOptionValues.defaults(of: component.options, owner: "deepdig/\(component.name)").values
    for (k, v) in overrides { values[k] = v }
    return environment.context(plugin: PluginRecord(name: "deepdig", version: "0", summary: ""), component: component.name,
                               options: PluginOptionValues(values, owner: "deepdig/\(component.name)"))
}

final class DeepDIGTests: XCTestCase {
    func testDeepDIGFindsBorderlinePointsOnAToyClassifier() throws {
        let classifier = try toyClassifier()
        let prober = DeepDIGProber()
        let ctx = try context(for: prober, ["train-data": .string("run"), "steps": .number(150), "batch-size": .number(16),
                                           "grid-rows": .number(0)], classifier: classifier)
        let set = try prober.probe(ClassPair(0, 1), context: ctx)
        let numbers = Dictionary(ctx.store.record.numbers.map { ($0.path.split(separator: "/").last.map(String.init) ?? $0.path, $0.value) },
                                 uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(numbers["component1_images"], 40)
        XCTAssertEqual(numbers["component1_validation_images"], 8)
        XCTAssertLessThanOrEqual(try XCTUnwrap(numbers["component1_accuracy_validation"]), 0.05, "A1 moves dark images to bright")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(numbers["component2_accuracy"]), 0.95, "A2 moves them back")
        XCTAssertGreaterThan(set.count, 30)
        XCTAssertEqual(set.successCount, set.count, "a linear boundary: every pair bisects to |f_s − f_t| < β")
        for i in set.successfulIndices { XCTAssertLessThan(set.probabilityGaps[i], 1e-4) }
        // Deterministic for a seed.
        let again = try prober.probe(ClassPair(0, 1), context: try context(for: prober, ["train-data": .string("run"), "steps": .number(150),
                                                                                         "batch-size": .number(16), "grid-rows": .number(0)], classifier: classifier))
        XCTAssertEqual(again.points.scalars, set.points.scalars)
    }

    func testHalvingCapCountsAsFailureWithItsReason() throws {
        let classifier = try toyClassifier()
        let prober = RandomPairBaseline()
        let set = try prober.probe(ClassPair(0, 1), context: try context(for: prober, ["train-data": .string("run"), "max-halvings": .number(2),
                                                                                       "beta": .number(1e-6)], classifier: classifier))
        XCTAssertEqual(set.count, 40)
        XCTAssertEqual(set.successCount, 0)
        XCTAssertTrue(set.failureReasons.allSatisfy { $0?.contains("step cap of 2 halvings") == true }, "\(set.failureHistogram)")
        XCTAssertTrue(set.iterations.allSatisfy { $0 == 2 })
        let uncapped = try prober.probe(ClassPair(0, 1), context: try context(for: prober, ["train-data": .string("run")], classifier: classifier))
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
}
