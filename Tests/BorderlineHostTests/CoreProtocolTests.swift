import BorderlineCore
import BorderlineHost
import BorderlineTestSupport
import Foundation
import XCTest

/// The core's protocols, adapters and the batched bisection, on small classifiers with known answers.
final class CoreProtocolTests: XCTestCase {
    func testBisectionFindsTheKnownBoundaryAndExplainsFailures() throws {
        let classifier = LogisticLine(w: 4)
        // Rows 0–1: from class 0 (x₀ < 0) to class 1 (x₀ > 0); row 2: both ends in class 0.
        let a = Tensor(shape: [3, 2], scalars: [-1, 0, -3, 1, -1, 0])
        let b = Tensor(shape: [3, 2], scalars: [1, 0, 1, 5, -0.5, 0])
        let outcome = try BoundaryBisection.bisect(classifier, from: a, to: b, sources: [0, 0, 0], targets: [1, 1, 1],
                                                   configuration: .init(tolerance: 0.01, maxSteps: 30))
        XCTAssertEqual(outcome.succeeded, [true, true, false])
        for r in 0..<2 {
            let p = outcome.probabilities.scalars[(2 * r)..<(2 * r + 2)]
            XCTAssertLessThan(abs(p[p.startIndex] - p[p.startIndex + 1]), 0.01)
            XCTAssertEqual(outcome.points.scalars[2 * r], 0, accuracy: 0.01)   // on the line x₀ = 0
        }
        XCTAssertEqual(outcome.lambdas[0], 0.5, accuracy: 1e-6)                // the midpoint of −1 … 1
        XCTAssertEqual(outcome.steps[0], 1)
        XCTAssertTrue(outcome.failureReasons[2]!.contains("end point is not on the target side"), outcome.failureReasons[2]!)
        XCTAssertNil(outcome.failureReasons[0])
        XCTAssertEqual(outcome.queries, 6 + outcome.steps.reduce(0, +))
    }

    func testBisectionStepCapIsAFailureWithReason() throws {
        // A very steep boundary: one halving cannot reach |p_s − p_t| < β.
        let outcome = try BoundaryBisection.bisect(LogisticLine(w: 1000), from: Tensor(shape: [1, 2], scalars: [-1, 0]),
                                                   to: Tensor(shape: [1, 2], scalars: [0.3, 0]), sources: [0], targets: [1],
                                                   configuration: .init(tolerance: 0.01, maxSteps: 2))
        XCTAssertEqual(outcome.succeeded, [false])
        XCTAssertTrue(outcome.failureReasons[0]!.contains("step cap of 2"), outcome.failureReasons[0]!)
    }

    func testModelClassifierVJPMatchesFiniteDifferences() throws {
        let model = try Model.fashionFCN(seed: 3)
        let classifier = ModelClassifier(model)
        var g = RandomGenerator(seed: 1)
        let x = g.uniform(shape: [2, 1, 28, 28], low: 0, high: 1)
        let v = g.normal(shape: [2, 10])
        for output in ClassifierOutput.allCases {
            let vjp = try classifier.vjp(x, cotangent: v, of: output)
            let f = { (t: Tensor) -> Tensor in output == .logits ? try! classifier.logits(t) : try! classifier.probabilities(t) }
            XCTAssertEqual(vjp.output.shape, [2, 10])
            for j in [5, 300, 600] {
                var plus = x, minus = x
                let h: Float = 1e-2
                plus.scalars[784 + j] += h
                minus.scalars[784 + j] -= h
                let fp = f(plus), fm = f(minus)
                var numeric: Float = 0
                for k in 0..<10 { numeric += v.scalars[10 + k] * (fp.scalars[10 + k] - fm.scalars[10 + k]) / (2 * h) }
                XCTAssertEqual(vjp.inputGradient.scalars[784 + j], numeric, accuracy: 2e-3 + 2e-2 * abs(numeric), "\(output) input \(j)")
            }
        }
    }

    func testZerothOrderEstimatorsApproximateTheExactGradient() throws {
        let exact = ModelClassifier(try Model.fashionFCN(seed: 3))
        let blackBox = BlackBoxClassifier(exact)
        XCTAssertNil(blackBox as? any DifferentiableClassifier, "a black box must not offer gradients")
        var g = RandomGenerator(seed: 2)
        let x = g.uniform(shape: [1, 1, 28, 28], low: 0, high: 1)
        let v = Tensor(shape: [1, 10], scalars: [1, -1, 0, 0, 0, 0, 0, 0, 0, 0])
        let truth = try exact.vjp(x, cotangent: v, of: .probabilities).inputGradient
        func cosine(_ a: Tensor, _ b: Tensor) -> Float {
            var ab: Float = 0, aa: Float = 0, bb: Float = 0
            for i in 0..<a.count { ab += a.scalars[i] * b.scalars[i]; aa += a.scalars[i] * a.scalars[i]; bb += b.scalars[i] * b.scalars[i] }
            return ab / (aa * bb).squareRoot()
        }
        let fd = try ZerothOrderGradientEstimator(blackBox, configuration: .init(method: .finiteDifferences, step: 1e-3))
        let fdGradient = try fd.vjp(x, cotangent: v, of: .probabilities)
        XCTAssertGreaterThan(cosine(fdGradient.inputGradient, truth), 0.99)
        XCTAssertEqual(fd.queryCount, 1 + 2 * 784)
        XCTAssertTrue(fd.gradientsAreEstimated)

        let nes = try ZerothOrderGradientEstimator(blackBox, configuration: .init(method: .nes, samples: 400, step: 1e-3, seed: 7))
        let first = try nes.vjp(x, cotangent: v, of: .probabilities).inputGradient
        XCTAssertGreaterThan(cosine(first, truth), 0.5, "NES with 400 direction pairs should point the right way")
        XCTAssertEqual(nes.queryCount, 1 + 2 * 400)
        // Seeded: a fresh estimator with the same seed gives the same estimate.
        let again = try ZerothOrderGradientEstimator(blackBox, configuration: .init(method: .nes, samples: 400, step: 1e-3, seed: 7))
        XCTAssertEqual(try again.vjp(x, cotangent: v, of: .probabilities).inputGradient, first)
    }

