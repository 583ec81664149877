import BorderlineCore
@testable import BorderlineHost
import Foundation
import XCTest

/// A plugin that declines every pair whose source class is 5 (``PairDeclined``), fails on pairs
/// whose source is 9 when its option says so, and reports progress within each call.
final class PickyPlugin: BorderlinePlugin {
    static let manifest = PluginManifest(name: "picky", version: "1", summary: "declines some pairs")
    init() {}

    final class Prober: BoundaryProber {
        let name = "picky-prober", summary = "two starts per pair; declines source 5"
        struct Options: PluginOptions { @Option(help: "throw an ordinary error on source 9") var failNine = false }
        struct Output: Codable { var rows: [Int] }
        func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<Output> {
            context.progress.begin("phase one", total: 0)
            for step in 1...3 { context.progress.update(position: Double(step) / 4, detail: "step \(step)") }
            if pair.source == 5 { throw PairDeclined("class 5 is not for me") }
            if options.failNine, pair.source == 9 { throw BorderlineError(.invalidConfiguration, "broken on purpose") }
            let rows = Array(context.indices(ofClass: pair.source, correctlyClassified: false).prefix(2))
            let x = context.data.images.gather(batch: rows)
            let set = try BoundarySet(pair: pair, points: x, startPoints: x, startIndices: rows, probabilities: try context.classifier.probabilities(x),
                                      succeeded: rows.map { _ in true }, failureReasons: rows.map { _ in nil }, iterations: rows.map { _ in 0 })
            return Probe(set, output: Output(rows: rows))
        }
    }

    final class Count: Metric {
        let name = "count", summary = "counts a set"
        struct Output: Codable { var attempts: Int }
        func evaluate(_ set: BoundarySet, options: NoOptions, context: RunContext) throws -> Output {
            if set.pair.target == 5 { throw PairDeclined("metric: target 5 is not for me either") }
            return Output(attempts: set.count)
        }
    }

    let probers: [any BoundaryProber] = [Prober()]
    let metrics: [any Metric] = [Count()]
}

/// Records every position the host reports for its pair bar.
final class PositionLog: ProgressReporter {
    var task = ""
    var positions: [(task: String, position: Double, detail: String)] = []
    func begin(_ task: String, total: Int) { self.task = task }
    func update(completed: Int, detail: String) {}
    func update(position: Double, detail: String) { positions.append((task, position, detail)) }
    func end(summary: String) {}
}

final class PairOutcomeTests: XCTestCase {
    func configuration(_ out: String) -> RunConfiguration {
        var c = RunConfiguration()
        c.model = TestSupport.model
        c.plugins = ["picky"]
        c.includeDefaultPlugins = false
        c.pairs = ["0:6", "5:7", "7:5", "9:0"]
        c.imagesPerClass = 20
        c.out = out
        return c
    }

    func engine(_ c: RunConfiguration, progress: ProgressReporter = SilentProgress()) -> RunEngine {
        let e = RunEngine(configuration: c, progress: progress, isInterrupted: { false }, builtInPluginFolder: nil)
        e.inProcessPlugins = [PickyPlugin()]
        return e
    }

    /// A declined pair is skipped with its reason (summary.json, report, outcome), the plugin stays
    /// ok and its other pairs run; sharded and merged, the same.
    func testDeclinedPairsAreSkippedAndThePluginCarriesOn() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        let folder = try TestSupport.temporaryFolder(self)
        let log = PositionLog()
        let outcome = try engine(configuration(folder + "/run"), progress: log).run()
        XCTAssertEqual(outcome.status, .complete)
        XCTAssertTrue(outcome.failures.isEmpty, "\(outcome.failures)")
        XCTAssertEqual(outcome.skipped.map { "\($0.plugin) \($0.pair.component) \($0.pair.pair)" },
                       ["picky picky-prober 5:7", "picky count 7:5"])
        let summary = try JSONValue.parse(String(contentsOfFile: outcome.folder + "/summary.json", encoding: .utf8))
        XCTAssertEqual(summary["all_plugins_ok"], .bool(true))
        let picky = try XCTUnwrap(summary["plugins"]?["picky"])
        XCTAssertEqual(picky["status"], "ok")
        XCTAssertEqual(picky["skipped_pairs"], [
            ["pair": "5:7", "component": "picky-prober", "reason": "class 5 is not for me"],
            ["pair": "7:5", "component": "count", "producer": "picky/picky-prober", "reason": "metric: target 5 is not for me either"],
        ])
        XCTAssertEqual(picky["failed_pairs"], [])
        XCTAssertEqual(summary["skipped_pairs"]?.arrayValue?.compactMap { $0["plugin"]?.stringValue }, ["picky", "picky"])
        XCTAssertNotNil(picky["boundary_sets"]?["picky-prober"]?["9-0"], "the pairs after a declined one ran")
        XCTAssertNil(picky["boundary_sets"]?["picky-prober"]?["5-7"])
        XCTAssertEqual(picky["pairs"]?["0-6"]?["count"]?["picky.picky-prober"]?["attempts"], 2)
        let html = try String(contentsOfFile: outcome.folder + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("2 pair(s) skipped"), "the report lists the skipped pairs")
        XCTAssertTrue(html.contains("class 5 is not for me"))

