import BorderlineCore
import BorderlineHost
import Foundation
import XCTest

/// A prober that always fails.
final class AlwaysFails: BoundaryProber {
    let name = "always-fails"
    let summary = "fails"
    func probe(_ pair: ClassPair, options: NoOptions, context: RunContext) throws -> Probe<NoOutput> {
        throw BorderlineError(.invalidArgument, "deliberate failure for \(pair)")
    }
}

/// A metric that records which producers' sets it saw.
final class ProducerLog: Metric {
    let name = "producer-log"
    let summary = "logs producers"
    var seen: [String] = []
    struct Output: Encodable { var attempts: Int }
    func evaluate(_ set: BoundarySet, options: NoOptions, context: RunContext) throws -> Output {
        seen.append(set.producer)
        return Output(attempts: set.count)
    }
}

final class FailingPlugin: BorderlinePlugin {
    static let manifest = PluginManifest(name: "failing", version: "0.0.1", summary: "A prober that fails and a metric that logs.")
    init() {}
    let log = ProducerLog()
    var probers: [any BoundaryProber] { [AlwaysFails()] }
    var metrics: [any Metric] { [log] }
}

/// An empty boundary set of the run's classifier's shape.
func emptySet(_ pair: ClassPair, _ context: RunContext) throws -> BoundarySet {
    try BoundarySet(pair: pair, points: Tensor(zeros: [0] + context.classifier.inputShape),
                    startPoints: Tensor(zeros: [0] + context.classifier.inputShape), startIndices: [],
                    probabilities: Tensor(zeros: [0, context.classifier.classCount]), succeeded: [],
                    failureReasons: [], iterations: [])
}

/// A prober that asks the run to stop once it has run.
final class InterruptingPlugin: BorderlinePlugin, @unchecked Sendable {
    final class Stopper: BoundaryProber {
        let name = "stopper"
        let summary = "stops the run"
        let flag: Flag
        init(flag: Flag) { self.flag = flag }
        func probe(_ pair: ClassPair, options: NoOptions, context: RunContext) throws -> Probe<NoOutput> {
            flag.value = true
            try context.checkInterrupted()
            return Probe(try emptySet(pair, context))
        }
    }
    final class Flag: @unchecked Sendable { var value = false }
    static let manifest = PluginManifest(name: "interrupter", version: "0", summary: "stops the run")
    init() {}
    let flag = Flag()
    var probers: [any BoundaryProber] { [Stopper(flag: flag)] }
}

/// Writes into a log which components ran, to check the order of a run.
final class CallLog: @unchecked Sendable {
    var calls: [String] = []
}

/// A plugin whose prober, metric and analysis exercise the run-scoped services and typed outputs.
final class RecordingPlugin: BorderlinePlugin {
    static let manifest = PluginManifest(name: "recording", version: "1", summary: "records")
    static let log = CallLog()
    init() {}

    final class Walk: BoundaryProber {
        let name = "walk", summary = "one start per pair"
        struct Options: PluginOptions {
            @Option(help: "a scale", in: 0...10) var scale = 2.0
            func validate() throws {
                if scale == 7 { throw BorderlineError(.invalidArgument, "scale 7 is unlucky") }
            }
        }
        struct Output: Encodable { var scaled: Double; var built: Int }
        func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<Output> {
            RecordingPlugin.log.calls.append("recording/walk \(pair)")
            // Computed once per run and plugin, whichever pair asks first.
            let built = try context.cached("shared") { () -> Int in RecordingPlugin.log.calls.append("recording/build"); return 41 }
            let rows = Array(context.indices(ofClass: pair.source).prefix(2))
            let x = context.data.images.gather(batch: rows)
            let set = try BoundarySet(pair: pair, points: x, startPoints: x, startIndices: rows, probabilities: try context.classifier.probabilities(x),
                                      succeeded: rows.map { _ in true }, failureReasons: rows.map { _ in nil }, iterations: rows.map { _ in 0 })
            XCTAssertTrue(context.boundarySets.isEmpty, "a plain prober sees no sets")
            return Probe(set, output: Output(scaled: options.scale * Double(pair.source), built: built + 1))
        }
    }

    final class Count: Metric {
        let name = "count", summary = "counts"
        struct Output: Encodable { var successes: Int; var producer: String }
        func evaluate(_ set: BoundarySet, options: NoOptions, context: RunContext) throws -> Output {
            RecordingPlugin.log.calls.append("recording/count \(set.producer)")
            return Output(successes: set.successCount, producer: set.producer)
        }
    }

