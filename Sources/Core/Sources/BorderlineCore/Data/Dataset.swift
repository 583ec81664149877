import Foundation

/// A labelled image data set held in memory: images `[N, C, H, W]` scaled to [0, 1] (or
/// feature vectors `[N, D]` for models that take vectors), one integer label per image, and the
/// class names. See docs/data-format.md for the files it reads.
public struct Dataset: Sendable {
    /// Which half of a named data set.
    public enum Split: String, CaseIterable, Sendable {
        case train, test
    }

    /// A human-readable name (`fashion-mnist/test`, a file name, …).
    public var name: String
    /// The images, `[N, C, H, W]` (or `[N, D]` vectors, `[N, …]` in general).
    public private(set) var images: Tensor
    /// The label of each image, `0 ..< classCount`.
    public private(set) var labels: [Int]
    /// The class names, one per label value; may be empty when the source has none.
    public var classNames: [String]
    /// The file the images were read from, if any (named in error messages).
    public var source: String?
    /// False for a set read without labels (an HDF5 file with `x` only, for prediction); its
    /// labels are then all 0 and mean nothing.
    public internal(set) var isLabelled = true

    /// Creates a data set, checking that images and labels agree.
    public init(name: String, images: Tensor, labels: [Int], classNames: [String] = [], source: String? = nil) throws {
        guard images.rank >= 2 else {
            throw BorderlineError(.shapeMismatch, "data set '\(name)': images must be [N, C, H, W] (or vectors [N, D]), found \(images.shape)")
        }
        guard images.batchSize == labels.count else {
            throw BorderlineError(.shapeMismatch, "data set '\(name)': \(images.batchSize) images but \(labels.count) labels")
        }
        if let bad = labels.firstIndex(where: { $0 < 0 }) {
            throw BorderlineError(.dataMismatch, "data set '\(name)': label \(labels[bad]) at index \(bad) is negative")
        }
        if !classNames.isEmpty, let bad = labels.firstIndex(where: { $0 >= classNames.count }) {
            throw BorderlineError(.dataMismatch,
                "data set '\(name)': label \(labels[bad]) at index \(bad) is not below the \(classNames.count) class names")
        }
        self.name = name
        self.images = images
        self.labels = labels
        self.classNames = classNames
        self.source = source
    }

    /// Number of images.
    public var count: Int { labels.count }
    /// The shape of one image, `[C, H, W]`.
    public var imageShape: [Int] { images.sampleShape }
    /// The number of classes: the class names' count, else one more than the largest label.
    public var classCount: Int { classNames.isEmpty ? (labels.max().map { $0 + 1 } ?? 0) : classNames.count }

    /// The name of class `label` (its number when the data set has no names).
    public func className(_ label: Int) -> String {
        label >= 0 && label < classNames.count ? classNames[label] : String(label)
    }

    // MARK: Validation

    /// Checks that the model can classify this data: the image shape is the model's input shape and
    /// every label is one of the model's outputs.
    /// - Throws: `.dataMismatch` saying what differs.
    public func validate(for model: Model) throws {
        guard imageShape == model.inputShape else {
            var hint = ""
            if Tensor.count(of: imageShape) == Tensor.count(of: model.inputShape) {
                hint = " (same number of values: use `dataset.reshaped(to: model.inputShape)`)"
            }
            throw BorderlineError(.dataMismatch,
                "data set '\(name)' has images of shape \(imageShape) but the model expects inputs of shape \(model.inputShape)\(hint)",
                file: source)
        }
        let classes = model.classCount
        if let bad = labels.firstIndex(where: { $0 >= classes }) {
            throw BorderlineError(.dataMismatch,
                "data set '\(name)' has label \(labels[bad]) (image \(bad)) but the model has only \(classes) outputs", file: source)
        }
        if !classNames.isEmpty, !model.classNames.isEmpty, classNames.count != model.classNames.count {
            throw BorderlineError(.dataMismatch,
                "data set '\(name)' has \(classNames.count) classes but the model has \(model.classNames.count) class names", file: source)
        }
    }

    /// The same images under another per-sample shape with the same number of values (e.g. `[784]`
    /// for a model that takes flat vectors).
    public func reshaped(to sampleShape: [Int]) throws -> Dataset {
        guard Tensor.count(of: sampleShape) == Tensor.count(of: imageShape) else {
            throw BorderlineError(.dataMismatch, "data set '\(name)': cannot reshape images \(imageShape) to \(sampleShape)")
        }
        var copy = self
        copy.images = images.reshaped([count] + sampleShape)
        return copy
    }

    // MARK: Subsets and batches

    /// The images and labels at `indices`, in that order.
    public func subset(_ indices: [Int], name: String? = nil) -> Dataset {
        var copy = self
        copy.images = images.gather(batch: indices)
        copy.labels = indices.map { labels[$0] }
        if let name { copy.name = name }
        return copy
    }

    /// The first `n` images (all of them if there are fewer).
    public func prefix(_ n: Int) -> Dataset {
        let k = Swift.max(0, Swift.min(n, count))
        var copy = self
        copy.images = images.slice(batch: 0..<k)
        copy.labels = Array(labels.prefix(k))
        return copy
    }

    /// One mini-batch.
    public struct Batch: Sendable {
        public var images: Tensor
        public var labels: [Int]
        /// Positions of the batch's images in the data set.
        public var indices: [Int]
    }

    /// The images at `indices` as a batch.
    public func batch(_ indices: [Int]) -> Batch {
        Batch(images: images.gather(batch: indices), labels: indices.map { labels[$0] }, indices: indices)
    }

