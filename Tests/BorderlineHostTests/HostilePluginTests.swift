import BorderlineCore
import BorderlineHost
import BorderlineTestSupport
import Foundation
import XCTest

/// A real plugin library that breaks the contract (Tests/Fixtures/HostilePlugin), run through the
/// CLI: the host marks it failed with the reason, writes the other plugins' results and exits 1 —
/// never a signal exit, never a lost run.
final class HostilePluginTests: XCTestCase {
    /// A folder holding the fixture under a plugin's name.
    func hostileFolder() throws -> String {
        let cli = try TestSupport.cli()
        let built = ((cli as NSString).deletingLastPathComponent as NSString).appendingPathComponent("libHostileFixture.so")
        guard FileManager.default.fileExists(atPath: built) else { throw XCTSkip("libHostileFixture.so was not built next to the CLI") }
        let folder = try TestSupport.temporaryFolder(self) + "/plugins"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: built, toPath: folder + "/libHostilePlugin.so")
        return folder
    }

    func run(_ fault: String, out: String, folder: String) throws -> TestSupport.ProcessResult {
        _ = try TestSupport.fashionMNISTOrSkip()
        return try TestSupport.borderline(["run", "--quiet", "--model", TestSupport.model, "--pairs", "7:9", "--samples", "3",
                                           "--images-per-class", "30", "--plugin-path", folder, "--no-defaults", "--plugin", "hostile", "--plugin", "bisection",
                                           "--set", "hostile.fault=\(fault)", "--out", out] + TestSupport.inTreePluginArguments())
    }

    func testEveryFaultFailsThePluginAndKeepsTheRest() throws {
        let folder = try hostileFolder()
        let dir = try TestSupport.temporaryFolder(self)
        for (fault, expected) in [("exit", "the plugin ended the process (exit)"),
                                  ("index", "start index 1000000 is not a row of the run's"),
                                  ("probabilities", "its probabilities have shape [1, 1]"),
                                  ("collision", "its output member 'points' has the name of a boundary-set array"),
                                  ("gap", "row 0 of its boundary set is marked successful, but there |p_7 − p_9| = 1 exceeds its β = 0.01")] {
            let out = dir + "/\(fault)"
            let r = try run(fault, out: out, folder: folder)
            XCTAssertFalse(r.signalled, "\(fault): \(r.stderr)")
            XCTAssertEqual(r.status, 1, "\(fault): \(r.stderr)")
            let summary = try JSONValue.parse(String(contentsOfFile: out + "/summary.json", encoding: .utf8))
            XCTAssertEqual(summary["plugins"]?["hostile"]?["status"], "failed", fault)
            XCTAssertTrue(summary["plugins"]?["hostile"]?["error"]?.stringValue?.contains(expected) ?? false, "\(fault): \(String(describing: summary["plugins"]?["hostile"]))")
            XCTAssertEqual(summary["plugins"]?["bisection"]?["status"], "ok", "\(fault): the other plugin's results are written")
        }
        let fine = try run("none", out: dir + "/none", folder: folder)
        XCTAssertEqual(fine.status, 0, fine.stderr)
    }

    /// A plugin that hangs without checking for Ctrl-C: the first signal says the run is stopping,
    /// the second stops at once and leaves a visible folder that says so.
    func testAHangingPluginStopsOnASecondSignal() throws {
        let folder = try hostileFolder()
        _ = try TestSupport.fashionMNISTOrSkip()
        let dir = try TestSupport.temporaryFolder(self)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try TestSupport.cli())
        process.arguments = ["run", "--quiet", "--model", TestSupport.model, "--pairs", "7:9", "--samples", "3", "--images-per-class", "30",
                             "--plugin-path", folder, "--no-defaults", "--plugin", "hostile", "--set", "hostile.fault=hang", "--out", dir + "/run"]
            + (try TestSupport.inTreePluginArguments())
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        // Wait until the run has made its folder (the hang starts right after; a fixed sleep was
        // too short for a debug build on a loaded machine: the signal came before any folder).
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, process.isRunning,
              !((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).contains(where: { $0.hasPrefix(".run.partial-") }) {
            Thread.sleep(forTimeInterval: 0.2)
        }
        Thread.sleep(forTimeInterval: 1.5)
        kill(process.processIdentifier, SIGINT)
        Thread.sleep(forTimeInterval: 1)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 130, text)
        XCTAssertTrue(text.contains("stopping after the current step"), text)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/run.interrupted/INTERRUPTED.txt"), "\(left)")
    }
}
