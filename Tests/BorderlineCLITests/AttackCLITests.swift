import Foundation
import BorderlineTestSupport
import XCTest

/// `borderline attack` end to end: the summary, the adversarials file read back by `evaluate`,
/// and bad options.
final class AttackCLITests: XCTestCase {
    func value(_ label: String, in stdout: String) -> Double? {
        guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix(label) }) else { return nil }
        return line.dropFirst(label.count).split(separator: " ").first.flatMap { Double($0) }
    }

    func testPGDWritesADataSetThatEvaluateReads() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("adv.h5").path
        let r = try CLI.run(["attack", "--attack", "pgd-linf", "--count", "16", "--steps", "10", "--seed", "1", "-o", out, "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        let success = try XCTUnwrap(value("success rate", in: r.stdout), r.stdout)
        let distortion = try XCTUnwrap(value("mean RMS distortion", in: r.stdout), r.stdout)
        XCTAssertGreaterThan(success, 80, r.stdout)
        XCTAssertGreaterThan(distortion, 0)
        XCTAssertLessThanOrEqual(distortion, 0.1 + 1e-6, "RMS ≤ L∞ radius")
        // y holds the true labels, so evaluate's accuracy on the file is 100 − success rate.
        let e = try CLI.run(["evaluate", "--data", out])
        XCTAssertEqual(e.status, 0, e.stderr)
        let accuracy = try XCTUnwrap(e.stdout.split(separator: "\n").first { $0.lowercased().contains("accuracy") }, e.stdout)
        XCTAssertTrue(accuracy.contains(String(format: "%.2f", 100 - success)), "\(accuracy) vs success \(success)")
    }

    func testOptMarginRunsAndBadOptionsFail() throws {
        let r = try CLI.run(["attack", "--attack", "optmargin", "--count", "2", "--steps", "30", "--binary-search-steps", "1", "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotNil(value("success rate", in: r.stdout), r.stdout)
        for bad in [["--attack", "fgsm", "--epsilon", "-1"], ["--attack", "cw-l2", "--epsilon", "0.1"],
                    ["--attack", "pgd-l2", "--count", "0"], ["--attack", "nope"]] {
            let b = try CLI.run(["attack"] + bad + ["--quiet"])
            XCTAssertEqual(b.status, 2, "\(bad): \(b.stderr)")
            XCTAssertFalse(b.stderr.isEmpty)
        }
    }
}
