import Foundation
import BorderlineTestSupport
import XCTest

/// The deepdig plugin end to end through the CLI: shipped CNN, Trouser–Pullover in both
/// directions, short autoencoder training and small metric settings, so that it runs in seconds.
final class DeepDIGCLITests: XCTestCase {
    func testBothDirectionsGiveTheBoundaryCharacteristics() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let r = try CLI.run(["run", "--no-defaults", "--plugin", "deepdig", "--pairs", "Trouser:Pullover,Pullover:Trouser", "--seed", "0",
                             "--images-per-class", "50", "--set", "deepdig.steps=300", "--set", "deepdig.max-samples=100",
                             "--set", "deepdig.points=20", "--set", "deepdig.k=10", "--set", "deepdig.m=10",
                             "--set", "deepdig.train-points=200", "--out", out, "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        let plugin = (summary["plugins"] as! [String: Any])["deepdig"] as! [String: Any]
        XCTAssertEqual(plugin["status"] as? String, "ok", "\(plugin)")
        func number(_ path: String) -> Double? {
            var node: Any? = plugin
            for part in path.split(separator: "/") { node = (node as? [String: Any])?[String(part)] }
            return node as? Double
        }
        let forward = try XCTUnwrap(number("boundary_sets/deepdig/1-2/successes"))
        let reverse = try XCTUnwrap(number("boundary_sets/deepdig/2-1/successes"))
        XCTAssertGreaterThan(forward, 0); XCTAssertGreaterThan(reverse, 0)
        // The boundary's EDC pools both directions' successful points (filed under the pair with s < t).
        XCTAssertEqual(number("pairs/1-2/edc/deepdig.deepdig/boundary_borderline_points"), forward + reverse)
        XCTAssertNil(number("pairs/2-1/edc/deepdig.deepdig/boundary_borderline_points"), "one boundary, one set of pooled values")
        let edc2 = try XCTUnwrap(number("pairs/1-2/boundary/deepdig.deepdig/edc2_borderline"))
        XCTAssertTrue((0...100).contains(edc2))
        XCTAssertEqual(edc2, number("pairs/1-2/edc/deepdig.deepdig/boundary_edc2_borderline"))
        XCTAssertLessThan(try XCTUnwrap(number("pairs/1-2/boundary/deepdig.deepdig/edc1_borderline")),
                          try XCTUnwrap(number("pairs/1-2/boundary/deepdig.deepdig/edc1_test")),
                          "borderline points lie nearer the SVM's hyperplane than test images")
        // IDC of the boundary = mean of the two directions'.
        let idc = try XCTUnwrap(number("pairs/1-2/boundary/deepdig.deepdig/idc"))
        let idcForward = try XCTUnwrap(number("pairs/1-2/idc/deepdig.deepdig/idc")), idcReverse = try XCTUnwrap(number("pairs/2-1/idc/deepdig.deepdig/idc"))
        XCTAssertEqual(idc, (idcForward + idcReverse) / 2, accuracy: 1e-12)
        // One projection picture per boundary, drawn by the set with s < t.
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/images/deepdig-projection-deepdig.deepdig-pair_1_2-pca.png"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/images/deepdig-projection-deepdig.deepdig-pair_2_1-pca.png"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/images/deepdig-deepdig-grid-pair_1_2.png"))
        let report = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("Boundary characteristics, both directions"), "the Table 9 layout is in the report")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/results.h5"))

        let bad = try CLI.run(["run", "--no-defaults", "--plugin", "deepdig", "--pairs", "1:2", "--set", "deepdig.alpha=-1",
                               "--out", dir.appendingPathComponent("bad").path, "--quiet"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("alpha"), bad.stderr)
        // Checked before the run starts: a missing autoencoder file, and the renamed `samples`.
        let missing = dir.appendingPathComponent("no-such-autoencoder.h5").path
        let noFile = try CLI.run(["run", "--no-defaults", "--plugin", "deepdig", "--pairs", "1:2", "--set", "deepdig.autoencoder=\(missing)",
                                  "--out", dir.appendingPathComponent("bad2").path, "--quiet"])
        XCTAssertEqual(noFile.status, 2, noFile.stderr)
        XCTAssertTrue(noFile.stderr.contains(missing), noFile.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad2").path))
        let renamed = try CLI.run(["run", "--no-defaults", "--plugin", "deepdig", "--pairs", "1:2", "--set", "deepdig.samples=10",
                                   "--out", dir.appendingPathComponent("bad3").path, "--quiet"])
        XCTAssertEqual(renamed.status, 2, renamed.stderr)
        XCTAssertTrue(renamed.stderr.contains("did you mean 'max-samples'"), renamed.stderr)
    }
}
