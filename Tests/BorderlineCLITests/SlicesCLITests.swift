import Foundation
import BorderlineTestSupport
import XCTest

/// The slices plugin end to end through the CLI: shipped CNN, shipped FCN as the second model,
/// one pair, 64 × 64 grids.
final class SlicesCLITests: XCTestCase {
    func testSlicesThroughTheCLI() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let r = try CLI.run(["run", "--no-defaults", "--plugin", "slices", "--pairs", "T-shirt/top:Trouser", "--seed", "0", "--images-per-class", "20",
                             "--set", "slices.grid=64", "--set", "slices.window-grid=32", "--set", "slices.steps=10",
                             "--set", "slices.profile-points=21", "--set", "slices.second-model=fashion-fcn", "--out", out, "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        let plugin = (summary["plugins"] as! [String: Any])["slices"] as! [String: Any]
        XCTAssertEqual(plugin["status"] as? String, "ok", "\(plugin)")
        let numbers = ((plugin["pairs"] as! [String: Any])["0-1"] as! [String: Any])["slice"] as! [String: Any]
        func number(_ path: String) -> Double? {
            var node: Any? = numbers
            for part in path.split(separator: "/") { node = (node as? [String: Any])?[String(part)] }
            return node as? Double
        }
        let feasible = try XCTUnwrap(number("images/feasible_pixels"), "\(numbers.keys.sorted())")
        XCTAssertGreaterThan(feasible, 100)
        XCTAssertLessThanOrEqual(feasible, 64 * 64)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(number("adversarial/polygon_vertices")), 3)
        let agreement = try XCTUnwrap(number("images/second_model_agreement"))
        XCTAssertTrue((0...1).contains(agreement))
        for image in ["adversarial-slice", "image-slice", "church-window", "adversarial-profiles", "images-two-models"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/images/slices-\(image)-pair_0_1.png"), image)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/results.h5"))

        // third-point=stored reads another prober's set whatever the order of --plugin (slices first here).
        let storedOut = dir.appendingPathComponent("stored").path
        let stored = try CLI.run(["run", "--no-defaults", "--plugin", "slices", "--plugin", "bisection", "--pairs", "0:1", "--samples", "4", "--seed", "0",
                                  "--images-per-class", "20", "--set", "slices.grid=16", "--set", "slices.window-grid=16", "--set", "slices.steps=5",
                                  "--set", "slices.profile-points=5", "--set", "slices.third-point=stored",
                                  "--set", "slices.stored-from=bisection/random-pair-bisection", "--out", storedOut, "--quiet"])
        XCTAssertEqual(stored.status, 0, stored.stderr)
        let storedSummary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: storedOut + "/summary.json"))) as! [String: Any]
        let storedPlugin = (storedSummary["plugins"] as! [String: Any])["slices"] as! [String: Any]
        XCTAssertEqual(storedPlugin["status"] as? String, "ok", "\(storedPlugin)")
        // A named producer without a set for the pair fails the pair with a message naming it; no fallback.
        let missingOut = dir.appendingPathComponent("missing").path
        _ = try CLI.run(["run", "--no-defaults", "--plugin", "slices", "--plugin", "bisection", "--pairs", "0:1", "--samples", "2", "--images-per-class", "20",
                         "--set", "slices.grid=16", "--set", "slices.window-grid=16", "--set", "slices.third-point=stored",
                         "--set", "slices.stored-from=bisection/nope", "--out", missingOut, "--quiet"])
        let missingSummary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: missingOut + "/summary.json"))) as! [String: Any]
        let missingPlugin = (missingSummary["plugins"] as! [String: Any])["slices"] as! [String: Any]
        XCTAssertEqual(missingPlugin["status"] as? String, "failed")
        XCTAssertTrue("\(missingPlugin["error"] ?? "")".contains("bisection/nope"), "\(missingPlugin)")

        let bad = try CLI.run(["run", "--no-defaults", "--plugin", "slices", "--pairs", "0:1", "--set", "slices.second-model=/nonexistent/m.h5",
                               "--set", "slices.grid=16", "--out", dir.appendingPathComponent("bad").path, "--quiet"])
        let badSummary = try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.appendingPathComponent("bad").path + "/summary.json"))) as? [String: Any]
        let badStatus = ((badSummary?["plugins"] as? [String: Any])?["slices"] as? [String: Any])?["status"] as? String
        XCTAssertTrue(bad.status != 0 || badStatus == "failed", "\(bad.status) \(badStatus ?? "-")")
        XCTAssertTrue((bad.stderr + bad.stdout + String(describing: badSummary)).contains("/nonexistent/m.h5"), bad.stderr)
    }
}
