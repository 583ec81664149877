import BorderlineTestSupport
import Foundation
import XCTest

/// Issue 17's bar: `borderline run` with no options at all is the model atlas — bisection's class ×
/// class heatmaps and most fragile pairs, flip-point's natural-vs-random distance histograms and one
/// decision slice — and its report leads with them. (Its wall time in release is a line in
/// docs/benchmarks.md, not a timed test.)
final class ReportCLITests: XCTestCase {
    func testTheDefaultRunIsTheModelAtlas() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["run"], in: dir.path)
        if r.status != 0, r.stderr.contains("fashion-mnist") { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("runs").path)
        XCTAssertEqual(runs.count, 1, "one run folder under runs/: \(runs)")
        let folder = dir.appendingPathComponent("runs").appendingPathComponent(try XCTUnwrap(runs.first)).path

        let images = try FileManager.default.contentsOfDirectory(atPath: folder + "/images")
        for atlas in ["bisection-atlas-success.png", "bisection-atlas-distance.png", "bisection-atlas-intruder.png",
                      "flip-point-distance-histograms.png"] {
            XCTAssertTrue(images.contains(atlas), "\(atlas) among \(images.count) pictures")
        }
        let slices = images.filter { $0.hasPrefix("slices-adversarial-slice") }
        XCTAssertEqual(slices.count, 1, "one decision slice: \(slices)")

        let summary = try CLI.summary(folder)
        let plugins = try XCTUnwrap(summary["plugins"] as? [String: Any])
        XCTAssertEqual(plugins.keys.sorted(), ["bisection", "flip-point", "slices"])
        XCTAssertEqual((summary["pairs"] as? [String])?.count, 45, "every pair of the 10 classes")
        let bisection = try XCTUnwrap(plugins["bisection"] as? [String: Any])
        let highlights = try XCTUnwrap(bisection["highlights"] as? [[String: Any]])
        XCTAssertEqual(highlights.first?["label"] as? String, "bisection success rate")
        XCTAssertGreaterThan(highlights.first?["value"] as? Double ?? 0, 0.2, "a good share of bisections between two classes succeed (43 % measured)")
        let atlas = ((bisection["numbers"] as? [String: Any])?["atlas"] as? [String: Any])
        XCTAssertNotNil(atlas?["median_distance"] as? Double)

        // The atlas settings apply because the plugins ran as defaults, and config.json records them.
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/config.json"))) as? [String: Any]
        let sliceOptions = ((config?["options"] as? [String: Any])?["slices"] as? [String: Any])?["slice"] as? [String: Any]
        XCTAssertEqual(sliceOptions?["max-pairs"] as? Int, 1)

        let report = try String(contentsOfFile: folder + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("<nav class=\"toc\">"), "a table of contents")
        XCTAssertTrue(report.contains("bisection success rate"), "the key numbers")
        XCTAssertTrue(report.contains("Most fragile pairs"), "the ranking")
        XCTAssertTrue(report.contains("<details>"), "everything else folded")
    }
}