    final class Total: Analysis {
        let name = "total", summary = "sums the metric over the run"
        struct Output: Encodable {
            var total: Int
            var perPair: PerPair<Int>
            var scaledSum: Double
            var table: ResultTable
        }
        func analyse(options: NoOptions, context: RunContext) throws -> Output {
            RecordingPlugin.log.calls.append("recording/total")
            let counts = context.outputs(of: Count.self)
            var perPair = PerPair<Int>()
            for c in counts { perPair[c.pair] = (perPair[c.pair] ?? 0) + c.output.successes }
            let walks = context.outputs(of: Walk.self)
            return Output(total: counts.map(\.output.successes).reduce(0, +), perPair: perPair,
                          scaledSum: walks.map(\.output.scaled).reduce(0, +),
                          table: ResultTable(title: "per producer", columns: ["producer"], rows: counts.map { [$0.output.producer] }))
        }
    }

    let probers: [any BoundaryProber] = [Walk()]
    let metrics: [any Metric] = [Count()]
    let analyses: [any Analysis] = [Total()]
}

/// A plugin named to sort before "recording", reading the other probers' sets.
final class EarlyReader: BorderlinePlugin {
    static let manifest = PluginManifest(name: "aardvark", version: "1", summary: "reads sets")
    init() {}
    final class Reader: BoundaryProber {
        let name = "reader", summary = "reads the other probers' sets"
        var readsBoundarySets: Bool { true }
        struct Output: Encodable { var setsSeen: Int }
        func probe(_ pair: ClassPair, options: NoOptions, context: RunContext) throws -> Probe<Output> {
            RecordingPlugin.log.calls.append("aardvark/reader \(pair)")
            return Probe(try emptySet(pair, context), output: Output(setsSeen: context.boundarySets.count))
        }
    }
    let probers: [any BoundaryProber] = [Reader()]
}

/// A plugin whose prober breaks the contract in the way its option says.
final class Rogue: BorderlinePlugin {
    static let manifest = PluginManifest(name: "rogue", version: "1", summary: "breaks the contract")
    init() {}
    enum Fault: String, CaseIterable, OptionValue { case index, probabilities, collision, shape }
    final class Bad: BoundaryProber {
        let name = "bad", summary = "returns a bad set"
        struct Options: PluginOptions { @Option(help: "which fault") var fault = Fault.index }
        struct Collision: Encodable { var points: [Float] }
        func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<Collision> {
            let x = context.data.images.slice(batch: 0..<1)
            var p = try context.classifier.probabilities(x)
            var index = 0, points = x
            switch options.fault {
            case .index: index = 1_000_000
            case .probabilities: p = Tensor(zeros: [1, 1])
            case .shape: points = Tensor(zeros: [1, 3])
            case .collision: break
            }
            let set = try BoundarySet(pair: pair, points: points, startPoints: points, startIndices: [index], probabilities: p,
                                      succeeded: [true], failureReasons: [nil], iterations: [0])
            return Probe(set, output: Collision(points: options.fault == .collision ? [1, 2] : []))
        }
    }
    let probers: [any BoundaryProber] = [Bad()]
}

final class RunEngineTests: XCTestCase {
    func configuration(_ folder: String) -> RunConfiguration {
        var c = RunConfiguration()
        c.model = TestSupport.model
        c.pairs = ["7:9"]
        c.samples = 4
        c.imagesPerClass = 40
        c.out = (folder as NSString).appendingPathComponent("run")
        c.includeDefaultPlugins = false   // only the plugins each test names
        return c
    }

