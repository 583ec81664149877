import BorderlineCore
import Foundation
import XCTest

/// Compares Borderline's outputs with PyTorch's on the golden files of tools/make_goldens.py:
/// each model loaded from its native, PyTorch state_dict and Keras variants must reproduce the
/// logits (1e-5 absolute), the embedding, and the input gradients (1e-4 relative).
final class GoldenModelTests: XCTestCase {
    static let models = ["cnn", "fcn", "resnet", "decoder"]

    struct Expected {
        var x: Tensor
        var logits: Tensor
        var embedding: Tensor?
        var cotangent: Tensor
        var inputGradient: Tensor
        var inputGradientTop: Tensor
        var embeddingName: String
    }

    func golden(_ name: String) throws -> String {
        let path = IOTestSupport.goldenDirectory.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("golden file \(name) not present") }
        return path
    }

    func expected(_ model: String) throws -> Expected {
        let file = try HDF5File.open(try golden("\(model).expected.h5"))
        let root = try file.root()
        return Expected(
            x: try root.readTensor("x"), logits: try root.readTensor("logits"),
            embedding: root.contains("embedding") ? try root.readTensor("embedding") : nil,
            cotangent: try root.readTensor("cotangent"), inputGradient: try root.readTensor("input_gradient"),
            inputGradientTop: try root.readTensor("input_gradient_top"),
            embeddingName: root.hasAttribute("embedding") ? try root.stringAttribute("embedding") : "")
    }

    /// Largest absolute difference.
    func maxError(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    func check(_ model: Model, against e: Expected, variant: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try model.checkInput(e.x)
        let logits = model(e.x)
        XCTAssertEqual(logits.shape, e.logits.shape, "\(variant): logits shape", file: file, line: line)
        let logitError = maxError(logits, e.logits)
        XCTAssertLessThanOrEqual(logitError, 1e-5, "\(variant): logits differ by \(logitError)", file: file, line: line)

        if let expectedEmbedding = e.embedding, model.embeddingNode != nil, let embedding = model.embedding(e.x) {
            XCTAssertEqual(embedding.shape, expectedEmbedding.shape, "\(variant): embedding shape", file: file, line: line)
            let embeddingError = maxError(embedding, expectedEmbedding)
            XCTAssertLessThanOrEqual(embeddingError, 1e-5, "\(variant): embedding differs by \(embeddingError)", file: file, line: line)
        }

        let (_, gradient) = model.vjp(e.x) { _ in e.cotangent }
        let scale = max(e.inputGradient.scalars.map(abs).max() ?? 0, 1e-12)
        let relative = maxError(gradient, e.inputGradient) / scale
        XCTAssertLessThanOrEqual(relative, 1e-4, "\(variant): input gradient differs by \(relative) (relative to max |g|)", file: file, line: line)

        // d(Σ_i max_j logits[i, j]) / dx: a one-hot cotangent on each row's top class.
        let (_, top) = model.vjp(e.x) { out in
            let rows = out.argmaxRows(), n = out.sampleCount
            var v = Tensor(zeros: out.shape)
            v.withUnsafeMutableBufferPointer { p in for (i, j) in rows.enumerated() { p[i * n + j] = 1 } }
            return v
        }
        let topScale = max(e.inputGradientTop.scalars.map(abs).max() ?? 0, 1e-12)
        let topRelative = maxError(top, e.inputGradientTop) / topScale
        XCTAssertLessThanOrEqual(topRelative, 1e-4, "\(variant): top-class input gradient differs by \(topRelative)", file: file, line: line)
    }

    func runVariants(_ name: String) throws {
        let e = try expected(name)
        let native = try Model.load(contentsOf: try golden("\(name).native.h5"))
        if !e.embeddingName.isEmpty {
            XCTAssertEqual(native.embeddingNode.map { native.nodes[$0].name }, e.embeddingName, "\(name): embedding layer")
        }
        try check(native, against: e, variant: "\(name).native.h5")

        let torch = try Model.load(contentsOf: try golden("\(name).torch.h5"), architecture: try golden("\(name).arch.json"))
        try check(torch, against: e, variant: "\(name).torch.h5")
        for (a, b) in zip(native.namedParameters, torch.namedParameters) {
            XCTAssertEqual(a.name, b.name)
            XCTAssertEqual(a.parameter.value, b.parameter.value, "\(name): \(a.name) differs between native and torch files")
        }

        let kerasPath = IOTestSupport.goldenDirectory.appendingPathComponent("\(name).keras.h5").path
        if FileManager.default.fileExists(atPath: kerasPath) {
            let keras = try Model.load(contentsOf: kerasPath)
            try check(keras, against: e, variant: "\(name).keras.h5")
            XCTAssertEqual(keras.parameterCount, native.parameterCount, "\(name): Keras import has another parameter count")
        }
    }

    /// The goldens through every instruction set this CPU runs, AVX-512's blocking emulated on
    /// AVX2 among them, so the lane kernels' other configurations meet the PyTorch oracle too.
    func testGoldensOnEveryInstructionSet() throws {
        defer { LaneKernels.select(nil) }
        var ran: [String] = []
        for set in LaneKernels.InstructionSet.allCases where LaneKernels.select(set) == set {
            for name in Self.models {
                let model = try Model.load(contentsOf: try golden("\(name).native.h5"))
                try check(model, against: try expected(name), variant: "\(name).native.h5 on \(set.name)")
            }
            ran.append(set.name)
        }
        XCTAssertFalse(ran.isEmpty)
    }

    func testCNN() throws { try runVariants("cnn") }
    func testFCN() throws { try runVariants("fcn") }
    func testResNet() throws { try runVariants("resnet") }
    func testDecoder() throws { try runVariants("decoder") }

    /// Native → Keras export → import reproduces the logits of every golden model whose layers
    /// Keras can express.
    func testKerasExportRoundTripOnGoldens() throws {
        let dir = try IOTestSupport.temporaryDirectory()
        for name in GoldenModelTests.models {
            let e = try expected(name)
            let native = try Model.load(contentsOf: try golden("\(name).native.h5"))
            let path = dir.appendingPathComponent("\(name).keras.h5").path
            try native.save(to: path, format: .keras)
            let back = try Model.load(contentsOf: path)
            let error = maxError(back(e.x), e.logits)
            XCTAssertLessThanOrEqual(error, 1e-5, "\(name): Keras export round trip changes the logits by \(error)")
        }
    }

    /// Keras files without Borderline's architecture get the embedding of docs/model-format.md
    /// (the node feeding the final Dense, skipping back over Dropout), which must equal PyTorch's
    /// penultimate-layer output recorded in the golden.
    func testKerasImportEmbeddingIsPenultimateLayer() throws {
        for (name, node) in [("cnn", "fc1.relu"), ("fcn", "fc2.relu"), ("resnet", "gap")] {
            let e = try expected(name)
            let keras = try Model.load(contentsOf: try golden("\(name).keras.h5"))
            XCTAssertEqual(keras.embeddingNode.map { keras.nodes[$0].name }, node, "\(name): embedding node")
            let expectedEmbedding = try XCTUnwrap(e.embedding, "\(name): the golden has no embedding")
            let embedding = try XCTUnwrap(keras.embedding(e.x), "\(name): the Keras import has no embedding")
            XCTAssertEqual(embedding.shape, expectedEmbedding.shape, "\(name): embedding shape")
            let error = maxError(embedding, expectedEmbedding)
            XCTAssertLessThanOrEqual(error, 1e-5, "\(name): Keras import's embedding differs from PyTorch's by \(error)")
        }
    }

    /// The cnn golden's Keras file ends in a softmax, which the importer removes.
    func testKerasImportRecordsRemovedSoftmax() throws {
        let keras = try Model.load(contentsOf: try golden("cnn.keras.h5"))
        XCTAssertEqual(keras.metadata["removed_output_activation"], "softmax")
        XCTAssertEqual(keras.metadata["source"], "keras")
        XCTAssertEqual(keras.inputShape, [1, 28, 28])
    }
}
