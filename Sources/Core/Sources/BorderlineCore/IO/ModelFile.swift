import Foundation

/// The formats Borderline writes models in.
public enum ModelFileFormat: String, CaseIterable, Sendable {
    /// Borderline's own HDF5 layout (docs/model-format.md).
    case native
    /// Keras's legacy `.h5` (loads with Keras 3 `keras.models.load_model` and `model.load_weights`).
    case keras
}

/// The kinds of model file Borderline reads.
public enum ModelFileKind: String, Sendable {
    /// Root attribute `format = "borderline.model"`.
    case native
    /// Root attribute `model_config` (Keras legacy `.h5`).
    case keras
    /// A Keras 3 `.keras` zip archive (`config.json` + `model.weights.h5`).
    case kerasArchive = "keras_archive"
    /// An ONNX model (`.onnx`, protobuf).
    case onnx
    /// Any other HDF5 file: a PyTorch `state_dict` written with h5py, read with an architecture JSON.
    case stateDict = "state_dict"
}

extension Model {
    /// The value of the native format's root attribute `format`.
    public static let nativeFormatTag = "borderline.model"
    /// The native format version this build writes and reads.
    public static let nativeFormatVersion = 1

    /// Loads a model file, recognising its kind by its content (see ``fileKind(of:)``).
    ///
    /// - Parameters:
    ///   - path: a native file, a Keras legacy `.h5` or Keras 3 `.keras`, an ONNX model, or a
    ///     PyTorch `state_dict` HDF5 file. PyTorch's own `.pt`/`.pth` and TorchScript files are
    ///     recognised and refused with the commands that convert them (docs/model-format.md).
    ///   - architecture: an architecture JSON file. Required for a `state_dict`; for a native file it
    ///     replaces the stored architecture (the parameters must still match it); not allowed for Keras
    ///     and ONNX files, which carry their own.
    /// - Throws: ``BorderlineError`` naming the file and the dataset, layer, node or key at fault.
    public static func load(contentsOf path: String, architecture: String? = nil) throws -> Model {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BorderlineError(.fileNotFound, "no such file", file: path)
        }
        guard !isDirectory.boolValue else {
            throw BorderlineError(.unreadableFile, "is a directory, not a model file", file: path)
        }
        let content = ModelFileSniffer.sniff(path)
        if let refusal = ModelFileSniffer.refusal(content, path: path) { throw refusal }
        func noArchitecture(_ what: String) throws {
            if let architecture {
                throw BorderlineError(.invalidArgument, "is \(what), which carries its own architecture; do not give one (\(architecture))", file: path)
            }
        }
        switch content {
        case .onnx:
            try noArchitecture("an ONNX model")
            return try ONNXImporter(path: path).importModel()
        case .kerasArchive:
            try noArchitecture("a Keras 3 .keras file")
            return try KerasArchive(path: path).importModel()
        default:
            break
        }
        let file = try HDF5File.open(path)
        let root = try file.root()
        switch try fileKind(of: root) {
        case .native:
            let override = try architecture.map { try Model.fromArchitectureFile($0) }
            return try NativeModelFile.read(root, architecture: override)
        case .keras:
            try noArchitecture("a Keras .h5 file")
            return try KerasImporter(root: root).importModel()
        case .stateDict, .kerasArchive, .onnx:
            guard let architecture else {
                throw BorderlineError(.invalidArgument,
                    "is neither a Borderline model (no root attribute 'format') nor a Keras .h5 (no root attribute " +
                    "'model_config'); if it is a PyTorch state_dict, give its architecture JSON (--architecture), or write " +
                    "the model with tools/torch_to_borderline.py (docs/model-format.md)", file: path)
            }
            let model = try Model.fromArchitectureFile(architecture)
            let group = root.kind(of: "state_dict") == .group ? try root.group("state_dict") : root
            try ParameterAssignment.assign(model, from: group, ignoring: [])
            model.metadata["source"] = .string("pytorch state_dict")
            return model
        }
    }

    /// Which kind of model file `path` is, by its content.
    /// - Throws: for files that are no model Borderline reads (PyTorch pickles, other zips, non-HDF5 files).
    public static func fileKind(of path: String) throws -> ModelFileKind {
        let content = ModelFileSniffer.sniff(path)
        if let refusal = ModelFileSniffer.refusal(content, path: path) { throw refusal }
        switch content {
        case .onnx: return .onnx
        case .kerasArchive: return .kerasArchive
        default: return try fileKind(of: try HDF5File.open(path).root())
        }
    }

    static func fileKind(of root: HDF5Group) throws -> ModelFileKind {
        if root.hasAttribute("format") {
            let tag = try root.stringAttribute("format")
            guard tag == nativeFormatTag else {
                throw BorderlineError(.unreadableFile,
                    "root attribute 'format' is '\(tag)'; expected '\(nativeFormatTag)'", file: root.file.path)
            }
            return .native
        }
        if root.hasAttribute("model_config") { return .keras }
        return .stateDict
    }

    /// Writes the model, atomically (a temporary file in the same folder, then a rename).
    /// - Throws: `.nonFiniteValues` when a parameter holds NaN or infinity (such a file would not load
    ///   again); `.unknownLayerType`/`.invalidArgument` when a layer has no Keras equivalent.
    public func save(to path: String, format: ModelFileFormat = .native) throws {
        for (name, p) in namedParameters where !p.value.isFinite {
            throw BorderlineError(.nonFiniteValues, "parameter \(name) contains NaN or infinite values; not saving", file: path)
        }
        for node in nodes where node.name.contains("/") {
            throw BorderlineError(.invalidConfiguration, "layer name '\(node.name)' contains '/', which HDF5 paths reserve", file: path)
        }
        switch format {
        case .native:
            try AtomicFile.write(to: path) { tmp in try NativeModelFile.write(self, to: tmp) }
        case .keras:
            let exporter: KerasExporter
            do {
                exporter = try KerasExporter(model: self)
            } catch let e as BorderlineError {
                throw e.inFile(path)
            }
            try AtomicFile.write(to: path) { tmp in try exporter.write(to: tmp) }
        }
    }
}

