@testable import BisectionKit
import BorderlineCore
import BorderlineTestSupport
import Foundation
import XCTest

/// The default plugin: its prober and metric through the API, on a classifier with a known
/// boundary, and end to end through the CLI.
final class BisectionTests: XCTestCase {
    /// Two classes on `[1, 1, 2]` inputs: logits `(0, w·x₀)`, boundary `x₀ = 0`.
    final class Line: Classifier {
        var inputShape: [Int] { [1, 1, 2] }
        var classNames: [String] { ["left", "right"] }
        func probabilities(_ x: Tensor) throws -> Tensor { try logits(x).softmaxRows() }
        func logits(_ x: Tensor) throws -> Tensor {
            Tensor(shape: [x.batchSize, 2], scalars: (0..<x.batchSize).flatMap { [0, 4 * x.scalars[$0 * 2]] })
        }
    }

    func environment() throws -> RunEnvironment {
        let data = try Dataset(name: "line", images: Tensor(shape: [6, 1, 1, 2], scalars: [-1, 0, -2, 1, -3, -1, 1, 0, 2, 2, 3, -2]),
                               labels: [0, 0, 0, 1, 1, 1])
        return try RunEnvironment(classifier: Line(), data: data, pairs: [ClassPair(0, 1)], samplesPerPair: 5, seed: 3)
    }

    func testProberFindsTheKnownBoundaryAndTheMetricSummarisesIt() throws {
        let plugin = BisectionPlugin()
        XCTAssertEqual(plugin.name, "bisection")
        let env = try environment()
        let record = PluginRecord(name: "bisection", version: plugin.version, summary: plugin.summary)
        let prober = plugin.probers[0], metric = plugin.metrics[0]
        let options = try prober.makeOptions(["beta": .number(0.001)])
        let (set, _) = try prober.probe(ClassPair(0, 1), erasedOptions: options,
                                        context: env.context(plugin: record, component: prober.name, kind: .prober, visibleSets: []))
        XCTAssertEqual(set.count, 5)
        XCTAssertEqual(set.successCount, 5)
        for r in 0..<5 {
            XCTAssertEqual(set.points.scalars[r * 2], 0, accuracy: 1e-3, "row \(r) lies on x₀ = 0")
            XCTAssertLessThan(set.probabilityGaps[r], 0.001)
            XCTAssertTrue((0..<3).contains(set.startIndices[r]) && (3..<6).contains(set.endIndices![r]))
        }
        XCTAssertEqual(set.extras["lambda"]?.shape, [5])

        let output = try metric.evaluate(set, erasedOptions: try metric.makeOptions(["grid-rows": .number(0)]),
                                         context: env.context(plugin: record, component: metric.name, kind: .metric, visibleSets: [set]))
        let tree = try ResultEncoder.encode(output)
        XCTAssertEqual(tree.number("success_rate"), 1)
        XCTAssertEqual(tree.number("attempts"), 5)
        XCTAssertLessThan(tree.number("mean_gap")!, 0.001)
        let toStart = BoundarySummaryCheck.distances(set.points, set.startPoints)
        XCTAssertEqual(tree.number("mean_distance_to_start")!, toStart.map(Double.init).reduce(0, +) / 5, accuracy: 1e-6)
        XCTAssertNil(tree["grid"], "grid-rows 0 draws no picture")
        XCTAssertNil(tree["failures"], "no failure table without failures")
    }

    func testStepCapIsAFailureWithItsReason() throws {
        let plugin = BisectionPlugin()
        let env = try environment()
        let record = PluginRecord(name: "bisection", version: plugin.version, summary: plugin.summary)
        let prober = plugin.probers[0]
        let (set, _) = try prober.probe(ClassPair(0, 1), erasedOptions: try prober.makeOptions(["beta": .number(1e-7), "max-halvings": .number(2)]),
                                        context: env.context(plugin: record, component: prober.name, kind: .prober, visibleSets: []))
        XCTAssertGreaterThan(set.count - set.successCount, 0)
        for r in 0..<set.count {
            if set.succeeded[r] { XCTAssertLessThan(set.probabilityGaps[r], 1e-7) } else {
                XCTAssertTrue(set.failureReasons[r]?.contains("step cap of 2") ?? false, "\(set.failureReasons)")
            }
        }
    }

