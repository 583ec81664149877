import Foundation
import XCTest
@testable import BorderlineCore

/// The valid-input box and the input normalisation a model file declares.
final class InputBoxTests: XCTestCase {
    func testClampAndContainsPerChannel() throws {
        let box = try InputBox(lower: [0, -1], upper: [1, 2])
        var x = Tensor(shape: [2, 2, 1, 2], scalars: [-0.5, 0.5, -3, 3, 2, 0.25, 1.5, -1])
        XCTAssertFalse(box.contains(x))
        box.clamp(&x)
        XCTAssertEqual(x.scalars, [0, 0.5, -1, 2, 1, 0.25, 1.5, -1])
        XCTAssertTrue(box.contains(x))
        XCTAssertEqual(box.bounds(channel: 1).upper, 2)
        XCTAssertEqual(box.hull.lower, -1)
        XCTAssertEqual(InputBox.unit.clamped(Tensor(shape: [1, 3], scalars: [-1, 0.5, 7])).scalars, [0, 0.5, 1])
        var g = RandomGenerator(seed: 3)
        let samples = box.uniformSamples(50, inputShape: [2, 2, 2], generator: &g)
        XCTAssertTrue(box.contains(samples))
        XCTAssertLessThan(samples.scalars.min()!, -0.5, "channel 1 reaches below 0")
        XCTAssertThrowsError(try InputBox(lower: [1], upper: [0]))
        XCTAssertThrowsError(try InputBox(lower: [0, 0], upper: [1, 1, 1]))
        XCTAssertThrowsError(try InputBox(lower: [0], upper: [.infinity]))
    }

    func testArchitectureDeclaresTheBox() throws {
        let arch: JSONValue = [
            "input_shape": [3, 2, 2],
            "input_box": ["lower": 0, "upper": [255, 255, 1]],
            "layers": [["name": "flatten", "type": "Flatten"], ["name": "fc", "type": "Dense", "config": ["in_features": 12, "out_features": 2]]],
        ]
        let model = try Model(architecture: arch)
        XCTAssertEqual(model.inputBox, try InputBox(lower: [0], upper: [255, 255, 1]))
        XCTAssertEqual(try Model(architecture: model.architecture).inputBox, model.inputBox, "round trip through the JSON")
        let classifier = ModelClassifier(model)
        XCTAssertEqual(classifier.inputBox, model.inputBox)
        XCTAssertEqual(ModelClassifier(try Model(architecture: ["input_shape": [2], "layers": [["name": "a", "type": "ReLU"]]])).inputBox, .unit,
                       "no declaration: the unit box")
        XCTAssertNil(try Model(architecture: ["input_shape": [2], "layers": [["name": "a", "type": "ReLU"]]]).architecture["input_box"],
                     "the default box is not written")

        // Saved natively and loaded back.
        let dir = try IOTestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent("m.h5").path
        try model.save(to: p)
        XCTAssertEqual(try Model.load(contentsOf: p).inputBox, model.inputBox)

        var bad = arch.objectValue!
        bad["input_box"] = ["lower": [0, 0], "upper": 1]
        IOTestSupport.expectError(.shapeMismatch, containing: ["input_box", "2 bounds", "[3, 2, 2]"]) { _ = try Model(architecture: .object(bad)) }
        bad["input_box"] = ["lower": 0, "uper": 1]
        IOTestSupport.expectError(.invalidConfiguration, containing: ["'uper'", "did you mean 'upper'?"]) { _ = try Model(architecture: .object(bad)) }
        bad["input_box"] = ["lower": 2, "upper": 1]
        IOTestSupport.expectError(.invalidConfiguration, containing: ["input_box", "exceeds"]) { _ = try Model(architecture: .object(bad)) }
        bad["input_box"] = ["lower": "0", "upper": 1]
        IOTestSupport.expectError(.invalidConfiguration, containing: ["input_box.lower"]) { _ = try Model(architecture: .object(bad)) }
    }

    /// A classifier that declares no box gets the unit box from the protocol extension.
    func testClassifierDefaultIsTheUnitBox() {
        final class Constant: Classifier {
            var inputShape: [Int] { [2] }
            var classNames: [String] { ["a", "b"] }
            func probabilities(_ x: Tensor) throws -> Tensor { Tensor(repeating: 0.5, shape: [x.batchSize, 2]) }
        }
        XCTAssertEqual(Constant().inputBox, .unit)
        XCTAssertEqual(QueryCountingClassifier(Constant(), counter: QueryCounter()).inputBox, .unit)
    }

    /// `input_normalization` puts a Normalization layer in front; the layers that read "input"
    /// read its output, and gradients are taken with respect to the raw input.
    func testInputNormalizationIsTheFirstLayer() throws {
        let arch: JSONValue = [
            "input_shape": [2, 1, 2],
            "input_normalization": ["mean": [0.5, 0.25], "std": [0.5, 2]],
            "layers": [
                ["name": "flatten", "type": "Flatten"],
                ["name": "skip", "type": "Flatten", "inputs": ["input"]],
                ["name": "sum", "type": "Add", "inputs": ["flatten", "skip"]],
            ],
        ]
        let model = try Model(architecture: arch)
        XCTAssertEqual(model.nodes.map(\.name), ["input_normalization", "flatten", "skip", "sum"])
        XCTAssertEqual(model.nodes[1].inputs, [0])
        XCTAssertEqual(model.nodes[2].inputs, [0], "\"input\" means the normalised input")
        let x = Tensor(shape: [1, 2, 1, 2], scalars: [1, 0, 2.25, 0.25])
        XCTAssertEqual(model(x).scalars, [2, -2, 2, 0])   // 2·(x − m)/s
        let (_, g) = model.vjp(x) { Tensor(repeating: 1, shape: $0.shape) }
        XCTAssertEqual(g.scalars, [4, 4, 1, 1], "∂/∂x of 2(x − m)/s is 2/s")
        let again = try Model(architecture: model.architecture)
        XCTAssertEqual(again(x), model(x), "written back as an ordinary first layer")
        var bad = arch.objectValue!
        bad["input_normalization"] = ["mean": [0.5, 0.25], "sdt": [0.5, 2]]
        IOTestSupport.expectError(.invalidConfiguration, containing: ["'input_normalization'", "'sdt'", "did you mean 'std'?"]) {
            _ = try Model(architecture: .object(bad))
        }
    }
}
