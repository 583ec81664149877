import BorderlineCore
import Foundation
import XCTest

/// Helpers shared by the IO, data-set and malformed-input tests.
enum IOTestSupport {
    static var goldenDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    }

    /// A committed file of `Golden/io`, written by real h5py/Keras with tools/make_io_fixtures.py
    /// (the tests never run Python); a missing file fails the test.
    static func ioFixture(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = goldenDirectory.appendingPathComponent("io").appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("fixture Golden/io/\(name) is missing; run python3 tools/make_io_fixtures.py", file: file, line: line)
            throw BorderlineError(.fileNotFound, "fixture Golden/io/\(name) is missing", file: path)
        }
        return path
    }

    /// A fresh temporary folder, removed when the process exits.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("borderline-io-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `body`, which must throw a `BorderlineError` of `kind` whose description contains every
    /// fragment; returns the error.
    @discardableResult
    static func expectError(_ kind: BorderlineError.Kind, containing fragments: [String], file: StaticString = #filePath,
                            line: UInt = #line, _ body: () throws -> Void) -> BorderlineError? {
        do {
            try body()
            XCTFail("expected a \(kind) error, but nothing was thrown", file: file, line: line)
            return nil
        } catch let e as BorderlineError {
            if ProcessInfo.processInfo.environment["BORDERLINE_PRINT_ERRORS"] != nil { print("[\(e.kind)] \(e)") }
            XCTAssertEqual(e.kind, kind, "wrong kind for: \(e)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(e.description.contains(fragment), "'\(e)' does not mention '\(fragment)'", file: file, line: line)
            }
            return e
        } catch {
            XCTFail("expected a BorderlineError, got \(error)", file: file, line: line)
            return nil
        }
    }

    /// A tiny Dense/ReLU classifier on `[4]` inputs with deterministic weights.
    static func denseModel(seed: UInt64 = 1, classNames: [String] = ["a", "b", "c"]) throws -> Model {
        var g = RandomGenerator(seed: seed)
        return try Model.sequential(inputShape: [4], [
            ("fc1", Dense(inFeatures: 4, outFeatures: 5, generator: &g)),
            ("relu1", ReLU()),
            ("fc2", Dense(inFeatures: 5, outFeatures: 3, generator: &g)),
        ], embedding: "relu1", classNames: classNames, metadata: ["note": "test"])
    }

    /// Deterministic values in [-1, 1).
    static func tensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return g.uniform(shape: shape, low: -1, high: 1)
    }

    /// Writes the first `fraction` of a file's bytes to `to`.
    static func truncate(_ from: String, to: String, fraction: Double = 0.5) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: from))
        try data.prefix(Int(Double(data.count) * fraction)).write(to: URL(fileURLWithPath: to))
    }
}

