import BorderlineCore
import Foundation
import BorderlineTestSupport
import XCTest

/// One convention across the subcommands (docs/cli.md): the model as the first argument or
/// `--model` everywhere, shipped names everywhere, `-o`/`--out`/`--output`, one error prefix;
/// `--plugin` adds to the default plugins; a pair that a plugin declines is skipped, not fatal.
final class ConventionsCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// The first `perClass` test images of every class, as an HDF5 data set (fast to load).
    func smallData(perClass: Int = 20, relabel: ((_ images: Dataset) throws -> Dataset)? = nil) throws -> String {
        guard let full = try? Dataset.named("fashion-mnist", split: .test) else { throw XCTSkip("dataset-fashion-mnist is not installed") }
        var rows: [Int] = []
        for c in 0..<10 { rows += full.labels.indices.filter { full.labels[$0] == c }.prefix(perClass) }
        var data = full.subset(rows, name: "small")
        if let relabel { data = try relabel(data) }
        let file = path("small-\(UUID().uuidString.prefix(6)).h5")
        try data.writeHDF5(to: file)
        return file
    }

    func summary(_ folder: String) throws -> JSONValue {
        try JSONValue.parse(String(contentsOfFile: folder + "/summary.json", encoding: .utf8))
    }

    // MARK: The model argument

    func testModelAsFirstArgumentOrModelOptionInEveryCommand() throws {
        let data = try smallData()
        // inspect, evaluate, predict, attack: the same output either way, with a shipped name.
        for command in [["inspect"], ["evaluate", "--data", data], ["predict", "--data", data, "--limit", "5"],
                        ["attack", "--attack", "fgsm", "--count", "8", "--data", data, "--quiet"]] {
            let positional = try CLI.run([command[0], "fashion-fcn"] + command.dropFirst())
            let option = try CLI.run([command[0], "--model", "fashion-fcn"] + command.dropFirst())
            XCTAssertEqual(positional.status, 0, "\(command): \(positional.stderr)")
            XCTAssertEqual(option.status, 0, "\(command): \(option.stderr)")
            XCTAssertFalse(positional.stdout.isEmpty, "\(command)")
            XCTAssertEqual(positional.stdout, option.stdout, "\(command): the model given either way is the same model")
        }
        let card = try CLI.run(["inspect", "--model", "fashion-fcn"])
        XCTAssertTrue(card.stdout.contains("parameters  42310 trainable"), "the shipped FCN, not the default CNN: \(card.stdout)")

        // convert: a shipped name, as the first argument or --model.
        for (arguments, out) in [(["convert", "fashion-cnn", "--to", "keras"], "cnn.keras.h5"),
                                 (["convert", "--model", "fashion-cnn", "--to", "native"], "cnn.native.h5")] {
            let r = try CLI.run(arguments + ["-o", path(out)])
            XCTAssertEqual(r.status, 0, "\(arguments): \(r.stderr)")
            let back = try CLI.run(["inspect", path(out)])
            XCTAssertTrue(back.stdout.contains("parameters  14070 trainable"), back.stdout)
        }

        // run: the same run folder either way.
        let settings = ["--no-defaults", "--plugin", "bisection", "--data", data, "--pairs", "0:6", "--samples", "3", "--quiet"]
        let a = try CLI.run(["run", "fashion-cnn"] + settings + ["-o", path("run-a")])
        let b = try CLI.run(["run", "--model", "fashion-cnn"] + settings + ["--out", path("run-b")])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(b.status, 0, b.stderr)
        let same = try CLI.run(["compare", path("run-a"), path("run-b")])
        XCTAssertEqual(same.status, 0, same.stdout + same.stderr)
        XCTAssertEqual(try summary(path("run-a"))["model"]?["path"], try summary(path("run-b"))["model"]?["path"])
    }

    func testTheModelTwiceOrNotAtAllIsBadInput() throws {
        let twice = try CLI.run(["inspect", "fashion-cnn", "--model", "fashion-fcn"])
        XCTAssertEqual(twice.status, 2, twice.stderr)
        XCTAssertTrue(twice.stderr.hasPrefix("error: the model is given twice"), twice.stderr)
        let same = try CLI.run(["inspect", "fashion-cnn", "--model", "fashion-cnn"])
        XCTAssertEqual(same.status, 0, "the same model twice is fine: \(same.stderr)")
        let none = try CLI.run(["convert", "--to", "keras", "-o", path("x.h5")])
        XCTAssertEqual(none.status, 2, none.stderr)
        XCTAssertTrue(none.stderr.hasPrefix("error: missing the model"), none.stderr)
        let unknown = try CLI.run(["convert", "--model", "fashion-resnet", "-o", path("x.h5")])
        XCTAssertEqual(unknown.status, 2, unknown.stderr)
        XCTAssertTrue(unknown.stderr.hasPrefix("error: ") && unknown.stderr.contains("fashion-resnet"), unknown.stderr)
    }

    // MARK: -o / --out / --output

    func testOutputSpellings() throws {
        let data = try smallData(perClass: 3)
        for spelling in ["-o", "--out", "--output"] {
            let file = path("p\(spelling).csv")
            let r = try CLI.run(["predict", "--data", data, spelling, file])
            XCTAssertEqual(r.status, 0, "\(spelling): \(r.stderr)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: file), spelling)
            let model = path("m\(spelling).h5")
            let c = try CLI.run(["convert", "fashion-fcn", spelling, model])
            XCTAssertEqual(c.status, 0, "\(spelling): \(c.stderr)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: model), spelling)
        }
        let adversarials = path("adv.h5")
        let r = try CLI.run(["attack", "--attack", "fgsm", "--count", "4", "--data", data, "--out", adversarials, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: adversarials))
    }

    // MARK: error:

    func testEveryErrorHasTheSamePrefix() throws {
        let cases: [[String]] = [
            ["inspect", "--frobnicate"],                    // the argument parser's unknown option
            ["attack"],                                     // the argument parser's missing option
            ["run", "--samples", "many"],                   // the argument parser's bad value
            ["inspect", "/nonexistent/model.h5"],           // a BorderlineError
            ["evaluate", "--data", "imagenet-22k"],
            ["run", "--no-defaults", "--quiet"],            // no plugins left
        ]
        for arguments in cases {
            let r = try CLI.run(arguments)
            XCTAssertEqual(r.status, 2, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("error: "), "\(arguments): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Error:"), "\(arguments): \(r.stderr)")
        }
        // A tuning variable with a value it cannot mean: named, with what was expected, exit 2.
        for (name, value, expected) in [("BORDERLINE_DENSE_THREADING", "sideways", "split or blas"),
                                        ("BORDERLINE_SPIN_US", "-5", "0 or more"), ("BORDERLINE_THREADS", "two", "positive integer"),
                                        ("BORDERLINE_SIMD", "avx1024", "avx512-emulated")] {
            let r = try CLI.run(["inspect", "fashion-fcn"], environment: [name: value])
            XCTAssertEqual(r.status, 2, "\(name)=\(value): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("error: \(name) is \"\(value)\""), r.stderr)
            XCTAssertTrue(r.stderr.contains(expected), r.stderr)
        }
        XCTAssertEqual(try CLI.run(["inspect", "fashion-fcn"], environment: ["BORDERLINE_THREADS": "", "BORDERLINE_DENSE_THREADING": "blas"]).status, 0,
                       "empty is unset; valid values run")
        let help = try CLI.run(["inspect", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--model"), "help still prints, without a prefix: \(help.stdout)")
        XCTAssertFalse(help.stdout.hasPrefix("error"))
    }

    // MARK: --plugin adds to the defaults

    /// The hostile fixture with `fault=none` is a small, well-behaved plugin that is not a default.
    func extraPluginFolder() throws -> String {
        let built = try CLI.executable().deletingLastPathComponent().appendingPathComponent("libHostileFixture.so").path
        guard FileManager.default.fileExists(atPath: built) else { throw XCTSkip("libHostileFixture.so was not built next to the CLI") }
        let folder = path("plugins")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: built, toPath: folder + "/libHostilePlugin.so")
        return folder
    }

    func testPluginAddsToTheDefaultsUnlessNoDefaults() throws {
        let data = try smallData()
        let folder = try extraPluginFolder()
        let common = ["--data", data, "--pairs", "7:9", "--samples", "3", "--plugin-path", folder, "--set", "hostile.fault=none", "--quiet"]
        func plugins(_ out: String) throws -> [String] {
            (try summary(out)["plugins"]?.objectValue?.keys.sorted()) ?? []
        }
        let added = try CLI.run(["run", "--plugin", "hostile", "-o", path("added")] + common)
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertEqual(try plugins(path("added")), ["bisection", "flip-point", "hostile", "slices"])
        let config = try JSONValue.parse(String(contentsOfFile: path("added") + "/config.json", encoding: .utf8))
        XCTAssertEqual(config["default_plugins"], false, "config.json lists every plugin, so --config repeats the run")
        XCTAssertEqual(config["options"]?["slices"]?["slice"]?["max-pairs"], 1, "defaults still get their atlas settings")

        let only = try CLI.run(["run", "--no-defaults", "--plugin", "hostile", "-o", path("only")] + common)
        XCTAssertEqual(only.status, 0, only.stderr)
        XCTAssertEqual(try plugins(path("only")), ["hostile"])

        let yaml = path("run.yaml")
        try "plugins: [hostile]\ndefault_plugins: false\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        let fromFile = try CLI.run(["run", "--config", yaml, "-o", path("file")] + common)
        XCTAssertEqual(fromFile.status, 0, fromFile.stderr)
        XCTAssertEqual(try plugins(path("file")), ["hostile"])

        let again = try CLI.run(["run", "--config", path("added") + "/config.json", "-o", path("again"), "--plugin-path", folder, "--quiet"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try plugins(path("again")), ["bisection", "flip-point", "hostile", "slices"])
    }

    // MARK: A class never classified correctly

    /// Class 9's images are trousers (labelled 9): the CNN never calls them ankle boots, so every
    /// pair with class 9 is declined by the default plugins — recorded as skipped, with why — and
    /// the other 36 pairs run; exit 0.
    func testAClassNeverClassifiedCorrectlySkipsItsPairsAndTheRunSucceeds() throws {
        let data = try smallData { d in
            var labels = d.labels, rows = Array(d.labels.indices)
            let trousers = d.labels.indices.filter { d.labels[$0] == 1 }
            let boots = d.labels.indices.filter { d.labels[$0] == 9 }
            for (b, t) in zip(boots, trousers) { rows[b] = t; labels[b] = 9 }
            return try Dataset(name: "no-boots", images: d.images.gather(batch: rows), labels: labels, classNames: d.classNames)
        }
        let out = path("run")
        let r = try CLI.run(["run", "--data", data, "--samples", "4", "--set", "flip-point.per-pair=2", "-o", out, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("warning: plugin bisection skipped 9 pair(s)"), r.stderr)
        let s = try summary(out)
        XCTAssertEqual(s["all_plugins_ok"], .bool(true))
        let bisection = try XCTUnwrap(s["plugins"]?["bisection"])
        XCTAssertEqual(bisection["status"], "ok")
        let skipped = try XCTUnwrap(bisection["skipped_pairs"]?.arrayValue)
        XCTAssertEqual(skipped.compactMap { $0["pair"]?.stringValue }, (0..<9).map { "\($0):9" })
        XCTAssertTrue(skipped.allSatisfy { $0["reason"]?.stringValue?.contains("no image of class 9 (Ankle boot)") ?? false }, "\(skipped)")
        XCTAssertEqual(bisection["boundary_sets"]?["random-pair-bisection"]?.objectValue?.count, 36, "the other 36 pairs ran")
        XCTAssertEqual(s["plugins"]?["flip-point"]?["status"], "ok")
        XCTAssertEqual(s["plugins"]?["flip-point"]?["skipped_pairs"]?.arrayValue?.isEmpty, false)
        XCTAssertEqual(s["skipped_pairs"]?.arrayValue?.filter { $0["plugin"] == "bisection" }.count, 9)
        XCTAssertTrue(try String(contentsOfFile: out + "/report.html", encoding: .utf8).contains("pair(s) skipped"))
    }
}