        // Progress: the component's positions move the bar inside a pair (4 pairs: pair 0 is 0…¼).
        let inPairs = log.positions.filter { $0.task.contains("class pairs") }
        // Pair 0:6 has two slots (its prober; its metric, as the last pair of its boundary), so the
        // prober's positions ¼, ½, ¾ land at ⅛ of them in the bar.
        let firstPair = inPairs.filter { $0.position < 0.25 && $0.detail.contains("phase one") }
        XCTAssertEqual(firstPair.map(\.position), [0.03125, 0.0625, 0.09375], "\(inPairs.map { "\($0.position) \($0.detail)" })")
        let positions = inPairs.map(\.position)
        XCTAssertEqual(positions, positions.sorted(), "the bar never moves back")

        // Two shards merged: the skipped pairs come back from the journals.
        var shards: [String] = []
        for i in 0..<2 {
            var c = configuration(folder + "/shard\(i)")
            c.shard = ShardSpec(index: i, count: 2)
            shards.append(try engine(c).run().folder)
        }
        var merge = RunMerge(shards: shards, out: folder + "/merged")
        merge.builtInPluginFolder = nil
        merge.inProcessPlugins = [PickyPlugin()]
        merge.isInterrupted = { false }
        let merged = try merge.run()
        XCTAssertEqual(merged.skipped.map { "\($0.pair.component) \($0.pair.pair)" }, ["picky-prober 5:7", "count 7:5"])
        XCTAssertEqual(try RunComparison.differences(outcome.folder, merged.folder), [])
    }

    /// Another error on a pair fails the plugin (exit 1) but is recorded per pair; the other pairs run.
    func testAFailedPairIsRecordedAndTheOtherPairsRun() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        let folder = try TestSupport.temporaryFolder(self)
        var c = configuration(folder + "/run")
        c.options = ["picky.fail-nine": .bool(true)]
        let outcome = try engine(c).run()
        XCTAssertEqual(outcome.failures.map(\.plugin), ["picky"])
        let summary = try JSONValue.parse(String(contentsOfFile: outcome.folder + "/summary.json", encoding: .utf8))
        let picky = try XCTUnwrap(summary["plugins"]?["picky"])
        XCTAssertEqual(picky["status"], "failed")
        XCTAssertEqual(picky["failed_pairs"]?.arrayValue?.count, 1)
        let failed = try XCTUnwrap(picky["failed_pairs"]?.arrayValue?.first)
        XCTAssertEqual(failed["pair"], "9:0")
        XCTAssertTrue(failed["reason"]?.stringValue?.contains("broken on purpose") ?? false, "\(picky)")
        XCTAssertEqual(picky["skipped_pairs"]?.arrayValue?.count, 2)
        XCTAssertNotNil(picky["boundary_sets"]?["picky-prober"]?["0-6"])
    }
}

/// The terminal bar's ETA comes from the position, whole units or a share within them.
final class TerminalProgressTests: XCTestCase {
    func testETAFromAPositionWithinAPair() {
        XCTAssertNil(TerminalProgress.eta(fraction: 0, elapsed: 10), "no estimate before any progress")
        XCTAssertNil(TerminalProgress.eta(fraction: 1, elapsed: 10), "none once done")
        // 20 s into the first of 36 pairs, half-way through it: 1/72 done.
        XCTAssertEqual(try XCTUnwrap(TerminalProgress.eta(fraction: 0.5 / 36, elapsed: 20)), 20 * 71, accuracy: 1e-6)
        XCTAssertEqual(TerminalProgress.counter(fraction: 0.5 / 36, total: 36), "0/36", "the counter shows finished pairs")
        XCTAssertEqual(TerminalProgress.counter(fraction: 3.0 / 36, total: 36), "3/36")
        XCTAssertEqual(TerminalProgress.counter(fraction: 0.426, total: 0), "42%")
        XCTAssertEqual(TerminalProgress.duration(42), "42s")
        XCTAssertEqual(TerminalProgress.duration(1420), "23m40s")
        XCTAssertEqual(TerminalProgress.duration(7500), "2h05m")
    }
}
