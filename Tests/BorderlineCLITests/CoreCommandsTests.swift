import Foundation
import BorderlineTestSupport
import XCTest

/// End-to-end tests of `inspect`, `evaluate`, `train` and `convert`: they run the built CLI.
final class CoreCommandsTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testInspectShowsTheShippedCNN() throws {
        let r = try CLI.run(["inspect"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("parameters  14070 trainable"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Ankle boot"))
        XCTAssertTrue(r.stdout.contains("relu3 (embedding)"))
        XCTAssertTrue(r.stdout.contains("fc2 (output)"))
    }

    /// The shipped models are what Models/README.md says: the paper's architectures, trained to
    /// within 1.5 points of the paper's accuracy (89.11 % CNN, 88.24 % FCN).
    func testShippedModelsReachThePapersAccuracy() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        for (model, params, paper) in [("fashion-cnn", 14070, 89.11), ("fashion-fcn", 42310, 88.24)] {
            let r = try CLI.run(["evaluate", model, "--data", "fashion-mnist"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let accuracy = try XCTUnwrap(r.stdout.split(separator: " ").dropFirst().first.flatMap { Double($0) }, r.stdout)
            XCTAssertEqual(accuracy, paper, accuracy: 1.5, "\(model): \(r.stdout.prefix(200))")
            let card = try CLI.run(["inspect", model])
            XCTAssertTrue(card.stdout.contains("parameters  \(params) trainable"), card.stdout)
        }
    }

    func testConvertRoundTripThroughKerasKeepsTheLogits() throws {
        let keras = dir.appendingPathComponent("cnn.keras.h5").path
        let back = dir.appendingPathComponent("cnn.back.h5").path
        var r = try CLI.run(["convert", CLI.golden("cnn.torch.h5"), "--architecture", CLI.golden("cnn.arch.json"), "--to", "keras", "-o", keras])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try CLI.run(["convert", keras, "--to", "native", "-o", back])
        XCTAssertEqual(r.status, 0, r.stderr)
        let original = try CLI.run(["inspect", CLI.golden("cnn.native.h5")])
        let roundTripped = try CLI.run(["inspect", back])
        XCTAssertTrue(roundTripped.stdout.contains("parameters  14070 trainable"), roundTripped.stdout)
        XCTAssertEqual(original.stdout.components(separatedBy: "\n").filter { $0.contains("Conv2D") }.count,
                       roundTripped.stdout.components(separatedBy: "\n").filter { $0.contains("Conv2D") }.count)
    }

    func testTrainWritesAModelWithItsRecipe() throws {
        // A tiny data set in the documented HDF5 layout keeps this fast in a debug build.
        let out = dir.appendingPathComponent("tiny.h5").path
        let r = try CLI.run(["train", "--architecture", "fcn", "--data", "fashion-mnist", "--epochs", "1", "--seed", "3",
                             "--limit", "512", "-o", out, "--quiet"])
        if r.status != 0, r.stderr.contains("dataset-fashion-mnist") { throw XCTSkip("dataset-fashion-mnist is not installed") }
        XCTAssertEqual(r.status, 0, r.stderr)
        let card = try CLI.run(["inspect", out])
        XCTAssertTrue(card.stdout.contains("--seed 3"), card.stdout)
        XCTAssertTrue(card.stdout.contains("test_accuracy"), card.stdout)
    }

    // MARK: Bad input: a message naming the thing, exit status 2

    func testMissingModelFileExitsTwo() throws {
        let r = try CLI.run(["inspect", "/nonexistent/model.h5"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("/nonexistent/model.h5"), r.stderr)
    }

    func testTextFileAsModelExitsTwo() throws {
        let bad = dir.appendingPathComponent("notes.h5")
        try "not an HDF5 file".write(to: bad, atomically: true, encoding: .utf8)
        let r = try CLI.run(["inspect", bad.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains(bad.path), r.stderr)
    }

    func testDataThatDoesNotFitTheModelExitsTwo() throws {
        // The residual golden model takes 3×16×16 images; Fashion-MNIST is 1×28×28.
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let r = try CLI.run(["evaluate", CLI.golden("resnet.native.h5"), "--data", "fashion-mnist"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("[1, 28, 28]") && r.stderr.contains("[3, 16, 16]"), r.stderr)
    }

    func testBadOptionValuesExitTwo() throws {
        var r = try CLI.run(["train", "--epochs", "0", "-o", dir.appendingPathComponent("x.h5").path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("epochs"), r.stderr)
        r = try CLI.run(["convert", CLI.golden("cnn.native.h5"), "--to", "onnx", "-o", "x"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("onnx"), r.stderr)
        r = try CLI.run(["train", "--architecture", "vgg", "-o", "x.h5"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("vgg"), r.stderr)
    }

    func testUnknownDataSetExitsTwo() throws {
        let r = try CLI.run(["evaluate", "--data", "imagenet-22k"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("imagenet-22k"), r.stderr)
    }
}
