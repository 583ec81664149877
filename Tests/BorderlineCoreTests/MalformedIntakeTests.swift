import BorderlineCore
import Foundation
import XCTest

/// Bad intake with real files: malformed ONNX and Keras 3 archives and PyTorch's own formats
/// (committed in Golden/intake/bad by tools/make_intake_goldens.py, or cut from good fixtures
/// here). Each fails with a `BorderlineError` naming the file, the node or layer, and what was
/// expected or how to convert the file.
final class MalformedIntakeTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try IOTestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    func fixture(_ name: String) throws -> String { try IntakeGoldenTests.fixture(name) }
    func copy(_ name: String, to target: String) throws -> String {
        let p = path(target)
        try FileManager.default.copyItem(atPath: try fixture(name), toPath: p)
        return p
    }

    // MARK: ONNX

    func testUnsupportedOperatorIsNamedWithItsNode() throws {
        let p = try fixture("bad/unsupported_op.onnx")
        IOTestSupport.expectError(.unknownLayerType, containing: [p, "ONNX node '/features/lrn/LRN' (LRN)", "operator 'LRN'", "supported: Add"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    func testWeightOfTheWrongShape() throws {
        let p = try fixture("bad/shape_mismatch.onnx")
        IOTestSupport.expectError(.shapeMismatch, containing: [p, "'/fc/Gemm' (Gemm)", "'fc.weight' has shape [10, 50]", "48 input features", "[out, 48]"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    func testTruncatedProtobuf() throws {
        let cut = path("cut.onnx")
        try IOTestSupport.truncate(try fixture("resnet.onnx"), to: cut, fraction: 0.3)
        IOTestSupport.expectError(.unreadableFile, containing: [cut, "not a readable ONNX model", "truncated"]) { _ = try Model.load(contentsOf: cut) }
    }

    func testTextNamedOnnx() throws {
        let p = path("model.onnx")
        try "this is not a protobuf\n".write(toFile: p, atomically: true, encoding: .utf8)
        IOTestSupport.expectError(.unreadableFile, containing: [p, "ONNX model"]) { _ = try Model.load(contentsOf: p) }
    }

    func testMissingExternalData() throws {
        let p = try copy("resnet.dynamo.onnx", to: "resnet.dynamo.onnx")
        IOTestSupport.expectError(.missingEntry, containing: [p, "initializer", "external file 'resnet.dynamo.onnx.data'", "missing"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    func testTruncatedExternalData() throws {
        let p = try copy("resnet.dynamo.onnx", to: "resnet.dynamo.onnx")
        try IOTestSupport.truncate(try fixture("resnet.dynamo.onnx.data"), to: path("resnet.dynamo.onnx.data"), fraction: 0.5)
        IOTestSupport.expectError(.unreadableFile, containing: [p, "resnet.dynamo.onnx.data", "truncated"]) { _ = try Model.load(contentsOf: p) }
    }

    func testONNXRecognisedByContentAndCarriesItsOwnArchitecture() throws {
        let p = try copy("resnet.onnx", to: "model.bin")
        XCTAssertEqual(try Model.fileKind(of: p), .onnx)
        XCTAssertEqual(try Model.load(contentsOf: p).parameterCount, 19850)
        IOTestSupport.expectError(.invalidArgument, containing: [p, "ONNX model", "carries its own architecture"]) {
            _ = try Model.load(contentsOf: p, architecture: try IntakeGoldenTests.fixture("resnet.onnx"))
        }
    }

    // MARK: Keras 3 archives

    func testTruncatedKerasArchive() throws {
        let cut = path("model.keras")
        try IOTestSupport.truncate(try fixture("functional.keras"), to: cut, fraction: 0.6)
        IOTestSupport.expectError(.unreadableFile, containing: [cut, "Keras 3 .keras", "truncated"]) { _ = try Model.load(contentsOf: cut) }
    }

    func testDamagedKerasArchiveFailsItsChecksum() throws {
        let p = path("damaged.keras")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try fixture("functional.keras"))))
        // A byte inside the stored model.weights.h5 (the archive is not compressed).
        let weights = Data("model.weights.h5".utf8)
        let at = try XCTUnwrap(Data(bytes).range(of: weights)).upperBound + 4000
        bytes[at] ^= 0x5a
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        IOTestSupport.expectError(.unreadableFile, containing: [p, "model.weights.h5", "CRC-32", "damaged"]) { _ = try Model.load(contentsOf: p) }
    }

    func testKerasArchiveWithoutWeights() throws {
        let p = try fixture("bad/no_weights.keras")
        IOTestSupport.expectError(.missingEntry, containing: [p, "no model.weights.h5", "config.json"]) { _ = try Model.load(contentsOf: p) }
    }

    func testKerasArchiveWithAKernelOfTheWrongShape() throws {
        let p = try fixture("bad/wrong_shape.keras")
        IOTestSupport.expectError(.shapeMismatch, containing: [p, "Keras layer 'dense' (Dense)", "model.weights.h5:/layers/dense/vars/0", "[50, 4]", "[48, 4]"]) {
            _ = try Model.load(contentsOf: p)
        }
        XCTAssertEqual(try Model.fileKind(of: p), .kerasArchive)
    }

    // MARK: PyTorch's own files

    func testTorchSaveCheckpointGetsTheCommandsThatConvertIt() throws {
        let p = try fixture("bad/checkpoint.pt")
        IOTestSupport.expectError(.unreadableFile, containing: [p, "torch.save", "data.pkl", "tools/torch_to_borderline.py", "torch.onnx.export"]) {
            _ = try Model.load(contentsOf: p)
        }
        XCTAssertThrowsError(try Model.fileKind(of: p))
    }

    func testLegacyTorchPickle() throws {
        let p = try fixture("bad/legacy.pth")
        IOTestSupport.expectError(.unreadableFile, containing: [p, "Python pickle", "tools/torch_to_borderline.py"]) { _ = try Model.load(contentsOf: p) }
    }

    func testTorchScriptArchive() throws {
        let p = try fixture("bad/scripted.pt")
        IOTestSupport.expectError(.unreadableFile, containing: [p, "TorchScript", "torch.jit.load(\"scripted.pt\")", "torch.onnx.export"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    func testTorchFileRenamedKerasIsStillRecognised() throws {
        let p = try copy("bad/checkpoint.pt", to: "model.keras")
        IOTestSupport.expectError(.unreadableFile, containing: [p, "torch.save"]) { _ = try Model.load(contentsOf: p) }
    }
}

/// Damaged copies of good files — bytes overwritten at seeded random places — must load or fail
/// with a `BorderlineError`, never trap.
final class DamagedIntakeFileTests: XCTestCase {
    func testDamagedONNXAndKerasFilesNeverTrap() throws {
        let dir = try IOTestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var generator = RandomGenerator(seed: 15)
        // BORDERLINE_FUZZ_TRIALS raises the count for a longer local run.
        let trials = Int(ProcessInfo.processInfo.environment["BORDERLINE_FUZZ_TRIALS"] ?? "") ?? 60
        let only = ProcessInfo.processInfo.environment["BORDERLINE_FUZZ_FILES"].map { $0.split(separator: ",").map(String.init) }
        for name in only ?? ["ops.onnx", "resnet.onnx", "bad/wrong_shape.keras", "functional.h5"] {
            let original = try Data(contentsOf: URL(fileURLWithPath: try IntakeGoldenTests.fixture(name)))
            var outcomes = [0, 0]
            for trial in 0..<trials {
                var bytes = [UInt8](original)
                for _ in 0..<(1 + trial % 4) {
                    let at = Int(generator.uniform(shape: [1], low: 0, high: Float(bytes.count)).scalars[0]) % bytes.count
                    bytes[at] = UInt8(Int(generator.uniform(shape: [1], low: 0, high: 256).scalars[0]) & 0xff)
                }
                let p = dir.appendingPathComponent("\(trial)-" + URL(fileURLWithPath: name).lastPathComponent).path
                try Data(bytes).write(to: URL(fileURLWithPath: p))
                do {
                    _ = try Model.load(contentsOf: p)
                    outcomes[0] += 1
                } catch let e as BorderlineError {
                    XCTAssertTrue(e.description.contains(p), "\(e) does not name the file")
                    outcomes[1] += 1
                }
            }
            XCTAssertEqual(outcomes[0] + outcomes[1], trials, name)
        }
    }
}
