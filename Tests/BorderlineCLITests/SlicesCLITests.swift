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
        for image in ["adversarial-slice", "image-slice", "church-window", "adversarial-profiles", "images-models"] {
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

    /// Issue 19 items 4–5 end to end: three models on one slice with pairwise IoU, the third-point
    /// panel, plane-out, and plane-in on the PGD-trained CNN (the same plane: the same feasible
    /// pixels, and its agreement with the CNN equals the first run's); bad plane files exit non-zero
    /// with a message naming the file.
    func testFixedPlaneAcrossModelsThroughTheCLI() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let planes = dir.appendingPathComponent("planes.h5").path
        let common = ["--no-defaults", "--plugin", "slices", "--pairs", "T-shirt/top:Trouser", "--seed", "0", "--images-per-class", "20",
                      "--set", "slices.grid=32", "--set", "slices.window-grid=16", "--set", "slices.steps=5", "--set", "slices.profile-points=5",
                      "--set", "slices.church-window=false", "--quiet"]
        let out1 = dir.appendingPathComponent("one").path
        let r1 = try CLI.run(["run", "--model", "fashion-cnn"] + common + ["--set", "slices.models=fashion-cnn-pgd,fashion-fcn",
                              "--set", "slices.third-points=grey,random-image", "--set", "slices.plane-out=\(planes)", "--out", out1])
        if r1.stderr.contains("fashion-mnist") && r1.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r1.stderr)") }
        XCTAssertEqual(r1.status, 0, r1.stderr)
        func slices(_ out: String) throws -> [String: Any] {
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
            let plugin = (summary["plugins"] as! [String: Any])["slices"] as! [String: Any]
            XCTAssertEqual(plugin["status"] as? String, "ok", "\(plugin)")
            return ((plugin["pairs"] as! [String: Any])["0-1"] as! [String: Any])["slice"] as! [String: Any]
        }
        func value(_ node: Any?, _ path: [String]) -> Any? {
            var n = node
            for p in path { n = (n as? [String: Any])?[p] }
            return n
        }
        let one = try slices(out1)
        let agreement = try XCTUnwrap(value(one, ["adversarial", "model_pairs", "run's model vs fashion-cnn-pgd", "agreement"]) as? Double, "\(one["adversarial"] ?? "-")")
        XCTAssertTrue((0...1).contains(agreement))
        XCTAssertNotNil(value(one, ["images", "model_pairs", "fashion-cnn-pgd vs fashion-fcn", "mean_class_iou"]))
        XCTAssertNotNil(value(one, ["third-points", "random-image", "feasible_pixels"]), "\(one.keys.sorted())")
        XCTAssertNotNil(value(one, ["images", "components"]))
        XCTAssertNotNil(value(one, ["images", "adversarial_direction_angle"]))
        for image in ["adversarial-models", "images-models", "third-points"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out1 + "/images/slices-\(image)-pair_0_1.png"), image)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: planes))

        // The PGD-trained CNN on the stored planes, compared with the CNN.
        let out2 = dir.appendingPathComponent("two").path
        let r2 = try CLI.run(["run", "--model", "fashion-cnn-pgd"] + common + ["--set", "slices.models=fashion-cnn",
                              "--set", "slices.plane-in=\(planes)", "--out", out2])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        let two = try slices(out2)
        for slice in ["adversarial", "adversarial-local", "images"] {
            XCTAssertEqual(value(two, [slice, "feasible_pixels"]) as? Double, value(one, [slice, "feasible_pixels"]) as? Double, slice)
        }
        let back = try XCTUnwrap(value(two, ["adversarial", "model_pairs", "run's model vs fashion-cnn", "agreement"]) as? Double)
        XCTAssertEqual(back, agreement, accuracy: 0.01, "the same plane and pixels on the same two models (a pixel at a float tie may flip with another batch split)")

        // A pair the file does not hold: exit 1, the message names the file and the pairs it has.
        let r3 = try CLI.run(["run", "--model", "fashion-cnn", "--no-defaults", "--plugin", "slices", "--pairs", "0:2", "--images-per-class", "20",
                              "--set", "slices.plane-in=\(planes)", "--out", dir.appendingPathComponent("three").path, "--quiet"])
        XCTAssertNotEqual(r3.status, 0)
        XCTAssertTrue(r3.stderr.contains(planes) && r3.stderr.contains("no planes for pair 0:2") && r3.stderr.contains("0:1"), r3.stderr)
        // A missing file: refused before the run, naming it.
        let r4 = try CLI.run(["run", "--no-defaults", "--plugin", "slices", "--pairs", "0:1", "--set", "slices.plane-in=/nonexistent/planes.h5",
                              "--out", dir.appendingPathComponent("four").path, "--quiet"])
        XCTAssertNotEqual(r4.status, 0)
        XCTAssertTrue(r4.stderr.contains("/nonexistent/planes.h5"), r4.stderr)
    }
}