// MARK: - Native files

enum NativeModelFile {
    static func write(_ model: Model, to path: String) throws {
        let file = try HDF5File.create(path)
        do {
            let root = try file.root()
            try root.setAttribute("format", string: Model.nativeFormatTag)
            try root.setAttribute("format_version", int: Model.nativeFormatVersion)
            try root.setAttribute("architecture", string: model.architectureJSON())
            try root.setAttribute("input_shape", ints: model.inputShape)
            try root.setAttribute("class_names", strings: model.classNames)
            let parameters = try root.createGroup("parameters")
            for (name, p) in model.namedParameters {
                try parameters.writeTensor(p.value, name: name)
            }
        }
        try file.close()
    }

    static func read(_ root: HDF5Group, architecture override: Model?) throws -> Model {
        let path = root.file.path
        if root.hasAttribute("format_version") {
            let version = try root.intAttribute("format_version")
            guard version == Model.nativeFormatVersion else {
                throw BorderlineError(.unreadableFile,
                    "format_version is \(version); this build reads version \(Model.nativeFormatVersion)", file: path)
            }
        }
        let model: Model
        if let override {
            model = override
        } else {
            guard root.hasAttribute("architecture") else {
                throw BorderlineError(.missingEntry, "root attribute 'architecture' (the model's JSON description) is missing", file: path)
            }
            let text = try root.stringAttribute("architecture")
            do {
                model = try Model(architectureJSON: text)
            } catch var e as BorderlineError {
                e.message = "root attribute 'architecture': \(e.message)"
                throw e.inFile(path)
            }
            if root.hasAttribute("input_shape") {
                let stored = try root.intArrayAttribute("input_shape")
                guard stored == model.inputShape else {
                    throw BorderlineError(.invalidConfiguration,
                        "root attribute input_shape is \(stored) but the architecture says \(model.inputShape)", file: path)
                }
            }
            if model.classNames.isEmpty, root.hasAttribute("class_names") {
                let names = try root.stringArrayAttribute("class_names")
                if !names.isEmpty {
                    guard names.count == model.classCount else {
                        throw BorderlineError(.shapeMismatch,
                            "root attribute class_names has \(names.count) names but the model has \(model.classCount) outputs", file: path)
                    }
                    model.classNames = names
                }
            }
        }
        guard root.kind(of: "parameters") == .group else {
            if model.namedParameters.isEmpty { return model }
            throw BorderlineError(.missingEntry, "group /parameters (the model's weights) is missing", file: path)
        }
        try ParameterAssignment.assign(model, from: try root.group("parameters"), ignoring: [])
        return model
    }
}