final class HDF5Tests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try IOTestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func testDatasetsOfAnyRankRoundTrip() throws {
        let p = path("ranks.h5")
        let tensors: [String: Tensor] = [
            "scalar": Tensor(shape: [], scalars: [3.5]),
            "vector": IOTestSupport.tensor([7], seed: 1),
            "matrix": IOTestSupport.tensor([3, 4], seed: 2),
            "images": IOTestSupport.tensor([2, 3, 4, 5], seed: 3),
            "empty": Tensor(zeros: [0, 3]),
        ]
        do {
            let f = try HDF5File.create(p)
            let root = try f.root()
            for (name, t) in tensors { try root.writeTensor(t, name: name) }
            try root.writeTensor(tensors["images"]!, name: "nested/deeper/images", compressionLevel: 6)
            try root.writeInt64s([1, -2, 3, 1 << 40], name: "ints")
            try root.writeUInt8s([0, 128, 255, 7, 8, 9], shape: [2, 3], name: "bytes")
            try f.close()
        }
        let f = try HDF5File.open(p)
        let root = try f.root()
        for (name, t) in tensors {
            let back = try root.readTensor(name)
            XCTAssertEqual(back, t, name)
            XCTAssertEqual(try root.dataset(name).elementType, .float(bytes: 4))
        }
        XCTAssertEqual(try root.readTensor("nested/deeper/images"), tensors["images"])
        XCTAssertEqual(try root.group("nested").group("deeper").readTensor("images"), tensors["images"])
        XCTAssertEqual(try root.readInt64s("ints").values, [1, -2, 3, 1 << 40])
        XCTAssertEqual(try root.dataset("bytes").readUInt8s(), [0, 128, 255, 7, 8, 9])
        XCTAssertEqual(try root.dataset("bytes").shape, [2, 3])
        XCTAssertEqual(try root.memberNames(), ["bytes", "empty", "images", "ints", "matrix", "nested", "scalar", "vector"])
        XCTAssertEqual(root.kind(of: "nested"), .group)
        XCTAssertEqual(root.kind(of: "ints"), .dataset)
        XCTAssertNil(root.kind(of: "nope"))
        XCTAssertNil(root.kind(of: "nope/deeper"))
        XCTAssertFalse(root.contains("nested/nope"))
    }

    func testFloat64AndIntegerDatasetsReadAsFloat() throws {
        let p = path("tolerant.h5")
        do {
            let f = try HDF5File.create(p)
            let root = try f.root()
            try root.writeDoubles([0.25, -1.5, 1e-3, 2], shape: [2, 2], name: "double")
            try root.writeInt64s([1, 2, 3], name: "int")
            try root.writeUInt8s([0, 255], name: "byte")
            try f.close()
        }
        let root = try HDF5File.open(p).root()
        XCTAssertEqual(try root.readTensor("double"), Tensor(shape: [2, 2], scalars: [0.25, -1.5, 1e-3, 2]))
        XCTAssertEqual(try root.dataset("double").elementType, .float(bytes: 8))
        XCTAssertEqual(try root.readTensor("int"), Tensor(shape: [3], scalars: [1, 2, 3]))
        XCTAssertEqual(try root.readTensor("byte").scalars, [0, 255])
        IOTestSupport.expectError(.unreadableFile, containing: ["/double", "expected integers", p]) {
            _ = try root.readInt64s("double")
        }
        IOTestSupport.expectError(.unreadableFile, containing: ["/int", "uint8"]) { _ = try root.dataset("int").readUInt8s() }
    }

    func testStringAttributesFixedAndVariableLength() throws {
        let p = path("strings.h5")
        let names = ["T-shirt/top", "Trouser", "Ankle boot"]
        do {
            let f = try HDF5File.create(p)
            let root = try f.root()
            try root.setAttribute("vlen_scalar", string: "borderline.model")
            try root.setAttribute("fixed_scalar", string: "borderline.model", variableLength: false)
            try root.setAttribute("vlen_array", strings: names)
            try root.setAttribute("fixed_array", strings: names, variableLength: false)
            try root.setAttribute("unicode", string: "Größe ✓")
            try root.setAttribute("unicode_fixed", strings: ["Größe", "✓"], variableLength: false)
            try root.setAttribute("empty_array", strings: [])
            try root.setAttribute("empty_string", string: "")
            try root.setAttribute("empty_floats", doubles: [])
            try root.setAttribute("int", int: 7)
            try root.setAttribute("ints", ints: [1, 28, 28])
            try root.setAttribute("integral_doubles", doubles: [3, 4])
            try root.setAttribute("fraction", doubles: [0.5])
            try root.setAttribute("replaced", string: "old")
            try root.setAttribute("replaced", string: "new", variableLength: false)
            try f.close()
        }
        let root = try HDF5File.open(p).root()
        XCTAssertEqual(try root.attributeType("vlen_scalar"), .string(variableLength: true))
        XCTAssertEqual(try root.attributeType("fixed_scalar"), .string(variableLength: false))
        XCTAssertEqual(try root.stringAttribute("vlen_scalar"), "borderline.model")
        XCTAssertEqual(try root.stringAttribute("fixed_scalar"), "borderline.model")
        XCTAssertEqual(try root.stringArrayAttribute("vlen_array"), names)
        XCTAssertEqual(try root.stringArrayAttribute("fixed_array"), names)
        XCTAssertEqual(try root.stringAttribute("unicode"), "Größe ✓")
        XCTAssertEqual(try root.stringArrayAttribute("unicode_fixed"), ["Größe", "✓"])
        XCTAssertEqual(try root.stringArrayAttribute("vlen_scalar"), ["borderline.model"])
        XCTAssertEqual(try root.stringArrayAttribute("empty_array"), [])
        XCTAssertEqual(try root.stringAttribute("empty_string"), "")
        XCTAssertEqual(try root.stringArrayAttribute("empty_floats"), [], "h5py writes [] as an empty float64 array")
        XCTAssertEqual(try root.intAttribute("int"), 7)
        XCTAssertEqual(try root.intArrayAttribute("ints"), [1, 28, 28])
        XCTAssertEqual(try root.intArrayAttribute("integral_doubles"), [3, 4])
        XCTAssertEqual(try root.stringAttribute("replaced"), "new")
        XCTAssertTrue(try root.attributeNames().contains("fixed_array"))
        XCTAssertEqual(try root.attributeNames().count, 14)

        IOTestSupport.expectError(.invalidConfiguration, containing: ["'fixed_array'", "3 strings", p]) { _ = try root.stringAttribute("fixed_array") }
        IOTestSupport.expectError(.invalidConfiguration, containing: ["'int'", "expected strings"]) { _ = try root.stringAttribute("int") }
        IOTestSupport.expectError(.invalidConfiguration, containing: ["'vlen_scalar'", "expected integers"]) { _ = try root.intAttribute("vlen_scalar") }
        IOTestSupport.expectError(.invalidConfiguration, containing: ["'fraction'", "non-integer"]) { _ = try root.intAttribute("fraction") }
        IOTestSupport.expectError(.missingEntry, containing: ["group /", "no attribute 'nope'", p]) { _ = try root.stringAttribute("nope") }
    }

    /// Strings as h5py and numpy write them: Python `str` (variable-length UTF-8), numpy `bytes_`
    /// arrays (fixed-length, NUL-padded), and space-padded fixed strings (Fortran/MATLAB writers).
    /// The file is Golden/io/h5py_strings.h5, written by tools/make_io_fixtures.py.
    func testStringAttributesWrittenByH5py() throws {
        let fixture = try IOTestSupport.ioFixture("h5py_strings.h5")
        let root = try HDF5File.open(fixture).root()
        XCTAssertEqual(try root.stringAttribute("str"), "variable")
        XCTAssertEqual(try root.attributeType("bytes"), .string(variableLength: false))
        XCTAssertEqual(try root.stringAttribute("bytes"), "fixed")
        XCTAssertEqual(try root.stringArrayAttribute("str_list"), ["a", "bc"])
        XCTAssertEqual(try root.attributeType("bytes_array"), .string(variableLength: false))
        XCTAssertEqual(try root.stringArrayAttribute("bytes_array"), ["T-shirt/top", "Bag"])
        XCTAssertEqual(try root.stringArrayAttribute("empty_list"), [])
        XCTAssertEqual(try root.stringAttribute("spacepad"), "ab")
    }

    func testMissingFileIsFileNotFound() {
        let p = path("does-not-exist.h5")
        IOTestSupport.expectError(.fileNotFound, containing: [p]) { _ = try HDF5File.open(p) }
    }

    func testDirectoryIsUnreadable() {
        IOTestSupport.expectError(.unreadableFile, containing: [dir.path, "directory"]) { _ = try HDF5File.open(self.dir.path) }
    }

    func testTextFileIsNotHDF5() throws {
        let p = path("notes.h5")
        try "just some text, not HDF5\n".write(toFile: p, atomically: true, encoding: .utf8)
        IOTestSupport.expectError(.unreadableFile, containing: [p, "not an HDF5 file"]) { _ = try HDF5File.open(p) }
    }

    func testTruncatedFileIsUnreadable() throws {
        let p = path("whole.h5")
        do {
            let f = try HDF5File.create(p)
            try f.root().writeTensor(IOTestSupport.tensor([64, 64], seed: 4), name: "big")
            try f.close()
        }
        let cut = path("half.h5")
        try IOTestSupport.truncate(p, to: cut)
        IOTestSupport.expectError(.unreadableFile, containing: [cut, "truncated"]) {
            let f = try HDF5File.open(cut)
            _ = try f.root().readTensor("big")
        }
    }

    func testMissingObjectsNameTheirPaths() throws {
        let p = path("objects.h5")
        do {
            let f = try HDF5File.create(p)
            let g = try f.root().createGroup("parameters")
            try g.writeTensor(Tensor(zeros: [2]), name: "fc.bias")
            try f.close()
        }
        let root = try HDF5File.open(p).root()
        IOTestSupport.expectError(.missingEntry, containing: ["dataset /parameters/fc.weight not found", p]) {
            _ = try root.group("parameters").dataset("fc.weight")
        }
        IOTestSupport.expectError(.missingEntry, containing: ["group /nope not found"]) { _ = try root.group("nope") }
        IOTestSupport.expectError(.missingEntry, containing: ["/parameters is a group"]) { _ = try root.dataset("parameters") }
        IOTestSupport.expectError(.missingEntry, containing: ["/parameters/fc.bias is a dataset"]) { _ = try root.group("parameters/fc.bias") }
    }

    func testUpdateInPlaceAndRemove() throws {
        let p = path("update.h5")
        do {
            let f = try HDF5File.create(p)
            let root = try f.root()
            try root.writeTensor(Tensor(zeros: [2]), name: "a")
            try root.writeTensor(Tensor(zeros: [2]), name: "b")
            try root.setAttribute("tag", string: "one")
            try f.close()
        }
        do {
            let f = try HDF5File.openForUpdate(p)
            let root = try f.root()
            try root.remove("a")
            try root.writeTensor(Tensor(repeating: 1, shape: [3]), name: "b")
            try root.setAttribute("tag", string: "two")
            try root.removeAttribute("nothing-here")
            try f.close()
            IOTestSupport.expectError(.ioFailure, containing: ["closed"]) { _ = try f.root() }
        }
        let root = try HDF5File.open(p).root()
        XCTAssertEqual(try root.memberNames(), ["b"])
        XCTAssertEqual(try root.readTensor("b").scalars, [1, 1, 1])
        XCTAssertEqual(try root.stringAttribute("tag"), "two")
    }

    /// Every identifier the wrapper opens is closed again, on success and on every error path.
    func testNothingIsLeftOpen() throws {
        let before = HDF5File.openObjectCount
        let model = try IOTestSupport.denseModel()
        let native = path("leak.h5"), keras = path("leak.keras.h5"), cut = path("leak-cut.h5")
        try model.save(to: native)
        try model.save(to: keras, format: .keras)
        _ = try Model.load(contentsOf: native)
        _ = try Model.load(contentsOf: keras)
        try IOTestSupport.truncate(native, to: cut)
        _ = try? Model.load(contentsOf: cut)
        do {
            let f = try HDF5File.openForUpdate(native)
            try f.root().remove("parameters/fc1.bias")
            try f.root().setAttribute("extra", strings: ["a", "b"], variableLength: false)
        }
        _ = try? Model.load(contentsOf: native)
        do {
            let root = try HDF5File.open(native).root()
            _ = try root.stringArrayAttribute("extra")
            _ = try root.attributeNames()
            _ = try? root.stringAttribute("missing")
            _ = try? root.readTensor("parameters/missing")
            _ = try? root.intAttribute("extra")
            XCTAssertEqual(HDF5File.openObjectCount, before + 2, "the open file and root group are counted")
        }
        XCTAssertEqual(HDF5File.openObjectCount, before)
    }

    /// Objects outliving an explicit close neither crash nor leak the file.
    func testObjectsOutlivingCloseAreSafe() throws {
        let p = path("close.h5")
        let f = try HDF5File.create(p)
        let g = try f.root().createGroup("g")
        try g.writeTensor(Tensor(zeros: [1]), name: "x")
        try f.close()
        IOTestSupport.expectError(.ioFailure, containing: ["closed"]) { try g.writeTensor(Tensor(zeros: [1]), name: "y") }
        XCTAssertFalse(g.hasAttribute("anything"))
        XCTAssertEqual(try HDF5File.open(p).root().group("g").readTensor("x").scalars, [0])
    }
}
