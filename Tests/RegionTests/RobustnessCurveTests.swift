import BorderlineCore
import Foundation
@testable import RegionKit
import XCTest

/// Logits `(0, w·x + b)` with exact input gradients, in a declared input box.
final class DifferentiableLinearClassifier: DifferentiableClassifier {
    let w: [Float], b: Float, box: InputBox
    init(w: [Float], b: Float, box: InputBox = .unit) { self.w = w; self.b = b; self.box = box }
    var inputShape: [Int] { [w.count] }
    var inputBox: InputBox { box }
    var classNames: [String] { ["negative", "positive"] }
    func logits(_ x: Tensor) throws -> Tensor {
        try checkBatch(x)
        let n = x.batchSize, d = w.count
        var z = [Float](repeating: 0, count: n * 2)
        for i in 0..<n { z[i * 2 + 1] = b + (0..<d).reduce(0) { $0 + w[$1] * x.scalars[i * d + $1] } }
        return Tensor(shape: [n, 2], scalars: z)
    }
    func probabilities(_ x: Tensor) throws -> Tensor { try logits(x).softmaxRows() }
    func vjp(_ x: Tensor, cotangent: Tensor, of output: ClassifierOutput) throws -> VectorJacobianProduct {
        guard output == .logits else { throw BorderlineError(.invalidArgument, "test classifier: logits only") }
        let n = x.batchSize, d = w.count
        var g = [Float](repeating: 0, count: n * d)
        for i in 0..<n { for c in 0..<d { g[i * d + c] = cotangent.scalars[i * 2 + 1] * w[c] } }
        return VectorJacobianProduct(output: try logits(x), inputGradient: Tensor(shape: x.shape, scalars: g))
    }
}

/// Records the smallest and largest input value it was ever asked about.
final class RangeRecordingClassifier: Classifier {
    let box: InputBox
    var seen: (min: Float, max: Float) = (.infinity, -.infinity)
    init(box: InputBox) { self.box = box }
    var inputShape: [Int] { [3] }
    var inputBox: InputBox { box }
    var classNames: [String] { ["a", "b"] }
    func probabilities(_ x: Tensor) throws -> Tensor {
        seen = (min(seen.min, x.scalars.min() ?? .infinity), max(seen.max, x.scalars.max() ?? -.infinity))
        return Tensor(shape: [x.batchSize, 2], scalars: [Float](repeating: 0.5, count: x.batchSize * 2))
    }
}

final class RobustnessCurveTests: XCTestCase {
    /// The region classifier samples inside the base's declared box, not `[0, 1]`: around 0.9
    /// with r = 0.5 and box [0, 1.2] the points reach 1.2 (beyond 1) and never pass it.
    func testRegionClassifierSamplesInsideTheModelsBox() throws {
        let f = RangeRecordingClassifier(box: try InputBox(lower: 0, upper: 1.2))
        let region = try RegionClassifier(f, radius: 0.5, samples: 400, seed: 2)
        _ = try region.predictions(Tensor(shape: [1, 3], scalars: [0.9, 0.9, 0.1]))
        XCTAssertEqual(f.seen.max, 1.2)
        XCTAssertEqual(f.seen.min, 0)
        XCTAssertEqual(region.box, f.inputBox)
    }

    /// EOT-PGD against the region classifier of a linear model: the region classifier of a linear
    /// model is the same half-space (the votes are symmetric about w·x + b when no clip binds), so
    /// an image flips exactly when its L∞ distance to the hyperplane, |w·x + b| / ‖w‖₁, is below ε.
    /// The attack finds every image with distance < 0.8 ε and none beyond ε; at ε = 0 nothing moves.
    func testEOTAttackFlipsExactlyTheImagesWithinTheBudget() throws {
        var g = RandomGenerator(seed: 11)
        let d = 8
        let w = (0..<d).map { _ in g.nextNormal() }
        let f = DifferentiableLinearClassifier(w: w, b: 0, box: try InputBox(lower: -10, upper: 10))
        let x = g.uniform(shape: [40, d], low: -0.5, high: 0.5)
        let labels = try f.predictions(x)
        let region = try RegionClassifier(f, radius: 0.05, samples: 301, seed: 4)
        let l1 = w.reduce(0) { $0 + abs($1) }
        let distance = (0..<40).map { i in abs((0..<d).reduce(Float(0)) { $0 + w[$1] * x.scalars[i * d + $1] }) / l1 }
        let eps: Float = 0.1
        let o = try RegionEOTAttack(epsilon: eps, stepSize: eps / 10, steps: 30, samples: 16).attack(f, region: region, inputs: x, labels: labels, seed: 1)
        var near = 0
        for i in 0..<40 {
            if distance[i] < 0.8 * eps { XCTAssertTrue(o.succeeded[i], "row \(i) at L∞ distance \(distance[i]) < 0.8 ε not flipped"); near += 1 }
            if distance[i] > eps * 1.05 { XCTAssertFalse(o.succeeded[i], "row \(i) at L∞ distance \(distance[i]) > ε flipped") }
            for c in 0..<d { XCTAssertLessThanOrEqual(abs(o.adversarials.scalars[i * d + c] - x.scalars[i * d + c]), eps * (1 + 1e-5)) }
        }
        XCTAssertGreaterThan(near, 3, "the test needs images within the budget")
        let zero = try RegionEOTAttack(epsilon: 0, stepSize: 0, steps: 3, samples: 4).attack(f, region: region, inputs: x, labels: labels, seed: 1)
        XCTAssertEqual(zero.adversarials.scalars, x.scalars)
    }

