import Foundation
import BorderlineTestSupport
import XCTest

/// The latent plugin end to end through the CLI: shipped VAE + shipped CNN, one pair.
final class LatentCLITests: XCTestCase {
    func testLatentTrajectoriesThroughTheCLI() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let r = try CLI.run(["run", "--no-defaults", "--plugin", "latent", "--pairs", "Sneaker:Ankle boot", "--samples", "6", "--seed", "0",
                             "--set", "latent.max-steps=300", "--out", out, "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        let plugin = (summary["plugins"] as! [String: Any])["latent"] as! [String: Any]
        let numbers = ((plugin["pairs"] as! [String: Any])["7-9"] as! [String: Any])["trajectory"] as! [String: Any]
        XCTAssertEqual(numbers["trajectories"] as? Double, 6)
        XCTAssertGreaterThan(numbers["crossed_share"] as! Double, 0)
        if let gap = numbers["crossing_gap_max"] as? Double { XCTAssertLessThan(gap, 1e-3) }
        // The latent prior (issue 19): the off-prior share and radius (χ_16 at p = 0.999), ‖z*‖ and log N(z*; 0, I).
        let offPrior = try XCTUnwrap(numbers["off_prior_share"] as? Double)
        XCTAssertTrue((0...1).contains(offPrior))
        XCTAssertEqual(try XCTUnwrap(numbers["off_prior_threshold"] as? Double), 6.2652, accuracy: 1e-3)
        let norm = try XCTUnwrap(numbers["latent_norm_mean"] as? Double), ll = try XCTUnwrap(numbers["prior_log_likelihood_mean"] as? Double)
        XCTAssertLessThanOrEqual(ll, -norm * norm / 2 - 8 * Foundation.log(2 * Double.pi) + 1e-3, "Jensen: mean log-likelihood ≤ that of the mean norm")
        XCTAssertLessThanOrEqual(try XCTUnwrap(numbers["on_prior_crossed_share"] as? Double), numbers["crossed_share"] as! Double)
        // The section's key numbers (analysis `summary`; one pair: the run-wide shares are the pair's).
        let highlights = try XCTUnwrap(plugin["highlights"] as? [[String: Any]])
        XCTAssertEqual(highlights.compactMap { $0["label"] as? String }, ["trajectories that cross the boundary", "crossed on the prior",
                                                                         "off-prior share of the crossings", "mean ‖z*‖ at the crossings"])
        let run = try XCTUnwrap((plugin["numbers"] as? [String: Any])?["summary"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(highlights[0]["value"] as? Double), numbers["crossed_share"] as! Double, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(run["on_prior_crossed_share"] as? Double), numbers["on_prior_crossed_share"] as! Double, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(run["off_prior_share"] as? Double), offPrior, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(run["trajectories"] as? Double), 6)
        if let mean = run["latent_norm_mean"] as? Double { XCTAssertEqual(mean, norm, accuracy: 1e-9) }
        for image in ["latent-strip-pair_7_9.png", "latent-f-target-curves-pair_7_9.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/images/" + image), image)
        }

        let bad = try CLI.run(["run", "--no-defaults", "--plugin", "latent", "--pairs", "7:9", "--samples", "2", "--set", "latent.decoder=/nonexistent/g.h5",
                               "--out", dir.appendingPathComponent("bad").path, "--quiet"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("/nonexistent/g.h5"), bad.stderr)
    }

    func testTrainVAEWritesEncoderAndDecoder() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let e = dir.appendingPathComponent("e.h5").path, d = dir.appendingPathComponent("d.h5").path
        let r = try CLI.run(["train-vae", "--limit", "256", "--epochs", "1", "--hidden", "32", "--latent", "4",
                             "--encoder", e, "--decoder", d, "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("test reconstruction"), r.stdout)
        let inspect = try CLI.run(["inspect", d])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        let badR = try CLI.run(["train-vae", "--hidden", "0", "--encoder", e, "--decoder", d, "--quiet"])
        XCTAssertEqual(badR.status, 2)
    }
}
