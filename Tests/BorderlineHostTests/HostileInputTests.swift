import BorderlineCore
import Foundation
import XCTest

/// Tiny hostile files and options (Tests/Fixtures/Hostile, written by
/// tools/make_hostile_fixtures.py): each is refused before anything is allocated, with exit 2 and
/// a message naming the file or option — never a signal exit (issue 21 items 3 and 6).
final class HostileInputTests: XCTestCase {
    static let fixtures = TestSupport.repository.appendingPathComponent("Tests/Fixtures/Hostile").path

    func fixture(_ name: String) -> String { (Self.fixtures as NSString).appendingPathComponent(name) }

    func assertRefused(_ arguments: [String], mentioning expected: [String], environment: [String: String] = [:],
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try TestSupport.borderline(arguments, environment: environment)
        XCTAssertFalse(r.signalled, "\(arguments): \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.status, 2, "\(arguments): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains("error: "), r.stderr, file: file, line: line)
        for text in expected {
            XCTAssertTrue(r.stderr.contains(text), "\(arguments): expected '\(text)' in: \(r.stderr)", file: file, line: line)
        }
    }

    func testDeclaredSizesAreCheckedBeforeAllocating() throws {
        let idx = fixture("huge-images-idx3-ubyte")
        try assertRefused(["evaluate", TestSupport.model, "--data", idx], mentioning: [idx, "[10000000, 28, 28]", "more than the budget of 1.1 GB"],
                          environment: ["BORDERLINE_MEMORY_LIMIT": "1G"])
        // Within a (large) budget the reader still allocates only what the file holds: truncated.
        try assertRefused(["evaluate", TestSupport.model, "--data", idx], mentioning: [idx, "truncated", "[10000000, 28, 28]", "found 8"],
                          environment: ["BORDERLINE_MEMORY_LIMIT": "100G"])
        let sparse = fixture("sparse.h5")
        try assertRefused(["evaluate", TestSupport.model, "--data", sparse], mentioning: [sparse, "[1000000000, 1, 28, 28]", "stores only"])
        let dense = fixture("huge-dense.h5")
        try assertRefused(["inspect", dense], mentioning: [dense, "'fc1' (Dense)", "100000000 × 784", "more than the budget"])
        _ = try TestSupport.fashionMNISTOrSkip()
        let out = try TestSupport.temporaryFolder(self) + "/run"
        try assertRefused(["run", "--quiet", "--model", TestSupport.model, "--no-defaults", "--plugin", "bisection", "--pairs", "0:1", "--samples", "2000000000",
                           "--out", out] + TestSupport.inTreePluginArguments(), mentioning: ["--samples 2000000000", "more than the budget"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing is written for refused input")
    }

    func testHostileYAMLIsRefused() throws {
        let deep = fixture("deep.yaml"), bomb = fixture("alias-bomb.yaml")
        try assertRefused(["run", "--config", deep], mentioning: [deep, "nests deeper than 64 levels"])
        try assertRefused(["run", "--config", bomb], mentioning: [bomb, "YAML aliases"])
        // Fewer aliases, still an expansion far beyond any configuration: refused by the value budget.
        let dir = try TestSupport.temporaryFolder(self)
        let small = dir + "/bomb6.yaml"
        var lines = ["a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]"]
        for i in 1..<6 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        try (lines.joined(separator: "\n") + "\nsamples: 3\n").write(toFile: small, atomically: true, encoding: .utf8)
        try assertRefused(["run", "--config", small], mentioning: [small, "expands to more than 100000 values"])
    }

    /// Weights of 1e30 give infinite logits and NaN probabilities: every command that reports on
    /// the model's outputs says so instead of printing an accuracy of argmax(NaN) = class 0.
    func testNonFiniteOutputsAreReported() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        let model = fixture("nonfinite.h5")
        let dir = try TestSupport.temporaryFolder(self)
        for arguments in [["evaluate", model], ["inspect", model, "--data", "fashion-mnist"], ["predict", model, "--data", "fashion-mnist", "-o", dir + "/p.csv"],
                          ["attack", "--model", model, "--attack", "fgsm", "--count", "4"]] {
            try assertRefused(arguments, mentioning: [model, "outputs are not finite"])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/p.csv"), "no predictions file for a model whose outputs are NaN")
        try assertRefused(["run", "--quiet", "--model", model, "--no-defaults", "--plugin", "bisection", "--pairs", "0:1", "--out", dir + "/run"] + TestSupport.inTreePluginArguments(),
                          mentioning: ["outputs are not finite"])
    }
}
