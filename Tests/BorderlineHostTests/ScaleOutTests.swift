import BorderlineCore
@testable import BorderlineHost
import Foundation
import XCTest

/// A plugin each of whose numbers would depend on which other pairs a process ran, or in which
/// order, if the host let it: a run-wide cache built with model queries by whichever pair asks
/// first (and a note made once), per-pair random draws, a black-box gradient estimator (a random
/// stream of its own), a metric that reads the reverse pair's set, and an analysis over every
/// pair's typed outputs.
final class SensitivePlugin: BorderlinePlugin {
    static let manifest = PluginManifest(name: "sensitive", version: "1", summary: "numbers that a careless host would make order-dependent")
    init() {}

    final class Walker: BoundaryProber {
        let name = "walker", summary = "a few random steps along an estimated gradient"
        let needsGradients = true
        struct Output: Codable { var shared: Double; var gradientNorm: Double; var draws: [Float]; var rows: [Int] }
        func probe(_ pair: ClassPair, options: NoOptions, context: RunContext) throws -> Probe<Output> {
            let shared = try context.cached("mean-probability") { () -> Double in
                context.note("the shared value was computed (once per process)")
                let p = try context.classifier.probabilities(context.data.images.slice(batch: 0..<16))
                return Double(p.scalars.reduce(0, +))
            }
            var random = context.randomGenerator(for: pair)
            let pool = context.indices(ofClass: pair.source, correctlyClassified: false)
            let rows = (0..<3).map { _ in pool[Int(random.next() % UInt64(pool.count))] }
            let x = context.data.images.gather(batch: rows)
            let g = try context.gradients().marginGradient(x, from: rows.map { _ in pair.source }, to: rows.map { _ in pair.target })
            let norm = Double(g.inputGradient.scalars.reduce(0) { $0 + $1 * $1 }).squareRoot()
            let points = Tensor(shape: x.shape, scalars: zip(x.scalars, g.inputGradient.scalars).map { $0 + 0.01 * $1 })
            let p = try context.classifier.probabilities(points)
            let set = try BoundarySet(pair: pair, points: points, startPoints: x, startIndices: rows, probabilities: p,
                                      succeeded: [true, false, true], failureReasons: [nil, "no luck", nil], iterations: [1, 2, 3],
                                      extras: ["step": Tensor(shape: [3], scalars: [0.01, 0.02, 0.03])])
            return Probe(set, output: Output(shared: shared, gradientNorm: norm, draws: (0..<4).map { _ in random.nextUniform() }, rows: rows))
        }
    }

    final class Pooled: Metric {
        let name = "pooled", summary = "this set and the reverse pair's"
        struct Output: Codable { var own: Int; var reverse: Int?; var visible: Int; var meanGap: Double }
        func evaluate(_ set: BoundarySet, options: NoOptions, context: RunContext) throws -> Output {
            let reverse = context.boundarySets.first { $0.producer == set.producer && $0.pair == ClassPair(set.pair.target, set.pair.source) }
            let gaps = set.probabilityGaps
            return Output(own: set.count, reverse: reverse?.count, visible: context.boundarySets.count,
                          meanGap: Double(gaps.reduce(0, +)) / Double(max(1, gaps.count)))
        }
    }

    final class Summary: Analysis {
        let name = "summary", summary = "every pair's outputs together"
        struct Output: Encodable { var total: Double; var norms: PerPair<Double>; var pairs: Int; var table: ResultTable }
        func analyse(options: NoOptions, context: RunContext) throws -> Output {
            let walks = context.outputs(of: Walker.self), pooled = context.outputs(of: Pooled.self)
            var norms = PerPair<Double>()
            for w in walks { norms[w.pair] = w.output.gradientNorm }
            return Output(total: pooled.map(\.output.meanGap).reduce(0, +) + walks.map(\.output.shared).reduce(0, +), norms: norms,
                          pairs: walks.count, table: ResultTable(title: "pairs", columns: ["pair", "reverse"],
                                                                 rows: pooled.map { ["\($0.pair)", "\($0.output.reverse ?? -1)"] }))
        }
    }

