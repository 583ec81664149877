import BorderlineCore
import BorderlineTestSupport
import Foundation
import XCTest

/// Runs the built CLI with `--plugin region` on a tiny configuration.
final class RegionCLITests: XCTestCase {
    static let tiny = ["--set", "region.images=6", "--set", "region.benign-images=10", "--set", "region.radius-images=10",
                       "--set", "region.radius-max=0.1", "--set", "region.radius-step=0.05", "--set", "region.selection-samples=10",
                       "--set", "region.region-samples=20", "--set", "region.directions=64", "--set", "region.coarse-steps=4",
                       "--set", "region.bisection-steps=4", "--set", "region.pgd-steps=3",
                       "--set", "region.detector-epochs=2", "--set", "region.plot-images=1"]

    func testTinyRunWritesTheRegionResults() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run")
        let r = try CLI.run(["run", "--no-defaults", "--plugin", "region", "--pairs", "0:1", "--samples", "2", "--images-per-class", "20", "--quiet"]
                            + Self.tiny + ["--set", "region.attacks=fgsm,pgd-linf", "--out", out.path])
        guard r.status == 0 else {
            if r.stderr.contains("fashion-mnist") { throw XCTSkip("fashion-mnist is not installed") }
            return XCTFail(r.stderr)
        }
        let summary = try String(contentsOf: out.appendingPathComponent("summary.json"), encoding: .utf8)
        for key in ["benign_region_accuracy", "benign_point_accuracy", "radius", "benign_mean_purity_top1", "benign_directions_with_boundary"] {
            XCTAssertTrue(summary.contains(key), "summary.json lacks \(key)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("results.h5").path))
        let report = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(report.contains("Point vs region classification"))
        XCTAssertTrue(report.contains("region classifier accuracy (benign)"), "no key-number cards")
        for key in ["fgsm_success_rate", "pgd-linf_region_accuracy", "detector_benign_accuracy"] {
            XCTAssertTrue(summary.contains(key), "summary.json lacks \(key)")
        }
        // The analysis is filed under its name; the run has 2 of the 10 classes, which it says.
        let region = try XCTUnwrap((try CLI.summary(out.path)["plugins"] as? [String: Any])?["region"] as? [String: Any])
        let numbers = try XCTUnwrap((region["numbers"] as? [String: Any])?["analysis"] as? [String: Any])
        XCTAssertEqual(numbers["attacked_images"] as? Int, 6)
        XCTAssertEqual(numbers["directions"] as? Int, 64)
        XCTAssertTrue(report.contains("covers only the run's 2 of 10 classes"), "no note on the run's classes")
        XCTAssertTrue(r.stderr.contains("warning: region:") && r.stderr.contains("2-class subset"), "no warning on the terminal: \(r.stderr)")
        // The robustness curve (default budgets): a table, a chart and the arrays.
        XCTAssertTrue(report.contains("Accuracy vs ε"), "no robustness-curve table")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("images").path))
        let file = try HDF5File.open(out.appendingPathComponent("results.h5").path)
        let group = try file.root().group("region/all/analysis")
        XCTAssertEqual(try group.dataset("sweep_epsilon").readDoubles().count, 6)
        XCTAssertEqual(try group.dataset("sweep_region_accuracy_eot").readDoubles().count, 6)
    }

    func testBadOptionIsRefused() throws {
        let r = try CLI.run(["run", "--no-defaults", "--plugin", "region", "--pairs", "0:1", "--quiet", "--set", "region.coarse-steps=0",
                             "--out", FileManager.default.temporaryDirectory.appendingPathComponent("region-bad-\(UUID().uuidString)").path])
        XCTAssertEqual(r.status, 2, r.stderr)
    }

    /// An unknown attack is refused before the run starts (exit 2, with a suggestion), not when
    /// the analysis reaches it.
    func testUnknownAttackIsRefusedBeforeTheRun() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (attacks, phrase) in [("fgsm,deepfool", "unknown attack 'deepfool'"), ("pgd-lnf", "did you mean 'pgd-linf'?")] {
            let r = try CLI.run(["run", "--no-defaults", "--plugin", "region", "--pairs", "0:1", "--quiet", "--set", "region.attacks=\(attacks)",
                                 "--out", dir.appendingPathComponent("bad").path])
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.contains(phrase), r.stderr)
        }
        let step = try CLI.run(["run", "--no-defaults", "--plugin", "region", "--pairs", "0:1", "--quiet", "--set", "region.radius-step=0.2",
                                "--out", dir.appendingPathComponent("bad").path])
        XCTAssertEqual(step.status, 2, step.stderr)
        XCTAssertTrue(step.stderr.contains("radius-step"), step.stderr)
    }
}