// MARK: - Parameters from datasets named by state_dict keys

enum ParameterAssignment {
    /// Whether a dataset name is a PyTorch buffer Borderline has no use for.
    static func isIgnorable(_ key: String) -> Bool { key == "num_batches_tracked" || key.hasSuffix(".num_batches_tracked") }

    /// Copies the datasets of `group` (named `layer.parameter`) into the model's parameters,
    /// checking that every parameter is present with its exact shape and finite values, and that no
    /// dataset is left over.
    static func assign(_ model: Model, from group: HDF5Group, ignoring: Set<String>) throws {
        let path = group.file.path
        let members = try group.memberNames()
        let available = Set(members)
        let expected = model.namedParameters
        let nodeOf: [String: Model.Node] = Dictionary(model.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

        func describe(_ key: String) -> String {
            let layerName = String(key[..<(key.lastIndex(of: ".") ?? key.endIndex)])
            if let node = nodeOf[layerName] { return "layer \(node.name) (\(node.layer.typeName))" }
            return "the model"
        }

        let missing = expected.filter { !available.contains($0.name) }
        if let first = missing.first {
            let others = missing.dropFirst().prefix(5).map(\.name)
            let more = others.isEmpty ? "" : "; also missing: \(others.joined(separator: ", "))\(missing.count > 6 ? ", …" : "")"
            throw BorderlineError(.missingEntry,
                "dataset \(H5.join(group.path, first.name)) not found; \(describe(first.name)) needs its \(first.parameter.name) " +
                "of shape \(first.parameter.value.shape)\(more)", file: path)
        }
        let expectedNames = Set(expected.map(\.name))
        let extra = members.filter { !expectedNames.contains($0) && !isIgnorable($0) && !ignoring.contains($0) }
        if !extra.isEmpty {
            let list = extra.prefix(5).map { H5.join(group.path, $0) }.joined(separator: ", ")
            throw BorderlineError(.invalidConfiguration,
                "\(extra.count == 1 ? "dataset" : "datasets") \(list)\(extra.count > 5 ? ", …" : "") \(extra.count == 1 ? "matches" : "match") " +
                "no parameter of the architecture (expected exactly: \(expected.prefix(8).map(\.name).joined(separator: ", "))" +
                "\(expected.count > 8 ? ", …" : "")); the weights and the architecture do not belong together", file: path)
        }
        for (name, parameter) in expected {
            let dataset = try group.dataset(name)
            guard dataset.shape == parameter.value.shape else {
                throw BorderlineError(.shapeMismatch,
                    "dataset \(dataset.path) has shape \(dataset.shape); \(describe(name)) expects \(parameter.value.shape)", file: path)
            }
            let value = try dataset.readTensor()
            try checkFinite(value, what: "dataset \(dataset.path)", file: path)
            parameter.value = value
        }
    }

    static func checkFinite(_ t: Tensor, what: String, file: String) throws {
        guard !t.isFinite else { return }
        let (nan, inf) = t.withUnsafeBufferPointer { p in
            p.reduce(into: (0, 0)) { acc, v in if v.isNaN { acc.0 += 1 } else if v.isInfinite { acc.1 += 1 } }
        }
        var parts: [String] = []
        if nan > 0 { parts.append("\(nan) NaN") }
        if inf > 0 { parts.append("\(inf) infinite") }
        throw BorderlineError(.nonFiniteValues, "\(what) contains \(parts.joined(separator: " and ")) of \(t.count) values", file: file)
    }
}

// MARK: - Atomic writes

enum AtomicFile {
    /// Runs `body` on a temporary path beside `path`, then renames it over `path`. The temporary
    /// file is removed if anything fails.
    static func write(to path: String, _ body: (String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BorderlineError(.ioFailure, "cannot write: folder \(directory) does not exist", file: path)
        }
        let tmp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp").path
        do {
            try body(tmp)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            if let e = error as? BorderlineError, e.file == tmp {
                var moved = e
                moved.file = path
                throw moved
            }
            throw error
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw BorderlineError(.ioFailure, "cannot move the finished file into place: \(reason)", file: path)
        }
    }
}
