import BorderlineCore
import Foundation
import BorderlineTestSupport
import XCTest

/// `borderline predict` and `--version`, and every bad-intake case through the CLI (exit 2 with a
/// message naming the file and what was expected), as a user runs them.
final class IntakeCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static func intake(_ name: String) -> String { CLI.golden("intake/\(name)") }

    func testVersion() throws {
        let r = try CLI.run(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("borderline 0."), r.stdout)
    }

    /// The golden's x (100 images, no labels) through an ONNX model: the JSON logits are PyTorch's.
    func testPredictJSONMatchesTheExportingFramework() throws {
        for (model, golden) in [("resnet.onnx", "resnet"), ("functional.keras", "functional")] {
            let data = Self.intake("\(golden).expected.h5")
            let r = try CLI.run(["predict", Self.intake(model), "--data", data, "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try JSONValue.parse(r.stdout)
            XCTAssertEqual(json["count"]?.intValue, 100)
            XCTAssertNil(json["accuracy"], "the golden has no labels")
            let expected = try HDF5File.open(data).root().readTensor("logits")
            let rows = try XCTUnwrap(json["predictions"]?.arrayValue)
            var worst = 0.0
            for (i, row) in rows.enumerated() {
                let logits = try XCTUnwrap(row["logits"]?.arrayValue?.compactMap(\.doubleValue))
                for (j, v) in logits.enumerated() { worst = max(worst, abs(v - Double(expected.scalars[i * 10 + j]))) }
                let probabilities = try XCTUnwrap(row["probabilities"]?.arrayValue?.compactMap(\.doubleValue))
                XCTAssertEqual(probabilities.reduce(0, +), 1, accuracy: 1e-5)
                XCTAssertEqual(row["class"]?.intValue, logits.indices.max { logits[$0] < logits[$1] })
            }
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(model): predict's logits differ from the framework's by \(worst)")
        }
    }

    func testPredictPrintsATableForFewImages() throws {
        let r = try CLI.run(["predict", Self.intake("mobilenet.onnx"), "--data", Self.intake("mobilenet.expected.h5"), "--limit", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertTrue(lines.first?.contains("predicted") == true && lines.first?.contains("probability") == true, r.stdout)
        XCTAssertEqual(lines.count, 2 + 3, r.stdout)
    }

    func testPredictSummarisesManyImagesAndWritesEveryFormat() throws {
        let data = Self.intake("resnet.expected.h5")
        for ext in ["csv", "json", "h5"] {
            let out = dir.appendingPathComponent("p.\(ext)").path
            let r = try CLI.run(["predict", Self.intake("resnet.onnx"), "--data", data, "-o", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("100 images") && r.stdout.contains("wrote 100 predictions to \(out)"), r.stdout)
            XCTAssertTrue(FileManager.default.fileExists(atPath: out))
        }
        let csv = try String(contentsOfFile: dir.appendingPathComponent("p.csv").path, encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 101)
        XCTAssertTrue(csv.hasPrefix("index,class,class_name,probability,logit_0"), String(csv.prefix(80)))
        let h5 = try HDF5File.open(dir.appendingPathComponent("p.h5").path).root()
        XCTAssertEqual(try h5.readTensor("logits").shape, [100, 10])
        XCTAssertEqual(try h5.readTensor("probabilities").shape, [100, 10])
        XCTAssertEqual(try h5.readInt64s("classes").values.count, 100)
    }

    func testPredictWithLabelsReportsAccuracy() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let r = try CLI.run(["predict", "fashion-cnn", "--data", "fashion-mnist", "--limit", "10"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Ankle boot ✓"), r.stdout)
        XCTAssertTrue(r.stdout.contains("accuracy"), r.stdout)
    }

    // MARK: Bad intake: exit 2, the file and what was expected

    func expectExitTwo(_ arguments: [String], mentions fragments: [String], line: UInt = #line) throws {
        let r = try CLI.run(arguments)
        XCTAssertEqual(r.status, 2, "\(arguments): \(r.stderr)", line: line)
        for f in fragments { XCTAssertTrue(r.stderr.contains(f), "'\(r.stderr)' does not mention '\(f)'", line: line) }
    }

    func testEveryBadIntakeCaseExitsTwo() throws {
        let cut = dir.appendingPathComponent("cut.onnx").path
        let whole = try Data(contentsOf: URL(fileURLWithPath: Self.intake("resnet.onnx")))
        try whole.prefix(whole.count / 3).write(to: URL(fileURLWithPath: cut))
        let cutKeras = dir.appendingPathComponent("cut.keras").path
        let keras = try Data(contentsOf: URL(fileURLWithPath: Self.intake("functional.keras")))
        try keras.prefix(keras.count / 2).write(to: URL(fileURLWithPath: cutKeras))
        let cases: [(String, [String])] = [
            (Self.intake("bad/unsupported_op.onnx"), ["'/features/lrn/LRN' (LRN)", "does not import"]),
            (Self.intake("bad/shape_mismatch.onnx"), ["'/fc/Gemm'", "[10, 50]", "[out, 48]"]),
            (cut, ["not a readable ONNX model"]),
            (cutKeras, ["Keras 3 .keras", "truncated"]),
            (Self.intake("bad/no_weights.keras"), ["no model.weights.h5"]),
            (Self.intake("bad/wrong_shape.keras"), ["'dense' (Dense)", "[50, 4]", "[48, 4]"]),
            (Self.intake("bad/checkpoint.pt"), ["torch.save", "tools/torch_to_borderline.py", "torch.onnx.export"]),
            (Self.intake("bad/legacy.pth"), ["pickle", "tools/torch_to_borderline.py"]),
            (Self.intake("bad/scripted.pt"), ["TorchScript", "torch.onnx.export"]),
        ]
        for (file, fragments) in cases {
            try expectExitTwo(["inspect", file], mentions: ["error: ", file] + fragments)
            try expectExitTwo(["predict", file, "--data", Self.intake("resnet.expected.h5")], mentions: [file])
        }
    }

    func testPredictRefusesBadOptions() throws {
        let model = Self.intake("resnet.onnx"), data = Self.intake("resnet.expected.h5")
        try expectExitTwo(["predict", model, "--data", data, "-o", dir.appendingPathComponent("p.txt").path], mentions: [".txt", ".csv, .json or .h5"])
        try expectExitTwo(["predict", model, "--data", data, "--limit", "0"], mentions: ["--limit"])
        try expectExitTwo(["predict", model], mentions: ["--data"])
        // The Keras golden's images are 3×12×12 too, but a Fashion-MNIST-shaped set is not.
        try expectExitTwo(["predict", "fashion-cnn", "--data", data], mentions: [data, "[3, 12, 12]", "[1, 28, 28]"])
        try expectExitTwo(["predict", model, "--data", data, "-o", "/nonexistent/folder/p.csv"], mentions: ["/nonexistent/folder/p.csv"])
    }
}
