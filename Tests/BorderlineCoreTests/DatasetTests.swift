import BorderlineCore
import Foundation
import XCTest

final class DatasetTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try IOTestSupport.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A tiny data set whose pixels are exact multiples of 1/255.
    static func tinyDataset(count: Int = 7, channels: Int = 1, size: (Int, Int) = (4, 3), classes: Int = 3) throws -> Dataset {
        let per = channels * size.0 * size.1
        let pixels = (0..<(count * per)).map { Float(($0 * 37) % 256) / 255 }
        return try Dataset(name: "tiny", images: Tensor(shape: [count, channels, size.0, size.1], scalars: pixels),
                           labels: (0..<count).map { $0 % classes }, classNames: (0..<classes).map { "class \($0)" })
    }

    // MARK: IDX

    func testIDXRoundTripPlainAndGzip() throws {
        let data = try DatasetTests.tinyDataset()
        for ext in ["", ".gz"] {
            let images = path("t-images-idx3-ubyte\(ext)"), labels = path("t-labels-idx1-ubyte\(ext)")
            try data.writeIDX(images: images, labels: labels)
            let back = try Dataset.readIDX(images: images, labels: labels, classNames: data.classNames)
            XCTAssertEqual(back.images, data.images)
            XCTAssertEqual(back.labels, data.labels)
            XCTAssertEqual(back.imageShape, [1, 4, 3])
            XCTAssertEqual(back.name, "t-images-idx3-ubyte\(ext)")
            // Dataset.load finds the labels file next to the images file.
            XCTAssertEqual(try Dataset.load(images, split: .test).labels, data.labels)
        }
        let gz = try Data(contentsOf: URL(fileURLWithPath: path("t-images-idx3-ubyte.gz")))
        XCTAssertEqual(Array(gz.prefix(2)), [0x1f, 0x8b], "written gzip-compressed")
    }

    func testIDXHeaderIsValidated() throws {
        let p = path("x-images-idx3-ubyte")
        try IDXFile.write(IDXFile.Contents(shape: [2, 2, 2], bytes: Array(0..<8)), to: p)
        XCTAssertEqual(try IDXFile.read(p, dimensions: 3).shape, [2, 2, 2])
        IOTestSupport.expectError(.unreadableFile, containing: [p, "3 dimensions", "expected 1"]) { _ = try IDXFile.read(p, dimensions: 1) }
    }

    func testFolderAndNamedDataSets() throws {
        let data = try DatasetTests.tinyDataset(classes: 10)
        let folder = dir.appendingPathComponent("fashion-mnist").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try data.writeIDX(images: "\(folder)/t10k-images-idx3-ubyte.gz", labels: "\(folder)/t10k-labels-idx1-ubyte.gz")
        try data.prefix(3).writeIDX(images: "\(folder)/train-images-idx3-ubyte", labels: "\(folder)/train-labels-idx1-ubyte")

        let test = try Dataset.named("fashion-mnist", split: .test, searchPaths: [dir.path])
        XCTAssertEqual(test.count, 7)
        XCTAssertEqual(test.name, "fashion-mnist/test")
        XCTAssertEqual(test.classNames, Dataset.fashionMNISTClassNames)
        XCTAssertEqual(test.className(9), "Ankle boot")
        XCTAssertEqual(try Dataset.named("fashion-mnist", split: .train, searchPaths: [dir.path]).count, 3)
        XCTAssertEqual(try Dataset.load(folder, split: .train).count, 3)
        XCTAssertEqual(try Dataset.load(folder, split: .test).classNames.count, 10)
    }

    func testMissingNamedDataSetSaysWhatToInstall() {
        let e = IOTestSupport.expectError(.fileNotFound, containing: ["fashion-mnist", "apt-get install dataset-fashion-mnist", dir.path]) {
            _ = try Dataset.named("fashion-mnist", split: .train, searchPaths: [self.dir.path])
        }
        XCTAssertEqual(e?.file, dir.appendingPathComponent("fashion-mnist/train-images-idx3-ubyte.gz").path)
        IOTestSupport.expectError(.fileNotFound, containing: ["no-such-set"]) { _ = try Dataset.load("no-such-set", split: .test) }
        IOTestSupport.expectError(.fileNotFound, containing: [path("none.h5")]) { _ = try Dataset.load(self.path("none.h5"), split: .test) }
    }

    /// The real Fashion-MNIST test split, when the package is installed.
    func testFashionMNISTTestSplit() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let test = try Dataset.named("fashion-mnist", split: .test)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(test.imageShape, [1, 28, 28])
        XCTAssertEqual(test.classCount, 10)
        XCTAssertEqual(Set(test.labels), Set(0..<10))
        XCTAssertEqual(test.classNames.first, "T-shirt/top")
        let (lo, hi) = (test.images.scalars.min()!, test.images.scalars.max()!)
        XCTAssertEqual(lo, 0)
        XCTAssertEqual(hi, 1)
        try test.validate(for: try Model.fashionCNN(seed: 1))
    }

    // MARK: HDF5 data sets

    func testHDF5RoundTripUInt8AndFloat() throws {
        let data = try DatasetTests.tinyDataset(channels: 2)
        for encoding in [Dataset.ImageEncoding.uint8, .float32] {
            let p = path("data-\(encoding.rawValue).h5")
            try data.writeHDF5(to: p, encoding: encoding)
            let back = try Dataset.readHDF5(p)
            XCTAssertEqual(back.images, data.images, "\(encoding)")
            XCTAssertEqual(back.labels, data.labels)
            XCTAssertEqual(back.classNames, data.classNames)
            XCTAssertEqual(back.name, "tiny")
            XCTAssertEqual(try HDF5File.open(p).root().dataset("x").elementType,
                           encoding == .uint8 ? .unsignedInteger(bytes: 1) : .float(bytes: 4))
            XCTAssertEqual(try Dataset.load(p, split: .train).count, data.count)
        }
    }

    /// `x` as (N, H, W), as (N, H, W, C) with `layout = "NHWC"`, `y` as int32, class names as
    /// fixed-length strings, and train/test groups.
    func testHDF5LayoutsAndSplits() throws {
        let p = path("layouts.h5")
        // Two 2×3 images with 2 channels, NHWC: pixel (h, w, c) = 100·n + 10·h + w + c/2.
        var nhwc: [Float] = []
        for n in 0..<2 { for h in 0..<2 { for w in 0..<3 { for c in 0..<2 { nhwc.append(Float(100 * n + 10 * h + w) + Float(c) / 2) } } } }
        do {
            let f = try HDF5File.create(p)
            let root = try f.root()
            for split in ["train", "test"] {
                let g = try root.createGroup(split)
                try g.writeTensor(Tensor(shape: [2, 2, 3, 2], scalars: nhwc), name: "x")
                try g.dataset("x").setAttribute("layout", string: "NHWC", variableLength: false)
                try g.writeInt64s(split == "train" ? [0, 1] : [1, 1], name: "y")
            }
            try root.setAttribute("class_names", strings: ["zero", "one"], variableLength: false)
            try root.writeUInt8s([0, 255, 51, 102], shape: [2, 2, 1], name: "gray/x")
            try root.writeInt64s([1, 0], name: "gray/y")
            try f.close()
        }
        let train = try Dataset.readHDF5(p, split: .train)
        XCTAssertEqual(train.imageShape, [2, 2, 3])
        XCTAssertEqual(train.name, "layouts.h5/train")
        XCTAssertEqual(train.classNames, ["zero", "one"])
        // Image 1, channel 1, h = 1, w = 2 → 100 + 10 + 2 + 0.5.
        XCTAssertEqual(train.images.scalars[1 * 12 + 1 * 6 + 1 * 3 + 2], 112.5)
        XCTAssertEqual(try Dataset.readHDF5(p, split: .test).labels, [1, 1])
        IOTestSupport.expectError(.missingEntry, containing: ["/x", p]) { _ = try Dataset.readHDF5(p) }
    }

    // MARK: Validation and batches

    func testValidateAgainstModel() throws {
        let cnn = try Model.fashionCNN(seed: 1)
        let ok = try DatasetTests.tinyDataset(size: (28, 28), classes: 10)
        XCTAssertNoThrow(try ok.validate(for: cnn))
        IOTestSupport.expectError(.dataMismatch, containing: ["[1, 4, 3]", "[1, 28, 28]", "tiny"]) {
            try DatasetTests.tinyDataset().validate(for: cnn)
        }
        let flat = try IOTestSupport.denseModel()   // input [4], 3 classes
        let images = try DatasetTests.tinyDataset(size: (2, 2), classes: 5)
        IOTestSupport.expectError(.dataMismatch, containing: ["reshaped"]) { try images.validate(for: flat) }
        IOTestSupport.expectError(.dataMismatch, containing: ["label 3", "3 outputs"]) { try images.reshaped(to: [4]).validate(for: flat) }
        XCTAssertNoThrow(try DatasetTests.tinyDataset(size: (2, 2), classes: 3).reshaped(to: [4]).validate(for: flat))
    }

    func testBatches() throws {
        let data = try DatasetTests.tinyDataset(count: 10)
        let plain = Array(data.batches(size: 4))
        XCTAssertEqual(plain.map(\.labels.count), [4, 4, 2])
        XCTAssertEqual(plain.flatMap(\.indices), Array(0..<10))
        XCTAssertEqual(plain[1].images, data.images.slice(batch: 4..<8))
        XCTAssertEqual(data.batches(size: 4).count, 3)
        XCTAssertEqual(Array(data.batches(size: 4, dropLast: true)).map(\.labels.count), [4, 4])
        XCTAssertEqual(data.batches(size: 4, dropLast: true).count, 2)

        let a = Array(data.batches(size: 3, shuffleSeed: 42)).flatMap(\.indices)
        let b = Array(data.batches(size: 3, shuffleSeed: 42)).flatMap(\.indices)
        let c = Array(data.batches(size: 3, shuffleSeed: 43)).flatMap(\.indices)
        XCTAssertEqual(a, b, "same seed, same order")
        XCTAssertNotEqual(a, c)
        XCTAssertNotEqual(a, Array(0..<10))
        XCTAssertEqual(a.sorted(), Array(0..<10), "every image exactly once")
        let batch = data.batch([3, 1])
        XCTAssertEqual(batch.labels, [data.labels[3], data.labels[1]])
        XCTAssertEqual(data.subset([2, 5]).labels, [data.labels[2], data.labels[5]])
        XCTAssertEqual(data.prefix(100).count, 10)
    }

    func testInitialiserChecks() throws {
        IOTestSupport.expectError(.shapeMismatch, containing: ["3 images but 2 labels"]) {
            _ = try Dataset(name: "bad", images: Tensor(zeros: [3, 1, 2, 2]), labels: [0, 1])
        }
        IOTestSupport.expectError(.dataMismatch, containing: ["label 2", "2 class names"]) {
            _ = try Dataset(name: "bad", images: Tensor(zeros: [1, 1, 2, 2]), labels: [2], classNames: ["a", "b"])
        }
        // Images [N, C, H, W] or vectors [N, D]; a bare list of numbers is neither.
        IOTestSupport.expectError(.shapeMismatch, containing: ["[N, C, H, W]", "[N, D]"]) {
            _ = try Dataset(name: "bad", images: Tensor(zeros: [4]), labels: [0, 0, 0, 0])
        }
        XCTAssertEqual(try Dataset(name: "vectors", images: Tensor(zeros: [2, 4]), labels: [0, 1]).imageShape, [4])
    }
}
