import BorderlineCore
import Foundation
import XCTest

final class ModelFileTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try IOTestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A small CNN with every image layer type the engine has, as a DAG with a residual Add.
    static func cnnModel() throws -> Model {
        let arch: JSONValue = [
            "input_shape": [2, 9, 8],
            "class_names": ["x", "y", "z"],
            "layers": [
                ["name": "conv1", "type": "Conv2D", "config": ["in_channels": 2, "out_channels": 4, "kernel_size": [3, 3],
                                                              "stride": [2, 2], "padding": [0, 1, 0, 1]]],
                ["name": "bn1", "type": "BatchNorm", "config": ["num_features": 4]],
                ["name": "relu1", "type": "ReLU"],
                ["name": "conv2", "type": "Conv2D", "config": ["in_channels": 4, "out_channels": 4, "kernel_size": [3, 3], "padding": [1, 1]]],
                ["name": "add", "type": "Add", "inputs": ["conv2", "relu1"]],
                ["name": "pool", "type": "MaxPool2D", "config": ["kernel_size": [2, 2]]],
                ["name": "avg", "type": "AvgPool2D", "config": ["kernel_size": [2, 2], "stride": [1, 1], "padding": [1, 1]]],
                ["name": "leaky", "type": "LeakyReLU", "config": ["negative_slope": 0.1]],
                ["name": "flatten", "type": "Flatten"],
                ["name": "drop", "type": "Dropout", "config": ["p": 0.25]],
                ["name": "fc", "type": "Dense", "config": ["in_features": 36, "out_features": 3]],
            ],
            "embedding": "flatten",
            "metadata": ["purpose": "io tests"],
        ]
        let model = try Model(architecture: arch)
        for (i, (_, p)) in model.namedParameters.enumerated() {
            var values = IOTestSupport.tensor(p.value.shape, seed: UInt64(100 + i))
            if p.name == "running_var" { values = values.map { 1 + abs($0) } }
            p.value = values
        }
        return model
    }

    func assertSameParameters(_ a: Model, _ b: Model, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.namedParameters.map(\.name), b.namedParameters.map(\.name), file: file, line: line)
        for (x, y) in zip(a.namedParameters, b.namedParameters) {
            XCTAssertEqual(x.parameter.value, y.parameter.value, "parameter \(x.name)", file: file, line: line)
        }
    }

    // MARK: Architecture JSON

    func testArchitectureRoundTrip() throws {
        let model = try ModelFileTests.cnnModel()
        let json = model.architecture
        let again = try Model(architecture: json)
        XCTAssertEqual(again.architecture, json)
        XCTAssertEqual(again.nodes.map(\.name), model.nodes.map(\.name))
        XCTAssertEqual(again.nodes.map(\.inputs), model.nodes.map(\.inputs))
        XCTAssertEqual(again.nodeShapes, model.nodeShapes)
        XCTAssertEqual(again.embeddingNode, model.embeddingNode)
        XCTAssertEqual(again.classNames, ["x", "y", "z"])
        XCTAssertEqual(again.metadata["purpose"], "io tests")
        // The text form parses to the same description.
        XCTAssertEqual(try Model(architectureJSON: model.architectureJSON(pretty: true)).architecture, json)
        // Only non-default inputs are written.
        let layers = json["layers"]!.arrayValue!
        XCTAssertNil(layers[1]["inputs"])
        XCTAssertEqual(layers[4]["inputs"], ["conv2", "relu1"])
        XCTAssertEqual(json["output"], "fc")
    }

    func testArchitectureDefaults() throws {
        let model = try Model(architectureJSON: """
        {"input_shape": [6], "layers": [
            {"name": "a", "type": "Dense", "config": {"in_features": 6, "out_features": 4}},
            {"name": "r", "type": "ReLU"},
            {"name": "b", "type": "Dense", "config": {"in_features": 4, "out_features": 2}, "inputs": ["r"]},
            {"name": "skip", "type": "Dense", "config": {"in_features": 6, "out_features": 2}, "inputs": ["input"]},
            {"name": "sum", "type": "Add", "inputs": ["b", "skip"]}
        ], "output": "sum"}
        """)
        XCTAssertEqual(model.nodes.map(\.inputs), [[-1], [0], [1], [-1], [2, 3]])
        XCTAssertEqual(model.outputNode, 4)
        XCTAssertNil(model.embeddingNode)
        XCTAssertEqual(model.classNames, [])
        XCTAssertEqual(model.outputShape, [2])
    }

    func testArchitectureFile() throws {
        let p = path("arch.json")
        try IOTestSupport.denseModel().architectureJSON(pretty: true).write(toFile: p, atomically: true, encoding: .utf8)
        let model = try Model.fromArchitectureFile(p)
        XCTAssertEqual(model.nodes.count, 3)
        IOTestSupport.expectError(.fileNotFound, containing: [path("nope.json")]) { _ = try Model.fromArchitectureFile(self.path("nope.json")) }
    }

    // MARK: Native files

    func testNativeRoundTripGivesIdenticalParametersAndOutputs() throws {
        for model in [try IOTestSupport.denseModel(), try ModelFileTests.cnnModel(), try ModelFileTests.layoutModel(),
                      try ModelFileTests.miscModel()] {
            let p = path("model.h5")
            try model.save(to: p)
            XCTAssertEqual(try Model.fileKind(of: p), .native)
            let back = try Model.load(contentsOf: p)
            assertSameParameters(model, back)
            XCTAssertEqual(back.architecture, model.architecture)
            XCTAssertEqual(back.classNames, model.classNames)
            let x = IOTestSupport.tensor([3] + model.inputShape, seed: 9)
            XCTAssertEqual(back(x), model(x))
            XCTAssertEqual(back.embedding(x), model.embedding(x))
        }
    }

    func testNativeFileLayout() throws {
        let model = try IOTestSupport.denseModel()
        let p = path("layout.h5")
        try model.save(to: p, format: .native)
        let root = try HDF5File.open(p).root()
        XCTAssertEqual(try root.stringAttribute("format"), "borderline.model")
        XCTAssertEqual(try root.intAttribute("format_version"), 1)
        XCTAssertEqual(try root.intArrayAttribute("input_shape"), [4])
        XCTAssertEqual(try root.stringArrayAttribute("class_names"), ["a", "b", "c"])
        XCTAssertEqual(try JSONValue.parse(try root.stringAttribute("architecture")), model.architecture)
        XCTAssertEqual(try root.group("parameters").memberNames(), ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"])
        XCTAssertEqual(try root.readTensor("parameters/fc1.weight").shape, [5, 4])
        XCTAssertEqual(try root.dataset("parameters/fc1.weight").elementType, .float(bytes: 4))
    }

    /// Files written the way docs/model-format.md tells PyTorch users to (h5py), with fixed-length
    /// class names as numpy writes them and float64 parameters: Golden/io/native_h5py.h5, written
    /// by tools/make_io_fixtures.py with the architecture of `IOTestSupport.denseModel()` minus its
    /// class names.
    func testNativeFileWrittenByH5py() throws {
        let p = try IOTestSupport.ioFixture("native_h5py.h5")
        let model = try Model.load(contentsOf: p)
        XCTAssertEqual(model.architecture["layers"], try IOTestSupport.denseModel().architecture["layers"],
                       "the fixture no longer matches IOTestSupport.denseModel(); update tools/make_io_fixtures.py")
        XCTAssertEqual(model.classNames, ["a", "bb", "ccc"])
        XCTAssertEqual(model.namedParameters.map { $0.parameter.value.shape }, [[5, 4], [5], [3, 5], [3]])
    }

    func testNativeWithArchitectureOverride() throws {
        let model = try IOTestSupport.denseModel()
        let p = path("m.h5"), a = path("arch.json")
        try model.save(to: p)
        var arch = model.architecture.objectValue!
        arch["metadata"] = ["overridden": true]
        try JSONValue.object(arch).serialized().write(toFile: a, atomically: true, encoding: .utf8)
        let back = try Model.load(contentsOf: p, architecture: a)
        XCTAssertEqual(back.metadata["overridden"], true)
        assertSameParameters(model, back)
    }

    func testSaveIsAtomicAndReplacesExistingFile() throws {
        let p = path("atomic.h5")
        try "old contents".write(toFile: p, atomically: true, encoding: .utf8)
        let model = try IOTestSupport.denseModel()
        try model.save(to: p)
        XCTAssertEqual(try Model.load(contentsOf: p).nodes.count, 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["atomic.h5"], "no temporary files left")

        // A failed save leaves the old file and no temporary file.
        model.namedParameters[0].parameter.value.scalars[0] = .nan
        IOTestSupport.expectError(.nonFiniteValues, containing: ["fc1.weight", p]) { try model.save(to: p) }
        XCTAssertNoThrow(try Model.load(contentsOf: p))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["atomic.h5"])
        IOTestSupport.expectError(.ioFailure, containing: ["does not exist"]) {
            try IOTestSupport.denseModel().save(to: self.path("no/such/folder/m.h5"))
        }
    }

    // MARK: PyTorch state_dict files

    func writeStateDict(_ model: Model, to p: String, group: String? = nil, extra: [String: Tensor] = [:]) throws {
        let f = try HDF5File.create(p)
        var g = try f.root()
        if let group { g = try g.createGroup(group) }
        for (name, param) in model.namedParameters { try g.writeTensor(param.value, name: name) }
        for (name, t) in extra { try g.writeTensor(t, name: name) }
        try f.close()
    }

    func testStateDictAtRootAndInGroup() throws {
        let model = try ModelFileTests.cnnModel()
        let a = path("cnn.arch.json")
        try model.architectureJSON().write(toFile: a, atomically: true, encoding: .utf8)
        for group in [nil, "state_dict"] {
            let p = path("sd-\(group ?? "root").h5")
            try writeStateDict(model, to: p, group: group, extra: ["bn1.num_batches_tracked": Tensor(shape: [], scalars: [3])])
            XCTAssertEqual(try Model.fileKind(of: p), .stateDict)
            let back = try Model.load(contentsOf: p, architecture: a)
            assertSameParameters(model, back)
            let x = IOTestSupport.tensor([2, 2, 9, 8], seed: 3)
            XCTAssertEqual(back(x), model(x))
            XCTAssertEqual(back.metadata["source"], "pytorch state_dict")
        }
        IOTestSupport.expectError(.invalidArgument, containing: ["architecture", path("sd-root.h5")]) {
            _ = try Model.load(contentsOf: self.path("sd-root.h5"))
        }
    }

    // MARK: Keras export and import

    func testKerasExportImportRoundTrip() throws {
        for (i, model) in [try IOTestSupport.denseModel(), try ModelFileTests.cnnModel()].enumerated() {
            let p = path("keras-\(i).h5")
            try model.save(to: p, format: .keras)
            XCTAssertEqual(try Model.fileKind(of: p), .keras)
            let back = try Model.load(contentsOf: p)
            let x = IOTestSupport.tensor([3] + model.inputShape, seed: 11)
            let a = model(x), b = back(x)
            XCTAssertEqual(a.shape, b.shape)
            let error = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(error, 1e-5, "model \(i): Keras round trip changes outputs by \(error)")
            XCTAssertEqual(back.parameterCount, model.parameterCount)
            // Class names, the embedding layer and the metadata survive the trip.
            XCTAssertEqual(back.classNames, model.classNames)
            XCTAssertEqual(back.embeddingNode.map { back.nodes[$0].name }, model.embeddingNode.map { model.nodes[$0].name })
            XCTAssertEqual(back.metadata["source"], "keras")
            for (key, value) in model.metadata { XCTAssertEqual(back.metadata[key], value, key) }
            IOTestSupport.expectError(.invalidArgument, containing: ["Keras", p]) { _ = try Model.load(contentsOf: p, architecture: p) }
        }
    }

    /// Layouts Keras cannot follow directly: a channels-first Flatten of a multi-channel image,
    /// padding that is not TensorFlow's "same", Reshape into an image, Permute, and a transposed
    /// convolution aligned the PyTorch way.
    static func layoutModel() throws -> Model {
        let model = try Model(architecture: [
            "input_shape": [3, 5, 6],
            "layers": [
                ["name": "conv", "type": "Conv2D", "config": ["in_channels": 3, "out_channels": 2, "kernel_size": [2, 3], "padding": [2, 1]]],
                ["name": "convsame", "type": "Conv2D", "config": ["in_channels": 2, "out_channels": 3, "kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1, 0, 1]]],
                ["name": "perm", "type": "Permute", "config": ["dims": [1, 0, 2]]],
                ["name": "flat", "type": "Flatten"],
                ["name": "fc", "type": "Dense", "config": ["in_features": 36, "out_features": 24]],
                ["name": "img", "type": "Reshape", "config": ["shape": [2, 3, 4]]],
                ["name": "deconv", "type": "ConvTranspose2D", "config": ["in_channels": 2, "out_channels": 2, "kernel_size": [3, 3],
                                                                         "stride": [2, 2], "padding": [1, 1], "output_padding": [1, 1]]],
                ["name": "sig", "type": "Sigmoid"],
                ["name": "back", "type": "Reshape", "config": ["shape": [-1]]],
            ],
        ])
        for (i, (_, p)) in model.namedParameters.enumerated() { p.value = IOTestSupport.tensor(p.value.shape, seed: UInt64(i + 40)) }
        return model
    }

    /// The remaining layer types: "same"-equivalent max pooling, padded average pooling, Tanh,
    /// channels-last Flatten, BatchNorm over features, LeakyReLU, Dropout, Softmax.
    static func miscModel() throws -> Model {
        let model = try Model(architecture: [
            "input_shape": [3, 7, 7],
            "layers": [
                ["name": "pool", "type": "MaxPool2D", "config": ["kernel_size": [3, 3], "stride": [2, 2], "padding": [1, 1]]],
                ["name": "avg", "type": "AvgPool2D", "config": ["kernel_size": [2, 2], "stride": [1, 1], "padding": [1, 1]]],
                ["name": "tanh", "type": "Tanh"],
                ["name": "flat", "type": "Flatten", "config": ["order": "channels_last"]],
                ["name": "bn", "type": "BatchNorm", "config": ["num_features": 75, "eps": 0.001, "momentum": 0.2]],
                ["name": "leaky", "type": "LeakyReLU", "config": ["negative_slope": 0.2]],
                ["name": "drop", "type": "Dropout", "config": ["p": 0.1]],
                ["name": "fc", "type": "Dense", "config": ["in_features": 75, "out_features": 4]],
                ["name": "probs", "type": "Softmax"],
            ],
        ])
        for (i, (_, p)) in model.namedParameters.enumerated() {
            var v = IOTestSupport.tensor(p.value.shape, seed: UInt64(i + 60))
            if p.name == "running_var" { v = v.map { 0.5 + abs($0) } }
            p.value = v
        }
        return model
    }

    func testKerasExportOfLayoutSensitiveLayers() throws {
        for (name, model) in [("layout", try ModelFileTests.layoutModel()), ("misc", try ModelFileTests.miscModel())] {
            let p = path("\(name).keras.h5")
            try model.save(to: p, format: .keras)
            let back = try Model.load(contentsOf: p)
            let x = IOTestSupport.tensor([2] + model.inputShape, seed: 12)
            var y = back(x)
            // A final Softmax is removed on import (the model then outputs logits).
            if back.metadata["removed_output_activation"] == "softmax" { y = Softmax()(y) }
            let error = zip(model(x).scalars, y.scalars).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(error, 1e-5, name)
            XCTAssertEqual(back.outputShape, model.outputShape, name)
        }
    }

    /// Writes the Keras exports that tools/check_keras_export.py verifies with Keras itself, into
    /// `$BORDERLINE_KERAS_EXPORT_DIR` (the test is skipped when it is not set).
    func testWriteKerasExportFixtures() throws {
        guard let out = ProcessInfo.processInfo.environment["BORDERLINE_KERAS_EXPORT_DIR"] else {
            throw XCTSkip("set BORDERLINE_KERAS_EXPORT_DIR to write fixtures for tools/check_keras_export.py")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var models: [(String, Model)] = [("dense", try IOTestSupport.denseModel()), ("cnn_dag", try ModelFileTests.cnnModel()),
                                         ("layout", try ModelFileTests.layoutModel()), ("misc", try ModelFileTests.miscModel())]
        for name in GoldenModelTests.models {
            let p = IOTestSupport.goldenDirectory.appendingPathComponent("\(name).native.h5").path
            if FileManager.default.fileExists(atPath: p) { models.append(("golden_\(name)", try Model.load(contentsOf: p))) }
        }
        for (name, model) in models {
            try model.save(to: "\(out)/\(name).keras.h5", format: .keras)
            try model.save(to: "\(out)/\(name).native.h5", format: .native)
            let x = IOTestSupport.tensor([4] + model.inputShape, seed: 5).map { abs($0) }
            let f = try HDF5File.create("\(out)/\(name).io.h5")
            let root = try f.root()
            try root.writeTensor(x, name: "x")
            try root.writeTensor(model(x), name: "y")
            try f.close()
        }
    }

    /// Keras files written by Keras 3 itself (Sequential and Functional, with every supported layer
    /// and the awkward cases: "same" padding with stride 2, odd-sized "same" max pooling,
    /// ZeroPadding2D, a Conv2DTranspose that crops at the end, Reshape into and out of images,
    /// Permute, keepdims pooling, a final Softmax layer) and Keras 2-style files (bytes attributes,
    /// `name:0` weights, `batch_input_shape`, `[[[layer, 0, 0, {}]]]` inbound nodes). Each import
    /// must reproduce Keras's outputs. The files and Keras's outputs (Golden/io/keras_expected.h5)
    /// are written by tools/make_io_fixtures.py.
    func testKerasImportMatchesKeras() throws {
        let names = ["k3_sequential", "k3_decoder", "k3_functional", "k2_functional", "k2_sequential"]
        let expected = try HDF5File.open(try IOTestSupport.ioFixture("keras_expected.h5")).root()
        XCTAssertEqual(try expected.memberNames(), names.sorted())
        for name in names {
            let model = try Model.load(contentsOf: try IOTestSupport.ioFixture("\(name).h5"))
            let io = try expected.group(name)
            let x = try io.readTensor("x"), y = try io.readTensor("y")
            var out = model(x)
            if try io.intAttribute("probabilities") == 1 {
                XCTAssertEqual(model.metadata["removed_output_activation"], "softmax", name)
                out = Softmax()(out)
            }
            XCTAssertEqual(out.shape, y.shape, name)
            let error = zip(out.scalars, y.scalars).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(error, 1e-5, "\(name): Borderline differs from Keras by \(error)")
        }
        let k2 = try Model.load(contentsOf: try IOTestSupport.ioFixture("k2_functional.h5"))
        XCTAssertEqual(k2.metadata["keras_version"], "2.13.1")
        XCTAssertEqual(k2.nodes.map(\.name), ["conv", "conv.relu", "add", "flatten", "dense"])
    }
}