    let probers: [any BoundaryProber] = [Walker()]
    let metrics: [any Metric] = [Pooled()]
    let analyses: [any Analysis] = [Summary()]
}

final class ScaleOutTests: XCTestCase {
    /// A black-box run (the estimator draws random directions) of every ordered pair of 3 classes.
    func configuration(_ out: String) -> RunConfiguration {
        var c = RunConfiguration()
        c.model = TestSupport.model
        c.plugins = ["sensitive"]
        c.includeDefaultPlugins = false
        c.pairs = ["all-ordered"]
        c.classes = ["0", "1", "6"]
        c.imagesPerClass = 30
        c.seed = 11
        c.blackBox = true
        c.gradientEstimator = "nes"
        c.estimatorSamples = 4
        c.out = out
        return c
    }

    func engine(_ c: RunConfiguration, isInterrupted: @escaping () -> Bool = { false }) -> RunEngine {
        let e = RunEngine(configuration: c, isInterrupted: isInterrupted, builtInPluginFolder: nil)
        e.inProcessPlugins = [SensitivePlugin()]
        return e
    }

    func merge(_ shards: [String], _ out: String) -> RunMerge {
        var m = RunMerge(shards: shards, out: out)
        m.builtInPluginFolder = nil
        m.inProcessPlugins = [SensitivePlugin()]
        m.isInterrupted = { false }
        return m
    }

    func testShardSpecs() throws {
        XCTAssertEqual(try ShardSpec(parsing: "2/5"), ShardSpec(index: 2, count: 5))
        for bad in ["5/5", "-1/3", "1", "a/b", "0/0", "1/2/3"] {
            XCTAssertThrowsError(try ShardSpec(parsing: bad), bad) { XCTAssertTrue("\($0)".contains("--shard"), "\($0)") }
        }
    }

