import BorderlineCore
import Foundation
import XCTest

/// Models as users bring them: ONNX exports of real PyTorch models (both torch.onnx exporters)
/// and a Keras 3 `.keras` Functional model with a Rescaling layer and nested models, made by
/// tools/make_intake_goldens.py. Borderline must reproduce the exporting framework's logits on 100
/// inputs within 1e-5 and its input gradients (PyTorch autograd, JAX grad) within 1e-4 relative
/// to the largest gradient.
final class IntakeGoldenTests: XCTestCase {
    struct Expected {
        var x: Tensor
        var logits: Tensor
        var cotangent: Tensor
        var inputGradient: Tensor
    }

    static func fixture(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = IOTestSupport.goldenDirectory.appendingPathComponent("intake").appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("fixture Golden/intake/\(name) is missing; run python3 tools/make_intake_goldens.py", file: file, line: line)
            throw BorderlineError(.fileNotFound, "fixture Golden/intake/\(name) is missing", file: path)
        }
        return path
    }

    func expected(_ name: String) throws -> Expected {
        let root = try HDF5File.open(try Self.fixture("\(name).expected.h5")).root()
        return Expected(x: try root.readTensor("x"), logits: try root.readTensor("logits"),
                        cotangent: try root.readTensor("cotangent"), inputGradient: try root.readTensor("input_gradient"))
    }

    func maxError(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// Loads `file`, compares logits and input gradients with the golden, and returns the errors.
    @discardableResult
    func check(_ file: String, against name: String, line: UInt = #line) throws -> (logits: Float, gradient: Float, model: Model) {
        let e = try expected(name)
        let model = try Model.load(contentsOf: try Self.fixture(file))
        try model.checkInput(e.x)
        XCTAssertEqual(e.x.batchSize, 100, line: line)
        let logits = model(e.x)
        XCTAssertEqual(logits.shape, e.logits.shape, "\(file): logits shape", line: line)
        let logitError = maxError(logits, e.logits)
        XCTAssertLessThanOrEqual(logitError, 1e-5, "\(file): logits differ by \(logitError)", line: line)
        let (_, gradient) = model.vjp(e.x) { _ in e.cotangent }
        let scale = max(e.inputGradient.scalars.map(abs).max() ?? 0, 1e-12)
        let relative = maxError(gradient, e.inputGradient) / scale
        XCTAssertLessThanOrEqual(relative, 1e-4, "\(file): input gradient differs by \(relative) relative to max |g|", line: line)
        return (logitError, relative, model)
    }

    func testResNetFromTheTorchScriptExporter() throws {
        let (_, _, model) = try check("resnet.onnx", against: "resnet")
        XCTAssertEqual(model.metadata["source"], "onnx")
        XCTAssertEqual(model.inputShape, [3, 12, 12])
        // Layers are named after the PyTorch modules where the export kept their weight names.
        XCTAssertTrue(model.nodes.contains { $0.name == "fc" }, model.nodes.map(\.name).joined(separator: ", "))
        XCTAssertNotNil(model.embeddingNode, "the node feeding the final Dense is the embedding")
    }

    func testResNetFromTheDynamoExporterWithExternalData() throws {
        try check("resnet.dynamo.onnx", against: "resnet")
    }
}
