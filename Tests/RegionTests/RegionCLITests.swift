import Foundation
import XCTest

/// Runs the built CLI with `--plugin region` on a tiny configuration.
final class RegionCLITests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func executable() throws -> String {
        if let path = ProcessInfo.processInfo.environment["BORDERLINE_CLI"], !path.isEmpty { return path }
        for c in ["release", "debug"] {
            let p = Self.repository.appendingPathComponent(".build/\(c)/borderline").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw XCTSkip("no built borderline executable; set BORDERLINE_CLI")
    }

    func testTinyRunWritesTheRegionResults() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("region-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable())
        process.currentDirectoryURL = Self.repository
        process.arguments = ["run", "--plugin", "region", "--pairs", "0:1", "--samples", "2", "--images-per-class", "20", "--quiet",
                             "--set", "region.images=6", "--set", "region.benign-images=10", "--set", "region.radius-images=10",
                             "--set", "region.radius-max=0.1", "--set", "region.radius-step=0.05", "--set", "region.selection-samples=10",
                             "--set", "region.region-samples=20", "--set", "region.directions=64", "--set", "region.coarse-steps=4",
                             "--set", "region.bisection-steps=4", "--set", "region.attacks=fgsm,pgd-linf", "--set", "region.pgd-steps=3",
                             "--set", "region.detector-epochs=2", "--set", "region.plot-images=1", "--out", out.path]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, errText)
        let summary = try String(contentsOf: out.appendingPathComponent("summary.json"), encoding: .utf8)
        for key in ["benign_region_accuracy", "benign_point_accuracy", "radius", "benign_mean_purity_top1", "benign_directions_with_boundary"] {
            XCTAssertTrue(summary.contains(key), "summary.json lacks \(key)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("results.h5").path))
        let report = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(report.contains("Point vs region classification"))
        for key in ["fgsm_success_rate", "pgd-linf_region_accuracy", "detector_benign_accuracy"] {
            XCTAssertTrue(summary.contains(key), "summary.json lacks \(key)")
        }
    }

    func testBadOptionIsRefused() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable())
        process.currentDirectoryURL = Self.repository
        process.arguments = ["run", "--plugin", "region", "--pairs", "0:1", "--quiet", "--set", "region.coarse-steps=0",
                             "--out", FileManager.default.temporaryDirectory.appendingPathComponent("region-bad-\(UUID().uuidString)").path]
        process.standardError = Pipe()
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2)
    }
}