    func requireBisection() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        guard FileManager.default.fileExists(atPath: TestSupport.bisectionLibrary) else { throw XCTSkip("in-tree plugins not built") }
    }

    func testOnePluginsFailureDoesNotStopTheOthersAndMetricsSeeEveryProber() throws {
        try requireBisection()
        let folder = try TestSupport.temporaryFolder(self)
        var c = configuration(folder)
        c.plugins = ["bisection", "failing"]
        let failing = FailingPlugin()
        let engine = RunEngine(configuration: c, builtInPluginFolder: TestSupport.buildFolder)
        engine.inProcessPlugins = [failing]
        let outcome = try engine.run()
        XCTAssertEqual(outcome.status, .complete)
        XCTAssertEqual(outcome.failures.map(\.plugin), ["failing"])
        XCTAssertTrue(outcome.failures[0].reason.contains("deliberate failure for 7:9"), outcome.failures[0].reason)
        XCTAssertEqual(failing.log.seen, ["bisection/random-pair-bisection"], "a metric gets the sets of other plugins' probers")
        let summary = try JSONValue.parse(String(contentsOfFile: outcome.folder + "/summary.json", encoding: .utf8))
        XCTAssertEqual(summary["status"], "complete")
        XCTAssertEqual(summary["all_plugins_ok"], .bool(false))
        XCTAssertEqual(summary["plugins"]?["bisection"]?["status"], "ok")
        XCTAssertEqual(summary["plugins"]?["failing"]?["status"], "failed")
        XCTAssertEqual(summary["plugins"]?["failing"]?["pairs"]?["7-9"]?["producer-log"]?["bisection.random-pair-bisection"]?["attempts"], 4)
        XCTAssertNotNil(summary["model"]?["sha256"]?.stringValue)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "no temporary folder is left behind")
        let html = try String(contentsOfFile: outcome.folder + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("deliberate failure"))
        XCTAssertTrue(html.contains("data:image/png;base64,"))
    }

    func testInterruptedRunRecordsWhatFinished() throws {
        try requireBisection()
        let folder = try TestSupport.temporaryFolder(self)
        var c = configuration(folder)
        c.pairs = ["7:9", "5:7"]
        c.plugins = ["interrupter", "bisection"]
        let interrupter = InterruptingPlugin()
        let engine = RunEngine(configuration: c, isInterrupted: { interrupter.flag.value }, builtInPluginFolder: TestSupport.buildFolder)
        engine.inProcessPlugins = [interrupter]
        let outcome = try engine.run()
        XCTAssertEqual(outcome.status, .interrupted)
        let summary = try JSONValue.parse(String(contentsOfFile: outcome.folder + "/summary.json", encoding: .utf8))
        XCTAssertEqual(summary["status"], "interrupted")
        XCTAssertEqual(summary["plugins"]?["interrupter"]?["status"], "interrupted")
        XCTAssertEqual(summary["plugins"]?["bisection"]?["status"], "interrupted")
        let html = try String(contentsOfFile: outcome.folder + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("This run was interrupted"))
    }

    func testOptionsAreResolvedAgainstDeclarations() throws {
        final class P: BorderlinePlugin {
            final class A: BoundaryProber {
                let name = "a", summary = ""
                struct Options: PluginOptions {
                    @Option(help: "") var beta = 0.1
                    @Option(help: "") var steps = 3
                }
                func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<NoOutput> { fatalError() }
            }
            final class M: Metric {
                let name = "m", summary = ""
                struct Options: PluginOptions { @Option(help: "", in: 0...1) var beta = 0.2 }
                func evaluate(_ set: BoundarySet, options: Options, context: RunContext) throws -> NoOutput { NoOutput() }
            }
            static let manifest = PluginManifest(name: "p", version: "1", summary: "")
            init() {}
            var probers: [any BoundaryProber] { [A()] }
            var metrics: [any Metric] { [M()] }
        }
        let plugins: [any BorderlinePlugin] = [P()]
        func typed<O>(_ r: [String: [String: RunEngine.ResolvedOptions]], _ c: String, _ t: O.Type) -> O { r["p"]![c]!.options as! O }
        let both = try RunEngine.resolveOptions(["p.beta": .string("0.3")], plugins: plugins)
        XCTAssertEqual(typed(both, "a", P.A.Options.self).beta, 0.3)
        XCTAssertEqual(typed(both, "m", P.M.Options.self).beta, 0.3)
        XCTAssertEqual(typed(both, "a", P.A.Options.self).steps, 3)
        XCTAssertEqual(both["p"]!["a"]!.values.map(\.name), ["beta", "steps"])
        let one = try RunEngine.resolveOptions(["p.m.beta": .number(0.4)], plugins: plugins)
        XCTAssertEqual(typed(one, "a", P.A.Options.self).beta, 0.1)
        XCTAssertEqual(typed(one, "m", P.M.Options.self).beta, 0.4)
        func message(_ settings: [String: JSONValue]) -> String {
            if case .failure(let error) = Result(catching: { try RunEngine.resolveOptions(settings, plugins: plugins) }) { return "\(error)" }
            return ""
        }
        XCTAssertTrue(message(["p.nope": 1]).contains("unknown option 'p.nope'"), message(["p.nope": 1]))
        XCTAssertTrue(message(["p.nope": 1]).contains("p.a.beta (number)"))
        XCTAssertTrue(message(["p.step": 1]).contains("unknown option 'p.step' (did you mean 'steps'?)"), message(["p.step": 1]))
        XCTAssertTrue(message(["q.beta": 1]).contains("plugin 'q', which this run does not enable"))
        XCTAssertTrue(message(["p.steps": "many"]).contains("option p.steps expects integer, got 'many'"))
        XCTAssertTrue(message(["p.z.beta": 1]).contains("has no component 'z'"))
        XCTAssertTrue(message(["p.m.beta": 3]).contains("option p.m.beta expects number in 0.0…1.0, got 3.0"), message(["p.m.beta": 3]))
    }

    func testOrderServicesAndTypedOutputsOfARun() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        RecordingPlugin.log.calls = []
        let folder = try TestSupport.temporaryFolder(self)
        var c = configuration(folder)
        c.pairs = ["7:9", "5:7"]
        // Listed in reverse: the run still goes in name order.
        c.plugins = ["recording", "aardvark"]
        c.options = ["recording.scale": .string("3")]
        let engine = RunEngine(configuration: c, builtInPluginFolder: nil)
        engine.inProcessPlugins = [RecordingPlugin(), EarlyReader()]
        let outcome = try engine.run()
        XCTAssertEqual(outcome.failures.count, 0, "\(outcome.failures)")
        XCTAssertEqual(RecordingPlugin.log.calls, [
            // Boundary by boundary (7–9, then 5–7): aardvark sorts first but reads sets, so it runs
            // after every plain prober of the boundary; then the metrics on the boundary's sets.
            "recording/walk 7:9", "recording/build", "aardvark/reader 7:9",
            "recording/count recording/walk", "recording/count aardvark/reader",
            "recording/walk 5:7", "aardvark/reader 5:7",
            "recording/count recording/walk", "recording/count aardvark/reader",
            "recording/total",
        ])
        let summary = try JSONValue.parse(String(contentsOfFile: outcome.folder + "/summary.json", encoding: .utf8))
        let recording = summary["plugins"]?["recording"]
        XCTAssertEqual(recording?["pairs"]?["7-9"]?["walk"]?["scaled"], 21)
        XCTAssertEqual(recording?["pairs"]?["5-7"]?["walk"]?["built"], 42)
        XCTAssertEqual(recording?["pairs"]?["7-9"]?["count"]?["recording.walk"]?["successes"], 2)
        XCTAssertEqual(recording?["pairs"]?["7-9"]?["count"]?["aardvark.reader"]?["producer"], "aardvark/reader")
        XCTAssertEqual(recording?["numbers"]?["total"]?["total"], 4)
        XCTAssertEqual(recording?["numbers"]?["total"]?["scaled_sum"], 36)
        XCTAssertEqual(recording?["pairs"]?["5-7"]?["total"]?["per_pair"], 2)
        XCTAssertEqual(summary["plugins"]?["aardvark"]?["pairs"]?["5-7"]?["reader"]?["sets_seen"], 1, "a reading prober sees its boundary's sets")
        XCTAssertEqual(recording?["boundary_sets"]?["walk"]?["7-9"]?["model_queries"], 2, "the host counts the prober's queries")
        XCTAssertEqual(recording?["tables"]?.arrayValue?.count, 1)
        let file = try HDF5File.open(outcome.folder + "/results.h5")
        XCTAssertEqual(try file.root().group("recording/pair_7_9/walk").intAttribute("scaled"), 21)
        XCTAssertEqual(try file.root().group("recording/all/total").intAttribute("total"), 4)
        try file.close()

        // validate() runs before the run starts.
        c.options = ["recording.scale": .string("7")]
        c.out = folder + "/second"
        let refused = RunEngine(configuration: c, builtInPluginFolder: nil)
        refused.inProcessPlugins = [RecordingPlugin(), EarlyReader()]
        XCTAssertThrowsError(try refused.run()) { XCTAssertTrue("\($0)".contains("scale 7 is unlucky"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/second"))
    }

    func testAPluginThatBreaksTheContractFailsAndTheRestIsWritten() throws {
        try requireBisection()
        for (fault, expected) in [("index", "start index 1000000 is not a row of the run's"),
                                  ("probabilities", "its probabilities have shape [1, 1]; expected [1, 10]"),
                                  ("shape", "its points have shape [1, 3]"),
                                  ("collision", "its output member 'points' has the name of a boundary-set array")] {
            let folder = try TestSupport.temporaryFolder(self)
            var c = configuration(folder)
            c.plugins = ["bisection", "rogue"]
            c.options = ["rogue.fault": .string(fault)]
            let engine = RunEngine(configuration: c, builtInPluginFolder: TestSupport.buildFolder)
            engine.inProcessPlugins = [Rogue()]
            let outcome = try engine.run()
            XCTAssertEqual(outcome.failures.map(\.plugin), ["rogue"], fault)
            XCTAssertTrue(outcome.failures.first?.reason.contains(expected) ?? false, "\(fault): \(outcome.failures)")
            let summary = try JSONValue.parse(String(contentsOfFile: outcome.folder + "/summary.json", encoding: .utf8))
            XCTAssertEqual(summary["plugins"]?["bisection"]?["status"], "ok")
            XCTAssertEqual(summary["plugins"]?["rogue"]?["boundary_sets"], .object([:]), "a set that breaks the contract is not kept")
        }
    }

    func testClassSelection() throws {
        let s = ClassSelection(classNames: Dataset.fashionMNISTClassNames)
        XCTAssertEqual(try s.resolvePair("Shirt:coat"), ClassPair(6, 4))
        XCTAssertEqual(try s.resolvePair("T-shirt/top:6"), ClassPair(0, 6))
        XCTAssertEqual(try s.pairs(["all"], classes: ["0", "Trouser", "2"]), [ClassPair(0, 1), ClassPair(0, 2), ClassPair(1, 2)])
        XCTAssertEqual(try s.pairs([], classes: []).count, 45)
        XCTAssertEqual(try s.pairs(["0:6,5:7", "0:6"], classes: []), [ClassPair(0, 6), ClassPair(5, 7)])
        XCTAssertThrowsError(try s.pairs(["0:12"], classes: [])) {
            XCTAssertTrue("\($0)".contains("class 12 is out of range: the model has 10 classes, 0…9"), "\($0)")
        }
        XCTAssertThrowsError(try s.resolvePair("Shoe:Bag")) { XCTAssertTrue("\($0)".contains("'Shoe' is neither"), "\($0)") }
        XCTAssertThrowsError(try s.resolvePair("3:3"))
        XCTAssertThrowsError(try s.pairs([], classes: ["3"]))
    }

    func testConfigurationFilesInYAMLAndJSON() throws {
        let folder = try TestSupport.temporaryFolder(self)
        let yaml = (folder as NSString).appendingPathComponent("run.yaml")
        try """
        model: fashion-cnn
        plugins: [bisection]
        options:
          bisection:
            beta: 0.05
          bisection.max-halvings: 12
        pairs: ["Sandal:Sneaker", "0:6"]
        samples: 7
        seed: 3
        black_box: true
        gradient_estimator: nes
        """.write(toFile: yaml, atomically: true, encoding: .utf8)
        let c = try RunConfiguration.load(yaml)
        XCTAssertEqual(c.model, "fashion-cnn")
        XCTAssertEqual(c.plugins, ["bisection"])
        XCTAssertEqual(c.options["bisection.beta"], .number(0.05))
        XCTAssertEqual(c.options["bisection.max-halvings"], .number(12))
        XCTAssertEqual(c.pairs, ["Sandal:Sneaker", "0:6"])
        XCTAssertEqual(c.samples, 7)
        XCTAssertEqual(c.seed, 3)
        XCTAssertTrue(c.blackBox)
        XCTAssertEqual(c.gradientEstimator, "nes")

        let json = (folder as NSString).appendingPathComponent("run.json")
        try #"{"samples": 5, "pairs": "all", "options": {"bisection.beta": 0.2}}"#.write(toFile: json, atomically: true, encoding: .utf8)
        let j = try RunConfiguration.load(json)
        XCTAssertEqual(j.samples, 5)
        XCTAssertEqual(j.pairs, ["all"])
        XCTAssertEqual(j.options["bisection.beta"], .number(0.2))

        try #"{"sample": 5}"#.write(toFile: json, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunConfiguration.load(json)) { XCTAssertTrue("\($0)".contains("unknown configuration key 'sample'"), "\($0)") }
        try "samples: many\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunConfiguration.load(yaml)) { XCTAssertTrue("\($0)".contains("'samples' must be an integer"), "\($0)") }
        try "samples: [1,\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunConfiguration.load(yaml)) { XCTAssertTrue("\($0)".contains("is not valid YAML"), "\($0)") }
    }
}
