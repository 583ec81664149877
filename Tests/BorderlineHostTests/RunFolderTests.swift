import BorderlineCore
import BorderlineHost
import BorderlineTestSupport
import Foundation
import XCTest

/// The run folder never loses what a user had: --overwrite replaces only run folders, atomically;
/// a folder that appears meanwhile is never replaced; a full disk leaves no partial folder.
final class RunFolderTests: XCTestCase {
    func configuration(_ out: String) -> RunConfiguration {
        var c = RunConfiguration()
        c.model = TestSupport.model
        c.pairs = ["7:9"]
        c.samples = 3
        c.imagesPerClass = 30
        c.out = out
        return c
    }

    func run(_ c: RunConfiguration) throws -> RunEngine.Outcome {
        try RunEngine(configuration: c, builtInPluginFolder: TestSupport.buildFolder).run()
    }

    func requirePlugins() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        guard FileManager.default.fileExists(atPath: TestSupport.bisectionLibrary) else { throw XCTSkip("in-tree plugins not built") }
    }

    func testOverwriteReplacesOnlyRunFolders() throws {
        try requirePlugins()
        let dir = try TestSupport.temporaryFolder(self)
        let thesis = dir + "/p/thesis.txt"
        try FileManager.default.createDirectory(atPath: dir + "/p", withIntermediateDirectories: true)
        try "my thesis".write(toFile: thesis, atomically: true, encoding: .utf8)
        var c = configuration(dir + "/p")
        c.overwrite = true
        XCTAssertThrowsError(try run(c)) { XCTAssertTrue("\($0)".contains("--overwrite replaces only a Borderline run folder"), "\($0)") }
        XCTAssertEqual(try String(contentsOfFile: thesis, encoding: .utf8), "my thesis", "nothing of the user's is deleted")

        // A real run folder is replaced, and nothing is left beside it.
        c.out = dir + "/run"
        c.overwrite = false
        let first = try run(c)
        let firstSummary = try String(contentsOfFile: first.folder + "/summary.json", encoding: .utf8)
        c.overwrite = true
        c.seed = 9
        let second = try run(c)
        XCTAssertEqual(second.folder, dir + "/run")
        XCTAssertNotEqual(try String(contentsOfFile: second.folder + "/summary.json", encoding: .utf8), firstSummary)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["p", "run"], "no hidden leftovers")
    }

    func testTheWorkingDirectoryIsNeverReplaced() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let r = try TestSupport.borderline(["run", "--quiet", "--out", ".", "--overwrite"], in: dir)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("the output folder is the working directory or a folder above it"), r.stderr)
        XCTAssertThrowsError(try RunFolder.prepare(dir + "/..", overwrite: true))
    }

    func testAFolderThatAppearsMeanwhileIsNotReplaced() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let folder = try RunFolder.prepare(dir + "/out", overwrite: false)
        try "mine".write(toFile: folder.file("summary.json"), atomically: true, encoding: .utf8)
        // Another run finishes first.
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        try "theirs".write(toFile: dir + "/out/summary.json", atomically: true, encoding: .utf8)
        let written = try folder.commit()
        XCTAssertEqual(written, dir + "/out-2")
        XCTAssertEqual(try String(contentsOfFile: dir + "/out/summary.json", encoding: .utf8), "theirs")
        XCTAssertEqual(try String(contentsOfFile: dir + "/out-2/summary.json", encoding: .utf8), "mine")
    }

    /// A tiny tmpfs (root only): results.h5 does not fit. The command must exit 2 naming the
    /// problem — not crash in libhdf5 — leave no partial folder, and keep an old run intact.
    func testAFullDiskLeavesNoPartialFolderAndKeepsTheOldRun() throws {
        try requirePlugins()
        guard getuid() == 0 else { throw XCTSkip("needs root to mount a small tmpfs") }
        let mount = try TestSupport.temporaryFolder(self) + "/tiny"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        guard (try? TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=400k", "tmpfs", mount]))?.status == 0 else {
            throw XCTSkip("cannot mount a tmpfs here")
        }
        defer { _ = try? TestSupport.run("/bin/umount", [mount]) }
        var small = configuration(mount + "/run")
        small.samples = 1
        small.plugins = ["bisection"]   // the old run must fit in the tmpfs
        small.includeDefaultPlugins = false
        let old = try run(small)
        let oldSummary = try String(contentsOfFile: old.folder + "/summary.json", encoding: .utf8)
        let r = try TestSupport.borderline(["run", "--quiet", "--model", TestSupport.model, "--pairs", "all", "--samples", "40",
                                            "--images-per-class", "60", "--out", mount + "/run", "--overwrite"] + TestSupport.inTreePluginArguments())
        XCTAssertFalse(r.signalled, "no crash: \(r.stderr)")
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("No space left on device"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mount), ["run"], "no partial folder is left")
        XCTAssertEqual(try String(contentsOfFile: mount + "/run/summary.json", encoding: .utf8), oldSummary, "the old run is intact")
    }
}
