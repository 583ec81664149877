import BorderlineCore
import Foundation
import XCTest

/// Real malformed files, made in a temporary folder from valid ones: each must fail with the right
/// error kind and a message that names the file and the dataset, layer or key at fault.
final class MalformedInputTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try IOTestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A valid native model file (Dense 4→5, ReLU, Dense 5→3) to break.
    func nativeFile(_ name: String = "model.h5") throws -> String {
        let p = path(name)
        try IOTestSupport.denseModel().save(to: p)
        return p
    }

    /// Opens a copy of a file for changes.
    func update(_ p: String, _ body: (HDF5Group) throws -> Void) throws {
        let f = try HDF5File.openForUpdate(p)
        try body(try f.root())
        try f.close()
    }

    // MARK: Not HDF5 at all

    func testTruncatedModelFile() throws {
        let whole = try nativeFile()
        let cut = path("cut.h5")
        try IOTestSupport.truncate(whole, to: cut)
        IOTestSupport.expectError(.unreadableFile, containing: [cut, "truncated"]) { _ = try Model.load(contentsOf: cut) }
    }

    func testTextFileNamedH5() throws {
        let p = path("model.h5")
        try "{\"this\": \"is JSON, not HDF5\"}\n".write(toFile: p, atomically: true, encoding: .utf8)
        IOTestSupport.expectError(.unreadableFile, containing: [p, "not an HDF5 file"]) { _ = try Model.load(contentsOf: p) }
    }

    func testDamagedZipNamedKerasSaysWhatItShouldBe() throws {
        let p = path("model.keras")
        try Data([0x50, 0x4b, 0x03, 0x04] + [UInt8](repeating: 0, count: 60)).write(to: URL(fileURLWithPath: p))
        IOTestSupport.expectError(.unreadableFile, containing: [p, "Keras 3 .keras", "config.json and model.weights.h5", "truncated or damaged"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    func testMissingModelFile() {
        IOTestSupport.expectError(.fileNotFound, containing: [path("absent.h5")]) { _ = try Model.load(contentsOf: self.path("absent.h5")) }
    }

    // MARK: Native files with bad parameters

    func testMissingParameterDataset() throws {
        let p = try nativeFile()
        try update(p) { root in try root.remove("parameters/fc2.weight") }
        IOTestSupport.expectError(.missingEntry, containing: [p, "dataset /parameters/fc2.weight not found", "fc2 (Dense)", "[3, 5]"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    func testWrongShapedDataset() throws {
        let p = try nativeFile()
        try update(p) { root in try root.writeTensor(Tensor(zeros: [4, 5]), name: "parameters/fc1.weight") }
        IOTestSupport.expectError(.shapeMismatch,
                                  containing: [p, "dataset /parameters/fc1.weight has shape [4, 5]; layer fc1 (Dense) expects [5, 4]"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    func testExtraDataset() throws {
        let p = try nativeFile()
        try update(p) { root in try root.writeTensor(Tensor(zeros: [3]), name: "parameters/fc3.bias") }
        IOTestSupport.expectError(.invalidConfiguration, containing: [p, "/parameters/fc3.bias", "do not belong together"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    func testNaNWeights() throws {
        let p = try nativeFile()
        try update(p) { root in
            var bias = try root.readTensor("parameters/fc1.bias")
            bias.scalars[2] = .nan
            bias.scalars[3] = .infinity
            try root.writeTensor(bias, name: "parameters/fc1.bias")
        }
        IOTestSupport.expectError(.nonFiniteValues, containing: [p, "dataset /parameters/fc1.bias", "1 NaN", "1 infinite"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    func testUnknownLayerType() throws {
        let p = try nativeFile()
        try update(p) { root in
            let arch = try root.stringAttribute("architecture").replacingOccurrences(of: "\"ReLU\"", with: "\"Transformer\"")
            try root.setAttribute("architecture", string: arch)
        }
        IOTestSupport.expectError(.unknownLayerType, containing: [p, "relu1", "Transformer", "Dense"]) { _ = try Model.load(contentsOf: p) }
    }

    func testMalformedArchitectureJSON() throws {
        let p = try nativeFile()
        try update(p) { root in try root.setAttribute("architecture", string: "{\"input_shape\": [4], \"layers\": [") }
        IOTestSupport.expectError(.invalidConfiguration, containing: [p, "architecture", "not valid JSON"]) { _ = try Model.load(contentsOf: p) }

        try update(p) { root in try root.setAttribute("architecture", string: "{\"input_shape\": [4], \"layers\": [{\"type\": \"ReLU\"}]}") }
        IOTestSupport.expectError(.invalidConfiguration, containing: [p, "layers[0]", "name"]) { _ = try Model.load(contentsOf: p) }

        try update(p) { root in
            try root.setAttribute("architecture", string: "{\"input_shape\": [4], \"layers\": [{\"name\": \"a\", \"type\": \"ReLU\", \"inputs\": [\"b\"]}]}")
        }
        IOTestSupport.expectError(.invalidConfiguration, containing: [p, "'a' reads 'b'"]) { _ = try Model.load(contentsOf: p) }

        try update(p) { root in try root.removeAttribute("architecture") }
        IOTestSupport.expectError(.missingEntry, containing: [p, "'architecture'"]) { _ = try Model.load(contentsOf: p) }
    }

    func testLayerConfigurationErrorsNameTheLayer() throws {
        let p = try nativeFile()
        try update(p) { root in
            let arch = try root.stringAttribute("architecture").replacingOccurrences(of: "\"out_features\":5", with: "\"out_features\":\"five\"")
            try root.setAttribute("architecture", string: arch)
        }
        IOTestSupport.expectError(.invalidConfiguration, containing: [p, "fc1", "out_features"]) { _ = try Model.load(contentsOf: p) }
    }

    func testWrongFormatTagAndVersion() throws {
        let p = try nativeFile()
        try update(p) { root in try root.setAttribute("format_version", int: 2) }
        IOTestSupport.expectError(.unreadableFile, containing: [p, "format_version is 2"]) { _ = try Model.load(contentsOf: p) }
        try update(p) { root in try root.setAttribute("format", string: "someone.else") }
        IOTestSupport.expectError(.unreadableFile, containing: [p, "'someone.else'", "borderline.model"]) { _ = try Model.load(contentsOf: p) }
    }

    func testInconsistentInputShapeAndClassNames() throws {
        let p = try nativeFile()
        try update(p) { root in try root.setAttribute("input_shape", ints: [1, 2, 2]) }
        IOTestSupport.expectError(.invalidConfiguration, containing: [p, "input_shape is [1, 2, 2]", "[4]"]) { _ = try Model.load(contentsOf: p) }
    }

    /// The native format allows fixed- and variable-length strings for every string attribute.
    func testFixedLengthStringAttributesLoad() throws {
        let p = try nativeFile()
        try update(p) { root in
            for name in ["format", "architecture"] {
                try root.setAttribute(name, string: try root.stringAttribute(name), variableLength: false)
            }
            try root.setAttribute("class_names", strings: try root.stringArrayAttribute("class_names"), variableLength: false)
        }
        let root = try HDF5File.open(p).root()
        XCTAssertEqual(try root.attributeType("architecture"), .string(variableLength: false))
        XCTAssertEqual(try Model.load(contentsOf: p).classNames, ["a", "b", "c"])
    }

    // MARK: PyTorch state_dict files

    func testStateDictErrorsNameTheFile() throws {
        let model = try IOTestSupport.denseModel()
        let arch = path("arch.json"), p = path("weights.h5")
        try model.architectureJSON().write(toFile: arch, atomically: true, encoding: .utf8)
        do {
            let f = try HDF5File.create(p)
            let root = try f.root()
            for (name, param) in model.namedParameters where name != "fc2.bias" { try root.writeTensor(param.value, name: name) }
            try root.writeTensor(Tensor(zeros: [2]), name: "fc2.bias")
            try f.close()
        }
        IOTestSupport.expectError(.shapeMismatch, containing: [p, "dataset /fc2.bias has shape [2]; layer fc2 (Dense) expects [3]"]) {
            _ = try Model.load(contentsOf: p, architecture: arch)
        }
        try "{\"input_shape\": [4], \"layers\": [".write(toFile: arch, atomically: true, encoding: .utf8)
        IOTestSupport.expectError(.invalidConfiguration, containing: [arch, "not valid JSON"]) { _ = try Model.load(contentsOf: p, architecture: arch) }
        IOTestSupport.expectError(.fileNotFound, containing: [path("nope.json")]) {
            _ = try Model.load(contentsOf: p, architecture: self.path("nope.json"))
        }
    }

    // MARK: Keras files

    /// A valid Keras export of the dense model to break.
    func kerasFile() throws -> String {
        let p = path("model.keras.h5")
        try IOTestSupport.denseModel().save(to: p, format: .keras)
        return p
    }

    func editKerasConfig(_ p: String, _ edit: (String) -> String) throws {
        try update(p) { root in try root.setAttribute("model_config", string: edit(try root.stringAttribute("model_config"))) }
    }

    func testKerasUnsupportedLayer() throws {
        let p = try kerasFile()
        try editKerasConfig(p) { $0.replacingOccurrences(of: "\"class_name\":\"ReLU\"", with: "\"class_name\":\"LSTM\"") }
        IOTestSupport.expectError(.unknownLayerType, containing: [p, "'relu1'", "'LSTM'"]) { _ = try Model.load(contentsOf: p) }
    }

    func testKerasUnsupportedActivation() throws {
        let p = try kerasFile()
        try editKerasConfig(p) { $0.replacingOccurrences(of: "\"activation\":\"linear\"", with: "\"activation\":\"softplus\"") }
        IOTestSupport.expectError(.unknownLayerType, containing: [p, "'fc1'", "'softplus'"]) { _ = try Model.load(contentsOf: p) }
    }

    func testKerasMalformedConfig() throws {
        let p = try kerasFile()
        try editKerasConfig(p) { String($0.prefix(40)) }
        IOTestSupport.expectError(.invalidConfiguration, containing: [p, "model_config", "not valid JSON"]) { _ = try Model.load(contentsOf: p) }
    }

    func testKerasMissingWeights() throws {
        let p = try kerasFile()
        try update(p) { root in try root.remove("model_weights/fc2") }
        IOTestSupport.expectError(.missingEntry, containing: [p, "/model_weights/fc2", "'fc2' (Dense)"]) { _ = try Model.load(contentsOf: p) }
    }

    func testKerasWrongKernelShape() throws {
        let p = try kerasFile()
        try update(p) { root in try root.writeTensor(Tensor(zeros: [5, 4]), name: "model_weights/fc1/fc1/kernel") }
        IOTestSupport.expectError(.shapeMismatch,
                                  containing: [p, "dataset /model_weights/fc1/fc1/kernel has shape [5, 4]", "fc1 (Dense)", "(in, out) = [4, 5]"]) {
            _ = try Model.load(contentsOf: p)
        }
    }

    func testKerasNaNWeights() throws {
        let p = try kerasFile()
        try update(p) { root in try root.writeTensor(Tensor(repeating: .nan, shape: [3]), name: "model_weights/fc2/fc2/bias") }
        IOTestSupport.expectError(.nonFiniteValues, containing: [p, "dataset /model_weights/fc2/fc2/bias", "3 NaN"]) { _ = try Model.load(contentsOf: p) }
    }

    func testKerasExportOfUnsupportedLayer() throws {
        final class Custom: ConfigurableLayer {
            static let typeName = "CustomDouble"
            init() {}
            init(config: JSONValue) throws {}
            var config: JSONValue { [:] }
            func outputShape(for inputShapes: [[Int]]) throws -> [Int] { inputShapes[0] }
            func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) { (2 * inputs[0], nil) }
            func backward(_ g: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] { [2 * g] }
        }
        let model = try Model.sequential(inputShape: [3], [("double", Custom())])
        IOTestSupport.expectError(.unknownLayerType, containing: ["double", "CustomDouble", "Keras"]) {
            try model.save(to: self.path("custom.h5"), format: .keras)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("custom.h5")))
        // The native format writes it (the type must be registered to load it again).
        try model.save(to: path("custom.h5"))
        IOTestSupport.expectError(.unknownLayerType, containing: [path("custom.h5"), "CustomDouble"]) {
            _ = try Model.load(contentsOf: self.path("custom.h5"))
        }
        LayerRegistry.register(Custom.self)
        XCTAssertEqual(try Model.load(contentsOf: path("custom.h5")).nodes[0].layer.typeName, "CustomDouble")
    }

    // MARK: Data sets

    func testTruncatedIDXGzip() throws {
        let data = try DatasetTests.tinyDataset(count: 50, size: (28, 28))
        let images = path("train-images-idx3-ubyte.gz"), labels = path("train-labels-idx1-ubyte.gz")
        try data.writeIDX(images: images, labels: labels)
        let cut = path("cut-images-idx3-ubyte.gz")
        try IOTestSupport.truncate(images, to: cut)
        IOTestSupport.expectError(.unreadableFile, containing: [cut, "truncated"]) { _ = try Dataset.readIDX(images: cut, labels: labels) }
        // An uncompressed file cut short says how much data it lacks.
        let plain = path("plain-images-idx3-ubyte"), plainCut = path("plaincut-images-idx3-ubyte")
        try data.writeIDX(images: plain, labels: path("plain-labels-idx1-ubyte"))
        try IOTestSupport.truncate(plain, to: plainCut, fraction: 0.9)
        IOTestSupport.expectError(.unreadableFile, containing: [plainCut, "truncated", "expected 39200 bytes"]) {
            _ = try Dataset.readIDX(images: plainCut, labels: labels)
        }
    }

    func testIDXWithWrongMagicOrCounts() throws {
        let data = try DatasetTests.tinyDataset(count: 5)
        let images = path("a-images-idx3-ubyte"), labels = path("a-labels-idx1-ubyte")
        try data.writeIDX(images: images, labels: labels)
        IOTestSupport.expectError(.unreadableFile, containing: [labels, "1 dimensions", "expected 3"]) {
            _ = try Dataset.readIDX(images: labels, labels: labels)
        }
        let text = path("notes-images-idx3-ubyte")
        try "hello, not IDX".write(toFile: text, atomically: true, encoding: .utf8)
        IOTestSupport.expectError(.unreadableFile, containing: [text, "not an IDX file"]) { _ = try Dataset.readIDX(images: text, labels: labels) }
        let fewer = path("b-labels-idx1-ubyte")
        try IDXFile.write(IDXFile.Contents(shape: [4], bytes: [0, 1, 2, 0]), to: fewer)
        IOTestSupport.expectError(.shapeMismatch, containing: [fewer, "4 labels", "5 images"]) { _ = try Dataset.readIDX(images: images, labels: fewer) }
        let longer = path("c-labels-idx1-ubyte")
        try Data([0, 0, 8, 1, 0, 0, 0, 2, 1, 1, 1]).write(to: URL(fileURLWithPath: longer))
        IOTestSupport.expectError(.unreadableFile, containing: [longer, "bytes after"]) { _ = try IDXFile.read(longer, dimensions: 1) }
    }

    func testDataSetThatDoesNotFitTheModel() throws {
        let p = path("data.h5")
        try DatasetTests.tinyDataset(count: 4, size: (5, 5)).writeHDF5(to: p)
        let data = try Dataset.load(p, split: .test)
        IOTestSupport.expectError(.dataMismatch, containing: ["data.h5", "[1, 5, 5]", "[1, 28, 28]"]) {
            try data.validate(for: try Model.fashionCNN(seed: 3))
        }
        let manyClasses = try DatasetTests.tinyDataset(count: 12, size: (28, 28), classes: 12)
        IOTestSupport.expectError(.dataMismatch, containing: ["label 10", "10 outputs"]) {
            try manyClasses.validate(for: try Model.fashionCNN(seed: 3))
        }
    }

    func testMalformedHDF5DataSets() throws {
        let p = path("bad.h5")
        func write(_ body: (HDF5Group) throws -> Void) throws {
            let f = try HDF5File.create(p)
            try body(try f.root())
            try f.close()
        }
        try write { root in
            try root.writeTensor(Tensor(shape: [2, 1, 1, 2], scalars: [0, .nan, 1, 0]), name: "x")
            try root.writeInt64s([0, 1], name: "y")
        }
        IOTestSupport.expectError(.nonFiniteValues, containing: [p, "dataset /x"]) { _ = try Dataset.readHDF5(p) }
        try write { root in
            try root.writeUInt8s([1, 2, 3, 4], shape: [2, 1, 2], name: "x")
            try root.writeInt64s([0, -1], name: "y")
        }
        IOTestSupport.expectError(.dataMismatch, containing: [p, "dataset /y", "negative label -1"]) { _ = try Dataset.readHDF5(p) }
        try write { root in
            try root.writeUInt8s([1, 2, 3, 4], shape: [2, 1, 2], name: "x")
            try root.writeInt64s([0, 1, 1], name: "y")
        }
        IOTestSupport.expectError(.shapeMismatch, containing: [p, "/y has 3 labels", "2 images"]) { _ = try Dataset.readHDF5(p) }
        try write { root in
            try root.writeUInt8s([1, 2, 3, 4], shape: [4], name: "x")
            try root.writeInt64s([0, 1, 1, 0], name: "y")
        }
        IOTestSupport.expectError(.shapeMismatch, containing: [p, "dataset /x has shape [4]"]) { _ = try Dataset.readHDF5(p) }
        try write { root in
            try root.writeUInt8s([1, 2, 3, 4], shape: [2, 1, 2], name: "x")
            try root.writeDoubles([0, 1], name: "y")
        }
        IOTestSupport.expectError(.unreadableFile, containing: [p, "dataset /y", "float64"]) { _ = try Dataset.readHDF5(p) }
        try write { root in
            try root.writeUInt8s([1, 2, 3, 4], shape: [2, 1, 2], name: "x")
            try root.writeInt64s([0, 3], name: "y")
            try root.setAttribute("class_names", strings: ["a", "b"])
        }
        IOTestSupport.expectError(.dataMismatch, containing: [p, "label 3", "only 2 classes"]) { _ = try Dataset.readHDF5(p) }

        let whole = path("whole.h5"), cut = path("cut.h5")
        try DatasetTests.tinyDataset(count: 200, size: (28, 28)).writeHDF5(to: whole, encoding: .float32)
        try IOTestSupport.truncate(whole, to: cut)
        IOTestSupport.expectError(.unreadableFile, containing: [cut]) { _ = try Dataset.load(cut, split: .test) }
    }
}
