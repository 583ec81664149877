import BorderlineCore
import BorderlineHost
import BorderlineTestSupport
import Foundation
import XCTest

/// SIGKILL during the commit of `--overwrite` (issue 21, item 1): the built CLI is killed at the
/// test-only fault points of RunFolder.commit() (`BORDERLINE_FAULT`, see FaultInjection.swift),
/// and `--out` must still hold one complete run folder: the old one before the exchange, the new
/// one after it. Nothing of the user's beside `--out` is touched.
final class CommitKillTests: XCTestCase {
    /// The smallest real run: one pair, bisection only, 5 samples from 5 images per class.
    func runArguments(_ out: String, seed: Int, overwrite: Bool) throws -> [String] {
        ["run", "--quiet", "--model", TestSupport.model, "--no-defaults", "--plugin", "bisection", "--pairs", "0:1",
         "--samples", "5", "--images-per-class", "5", "--seed", "\(seed)", "--out", out]
            + (overwrite ? ["--overwrite"] : []) + (try TestSupport.inTreePluginArguments())
    }

    func requirePlugins() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        guard FileManager.default.fileExists(atPath: TestSupport.bisectionLibrary) else { throw XCTSkip("in-tree plugins not built") }
    }

    /// The summary of a complete run folder at `folder` (it parses as a Borderline summary, and
    /// results.h5 is there).
    func completeRun(_ folder: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let text = try String(contentsOfFile: folder + "/summary.json", encoding: .utf8)
        let json = try JSONValue.parse(text)
        XCTAssertEqual(json["format"]?.stringValue, "borderline.summary", "summary.json of \(folder)", file: file, line: line)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/results.h5"), "results.h5 in \(folder)", file: file, line: line)
        return text
    }

    /// Runs once into `dir/out` (seed 1), then again with --overwrite (seed 2) and the fault
    /// `fault`; returns the old summary and the killed run's result.
    func runTwice(in dir: String, fault: String) throws -> (old: String, killed: TestProcess.Result) {
        try "keep me".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        let first = try TestSupport.borderline(try runArguments(dir + "/out", seed: 1, overwrite: false))
        XCTAssertEqual(first.status, 0, first.stderr)
        let old = try completeRun(dir + "/out")
        let killed = try TestSupport.borderline(try runArguments(dir + "/out", seed: 2, overwrite: true),
                                                environment: ["BORDERLINE_FAULT": fault])
        XCTAssertTrue(killed.signalled, "the fault hook killed the process: status \(killed.status), \(killed.stderr)")
        XCTAssertEqual(killed.status, SIGKILL, "died by signal 9")
        XCTAssertEqual(try String(contentsOfFile: dir + "/notes.txt", encoding: .utf8), "keep me", "the user's file is untouched")
        return (old, killed)
    }

    func hidden(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }.sorted()
    }

    func testKillBeforeTheExchangeLeavesTheOldRun() throws {
        try requirePlugins()
        let dir = try TestSupport.temporaryFolder(self)
        let (old, _) = try runTwice(in: dir, fault: "kill-before-commit-exchange")
        XCTAssertEqual(try completeRun(dir + "/out"), old, "the old run is still at --out")
        // The finished new run is kept, hidden, not lost.
        let leftovers = try hidden(dir)
        XCTAssertEqual(leftovers.count, 1, "\(leftovers)")
        XCTAssertTrue(leftovers.first?.hasPrefix(".out.partial-") ?? false, "\(leftovers)")
        XCTAssertNotEqual(try completeRun(dir + "/" + leftovers[0]), old)
    }

    func testKillAfterTheExchangeLeavesTheNewRun() throws {
        try requirePlugins()
        let dir = try TestSupport.temporaryFolder(self)
        let (old, _) = try runTwice(in: dir, fault: "kill-after-commit-exchange")
        let new = try completeRun(dir + "/out")
        XCTAssertNotEqual(new, old, "the new run (seed 2) is at --out")
        // The old run is what is left in the hidden folder (the exchange swapped them).
        let leftovers = try hidden(dir)
        XCTAssertEqual(leftovers.count, 1, "\(leftovers)")
        XCTAssertEqual(try completeRun(dir + "/" + leftovers[0]), old)
    }

    /// Without renameat2(RENAME_EXCHANGE) the commit moves the old run aside and then renames
    /// the new one: a kill between the two leaves no folder at --out, but the old run is complete
    /// at `.out.replaced-<pid>`, and the next run on that --out puts it back before anything else.
    func testKillInTheFallbackBetweenTheRenamesLosesNoRun() throws {
        try requirePlugins()
        let dir = try TestSupport.temporaryFolder(self)
        let (old, _) = try runTwice(in: dir, fault: "no-commit-exchange,kill-after-commit-move-aside")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out"), "the known window of the fallback")
        let leftovers = try hidden(dir)
        let aside = leftovers.filter { $0.hasPrefix(".out.replaced-") }
        XCTAssertEqual(aside.count, 1, "\(leftovers)")
        XCTAssertEqual(try completeRun(dir + "/" + aside[0]), old, "the old run is complete, set aside")

        // The next run without --overwrite restores it and then refuses to replace it.
        let next = try TestSupport.borderline(try runArguments(dir + "/out", seed: 3, overwrite: false))
        XCTAssertEqual(next.status, 2, next.stderr)
        XCTAssertTrue(next.stderr.contains("restored the previous run folder"), next.stderr)
        XCTAssertTrue(next.stderr.contains("already exists"), next.stderr)
        XCTAssertEqual(try completeRun(dir + "/out"), old, "the old run is back at --out")
        XCTAssertTrue(try hidden(dir).filter { $0.hasPrefix(".out.replaced-") }.isEmpty)
    }

    /// The fallback without a kill replaces the old run and leaves nothing beside it.
    func testTheFallbackReplacesTheRun() throws {
        try requirePlugins()
        let dir = try TestSupport.temporaryFolder(self)
        let first = try TestSupport.borderline(try runArguments(dir + "/out", seed: 1, overwrite: false))
        XCTAssertEqual(first.status, 0, first.stderr)
        let old = try completeRun(dir + "/out")
        let second = try TestSupport.borderline(try runArguments(dir + "/out", seed: 2, overwrite: true),
                                                environment: ["BORDERLINE_FAULT": "no-commit-exchange"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertNotEqual(try completeRun(dir + "/out"), old)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out"], "nothing left beside it")
    }
}
