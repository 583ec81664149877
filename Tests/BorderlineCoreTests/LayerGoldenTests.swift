import Foundation
import XCTest
@testable import BorderlineCore

/// Compares every layer beyond the paper's models with the framework that defines it, on the
/// golden files of tools/make_layer_goldens.py: for each small net, 100 inputs, the framework's
/// logits (1e-5 absolute) and its input gradient of `Σ logits ⊙ cotangent` (1e-4 relative to
/// the largest gradient element).
final class LayerGoldenTests: XCTestCase {
    static var directory: URL { IOTestSupport.goldenDirectory.appendingPathComponent("layers") }

    struct Golden {
        var x: Tensor
        var logits: Tensor
        var cotangent: Tensor
        var inputGradient: Tensor
        var framework: String
    }

    static func path(_ name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw BorderlineError(.fileNotFound, "golden file missing (run tools/make_layer_goldens.py)", file: path)
        }
        return path
    }

    /// The expectations of one net; the inputs are `code / divisor` (see the generator), shared
    /// by the nets of one input shape under `/inputs`.
    static func golden(_ net: String) throws -> Golden {
        let root = try HDF5File.open(try path("expected.h5")).root()
        let group = try root.group(net)
        let inputs = try root.group("inputs").dataset(try group.stringAttribute("input"))
        let divisor = Float(try inputs.intAttribute("divisor"))
        return Golden(x: try inputs.readTensor().map { $0 / divisor }, logits: try group.readTensor("logits"),
                      cotangent: try group.readTensor("cotangent"), inputGradient: try group.readTensor("input_gradient"),
                      framework: try group.stringAttribute("framework"))
    }

    /// The net's model: the MobileNet-like net from its own native file, the ResNet from its
    /// h5py state_dict and architecture JSON, every other net by the native reader from its
    /// group of models.h5.
    static func model(_ net: String) throws -> Model {
        switch net {
        case "mobilenet": return try Model.load(contentsOf: try path("mobilenet.native.h5"))
        case "resnet": return try Model.load(contentsOf: try path("resnet.torch.h5"), architecture: try path("resnet.arch.json"))
        default:
            let group = try HDF5File.open(try path("models.h5")).root().group(net)
            return try NativeModelFile.read(group, architecture: nil)
        }
    }

    static func maxError(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// Checks a model against a golden and returns (max logit error, relative gradient error).
    @discardableResult
    static func check(_ model: Model, _ g: Golden, _ label: String, file: StaticString = #filePath, line: UInt = #line) throws -> (Float, Float) {
        try model.checkInput(g.x)
        let logits = model(g.x)
        XCTAssertEqual(logits.shape, g.logits.shape, "\(label): logits shape", file: file, line: line)
        let logitError = maxError(logits, g.logits)
        XCTAssertLessThanOrEqual(logitError, 1e-5, "\(label): logits differ from \(g.framework) by \(logitError)", file: file, line: line)
        let (_, gradient) = model.vjp(g.x) { _ in g.cotangent }
        XCTAssertEqual(gradient.shape, g.inputGradient.shape, "\(label): gradient shape", file: file, line: line)
        let scale = max(g.inputGradient.scalars.map(abs).max() ?? 0, 1e-12)
        let relative = maxError(gradient, g.inputGradient) / scale
        XCTAssertLessThanOrEqual(relative, 1e-4, "\(label): input gradient differs from \(g.framework) by \(relative) (relative to max |g|)",
                                 file: file, line: line)
        // A golden whose gradient is all zeros would check nothing.
        XCTAssertGreaterThan(scale, 1e-3, "\(label): the golden gradient is degenerate", file: file, line: line)
        return (logitError, relative)
    }

    /// The nets of expected.h5, each checked; errors are printed so the numbers can be quoted.
    func testEveryLayerNetMatchesItsFramework() throws {
        let names = try HDF5File.open(try LayerGoldenTests.path("expected.h5")).root().memberNames().filter { $0 != "inputs" }.sorted()
        XCTAssertFalse(names.isEmpty)
        for net in names {
            let g = try LayerGoldenTests.golden(net)
            let model = try LayerGoldenTests.model(net)
            XCTAssertEqual(g.x.batchSize, 100, "\(net): 100 inputs")
            let (logitError, gradientError) = try LayerGoldenTests.check(model, g, net)
            print(String(format: "layer golden %@: max |Δlogit| %.2e, input gradient relative error %.2e (%@)",
                         net, logitError, gradientError, g.framework))
        }
    }

    /// The nets each layer type must appear in (so a golden silently losing a layer fails).
    func testGoldensCoverTheLayers() throws {
        let expectations: [String: String] = [
            "conv_grouped": "Conv2D", "conv_depthwise": "Conv2D", "conv_dilated": "Conv2D", "concatenate": "Concatenate",
            "multiply": "Multiply", "layernorm": "LayerNorm", "groupnorm": "GroupNorm", "gelu": "GELU", "gelu_tanh": "GELU",
            "silu": "SiLU", "relu6": "ReLU6", "clip": "Clip", "elu": "ELU", "prelu": "PReLU", "adaptive_avgpool": "AdaptiveAvgPool2D",
            "upsampling": "UpSampling2D", "avgpool_exclude_pad": "AvgPool2D", "rescaling": "Rescaling",
            "input_normalization": "Normalization", "keras_rescaling": "Rescaling", "keras_normalization": "Normalization",
            "mobilenet": "ReLU6", "resnet": "AdaptiveAvgPool2D",
        ]
        for (net, type) in expectations {
            let model = try LayerGoldenTests.model(net)
            XCTAssertTrue(model.nodes.contains { $0.layer.typeName == type }, "\(net) has a \(type) layer")
        }
        let dw = try XCTUnwrap(try LayerGoldenTests.model("conv_depthwise").nodes.first { $0.name == "depthwise" }?.layer as? Conv2D)
        XCTAssertEqual(dw.groups, dw.inChannels)
        let mixed = try XCTUnwrap(try LayerGoldenTests.model("conv_dilated").nodes.first { $0.name == "mixed" }?.layer as? Conv2D)
        XCTAssertEqual(mixed.padding, Padding2D(top: 0, bottom: 1, left: 2, right: 1))
        XCTAssertEqual(mixed.dilation.w, 2)
        let pool = try XCTUnwrap(try LayerGoldenTests.model("keras_normalization").nodes.first { $0.name == "pool" }?.layer as? AvgPool2D)
        XCTAssertFalse(pool.countIncludePad)
        XCTAssertEqual(pool.padding, Padding2D(top: 0, bottom: 0, left: 0, right: 1), "Keras pads the last column of 5")
        let normalized = try LayerGoldenTests.model("input_normalization")
        XCTAssertEqual(normalized.nodes[0].name, "input_normalization", "the top-level key became the first layer")
        let mobilenet = try LayerGoldenTests.model("mobilenet")
        XCTAssertTrue(mobilenet.nodes.contains { ($0.layer as? Conv2D).map { $0.groups > 1 && $0.groups == $0.inChannels } ?? false },
                      "MobileNet has depthwise convolutions")
        XCTAssertEqual(mobilenet.nodes.filter { $0.layer is Add }.count, 2, "two residual connections")
        let resnet = try LayerGoldenTests.model("resnet")
        XCTAssertEqual(resnet.metadata["source"], "pytorch state_dict")
        XCTAssertNotNil(resnet.nodes.first { $0.name == "layer2.0.downsample.0" })
    }
}