    func testPartitionIsDeterministicBalancedAndKeepsBoundariesTogether() {
        let pairs = (0..<10).flatMap { s in (0..<10).filter { $0 != s }.map { ClassPair(s, $0) } }
        let counts = Dictionary(uniqueKeysWithValues: (0..<10).map { ($0, 1000) })
        let units = RunPlan.units(of: pairs, imagesPerClass: counts)
        XCTAssertEqual(units.count, 45, "90 ordered pairs are 45 boundaries")
        XCTAssertTrue(units.allSatisfy { $0.pairs.count == 2 && $0.pairs[0] == ClassPair($0.pairs[1].target, $0.pairs[1].source) })
        for n in [1, 2, 3, 4, 7, 45, 60] {
            let slices = RunPlan.partition(units, shards: n)
            XCTAssertEqual(slices.count, n)
            XCTAssertEqual(slices.flatMap { $0.map(\.key) }.sorted(), units.map(\.key).sorted(), "every boundary in exactly one shard (N = \(n))")
            let sizes = slices.map(\.count)
            XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1, "equal costs: shards differ by at most one boundary (N = \(n))")
            XCTAssertEqual(slices.map { $0.map(\.key) }, RunPlan.partition(units, shards: n).map { $0.map(\.key) }, "the same partition every time")
            for s in slices { XCTAssertEqual(s.map(\.position), s.map(\.position).sorted(), "a shard runs its boundaries in run order") }
        }
        // Unequal costs: longest first keeps every shard within one boundary's cost of the mean.
        var uneven = counts
        for c in 0..<10 { uneven[c] = 100 * (c + 1) }
        let costly = RunPlan.units(of: pairs, imagesPerClass: uneven)
        let slices = RunPlan.partition(costly, shards: 4)
        let loads = slices.map { $0.reduce(0) { $0 + $1.cost } }
        let mean = costly.reduce(0) { $0 + $1.cost } / 4
        XCTAssertLessThanOrEqual(loads.max()!, mean + costly.map(\.cost).max()!)
        XCTAssertLessThan(loads.max()! - loads.min()!, costly.map(\.cost).max()!)
    }

    func testPairArchivesRoundTripBitForBitAndRefuseDamage() throws {
        let pair = ClassPair(3, 1)
        let set = try BoundarySet(pair: pair, points: Tensor(shape: [2, 1, 2, 2], scalars: [0, 1, .nan, -0.0, 5, 6, .infinity, 8]),
                                  startPoints: Tensor(zeros: [2, 1, 2, 2]), endPoints: Tensor(repeating: 1, shape: [2, 1, 2, 2]),
                                  startIndices: [4, -1], endIndices: [-1, 2], probabilities: Tensor(shape: [2, 2], scalars: [0.5, 0.5, 0.25, 0.75]),
                                  succeeded: [true, false], failureReasons: [nil, "a reason – with UTF-8"], iterations: [3, 40], queries: 17,
                                  extras: ["lambda": Tensor(shape: [2], scalars: [0.5, 0.125]), "b": Tensor(zeros: [2, 3])], producer: "p/q")
        let image = try PNGImage(width: 3, height: 2, colour: [1, 2, 3])
        let tree = ResultValue.group([
            ("n", .number(.nan)), ("x", .number(1.0 / 3)), ("ok", .bool(true)), ("s", .string("t")), ("ss", .strings(["a", ""])),
            ("f", .array(.float(Tensor(shape: [1, 2], scalars: [1, 2])))), ("d", .array(.float64(values: [.pi, -0.0], shape: [2]))),
            ("i", .array(.int64(values: [Int64.min, Int64.max], shape: [2, 1]))), ("u", .array(.uint8(values: [0, 255], shape: [2]))),
            ("t", .table(ResultTable(title: "T", columns: ["a"], rows: [["1"], ["2"]]))),
            ("p", .picture(ResultPicture(name: "pic", caption: "cap", image: image))), ("note", .note("hello")),
            ("kt", .table(ResultTable(title: "K", columns: ["a"], rows: [["1"]], key: true))),
            ("kp", .picture(ResultPicture(name: "key", caption: "k", image: image, key: true))),
            ("h", .highlight(ResultHighlight("rate", value: 0.25, unit: "%", detail: "over 3 pairs"))),
            ("per", .perPair([(pair: ClassPair(0, 1), value: .number(1)), (pair: ClassPair(1, 0), value: .group([]))])),
        ])
        let calls = [
            CallRecord(plugin: "p", component: "q", kind: .prober, readsSets: false, pair: pair, producer: nil, seconds: 1.5, queries: 17,
                       notes: [.init(plugin: "p", component: "q", text: "n1"), .init(plugin: "other", component: nil, text: "n2")],
                       problems: [], set: set, tree: tree, value: nil),
            CallRecord(plugin: "p", component: "m", kind: .metric, readsSets: false, pair: pair, producer: "p/q", seconds: 0, queries: 0,
                       notes: [], problems: [(plugin: "p", message: "m on p/q pair 3:1: failed")], set: nil, tree: nil, value: nil),
            CallRecord(plugin: "p", component: "r", kind: .prober, readsSets: false, pair: pair, producer: nil, seconds: 0.25, queries: 3,
                       notes: [], problems: [], declined: "no image of class 3 is classified correctly", set: nil, tree: nil, value: nil),
        ]
        let bytes = PairArchive.encode(StepRecord(pair: pair, calls: calls), fingerprint: "abc")
        let (fingerprint, step) = try PairArchive.decode(bytes, file: "x.bin")
        XCTAssertEqual(fingerprint, "abc")
        XCTAssertEqual(step.pair, pair)
        XCTAssertEqual(Array(bytes.prefix(8)), Array("BLPAIR03".utf8))
        XCTAssertEqual(step.calls.count, 3)
        XCTAssertEqual(step.calls.map(\.declined), [nil, nil, "no image of class 3 is classified correctly"], "a declined pair survives the journal")
        XCTAssertEqual(step.calls[0].set?.points.scalars.map(\.bitPattern), set.points.scalars.map(\.bitPattern))
        XCTAssertEqual(step.calls[0].set?.failureReasons, set.failureReasons)
        XCTAssertEqual(step.calls[0].set?.extras.keys.sorted(), ["b", "lambda"])
        XCTAssertEqual(step.calls[0].notes.map(\.text), ["n1", "n2"])
        XCTAssertEqual(step.calls[1].problems.map(\.message), ["m on p/q pair 3:1: failed"])
        let back = try XCTUnwrap(step.calls[0].tree)
        guard case .table(let t)? = back["t"], case .table(let kt)? = back["kt"], case .picture(let p)? = back["p"], case .picture(let kp)? = back["kp"],
              case .highlight(let h)? = back["h"] else { return XCTFail("\(back)") }
        XCTAssertEqual([t.isKey, kt.isKey, p.isKey, kp.isKey], [false, true, false, true], "key flags survive the journal")
        XCTAssertEqual(h, ResultHighlight("rate", value: 0.25, unit: "%", detail: "over 3 pairs"))
        XCTAssertEqual(PairArchive.encode(step, fingerprint: fingerprint), bytes, "decoding and encoding again gives the same bytes")

        // A version-2 archive (journals written before declined pairs existed) still reads.
        let old = PairArchive.encode(StepRecord(pair: pair, calls: Array(calls.prefix(2))), fingerprint: "abc", version: 2)
        XCTAssertEqual(Array(old.prefix(8)), Array("BLPAIR02".utf8))
        let (_, oldStep) = try PairArchive.decode(old, file: "old.bin")
        XCTAssertEqual(oldStep.calls.map(\.declined), [nil, nil])
        XCTAssertEqual(oldStep.calls[0].set?.points.scalars.map(\.bitPattern), set.points.scalars.map(\.bitPattern))
        XCTAssertEqual(oldStep.calls[1].problems.map(\.message), ["m on p/q pair 3:1: failed"])

        // Damage: every truncation and a flipped byte in the body give a BorderlineError, never a trap.
        for cut in [0, 7, 8, 20, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try PairArchive.decode(Array(bytes.prefix(cut)), file: "x.bin")) {
                XCTAssertEqual(($0 as? BorderlineError)?.kind, .unreadableFile, "\($0)")
            }
        }
        var flipped = bytes
        flipped[40] ^= 0xff
        if let error = Result(catching: { try PairArchive.decode(flipped, file: "x.bin") }).failure {
            XCTAssertTrue(error is BorderlineError, "\(error)")
        }
    }

    /// The bar: merged shards equal the run in one process, number for number and array for array,
    /// whatever the number of shards — so no pair's numbers depend on the other pairs of its shard.
    func testShardsMergedEqualTheUnshardedRunForEveryShardCount() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        let folder = try TestSupport.temporaryFolder(self)
        let whole = try engine(configuration(folder + "/whole")).run()
        XCTAssertEqual(whole.failures.count, 0, "\(whole.failures)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: whole.folder + "/pairs"), "a finished run keeps no journal")
        let summary = try JSONValue.parse(String(contentsOfFile: whole.folder + "/summary.json", encoding: .utf8))
        let plugin = summary["plugins"]?["sensitive"]
        XCTAssertEqual(plugin?["pairs"]?["0-1"]?["pooled"]?["sensitive.walker"]?["reverse"], 3, "a metric sees the reverse pair's set")
        XCTAssertEqual(plugin?["pairs"]?["0-1"]?["pooled"]?["sensitive.walker"]?["visible"], 2, "a metric sees its boundary's sets only")
        XCTAssertEqual(plugin?["numbers"]?["summary"]?["pairs"], 6)
        for n in [2, 3, 4] {
            var shards: [String] = []
            for i in 0..<n {
                var c = configuration(folder + "/n\(n)-\(i)")
                c.shard = ShardSpec(index: i, count: n)
                let outcome = try engine(c).run()
                XCTAssertEqual(outcome.failures.count, 0, "\(outcome.failures)")
                XCTAssertTrue(FileManager.default.fileExists(atPath: outcome.folder + "/pairs/run.json"), "a shard keeps its journal for merge")
                shards.append(outcome.folder)
            }
            let merged = try merge(shards.reversed(), folder + "/merged-\(n)").run()
            XCTAssertEqual(merged.failures.count, 0, "\(merged.failures)")
            XCTAssertEqual(try RunComparison.differences(whole.folder, merged.folder), [], "merged from \(n) shards")
        }
        // The comparison can fail: another seed differs.
        var other = configuration(folder + "/other")
        other.seed = 12
        let different = try engine(other).run()
        XCTAssertFalse(try RunComparison.differences(whole.folder, different.folder).isEmpty)
    }

    func testAnInterruptedRunResumesToTheUninterruptedFolder() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        let folder = try TestSupport.temporaryFolder(self)
        let whole = try engine(configuration(folder + "/whole")).run()
        for stopAfter in [1, 3, 4] {
            // Ctrl-C after `stopAfter` calls: the run writes an interrupted folder with its journal.
            var calls = 0
            let out = folder + "/stopped-\(stopAfter)"
            let stopped = try engine(configuration(out), isInterrupted: { calls += 1; return calls > stopAfter * 2 }).run()
            XCTAssertEqual(stopped.status, .interrupted)
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/pairs/run.json"))
            let e = engine(RunConfiguration())
            e.resume = RunEngine.Resume(folder: out, fromJournal: true)
            let resumed = try e.run()
            XCTAssertEqual(resumed.status, .complete)
            XCTAssertEqual(try RunComparison.differences(whole.folder, resumed.folder), [], "resumed after \(stopAfter) calls")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/pairs"))
        }
        // Nothing to resume: a finished run, and an empty place.
        let again = engine(RunConfiguration())
        again.resume = RunEngine.Resume(folder: whole.folder, fromJournal: true)
        XCTAssertThrowsError(try again.run()) { XCTAssertTrue("\($0)".contains("nothing to resume"), "\($0)") }
        let nowhere = engine(RunConfiguration())
        nowhere.resume = RunEngine.Resume(folder: folder + "/none", fromJournal: true)
        XCTAssertThrowsError(try nowhere.run()) { XCTAssertTrue("\($0)".contains("no unfinished run there"), "\($0)") }
        // With the run's options, --resume starts a run where there is none.
        let start = engine(configuration(folder + "/ignored"))
        start.resume = RunEngine.Resume(folder: folder + "/started", fromJournal: false)
        let started = try start.run()
        XCTAssertEqual(started.folder, URL(fileURLWithPath: folder + "/started").standardizedFileURL.path)
        XCTAssertEqual(try RunComparison.differences(whole.folder, started.folder), [])
    }

    func testMergeRefusesShardsThatDoNotMakeOneRun() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        let folder = try TestSupport.temporaryFolder(self)
        func shard(_ i: Int, _ n: Int, seed: UInt64 = 11, name: String? = nil) throws -> String {
            var c = configuration(folder + "/" + (name ?? "s\(i)-\(n)-\(seed)"))
            c.shard = ShardSpec(index: i, count: n)
            c.seed = seed
            return try engine(c).run().folder
        }
        let a = try shard(0, 2), b = try shard(1, 2), c = try shard(1, 2, seed: 5), three = try shard(2, 3)
        func message(_ shards: [String]) -> String {
            if case .failure(let e) = Result(catching: { try merge(shards, folder + "/m").run() }) { return "\(e)" }
            return ""
        }
        XCTAssertTrue(message([a]).contains("shard 1/2 of the run missing"), message([a]))
        XCTAssertTrue(message([a, a]).contains("give each shard once"), message([a, a]))
        XCTAssertTrue(message([a, c]).contains("seed"), message([a, c]))
        XCTAssertTrue(message([a, three]).contains("seed") || message([a, three]).contains("share N"), message([a, three]))
        XCTAssertTrue(message([folder]).contains("is not a shard"), message([folder]))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/m"), "a refused merge writes nothing")
        // An unfinished shard: its journal lacks a pair.
        let pairs = try FileManager.default.contentsOfDirectory(atPath: b + "/pairs").filter { $0.hasSuffix(".bin") }.sorted()
        try FileManager.default.removeItem(atPath: b + "/pairs/" + pairs.last!)
        XCTAssertTrue(message([a, b]).contains("is unfinished"), message([a, b]))
        XCTAssertTrue(message([a, b]).contains("--resume"), message([a, b]))
    }
}

extension Result {
    var failure: Failure? { if case .failure(let e) = self { return e } else { return nil } }
}
