import Foundation

extension Dataset {
    /// How ``writeHDF5(to:encoding:)`` stores the images.
    public enum ImageEncoding: String, Sendable {
        /// `round(255·x)` as uint8: compact, exact for 8-bit sources such as Fashion-MNIST.
        case uint8
        /// The float32 values as they are.
        case float32
    }

    /// Reads an HDF5 data set (docs/data-format.md): dataset `x` of shape `(N, H, W)` or
    /// `(N, C, H, W)` — `(N, H, W, C)` when `x` has the attribute `layout = "NHWC"` — as uint8
    /// (scaled by 1/255) or floating point (kept); dataset `y` with `N` integer labels; optional root
    /// attributes `class_names` and `name`. A file with groups `train` and `test` holds one such
    /// set in each, chosen by `split`. With `labelsRequired: false` a file without `y` is read as
    /// an unlabelled set (``isLabelled`` false, every label 0), for prediction.
    public static func readHDF5(_ path: String, split: Split? = nil, labelsRequired: Bool = true) throws -> Dataset {
        let file = try HDF5File.open(path)
        var group = try file.root()
        var splitName = ""
        if group.kind(of: "x") == nil, let split, group.kind(of: split.rawValue) == .group {
            group = try group.group(split.rawValue)
            splitName = "/" + split.rawValue
        }
        guard group.kind(of: "x") == .dataset else {
            throw BorderlineError(.missingEntry,
                "dataset \(H5.join(group.path, "x")) (the images) not found; a data set file holds x (N×H×W or N×C×H×W) and y (N labels)" +
                (split == nil ? "" : ", at the root or in groups train and test"), file: path)
        }
        let labelled = group.kind(of: "y") == .dataset
        guard labelled || !labelsRequired else {
            throw BorderlineError(.missingEntry, "dataset \(H5.join(group.path, "y")) (the labels) not found", file: path)
        }
        let x = try group.dataset("x")
        var nhwc = false
        if x.hasAttribute("layout") {
            let layout = try x.stringAttribute("layout").uppercased()
            guard layout == "NHWC" || layout == "NCHW" else {
                throw BorderlineError(.invalidConfiguration, "dataset \(x.path) has layout '\(layout)'; expected NCHW or NHWC", file: path)
            }
            nhwc = layout == "NHWC"
        }
        var shape = x.shape
        switch shape.count {
        case 3:
            guard !nhwc else {
                throw BorderlineError(.shapeMismatch, "dataset \(x.path) has layout NHWC but shape \(shape); expected (N, H, W, C)", file: path)
            }
            shape = [shape[0], 1, shape[1], shape[2]]
        case 4: break
        default:
            throw BorderlineError(.shapeMismatch,
                "dataset \(x.path) has shape \(x.shape); expected (N, H, W) or (N, C, H, W)", file: path)
        }
        var images: Tensor
        switch x.elementType {
        case .unsignedInteger(bytes: 1):
            let bytes = try x.readUInt8s()
            images = Tensor(shape: x.shape) { out in
                bytes.withUnsafeBufferPointer { src in for i in 0..<src.count { out[i] = Float(src[i]) / 255 } }
            }
        case .float:
            images = try x.readTensor()
            try ParameterAssignment.checkFinite(images, what: "dataset \(x.path)", file: path)
        default:
            throw BorderlineError(.unreadableFile,
                "dataset \(x.path) holds \(x.elementType) values; expected uint8 (0–255) or floating point (0–1)", file: path)
        }
        if nhwc {
            images = Permute.permute(images, [2, 0, 1])
        } else {
            images = images.reshaped(shape)
        }

        var name = URL(fileURLWithPath: path).lastPathComponent + splitName
        let root = try file.root()
        if root.hasAttribute("name") { name = try root.stringAttribute("name") + splitName }
        var classNames: [String] = []
        for holder in [group as HDF5Object, root] where holder.hasAttribute("class_names") {
            classNames = try holder.stringArrayAttribute("class_names")
            break
        }
        guard labelled else {
            var set = try Dataset(name: name, images: images, labels: [Int](repeating: 0, count: images.batchSize), source: path)
            set.classNames = classNames
            set.isLabelled = false
            return set
        }
        let y = try group.dataset("y")
        guard y.shape.count == 1 || (y.shape.count == 2 && y.shape[1] == 1) else {
            throw BorderlineError(.shapeMismatch, "dataset \(y.path) has shape \(y.shape); expected (N,) labels", file: path)
        }
        guard y.shape[0] == images.batchSize else {
            throw BorderlineError(.shapeMismatch,
                "dataset \(y.path) has \(y.shape[0]) labels but \(x.path) has \(images.batchSize) images", file: path)
        }
        let labels = try y.readInt64s().map { Int($0) }
        if let bad = labels.firstIndex(where: { $0 < 0 }) {
            throw BorderlineError(.dataMismatch, "dataset \(y.path) has a negative label \(labels[bad]) at index \(bad)", file: path)
        }
        if !classNames.isEmpty, let bad = labels.firstIndex(where: { $0 >= classNames.count }) {
            throw BorderlineError(.dataMismatch,
                "dataset \(y.path) has label \(labels[bad]) at index \(bad), but class_names lists only \(classNames.count) classes", file: path)
        }
        do {
            return try Dataset(name: name, images: images, labels: labels, classNames: classNames, source: path)
        } catch let e as BorderlineError {
            throw e.inFile(path)
        }
    }

    /// Writes the data set as an HDF5 file that ``readHDF5(_:split:)`` reads back (atomically).
    public func writeHDF5(to path: String, encoding: ImageEncoding = .uint8) throws {
        try AtomicFile.write(to: path) { tmp in
            let file = try HDF5File.create(tmp)
            do {
                let root = try file.root()
                try root.setAttribute("name", string: name)
                try root.setAttribute("class_names", strings: classNames)
                switch encoding {
                case .uint8:
                    let bytes = images.scalars.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
                    try root.writeUInt8s(bytes, shape: images.shape, name: "x", compressionLevel: 4)
                case .float32:
                    try root.writeTensor(images, name: "x", compressionLevel: 4)
                }
                try root.writeInt64s(labels.map { Int64($0) }, name: "y")
            }
            try file.close()
        }
    }
}
