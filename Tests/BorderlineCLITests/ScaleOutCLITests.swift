import BorderlineTestSupport
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The bars of issue 18 with real processes: a 3-class all-ordered DeepDIG run (6 ordered pairs, 3
/// boundaries; short training and small metric settings) run in one process, as 3 shards merged,
/// and killed with SIGKILL in the middle of a pair then resumed — all three folders equal
/// (`borderline compare`: every number and array; timings, run-wide query totals and paths left out).
final class ScaleOutCLITests: XCTestCase {
    static let settings = ["--no-defaults", "--plugin", "deepdig", "--pairs", "all-ordered", "--classes", "Trouser,Pullover,Sneaker", "--seed", "3",
                           "--images-per-class", "60", "--set", "deepdig.steps=300", "--set", "deepdig.max-samples=60",
                           "--set", "deepdig.points=20", "--set", "deepdig.k=10", "--set", "deepdig.m=10",
                           "--set", "deepdig.train-points=200", "--set", "deepdig.grid-rows=2", "--quiet"]

    func run(_ arguments: [String]) throws -> CLI.Result {
        let r = try CLI.run(arguments)
        if r.status != 0, r.stderr.contains("fashion-mnist") { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        return r
    }

    func assertEqualFolders(_ a: String, _ b: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLI.run(["compare", a, b])
        XCTAssertEqual(r.status, 0, "\(what): \(r.stdout)\(r.stderr)", file: file, line: line)
    }

    func testShardsMergedAndAKilledRunResumedEqualTheRunInOneProcess() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let whole = dir.appendingPathComponent("whole").path
        let one = try run(["run"] + Self.settings + ["--out", whole])
        XCTAssertEqual(one.status, 0, one.stderr)

        // Merged == unsharded.
        var shards: [String] = []
        for i in 0..<3 {
            let out = dir.appendingPathComponent("shard-\(i)").path
            let r = try run(["run"] + Self.settings + ["--shard", "\(i)/3", "--out", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let summary = try CLI.summary(out)
            XCTAssertEqual((summary["shard"] as? [String: Any])?["pairs"] as? [String], [["1:2", "2:1"], ["1:7", "7:1"], ["2:7", "7:2"]][i],
                           "each shard runs one boundary, both directions")
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/pairs/run.json"))
            shards.append(out)
        }
        let merged = dir.appendingPathComponent("merged").path
        let m = try run(["merge"] + shards.reversed() + ["-o", merged, "--quiet"])
        XCTAssertEqual(m.status, 0, m.stderr)
        try assertEqualFolders(whole, merged, "merged shards")
        let images = try FileManager.default.contentsOfDirectory(atPath: merged + "/images")
        XCTAssertTrue(images.contains { $0.hasPrefix("deepdig-heatmap-boundary-idc") }, "the all-pairs heatmaps: \(images)")
        let numbers = (((try CLI.summary(merged))["plugins"] as? [String: Any])?["deepdig"] as? [String: Any])?["numbers"] as? [String: Any]
        XCTAssertNotNil(((numbers?["all-pairs"] as? [String: Any])?["deepdig.deepdig"] as? [String: Any])?["pearson_idc_edc2_borderline"],
                        "the correlations over the merged pairs")

        // kill -9 in the middle of pair k (the 3rd of 6), then --resume.
        let killed = dir.appendingPathComponent("killed").path
        let process = Process()
        process.executableURL = try CLI.executable()
        process.arguments = ["run"] + Self.settings + ["--out", killed]
        process.currentDirectoryURL = CLI.repository
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let k = 3
        let journal = try waitForJournal(of: killed, steps: k - 1, process: process)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal)
        let kept = try FileManager.default.contentsOfDirectory(atPath: journal).filter { $0.hasSuffix(".bin") && !$0.hasPrefix(".") }
        XCTAssertEqual(kept.sorted(), ["1-2.bin", "2-1.bin"], "killed during pair \(k): the \(k - 1) finished pairs are kept")
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed), "a killed run has no visible folder")
        let resumed = try run(["run", "--resume", killed, "--quiet"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        try assertEqualFolders(whole, killed, "killed during pair \(k) and resumed")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "the resumed run took over the killed run's hidden folder")
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed + "/pairs"), "the finished run keeps no journal")

        // Nothing left to resume; a resume that names other options is refused.
        let again = try CLI.run(["run", "--resume", killed, "--quiet"])
        XCTAssertEqual(again.status, 2, again.stderr)
        XCTAssertTrue(again.stderr.contains("nothing to resume"), again.stderr)
        let clash = try CLI.run(["run", "--resume", killed, "--out", dir.appendingPathComponent("elsewhere").path])
        XCTAssertEqual(clash.status, 2, clash.stderr)
    }

    /// Every in-tree plugin, each on every ordered pair of 3 classes with small settings: 3 shards
    /// merged == one process. Region's whole-run analysis runs at the merge; slices reads
    /// bisection's sets (`third-point=stored`); flip-point spreads start images over the run's pairs.
    func testEveryInTreePluginGivesTheSameFolderShardedAndUnsharded() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runs: [(String, [String])] = [
            ("bisection", ["--samples", "6", "--images-per-class", "30"]),
            ("flip-point", ["--no-defaults", "--plugin", "flip-point", "--samples", "4", "--images-per-class", "30"]),
            ("latent", ["--no-defaults", "--plugin", "latent", "--classes", "5,7,9", "--samples", "4", "--images-per-class", "30", "--set", "latent.max-steps=100"]),
            ("slices", ["--no-defaults", "--plugin", "slices", "--plugin", "bisection", "--samples", "4", "--images-per-class", "20", "--set", "slices.grid=16",
                        "--set", "slices.window-grid=16", "--set", "slices.steps=5", "--set", "slices.profile-points=5",
                        "--set", "slices.third-point=stored", "--set", "slices.stored-from=bisection/random-pair-bisection"]),
            ("region", ["--no-defaults", "--plugin", "region", "--samples", "2", "--images-per-class", "20", "--set", "region.images=6",
                        "--set", "region.benign-images=10", "--set", "region.radius-images=10", "--set", "region.radius-max=0.1",
                        "--set", "region.radius-step=0.05", "--set", "region.selection-samples=10", "--set", "region.region-samples=20",
                        "--set", "region.directions=64", "--set", "region.coarse-steps=4", "--set", "region.bisection-steps=4",
                        "--set", "region.pgd-steps=3", "--set", "region.detector-epochs=2", "--set", "region.plot-images=1",
                        "--set", "region.attacks=fgsm,pgd-linf"]),
        ]
        for (name, options) in runs {
            var settings = ["--pairs", "all-ordered", "--seed", "2", "--quiet"] + options
            if !options.contains("--classes") { settings += ["--classes", "0,1,6"] }
            let whole = dir.appendingPathComponent("\(name)-whole").path
            let one = try run(["run"] + settings + ["--out", whole])
            XCTAssertEqual(one.status, 0, "\(name): \(one.stderr)")
            var shards: [String] = []
            for i in 0..<3 {
                let out = dir.appendingPathComponent("\(name)-\(i)").path
                let r = try run(["run"] + settings + ["--shard", "\(i)/3", "--out", out])
                XCTAssertEqual(r.status, 0, "\(name) shard \(i): \(r.stderr)")
                shards.append(out)
            }
            let merged = dir.appendingPathComponent("\(name)-merged").path
            let m = try run(["merge"] + shards + ["-o", merged, "--quiet"])
            XCTAssertEqual(m.status, 0, "\(name) merge: \(m.stderr)")
            try assertEqualFolders(whole, merged, name)
        }
    }

    /// The journal folder of the running run `final` once it holds `steps` finished pairs (the
    /// process is then working on the next pair).
    func waitForJournal(of final: String, steps: Int, process: Process) throws -> String {
        let parent = (final as NSString).deletingLastPathComponent, name = (final as NSString).lastPathComponent
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            guard process.isRunning else { XCTFail("the run ended before it was killed"); throw XCTSkip("run ended") }
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where entry.hasPrefix(".\(name).partial-") {
                let journal = parent + "/" + entry + "/pairs"
                let done = ((try? FileManager.default.contentsOfDirectory(atPath: journal)) ?? []).filter { $0.hasSuffix(".bin") && !$0.hasPrefix(".") }
                if done.count >= steps { return journal }
            }
            usleep(2000)
        }
        process.terminate()
        XCTFail("no journal with \(steps) pairs appeared")
        throw XCTSkip("timeout")
    }
}