    func testDefaultRunThroughTheCLI() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let r = try CLI.run(["run", "--quiet", "--pairs", "7:9", "--samples", "5", "--images-per-class", "30", "--out", out])
        guard r.status == 0 else {
            if r.stderr.contains("fashion-mnist") { throw XCTSkip("fashion-mnist is not installed") }
            return XCTFail(r.stderr)
        }
        let summary = try CLI.summary(out)
        let bisection = (summary["plugins"] as? [String: Any])?["bisection"] as? [String: Any]
        let pair = ((bisection?["pairs"] as? [String: Any])?["7-9"] as? [String: Any])?["boundary-summary"] as? [String: Any]
        let values = pair?["bisection.random-pair-bisection"] as? [String: Any]
        XCTAssertEqual(values?["attempts"] as? Int, 5)
        XCTAssertNotNil(values?["success_rate"] as? Double)
    }
}

/// The atlas on a classifier whose regions are known: on the line x, class 0 for x < −0.25, class 1
/// on (−0.25, 0.25), class 2 beyond, so every segment from a class-0 to a class-2 image crosses
/// class 1 (the intruder) and the distance from an image at x < −0.25 to the 0/1 boundary is
/// |x + 0.25|.
final class BoundaryAtlasTests: XCTestCase {
    final class Bands: Classifier {
        var inputShape: [Int] { [1, 1, 1] }
        var classNames: [String] { ["left", "middle", "right"] }
        func probabilities(_ x: Tensor) throws -> Tensor { try logits(x).softmaxRows() }
        func logits(_ x: Tensor) throws -> Tensor {
            Tensor(shape: [x.batchSize, 3], scalars: x.scalars.flatMap { [-40 * $0 - 10, 0, 40 * $0 - 10] })
        }
    }