    /// The analysis's curve: at ε = 0 the point and region accuracies are the evaluated images'
    /// clean ones (PGD and EOT do not move), the point accuracy does not rise with ε, and the
    /// curve is filed as data and drawn.
    func testAnalysisCurveStartsAtTheCleanAccuracies() throws {
        var g = RandomGenerator(seed: 3)
        let w = (0..<6).map { _ in g.nextNormal() }
        let f = DifferentiableLinearClassifier(w: w, b: -w.reduce(0, +) / 2)
        let x = g.uniform(shape: [40, 6], low: 0, high: 1)
        // Labels from the model, with every fifth flipped, so the clean accuracy is below 1.
        var labels = try f.predictions(x)
        for i in stride(from: 0, to: 40, by: 5) { labels[i] = 1 - labels[i] }
        let data = try Dataset(name: "t", images: x, labels: labels)
        var settings = RegionAnalysisSettings()
        settings.images = 30
        settings.radius = 0.05
        settings.regionSamples = 51
        settings.benignImages = 5
        settings.attacks = []
        settings.directionCount = 4
        settings.sweepEpsilons = [0, 0.05, 0.2]
        settings.attackParameters.pgdSteps = 10
        settings.eotSamples = 8
        settings.seed = 5
        let predictions = try f.predictions(x)
        let probe = try RegionAnalysis.probe(classifier: f, data: data, predictions: predictions, settings: settings)
        let report = try RegionAnalysis.run(classifier: f, gradients: { f }, data: data, predictions: predictions, settings: settings, probe: probe)
        let c = try XCTUnwrap(report.curve)
        XCTAssertEqual(c.epsilons, [0, 0.05, 0.2])
        XCTAssertEqual(c.pointAccuracy[0], report.evaluatedPointAccuracy, accuracy: 1e-12)
        XCTAssertEqual(c.regionAccuracy[0], report.evaluatedRegionAccuracy, accuracy: 1e-12)
        XCTAssertEqual(c.regionAccuracyEOT[0], report.evaluatedRegionAccuracy, accuracy: 1e-12)
        XCTAssertLessThan(report.evaluatedPointAccuracy, 1)
        for i in 1..<3 { XCTAssertLessThanOrEqual(c.pointAccuracy[i], c.pointAccuracy[i - 1]) }
        XCTAssertLessThan(c.pointAccuracy[2], c.pointAccuracy[0])
        XCTAssertLessThan(c.regionAccuracyEOT[2], c.regionAccuracyEOT[0])
        let results = try RegionResults(report, settings: settings, classifier: f, data: data, plotImages: 0)
        XCTAssertTrue(results.pictures.contains { $0.name == "robustness-curve" && $0.isKey }, "the curve opens the section")
        // Key numbers: the benign region accuracy first, as the report computes it.
        XCTAssertEqual(results.highlights.first?.value ?? .nan, report.benignRegionAccuracy, accuracy: 1e-12)
        XCTAssertTrue(results.highlights.contains { $0.label.hasPrefix("mean distance to the boundary") })
        XCTAssertTrue(results.tables.contains { $0.title.hasPrefix("Accuracy vs ε") })
        let tree = try ResultEncoder.encode(results)
        XCTAssertNotNil(tree["sweep_point_accuracy"])
        XCTAssertNotNil(tree["sweep_region_accuracy_eot"])
    }
}
