import BorderlineCore
import BorderlineHost
import Foundation
import XCTest

/// A prober that always fails.
final class AlwaysFails: BoundaryProber {
    let name = "always-fails"
    let summary = "fails"
    func probe(_ pair: ClassPair, context: RunContext) throws -> BoundarySet {
        throw BorderlineError(.invalidArgument, "deliberate failure for \(pair)")
    }
}

/// A metric that records which producers' sets it saw.
final class ProducerLog: Metric {
    let name = "producer-log"
    let summary = "logs producers"
    var seen: [String] = []
    func evaluate(_ set: BoundarySet, context: RunContext) throws -> MetricResult {
        seen.append(set.producer)
        return MetricResult(numbers: [("attempts", Double(set.count))])
    }
}

final class FailingPlugin: BorderlinePlugin {
    let name = "failing"
    let version = "0.0.1"
    let summary = "A prober that fails and a metric that logs."
    let log = ProducerLog()
    var probers: [any BoundaryProber] { [AlwaysFails()] }
    var metrics: [any Metric] { [log] }
}

/// A prober that asks the run to stop once it has run.
final class InterruptingPlugin: BorderlinePlugin, @unchecked Sendable {
    final class Stopper: BoundaryProber {
        let name = "stopper"
        let summary = "stops the run"
        let flag: Flag
        init(flag: Flag) { self.flag = flag }
        func probe(_ pair: ClassPair, context: RunContext) throws -> BoundarySet {
            flag.value = true
            try context.checkInterrupted()
            return try BoundarySet(pair: pair, points: Tensor(zeros: [0] + context.classifier.inputShape),
                                   startPoints: Tensor(zeros: [0] + context.classifier.inputShape), startIndices: [],
                                   probabilities: Tensor(zeros: [0, context.classifier.classCount]), succeeded: [],
                                   failureReasons: [], iterations: [], queries: 0)
        }
    }
    final class Flag: @unchecked Sendable { var value = false }
    let flag = Flag()
    let name = "interrupter"
    let version = "0"
    let summary = "stops the run"
    var probers: [any BoundaryProber] { [Stopper(flag: flag)] }
}

final class RunEngineTests: XCTestCase {
    func configuration(_ folder: String) -> RunConfiguration {
        var c = RunConfiguration()
        c.model = TestSupport.model
        c.pairs = ["7:9"]
        c.samples = 4
        c.imagesPerClass = 40
        c.out = (folder as NSString).appendingPathComponent("run")
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
                let name = "a"
                let summary = ""
                let options: [PluginOption] = [.number("beta", default: 0.1, help: ""), .integer("steps", default: 3, help: "")]
                func probe(_ pair: ClassPair, context: RunContext) throws -> BoundarySet { fatalError() }
            }
            final class M: Metric {
                let name = "m"
                let summary = ""
                let options: [PluginOption] = [.number("beta", default: 0.2, help: "")]
                func evaluate(_ set: BoundarySet, context: RunContext) throws -> MetricResult { MetricResult() }
            }
            let name = "p"
            let version = "1"
            let summary = ""
            var probers: [any BoundaryProber] { [A()] }
            var metrics: [any Metric] { [M()] }
        }
        let plugins: [any BorderlinePlugin] = [P()]
        let both = try RunEngine.resolveOptions(["p.beta": .string("0.3")], plugins: plugins)
        XCTAssertEqual(try both["p"]!["a"]!.double("beta"), 0.3)
        XCTAssertEqual(try both["p"]!["m"]!.double("beta"), 0.3)
        XCTAssertEqual(try both["p"]!["a"]!.int("steps"), 3)
        let one = try RunEngine.resolveOptions(["p.m.beta": .number(0.4)], plugins: plugins)
        XCTAssertEqual(try one["p"]!["a"]!.double("beta"), 0.1)
        XCTAssertEqual(try one["p"]!["m"]!.double("beta"), 0.4)
        func message(_ settings: [String: JSONValue]) -> String {
            if case .failure(let error) = Result(catching: { try RunEngine.resolveOptions(settings, plugins: plugins) }) { return "\(error)" }
            return ""
        }
        XCTAssertTrue(message(["p.nope": 1]).contains("unknown option 'p.nope'"), message(["p.nope": 1]))
        XCTAssertTrue(message(["p.nope": 1]).contains("p.a.beta (number)"))
        XCTAssertTrue(message(["q.beta": 1]).contains("plugin 'q', which this run does not enable"))
        XCTAssertTrue(message(["p.steps": "many"]).contains("option p.steps expects integer, got 'many'"))
        XCTAssertTrue(message(["p.z.beta": 1]).contains("has no component 'z'"))
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
          bisection.max-steps: 12
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
        XCTAssertEqual(c.options["bisection.max-steps"], .number(12))
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
