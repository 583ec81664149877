import BorderlineCore
import BorderlineHost
import Foundation
import XCTest

/// The in-tree flip-point plugin, loaded as the CLI loads it, on the shipped CNN.
final class FlipPointPluginTests: XCTestCase {
    func testLoadsAndFindsFlipPointsOnTheShippedCNN() throws {
        let path = (TestSupport.buildFolder as NSString).appendingPathComponent("libFlipPointPlugin.so")
        guard FileManager.default.fileExists(atPath: path) else {
            throw XCTSkip("libFlipPointPlugin.so was not built next to the tests (build all products)")
        }
        let loaded = try PluginLoader.load(path, origin: .builtIn)
        XCTAssertEqual(loaded.plugin.name, "flip-point")
        XCTAssertEqual(loaded.plugin.probers.map(\.name), ["jacobian-flip", "deepfool"])
        let data = try TestSupport.fashionMNISTOrSkip().prefix(300)
        let classifier = ModelClassifier(try Model.load(contentsOf: TestSupport.model))
        let environment = try RunEnvironment(classifier: classifier, data: data, pairs: [ClassPair(0, 6)], samplesPerPair: 4, seed: 1)
        let record = PluginRecord(name: "flip-point", version: loaded.plugin.version, summary: "")
        var starts: [[Int]] = []
        for prober in loaded.plugin.probers {
            let set = try prober.probe(ClassPair(0, 6), context: environment.context(
                plugin: record, component: prober.name, options: .defaults(of: prober.options, owner: prober.name)))
            XCTAssertEqual(set.count, 4)
            starts.append(set.startIndices)
            let predicted = try classifier.predictions(set.points)
            for r in set.successfulIndices {
                XCTAssertNotEqual(predicted[r], Int(set.extras["start_class"]!.scalars[r]), "\(prober.name) row \(r)")
                XCTAssertGreaterThan(set.extras["l2"]!.scalars[r], 0)
                XCTAssertGreaterThanOrEqual(set.points.scalars.min()!, 0)
                XCTAssertLessThanOrEqual(set.points.scalars.max()!, 1)
            }
            XCTAssertGreaterThan(set.successCount, 0, prober.name)
        }
        XCTAssertEqual(starts[0], starts[1], "both probers start from the same images")
    }
}
