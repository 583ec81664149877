import BorderlineCore
import BorderlineHost
import BorderlineTestSupport
import Foundation
import XCTest

/// End-to-end: the `borderline` executable's run, plugins and plugin-new commands, and every kind
/// of bad input the issue lists (each a message naming the problem and exit status 2).
final class CLITests: XCTestCase {
    /// Runs `borderline run` with small settings and the in-tree plugins available.
    func run(_ extra: [String], out: String) throws -> TestSupport.ProcessResult {
        _ = try TestSupport.fashionMNISTOrSkip()
        return try TestSupport.borderline(["run", "--quiet", "--model", TestSupport.model, "--samples", "6", "--images-per-class", "60",
                                           "--out", out] + TestSupport.inTreePluginArguments() + extra)
    }

    func assertBadInput(_ result: TestSupport.ProcessResult, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 2, "stderr: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(expected), "expected '\(expected)' in: \(result.stderr)", file: file, line: line)
    }

    func testRunWritesACompleteRunFolder() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let out = (dir as NSString).appendingPathComponent("run")
        let r = try run(["--pairs", "0:6,Sandal:Sneaker", "--seed", "5"], out: out)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), out + "/report.html")
        for f in ["results.h5", "summary.json", "config.json", "report.html", "images"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["run"], "no temporary folder left")

        let file = try HDF5File.open(out + "/results.h5")
        let root = try file.root()
        XCTAssertEqual(try root.stringAttribute("format"), "borderline.results")
        XCTAssertEqual(try root.stringAttribute("status"), "complete")
        let set = try root.group("bisection/pair_5_7/random-pair-bisection")
        XCTAssertEqual(try set.readTensor("points").shape, [6, 1, 28, 28])
        XCTAssertEqual(try set.readTensor("probabilities").shape, [6, 10])
        XCTAssertEqual(try set.dataset("succeeded").readUInt8s().count, 6)
        XCTAssertTrue(root.contains("bisection/pair_0_6/boundary-summary/bisection.random-pair-bisection/distance_to_start"))
        try file.close()

        let summary = try JSONValue.parse(String(contentsOfFile: out + "/summary.json", encoding: .utf8))
        XCTAssertEqual(summary["status"], "complete")
        XCTAssertEqual(summary["seed"], 5)
        XCTAssertEqual(summary["plugins"]?["bisection"]?["status"], "ok")
        XCTAssertNotNil(summary["plugins"]?["bisection"]?["pairs"]?["5-7"]?["boundary-summary"]?["bisection.random-pair-bisection"]?["success_rate"])
        XCTAssertGreaterThan(summary["model_queries"]?.intValue ?? 0, 0)

        // The resolved configuration repeats the run exactly.
        let again = (dir as NSString).appendingPathComponent("again")
        let r2 = try TestSupport.borderline(["run", "--quiet", "--config", out + "/config.json", "--out", again] + TestSupport.inTreePluginArguments())
        XCTAssertEqual(r2.status, 0, r2.stderr)
        let a = try HDF5File.open(out + "/results.h5"), b = try HDF5File.open(again + "/results.h5")
        XCTAssertEqual(try a.root().readTensor("bisection/pair_0_6/random-pair-bisection/points"),
                       try b.root().readTensor("bisection/pair_0_6/random-pair-bisection/points"), "same seed, same results")
    }

    func testConfigFileAndOverrides() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let yaml = (dir as NSString).appendingPathComponent("run.yaml")
        try "plugins: [bisection]\ndefault_plugins: false\noptions:\n  bisection:\n    beta: 0.05\npairs: [\"Sandal:Sneaker\"]\nsamples: 3\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        let out = (dir as NSString).appendingPathComponent("run")
        let r = try run(["--config", yaml, "--set", "bisection.max-halvings=9"], out: out)
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try JSONValue.parse(String(contentsOfFile: out + "/config.json", encoding: .utf8))
        XCTAssertEqual(config["options"]?["bisection"]?["random-pair-bisection"]?["beta"], .number(0.05))
        XCTAssertEqual(config["options"]?["bisection"]?["random-pair-bisection"]?["max-halvings"], 9)
        XCTAssertEqual(config["pairs"], ["5:7"])
        XCTAssertEqual(config["samples"], 6, "the command line overrides the file")
        XCTAssertEqual(config["plugins"], ["bisection"], "default_plugins: false runs only the named plugins")
        XCTAssertEqual(config["default_plugins"], false, "config.json lists every plugin the run enabled")
    }

    func testPluginsCommandListsPluginsAndOptions() throws {
        let r = try TestSupport.borderline(["plugins"] + TestSupport.inTreePluginArguments())
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("bisection 2.0.0"), r.stdout)
        XCTAssertTrue(r.stdout.contains("prober random-pair-bisection"), r.stdout)
        XCTAssertTrue(r.stdout.contains("metric boundary-summary"), r.stdout)
        XCTAssertTrue(r.stdout.contains("--set bisection.beta=…  number"), r.stdout)
    }

    // MARK: Bad input

    func testUnknownPlugin() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let r = try run(["--plugin", "nosuch"], out: dir + "/run")
        assertBadInput(r, "unknown plugin 'nosuch'; available: bisection")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run"))
    }

    func testMissingPluginFolder() throws {
        assertBadInput(try run(["--plugin-path", "/no/such/folder"], out: "/tmp/unused-\(UUID())"),
                       "/no/such/folder: plugin folder does not exist")
        let r = try TestSupport.borderline(["plugins", "--plugin-path", "/no/such/folder"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stdout.contains("problem: plugin folder /no/such/folder does not exist"), r.stdout)
    }

    func testBrokenPluginFileIsAWarningUnlessTheRunNeedsIt() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let plugins = dir + "/plugins"
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        let so = try TestSupport.compileSharedLibrary("int borderline_plugin_abi_version(void) { return \(PluginABI.hostVersion); }\n",
                                                      named: "libNoManifestPlugin.so", in: plugins)
        // Not enabled: the run goes on and says which file it did not use.
        let fine = try run(["--plugin-path", plugins, "--pairs", "0:6"], out: dir + "/run")
        XCTAssertEqual(fine.status, 0, fine.stderr)
        XCTAssertTrue(fine.stderr.contains("warning: plugin file not used: \(so): is not a Borderline plugin of this version: it exports no borderline_plugin_manifest symbol"), fine.stderr)
        // A plugin no file provides: the error mentions the broken file.
        let r = try run(["--plugin-path", plugins, "--plugin", "no-manifest"], out: dir + "/run2")
        assertBadInput(r, "unknown plugin 'no-manifest'")
        XCTAssertTrue(r.stderr.contains("1 plugin file(s) could not be opened: \(so)"), r.stderr)
        let listing = try TestSupport.borderline(["plugins", "--plugin-path", plugins])
        XCTAssertEqual(listing.status, 2)
        XCTAssertTrue(listing.stdout.contains("problem: \(so): is not a Borderline plugin of this version"), listing.stdout)
    }

    func testABIMismatch() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let so = try TestSupport.compileSharedLibrary("int borderline_plugin_abi_version(void) { return 999; }\n",
                                                      named: "libOldPlugin.so", in: dir)
        let listing = try TestSupport.borderline(["plugins", "--plugin-path", dir])
        XCTAssertEqual(listing.status, 2)
        XCTAssertTrue(listing.stdout.contains("\(so): plugin ABI version mismatch: the plugin was built for ABI version 0x3e7, this host implements version 0x"), listing.stdout)
    }

    func testUnsafePluginFileIsRefused() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let so = try TestSupport.compileSharedLibrary("int borderline_plugin_abi_version(void) { return 1; }\n", named: "libOpenPlugin.so", in: dir)
        chmod(so, 0o777)
        let r = try TestSupport.borderline(["plugins", "--plugin-path", dir])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stdout.contains("plugin refused: the file is world-writable"), r.stdout)
    }

    func testUnknownOptionAndWrongType() throws {
        let dir = try TestSupport.temporaryFolder(self)
        assertBadInput(try run(["--set", "bisection.nope=1"], out: dir + "/a"), "unknown option 'bisection.nope'")
        assertBadInput(try run(["--set", "bisection.max-steps=9"], out: dir + "/e"), "unknown option 'bisection.max-steps' (did you mean 'max-halvings'?)")
        assertBadInput(try run(["--set", "bisection.beta=abc"], out: dir + "/b"), "option bisection.beta expects number in 1e-07…0.5, got 'abc'")
        assertBadInput(try run(["--set", "beta"], out: dir + "/c"), "must look like plugin.option=value")
        let unknownFlag = try TestSupport.borderline(["run", "--frobnicate"])
        XCTAssertEqual(unknownFlag.status, 2, unknownFlag.stderr)
        XCTAssertTrue(unknownFlag.stderr.contains("--frobnicate"), unknownFlag.stderr)
        let wrongType = try TestSupport.borderline(["run", "--samples", "many"])
        XCTAssertEqual(wrongType.status, 2, wrongType.stderr)
        XCTAssertTrue(wrongType.stderr.contains("many"), wrongType.stderr)
        assertBadInput(try run(["--samples", "0"], out: dir + "/d"), "--samples must be at least 1")
    }

    func testClassOutOfRange() throws {
        let dir = try TestSupport.temporaryFolder(self)
        assertBadInput(try run(["--pairs", "0:12"], out: dir + "/a"), "class 12 is out of range: the model has 10 classes")
        assertBadInput(try run(["--classes", "Shoe,Bag"], out: dir + "/b"), "'Shoe' is neither a class index nor a class name")
    }

    func testDataThatDoesNotFitTheModel() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let small = try Dataset(name: "tiny", images: Tensor(zeros: [4, 1, 8, 8]), labels: [0, 1, 2, 3])
        try small.writeHDF5(to: dir + "/tiny.h5")
        assertBadInput(try run(["--data", dir + "/tiny.h5"], out: dir + "/run"), "has images of shape [1, 8, 8] but the model expects inputs of shape [1, 28, 28]")
    }

    func testUnwritableOutputFolder() throws {
        let dir = try TestSupport.temporaryFolder(self)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/file"))
        assertBadInput(try run(["--pairs", "0:6"], out: dir + "/file/run"), "cannot create the output folder's parent")
        try FileManager.default.createDirectory(atPath: dir + "/taken", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/taken/keep"))
        assertBadInput(try run(["--pairs", "0:6"], out: dir + "/taken"), "the run folder already exists; choose another --out or pass --overwrite")
        if getuid() != 0 {
            try FileManager.default.createDirectory(atPath: dir + "/locked", withIntermediateDirectories: true)
            chmod(dir + "/locked", 0o555)
            defer { chmod(dir + "/locked", 0o755) }
            assertBadInput(try run(["--pairs", "0:6"], out: dir + "/locked/run"), "the output folder cannot be written")
        }
    }

    func testMissingModelAndBadPluginName() throws {
        let dir = try TestSupport.temporaryFolder(self)
        let r = try TestSupport.borderline(["run", "--model", dir + "/none.h5", "--out", dir + "/run"] + TestSupport.inTreePluginArguments())
        assertBadInput(r, "no model file")
        assertBadInput(try TestSupport.borderline(["plugin", "new", "Bad Name", "--path", dir]), "plugin name 'Bad Name' must be lower-case")
    }
}