    func testHeatmapsRankingAndIntruderMatchTheKnownRegions() throws {
        let data = try Dataset(name: "bands", images: Tensor(shape: [9, 1, 1, 1], scalars: [-1, -2, -3, 0, 0.1, -0.1, 1, 2, 3]),
                               labels: [0, 0, 0, 1, 1, 1, 2, 2, 2])
        let pairs = [ClassPair(0, 1), ClassPair(0, 2), ClassPair(1, 2)]
        let record = RunRecord()
        let env = try RunEnvironment(classifier: Bands(), data: data, pairs: pairs, samplesPerPair: 6, seed: 1, record: record)
        let plugin = BisectionPlugin()
        let pluginRecord = PluginRecord(name: "bisection", version: plugin.version, summary: plugin.summary)
        record.add(pluginRecord)
        let prober = plugin.probers[0], metric = plugin.metrics[0]
        for pair in pairs {
            var (set, _) = try prober.probe(pair, erasedOptions: try prober.makeOptions(["beta": .number(1e-4)]),
                                            context: env.context(plugin: pluginRecord, component: prober.name, kind: .prober, visibleSets: []))
            set.producer = BoundaryAtlas.producer
            record.add(set)
            let output = try metric.evaluate(set, erasedOptions: try metric.makeOptions(["grid-rows": .number(0)]),
                                             context: env.context(plugin: pluginRecord, component: metric.name, kind: .metric, visibleSets: [set]))
            record.add(OutputRecord(plugin: "bisection", component: metric.name, kind: .metric, componentType: ObjectIdentifier(BoundarySummary.self),
                                    pair: pair, set: set, value: output, tree: .empty))
        }
        let atlas = try BoundaryAtlas().analyse(options: BoundaryAtlas.Options(),
                                                context: env.context(plugin: pluginRecord, component: "atlas", kind: .analysis, visibleSets: record.boundarySets))
        XCTAssertEqual(atlas.classes, [0, 1, 2])
        XCTAssertEqual(atlas.successRate[0][1], 1); XCTAssertEqual(atlas.successRate[1][2], 1)
        XCTAssertEqual(atlas.successRate[0][2], 0, "class 1 lies on every 0–2 segment")
        XCTAssertEqual(atlas.successRate[2][0], 0, "symmetric")
        XCTAssertTrue(atlas.successRate[1][1].isNaN)
        XCTAssertEqual(atlas.intruder[0][2], 1); XCTAssertEqual(atlas.intruder[2][0], 1)
        XCTAssertEqual(atlas.intruderShare[0][2], 1)
        XCTAssertEqual(atlas.intruder[0][1], -1, "no third class between 0 and 1")
        // Class-0 images at −1, −2, −3: distance |x + 0.25| to the 0/1 boundary, averaged over the attempts' starts.
        let sets = record.boundarySets.filter { $0.pair == ClassPair(0, 1) }
        let starts = sets[0].startPoints.scalars
        let expected = starts.map { Double(abs($0 + 0.25)) }.reduce(0, +) / Double(starts.count)
        XCTAssertEqual(atlas.meanDistance[0][1], expected, accuracy: 1e-3)
        let ends = sets[0].endPoints!.scalars
        XCTAssertEqual(atlas.meanDistance[1][0], ends.map { Double(abs($0 + 0.25)) }.reduce(0, +) / Double(ends.count), accuracy: 1e-3,
                       "from the class-1 images: the other end of the same segments")
        XCTAssertTrue(atlas.meanDistance[0][2].isNaN, "no crossing, no distance")
        // Ranking: the two pairs with crossings first, by pooled distance; the 0–2 pair last.
        XCTAssertEqual(atlas.ranking.source.count, 3)
        XCTAssertEqual([atlas.ranking.source.last, atlas.ranking.target.last], [0, 2])
        XCTAssertLessThanOrEqual(atlas.ranking.meanDistance[0], atlas.ranking.meanDistance[1])
        XCTAssertEqual(atlas.fragile.rows.count, 3)
        XCTAssertTrue(atlas.fragile.isKey)
        XCTAssertEqual(atlas.fragile.rows.last?.last, "middle (100 % of attempts)")
        XCTAssertEqual(atlas.overallSuccessRate, 2.0 / 3, accuracy: 1e-12)
        // Three classes: the three key heatmaps; the highlights lead with the success rate.
        for p in [atlas.successPicture, atlas.distancePicture, atlas.intruderPicture] {
            let picture = try XCTUnwrap(p)
            XCTAssertTrue(picture.isKey)
            XCTAssertGreaterThan(picture.image.width, 3 * 26)
        }
        XCTAssertEqual(atlas.highlights.first?.label, "bisection success rate")
        XCTAssertEqual(atlas.highlights.first?.formatted, "66.7 %")
        let tree = try ResultEncoder.encode(atlas)
        guard case .highlight(let h)? = tree["highlights"]?["0"] else { return XCTFail("highlights are report leaves: \(String(describing: tree["highlights"]))") }
        XCTAssertEqual(h.unit, "%")
        guard case .array(let success)? = tree["success_rate"] else { return XCTFail("the matrix is an array") }
        XCTAssertEqual(success.shape, [3, 3])
    }
}

/// The metric's distance, written out again as the test's oracle.
enum BoundarySummaryCheck {
    static func distances(_ x: Tensor, _ y: Tensor) -> [Float] {
        let d = x.sampleCount
        return (0..<x.batchSize).map { r in (0..<d).reduce(Float(0)) { $0 + pow(x.scalars[r * d + $1] - y.scalars[r * d + $1], 2) }.squareRoot() }
    }
}