    func testGradientsAreRefusedForBlackBoxesUnlessAnEstimatorIsEnabled() throws {
        let data = try Dataset(name: "line", images: Tensor(shape: [4, 1, 1, 2], scalars: [-1, 0, -2, 0, 1, 0, 2, 0]), labels: [0, 0, 1, 1])
        final class Flat: Classifier {
            let base = LogisticLine()
            var inputShape: [Int] { [1, 1, 2] }
            var classNames: [String] { base.classNames }
            func probabilities(_ x: Tensor) throws -> Tensor { try base.probabilities(x.reshaped([x.batchSize, 2])) }
        }
        let record = PluginRecord(name: "t", version: "1", summary: "")
        let without = try RunEnvironment(classifier: Flat(), data: data, pairs: [ClassPair(0, 1)], samplesPerPair: 2, seed: 0)
        XCTAssertThrowsError(try without.context(plugin: record, component: "walk", kind: .prober, visibleSets: []).gradients()) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("t/walk needs input gradients"), message)
            XCTAssertTrue(message.contains("--gradient-estimator"), message)
        }
        let with = try RunEnvironment(classifier: Flat(), data: data, pairs: [ClassPair(0, 1)], samplesPerPair: 2, seed: 0,
                                      gradientEstimator: .init(method: .finiteDifferences, step: 1e-3))
        let context = with.context(plugin: record, component: "walk", kind: .prober, visibleSets: [])
        let gradient = try context.gradients().vjp(Tensor(shape: [1, 1, 1, 2], scalars: [0, 0]),
                                                  cotangent: Tensor(shape: [1, 2], scalars: [-1, 1]), of: .logits)
        XCTAssertEqual(gradient.inputGradient.scalars[0], 4, accuracy: 1e-2)   // d(log p₁ − log p₀)/dx₀ = w
        XCTAssertEqual(with.counter.count, 1 + 4, "the estimator's queries go through the counting classifier")
        XCTAssertEqual(with.predictions, [0, 0, 1, 1])
    }

    func testPNGRoundTripAndGrid() throws {
        var grid = try ImageGrid(sampleShape: [1, 2, 2], rows: 1, columns: 2, scale: 1, gap: 1)
        grid.set(row: 0, column: 1, sample: [0, 1, 0.5, 2])
        let image = try grid.render()
        XCTAssertEqual(image.width, 2 * 2 + 3)
        XCTAssertEqual(image.height, 2 + 2)
        let data = try image.encoded()
        XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let decoded = try PNGImage.decode(data)
        XCTAssertEqual(decoded, image)
        // Pixel (row 1, column 4) is the second cell's top-left value 0 → black; (1, 5) is 1 → white.
        XCTAssertEqual(decoded.pixels[(1 * 7 + 4) * 3], 0)
        XCTAssertEqual(decoded.pixels[(1 * 7 + 5) * 3], 255)
        XCTAssertEqual(decoded.pixels[(2 * 7 + 5) * 3], 255, "values above the range are clamped")
        XCTAssertThrowsError(try PNGImage.decode(Data("not a png".utf8)))
        XCTAssertThrowsError(try ImageGrid(sampleShape: [5, 3, 3], rows: 1, columns: 1))
    }

    func testOptionValidationNamesTheOptionAndTheExpectedType() throws {
        let beta = PluginOption.number("beta", default: 0.01, in: 0...0.5, help: "")
        XCTAssertEqual(try beta.validate(.string("0.2"), qualifiedName: "p.beta"), .number(0.2))
        XCTAssertThrowsError(try beta.validate(.string("abc"), qualifiedName: "p.beta")) {
            XCTAssertEqual("\($0)", "option p.beta expects number in 0.0…0.5, got 'abc'")
        }
        XCTAssertThrowsError(try beta.validate(.number(3), qualifiedName: "p.beta"))
        let steps = PluginOption.integer("max-steps", default: 3, help: "")
        XCTAssertThrowsError(try steps.validate(.string("2.5"), qualifiedName: "p.max-steps"))
        XCTAssertEqual(try PluginOption.boolean("b", default: false, help: "").validate(.string("yes"), qualifiedName: "p.b"), .bool(true))
        XCTAssertThrowsError(try PluginOption.choice("m", ["a", "b"], default: "a", help: "").validate(.string("c"), qualifiedName: "p.m"))
    }

    func testBoundarySetChecksThatEveryArrayHasOneRowPerAttempt() {
        let points = Tensor(zeros: [2, 3])
        XCTAssertThrowsError(try BoundarySet(pair: ClassPair(0, 1), points: points, startPoints: points, startIndices: [0],
                                             probabilities: Tensor(zeros: [2, 2]), succeeded: [true, false],
                                             failureReasons: [nil, "x"], iterations: [1, 1], queries: 0))
        XCTAssertNoThrow(try BoundarySet(pair: ClassPair(0, 1), points: points, startPoints: points, startIndices: [0, 1],
                                         probabilities: Tensor(zeros: [2, 2]), succeeded: [true, false],
                                         failureReasons: [nil, "x"], iterations: [1, 1], queries: 0))
    }

    func testSHA256() {
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