    /// Iterates over the data set in batches of `size` (the last may be smaller unless `dropLast`).
    /// With a `shuffleSeed` the order is a seeded random permutation, the same for the same seed.
    public func batches(size: Int, shuffleSeed: UInt64? = nil, dropLast: Bool = false) -> Batches {
        precondition(size > 0, "Dataset.batches: size must be positive")
        var order = Array(0..<count)
        if let seed = shuffleSeed {
            var g = RandomGenerator(seed: seed)
            order = g.permutation(count)
        }
        return Batches(dataset: self, order: order, size: size, dropLast: dropLast)
    }

    /// A lazy sequence of batches; each batch is gathered when it is reached.
    public struct Batches: Sequence, Sendable {
        public let dataset: Dataset
        public let order: [Int]
        public let size: Int
        public let dropLast: Bool

        /// The number of batches.
        public var count: Int { dropLast ? order.count / size : (order.count + size - 1) / size }

        public func makeIterator() -> AnyIterator<Batch> {
            var start = 0
            return AnyIterator {
                let end = Swift.min(start + size, order.count)
                guard start < end, !(dropLast && end - start < size) else { return nil }
                defer { start = end }
                return dataset.batch(Array(order[start..<end]))
            }
        }
    }
}

// MARK: - Named data sets and files

extension Dataset {
    /// The ten Fashion-MNIST classes, in label order.
    public static let fashionMNISTClassNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// Where named data sets are looked for: `$BORDERLINE_DATASETS` (if set), then `/usr/share/datasets`.
    public static var searchPaths: [String] {
        var paths: [String] = []
        if let env = ProcessInfo.processInfo.environment["BORDERLINE_DATASETS"], !env.isEmpty {
            paths += env.split(separator: ":").map(String.init)
        }
        paths.append("/usr/share/datasets")
        return paths
    }

    /// Known data-set names with their class names and the Debian package that installs them.
    static let known: [String: (classNames: [String], package: String)] = [
        "fashion-mnist": (fashionMNISTClassNames, "dataset-fashion-mnist"),
        "mnist": ((0..<10).map(String.init), "dataset-mnist"),
    ]

    /// A named data set: `fashion-mnist` (or `mnist`), read from
    /// `<search path>/<name>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz` (or without `.gz`).
    /// - Throws: `.fileNotFound` with the package to install when the files are not there.
    public static func named(_ name: String, split: Split, searchPaths: [String] = Dataset.searchPaths) throws -> Dataset {
        let key = name.lowercased()
        let info = known[key]
        let prefix = split == .train ? "train" : "t10k"
        for root in searchPaths {
            let folder = (root as NSString).appendingPathComponent(key)
            if let files = idxPair(in: folder, prefix: prefix) {
                return try readIDX(images: files.images, labels: files.labels, name: "\(key)/\(split.rawValue)",
                                   classNames: info?.classNames ?? [])
            }
        }
        let expected = ((searchPaths.last ?? "/usr/share/datasets") as NSString).appendingPathComponent("\(key)/\(prefix)-images-idx3-ubyte.gz")
        let hint = info.map { " (install it with `apt-get install \($0.package)`)" } ?? ""
        throw BorderlineError(.fileNotFound,
            "data set '\(name)' (\(split.rawValue)) not found: no \(prefix)-images-idx3-ubyte[.gz] and \(prefix)-labels-idx1-ubyte[.gz] in " +
            "\(searchPaths.map { ($0 as NSString).appendingPathComponent(key) }.joined(separator: ", "))\(hint)", file: expected)
    }

    /// The IDX image and label files of a split in a folder, plain or gzipped.
    static func idxPair(in folder: String, prefix: String) -> (images: String, labels: String)? {
        let fm = FileManager.default
        for ext in [".gz", ""] {
            let images = (folder as NSString).appendingPathComponent("\(prefix)-images-idx3-ubyte\(ext)")
            let labels = (folder as NSString).appendingPathComponent("\(prefix)-labels-idx1-ubyte\(ext)")
            if fm.fileExists(atPath: images), fm.fileExists(atPath: labels) { return (images, labels) }
        }
        return nil
    }

    /// Resolves a data-set argument: a known name (`fashion-mnist`), a folder holding the IDX files
    /// of both splits, an IDX images file (its labels file is found by replacing
    /// `images-idx3` with `labels-idx1` in the name), or an HDF5 file (see ``readHDF5(_:split:)``).
    public static func load(_ spec: String, split: Split, labelsRequired: Bool = true) throws -> Dataset {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: spec, isDirectory: &isDirectory)
        if !exists, known[spec.lowercased()] != nil || !spec.contains("/") && !spec.contains(".") {
            return try named(spec, split: split)
        }
        guard exists else { throw BorderlineError(.fileNotFound, "no such data set file or folder", file: spec) }
        if isDirectory.boolValue {
            let prefix = split == .train ? "train" : "t10k"
            guard let files = idxPair(in: spec, prefix: prefix) else {
                throw BorderlineError(.fileNotFound, "folder has no \(prefix)-images-idx3-ubyte[.gz] and \(prefix)-labels-idx1-ubyte[.gz]", file: spec)
            }
            let folderName = URL(fileURLWithPath: spec).lastPathComponent
            return try readIDX(images: files.images, labels: files.labels, name: "\(folderName)/\(split.rawValue)",
                               classNames: known[folderName.lowercased()]?.classNames ?? [])
        }
        let file = URL(fileURLWithPath: spec).lastPathComponent
        if file.contains("images-idx3") {
            let labels = (spec as NSString).deletingLastPathComponent
                .appending(spec.contains("/") ? "/" : "")
                .appending(file.replacingOccurrences(of: "images-idx3", with: "labels-idx1"))
            return try readIDX(images: spec, labels: labels)
        }
        return try readHDF5(spec, split: split, labelsRequired: labelsRequired)
    }
}
