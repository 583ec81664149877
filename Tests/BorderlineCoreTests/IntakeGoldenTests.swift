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

    func testMobileNetBlocksFromTheTorchScriptExporter() throws {
        let (_, _, model) = try check("mobilenet.onnx", against: "mobilenet")
        let convs = model.nodes.compactMap { $0.layer as? Conv2D }
        XCTAssertTrue(convs.contains { $0.groups == $0.inChannels && $0.groups > 1 }, "a depthwise convolution")
        XCTAssertTrue(convs.contains { $0.dilation == (2, 2) }, "a dilated convolution")
        XCTAssertTrue(model.nodes.contains { $0.layer.typeName == "BatchNorm" }, "BatchNormalization nodes stay BatchNorm layers")
        XCTAssertTrue(model.nodes.contains { $0.layer.typeName == "ReLU6" }, "Clip(0, 6) is ReLU6")
        XCTAssertFalse(model.nodes.contains { $0.layer.typeName == "Reshape" }, "the Shape/Gather/Concat flatten leaves no Reshape node")
    }

    func testRemainingOperatorsMatchPyTorch() throws {
        let (_, _, model) = try check("ops.onnx", against: "ops")
        let types = model.nodes.map(\.layer.typeName)
        for type in ["Normalization", "Concatenate", "Multiply", "LayerNorm", "GELU", "Tanh", "Sigmoid", "AvgPool2D"] {
            XCTAssertTrue(types.contains(type), "\(type) missing from \(types)")
        }
        // (x − mean) / std is one Normalization layer, and the final Softmax is removed (logits out).
        XCTAssertEqual(types.filter { $0 == "Normalization" }.count, 1, "\(types)")
        XCTAssertEqual(model.metadata["removed_output_activation"], "softmax")
        XCTAssertFalse(types.contains("Softmax"))
    }

    /// The same graph with every tensor in float_data/int64_data instead of raw_data.
    func testInitializersInTypedFields() throws {
        try check("ops.typed.onnx", against: "ops")
    }

    /// A channels-last tf.keras model through tf2onnx (tools/make_tf2onnx_golden.py): the leading
    /// Transpose becomes a Permute, BatchNorm is folded into the convolution, "same" pooling pads
    /// at the end and excludes the padding, and the GlobalAveragePool → Squeeze → MatMul head
    /// becomes Dense layers.
    func testTensorFlowModelThroughTf2onnx() throws {
        let (_, _, model) = try check("tf.onnx", against: "tf")
        XCTAssertEqual(model.inputShape, [12, 12, 3], "tf2onnx keeps TensorFlow's channels-last input")
        XCTAssertEqual(model.metadata["onnx_producer"]?.stringValue?.hasPrefix("tf2onnx"), true)
        XCTAssertTrue(model.nodes.contains { $0.layer.typeName == "Permute" }, "the NHWC → NCHW Transpose")
        let convs = model.nodes.compactMap { $0.layer as? Conv2D }
        XCTAssertTrue(convs.contains { $0.groups == $0.inChannels && $0.groups > 1 }, "DepthwiseConv2D is a grouped Conv")
        XCTAssertEqual(model.nodes.filter { $0.layer is Dense }.count, 2, "both MatMul + Add heads are Dense")
    }

    func testKeras3ArchiveWithRescalingAndNestedModels() throws {
        let (_, _, model) = try check("functional.keras", against: "functional")
        let names = model.nodes.map(\.name)
        XCTAssertTrue(names.contains("base.conv_a"), "layers of the nested base are named base.<layer>: \(names)")
        XCTAssertTrue(names.contains("head_block.pw"), "\(names)")
        XCTAssertEqual(model.nodes.first?.layer.typeName, "Rescaling")
        XCTAssertEqual(model.inputBox, try InputBox(lower: 0, upper: 255), "Rescaling(1/255) first: pixel values are the valid inputs")
        XCTAssertEqual(model.metadata["keras_version"]?.stringValue?.hasPrefix("3."), true)
    }

    func testLegacyH5WithNestedModels() throws {
        let (_, _, model) = try check("functional.h5", against: "functional")
        XCTAssertTrue(model.nodes.contains { $0.name == "base.dw_b" })
    }

    /// The same PyTorch modules written by tools/torch_to_borderline.py (torch.fx, no ONNX): layers
    /// named by their module paths, so parameters carry the state_dict keys.
    func testTorchToBorderlineHelperOutputs() throws {
        for name in ["resnet", "mobilenet", "ops"] {
            let (_, _, model) = try check("\(name).borderline.h5", against: name)
            XCTAssertEqual(model.metadata["source"], "pytorch (tools/torch_to_borderline.py)")
        }
        let resnet = try Model.load(contentsOf: try Self.fixture("resnet.borderline.h5"))
        XCTAssertTrue(resnet.namedParameters.map(\.name).contains("layer2.downsample.0.weight"))
        XCTAssertEqual(resnet.embeddingNode.map { resnet.nodes[$0].name }, "flatten")
    }

    /// Both Keras files hold the same weights; both ONNX exports of the ResNet too.
    func testTwoRoutesGiveTheSameParameters() throws {
        for (a, b) in [("functional.keras", "functional.h5")] {
            let x = try Model.load(contentsOf: try Self.fixture(a)), y = try Model.load(contentsOf: try Self.fixture(b))
            XCTAssertEqual(x.namedParameters.map(\.name), y.namedParameters.map(\.name))
            for (p, q) in zip(x.namedParameters, y.namedParameters) { XCTAssertEqual(p.parameter.value, q.parameter.value, p.name) }
        }
        let torchScript = try Model.load(contentsOf: try Self.fixture("resnet.onnx"))
        let dynamo = try Model.load(contentsOf: try Self.fixture("resnet.dynamo.onnx"))
        XCTAssertEqual(torchScript.parameterCount, dynamo.parameterCount)
    }
}
