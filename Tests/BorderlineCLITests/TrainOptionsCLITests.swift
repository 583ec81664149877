import Foundation
import BorderlineTestSupport
import XCTest

/// `borderline train --adversarial/--epsilon/--mixup/--architecture FILE`: they run the built CLI
/// on 128 training images so a debug build stays fast.
final class TrainOptionsCLITests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try CLI.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func skipWithoutFashionMNIST(_ r: TestProcess.Result) throws {
        if r.status != 0, r.stderr.contains("dataset-fashion-mnist") { throw XCTSkip("dataset-fashion-mnist is not installed") }
    }

    func testAnArchitectureFileTrainsAdversariallyAndRecordsTheRecipe() throws {
        let architecture = dir.appendingPathComponent("tiny.json")
        try #"{"input_shape": [1, 28, 28], "layers": [{"name": "flatten", "type": "Flatten"}, {"name": "fc1", "type": "Dense", "config": {"in_features": 784, "out_features": 16}}, {"name": "relu1", "type": "ReLU"}, {"name": "fc2", "type": "Dense", "config": {"in_features": 16, "out_features": 10}}], "output": "fc2", "embedding": "relu1"}"#
            .write(to: architecture, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("tiny.h5").path
        let r = try CLI.run(["train", "--architecture", architecture.path, "--adversarial", "pgd-linf", "--epsilon", "0.1", "--pgd-steps", "3",
                             "--epochs", "1", "--limit", "128", "--seed", "2", "-o", out, "--quiet"])
        try skipWithoutFashionMNIST(r)
        XCTAssertEqual(r.status, 0, r.stderr)
        let card = try CLI.run(["inspect", out])
        XCTAssertEqual(card.status, 0, card.stderr)
        for expected in ["pgd-linf", "architecture_file", "parameters  12730 trainable"] {
            XCTAssertTrue(card.stdout.contains(expected), "\(expected) in:\n\(card.stdout)")
        }
        let mixed = try CLI.run(["train", "--architecture", "fcn", "--mixup", "0.2", "--epochs", "1", "--limit", "128",
                                 "-o", dir.appendingPathComponent("mixup.h5").path, "--quiet"])
        XCTAssertEqual(mixed.status, 0, mixed.stderr)
        XCTAssertTrue(try CLI.run(["inspect", dir.appendingPathComponent("mixup.h5").path]).stdout.contains("mixup_alpha"))
    }

    func testBadTrainingOptionsExitTwoNamingTheOption() throws {
        let out = dir.appendingPathComponent("x.h5").path
        let cases: [([String], String)] = [
            (["--adversarial", "pgd"], "pgd-linf or fgsm"),
            (["--adversarial", "fgsm"], "--epsilon"),
            (["--epsilon", "0.1"], "--adversarial"),
            (["--adversarial", "pgd-linf", "--epsilon", "-1"], "epsilon"),
            (["--adversarial", "fgsm", "--epsilon", "0.1", "--mixup", "0.2"], "not both"),
            (["--mixup", "0"], "mixup"),
            (["--architecture", dir.appendingPathComponent("missing.json").path], "missing.json"),
        ]
        for (arguments, expected) in cases {
            let r = try CLI.run(["train"] + arguments + ["--epochs", "1", "--limit", "64", "-o", out, "--quiet"])
            try skipWithoutFashionMNIST(r)
            XCTAssertEqual(r.status, 2, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): expected '\(expected)' in \(r.stderr)")
        }
    }
}
