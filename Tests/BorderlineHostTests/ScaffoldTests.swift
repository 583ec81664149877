import BorderlineCore
import BorderlineHost
import BorderlineTestSupport
import Foundation
import XCTest

/// The tutorial's path end to end: scaffold a plugin out of tree, build it against the core by
/// path, load it with --plugin-path, run it next to an in-tree plugin and read its output.
final class ScaffoldTests: XCTestCase {
    func testScaffoldedPluginBuildsLoadsRunsAndWritesResults() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        let dir = try TestSupport.temporaryFolder(self)
        let core = TestSupport.repository.appendingPathComponent("Sources/Core").path
        let created = try TestSupport.borderline(["plugin", "new", "my-probe", "--path", dir, "--core", core])
        XCTAssertEqual(created.status, 0, created.stderr)
        let package = dir + "/my-probe"
        let manifest = try String(contentsOfFile: package + "/Package.swift", encoding: .utf8)
        XCTAssertTrue(manifest.contains(".package(path: \"\(core)\")"), manifest)
        // The bar of the plugin API: a prober and a metric in at most 40 lines of plugin code.
        let source = try String(contentsOfFile: package + "/Sources/MyProbePlugin/MyProbePlugin.swift", encoding: .utf8)
        XCTAssertLessThanOrEqual(source.split(separator: "\n", omittingEmptySubsequences: false).count - 1, 40, source)
        XCTAssertEqual(try TestSupport.borderline(["plugin", "new", "my-probe", "--path", dir, "--core", core]).status, 2,
                       "an existing package is never overwritten")

        let build = try TestSupport.run("/usr/bin/env", ["nice", "-n", "19", "swift", "build"], in: package)
        XCTAssertEqual(build.status, 0, build.stdout + build.stderr)
        let products = package + "/.build/debug"
        XCTAssertTrue(FileManager.default.fileExists(atPath: products + "/libMyProbePlugin.so"))

        let listing = try TestSupport.borderline(["plugins", "--plugin-path", products] + TestSupport.inTreePluginArguments())
        XCTAssertEqual(listing.status, 0, listing.stdout + listing.stderr)
        XCTAssertTrue(listing.stdout.contains("my-probe 0.1.0"), listing.stdout)
        XCTAssertTrue(listing.stdout.contains("prober gradient-walk (needs gradients)"), listing.stdout)
        XCTAssertTrue(listing.stdout.contains("[--plugin-path]"), listing.stdout)

        let out = dir + "/run"
        let run = try TestSupport.borderline(["run", "--quiet", "--model", TestSupport.model, "--plugin-path", products,
                                              "--no-defaults", "--plugin", "my-probe", "--plugin", "bisection", "--pairs", "7:9", "--samples", "4",
                                              "--images-per-class", "40", "--set", "my-probe.max-steps=60", "--out", out]
                                             + TestSupport.inTreePluginArguments())
        XCTAssertEqual(run.status, 0, run.stderr)
        let file = try HDF5File.open(out + "/results.h5")
        let root = try file.root()
        let walk = try root.group("my-probe/pair_7_9/gradient-walk")
        XCTAssertEqual(try walk.readTensor("points").shape, [4, 1, 28, 28])
        XCTAssertEqual(try walk.readInt64s("iterations").values.count, 4)
        XCTAssertGreaterThan(try walk.dataset("succeeded").readUInt8s().reduce(0) { $0 + Int($1) }, 0, "some walks cross the boundary")
        // The in-tree metric measured the out-of-tree prober's set: metrics do not care who made a set.
        XCTAssertTrue(root.contains("bisection/pair_7_9/boundary-summary/my-probe.gradient-walk/distance_to_start"))
        // …and the scaffold's metric measured the in-tree prober's set.
        XCTAssertEqual(try root.readTensor("my-probe/pair_7_9/walk-length/bisection.random-pair-bisection/distances").shape, [4])
        try file.close()
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("id=\"plugin-my-probe\""))

        // Black box without an estimator: the gradient prober fails and says why; the others still run.
        let blackBox = try TestSupport.borderline(["run", "--quiet", "--model", TestSupport.model, "--plugin-path", products,
                                                   "--no-defaults", "--plugin", "my-probe", "--plugin", "bisection", "--pairs", "7:9", "--samples", "4",
                                                   "--images-per-class", "40", "--black-box", "--out", dir + "/black"]
                                                  + TestSupport.inTreePluginArguments())
        XCTAssertEqual(blackBox.status, 1, blackBox.stderr)
        XCTAssertTrue(blackBox.stderr.contains("my-probe/gradient-walk needs input gradients, but the classifier is a black box"), blackBox.stderr)
        let summary = try JSONValue.parse(String(contentsOfFile: dir + "/black/summary.json", encoding: .utf8))
        XCTAssertEqual(summary["plugins"]?["bisection"]?["status"], "ok")
        XCTAssertEqual(summary["plugins"]?["my-probe"]?["status"], "failed")
    }
}
