import Foundation

// The architecture JSON of docs/model-format.md, parsed into a `Model` and written back.

extension Model {
    /// Builds a model (with placeholder parameters) from an architecture description.
    ///
    /// Layers are made with ``LayerRegistry/make(typeName:config:layerName:)``; `inputs` name
    /// earlier layers or `"input"`, and default to the previous layer. `input_normalization`
    /// (`{"mean": …, "std": …}` or `{"mean": …, "variance": …}`) puts a ``Normalization`` layer
    /// named `input_normalization` in front of the first layer, so that every layer reading
    /// `"input"` reads the normalised input; `input_box` sets ``Model/inputBox``.
    ///
    /// The description is strict: unknown top-level keys, unknown keys of a layer entry or of a
    /// layer's `config`, and values of the wrong type are errors naming the layer (its index and
    /// name) and the key, with a "did you mean" when a known key is within edit distance 2.
    /// - Throws: `.invalidConfiguration` for a malformed description, `.unknownLayerType` for a
    ///   type no registered layer has, `.shapeMismatch` when the layers' shapes do not fit together.
    public convenience init(architecture: JSONValue) throws {
        guard let root = architecture.objectValue else {
            throw BorderlineError(.invalidConfiguration, "the architecture must be a JSON object, found \(Architecture.brief(architecture))")
        }
        for key in root.keys.sorted() where !Architecture.topLevelKeys.contains(key) {
            throw BorderlineError(.invalidConfiguration,
                "the architecture has unknown key '\(key)'\(Suggestion.didYouMean(key, among: Architecture.topLevelKeys)); " +
                "known keys: \(Architecture.topLevelKeys.map { "'\($0)'" }.joined(separator: ", "))")
        }
        guard let inputValue = root["input_shape"] else {
            throw BorderlineError(.invalidConfiguration, "the architecture has no 'input_shape'")
        }
        guard let inputArray = inputValue.arrayValue, !inputArray.isEmpty,
              let inputShape = inputValue.intArray(count: inputArray.count), inputShape.allSatisfy({ $0 > 0 }) else {
            throw BorderlineError(.invalidConfiguration,
                "'input_shape' must be a non-empty list of positive integers, found \(Architecture.brief(inputValue))")
        }
        guard let layersValue = root["layers"] else {
            throw BorderlineError(.invalidConfiguration, "the architecture has no 'layers' list")
        }
        guard let layerValues = layersValue.arrayValue else {
            throw BorderlineError(.invalidConfiguration, "'layers' must be a list of layer objects, found \(Architecture.brief(layersValue))")
        }
        guard !layerValues.isEmpty else { throw BorderlineError(.invalidConfiguration, "the architecture's 'layers' list is empty") }

        var nodes: [Model.Node] = []
        var indexOf: [String: Int] = [:]
        // The node that "input" denotes for the layers: the model input, or the normalisation in front.
        var inputNode = -1
        if let v = root["input_normalization"], v != .null {
            let layer: any Layer
            do {
                layer = try LayerRegistry.make(typeName: Normalization.typeName, config: v, layerName: Architecture.inputNormalizationName)
            } catch var e as BorderlineError {
                e.message = "'input_normalization': \(e.message)"
                throw e
            }
            nodes.append(Model.Node(name: Architecture.inputNormalizationName, layer: layer, inputs: [-1]))
            indexOf[Architecture.inputNormalizationName] = 0
            inputNode = 0
        }
        for (i, value) in layerValues.enumerated() {
            guard let entry = value.objectValue else {
                throw BorderlineError(.invalidConfiguration, "layers[\(i)] must be an object, found \(Architecture.brief(value))")
            }
            guard let name = entry["name"]?.stringValue, !name.isEmpty else {
                throw BorderlineError(.invalidConfiguration, "layers[\(i)] has no 'name' (a non-empty string)")
            }
            let label = "layers[\(i)] '\(name)'"
            guard name != "input" else {
                throw BorderlineError(.invalidConfiguration, "\(label): the name 'input' is reserved for the model input")
            }
            guard let type = entry["type"]?.stringValue, !type.isEmpty else {
                throw BorderlineError(.invalidConfiguration, "\(label) has no 'type' (a non-empty string)")
            }
            for key in entry.keys.sorted() where !Architecture.layerKeys.contains(key) {
                throw BorderlineError(.invalidConfiguration,
                    "\(label) (\(type)) has unknown key '\(key)'\(Suggestion.didYouMean(key, among: Architecture.layerKeys)); " +
                    "a layer has 'name', 'type', 'config' and 'inputs' (hyper-parameters go inside 'config')")
            }
            let config = entry["config"] ?? .object([:])
            guard config.objectValue != nil || config == .null else {
                throw BorderlineError(.invalidConfiguration, "\(label) (\(type)): 'config' must be an object, found \(Architecture.brief(config))")
            }
            var inputs: [Int]
            if let inputsValue = entry["inputs"], inputsValue != .null {
                let names: [String]
                if let s = inputsValue.stringValue {
                    names = [s]
                } else if let a = inputsValue.arrayValue, !a.isEmpty, a.allSatisfy({ $0.stringValue != nil }) {
                    names = a.compactMap(\.stringValue)
                } else {
                    throw BorderlineError(.invalidConfiguration,
                        "\(label) (\(type)): 'inputs' must be a non-empty list of layer names, found \(Architecture.brief(inputsValue))")
                }
                inputs = try names.map { source in
                    if source == "input" { return inputNode }
                    guard let j = indexOf[source] else {
                        let known = Array(indexOf.keys) + ["input"]
                        throw BorderlineError(.invalidConfiguration,
                            "\(label) reads '\(source)', which is not an earlier layer\(Suggestion.didYouMean(source, among: known)) " +
                            "(layers must be in topological order)")
                    }
                    return j
                }
            } else {
                inputs = [nodes.count - 1]
            }
            guard indexOf[name] == nil else {
                throw BorderlineError(.invalidConfiguration, "\(label): layer name '\(name)' is used twice")
            }
            let layer: any Layer
            do {
                layer = try LayerRegistry.make(typeName: type, config: config == .null ? .object([:]) : config, layerName: name)
            } catch var e as BorderlineError {
                // The registry's "layer 'x' (T): …" becomes "layers[i] 'x' (T): …".
                let prefix = "layer '\(name)'"
                e.message = e.message.hasPrefix(prefix) ? "layers[\(i)] '\(name)'" + e.message.dropFirst(prefix.count) : "\(label): \(e.message)"
                throw e
            }
            indexOf[name] = nodes.count
            nodes.append(Model.Node(name: name, layer: layer, inputs: inputs))
        }

        func node(_ key: String) throws -> Int? {
            guard let v = root[key], v != .null else { return nil }
            guard let name = v.stringValue else {
                throw BorderlineError(.invalidConfiguration, "'\(key)' must be a layer name, found \(Architecture.brief(v))")
            }
            guard let i = indexOf[name] else {
                throw BorderlineError(.invalidConfiguration,
                    "'\(key)' names layer '\(name)', which is not in the architecture\(Suggestion.didYouMean(name, among: Array(indexOf.keys)))")
            }
            return i
        }
        var classNames: [String] = []
        if let v = root["class_names"], v != .null {
            guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
                throw BorderlineError(.invalidConfiguration, "'class_names' must be a list of strings, found \(Architecture.brief(v))")
            }
            classNames = a.compactMap(\.stringValue)
        }
        var metadata: [String: JSONValue] = [:]
        if let v = root["metadata"], v != .null {
            guard let o = v.objectValue else {
                throw BorderlineError(.invalidConfiguration, "'metadata' must be an object, found \(Architecture.brief(v))")
            }
            metadata = o
        }
        var box = InputBox.unit
        if let v = root["input_box"], v != .null {
            box = try InputBox(json: v)
            try box.check(inputShape: inputShape)
        }
        try self.init(inputShape: inputShape, nodes: nodes, outputNode: try node("output"), embeddingNode: try node("embedding"),
                      classNames: classNames, metadata: metadata)
        inputBox = box
    }

    /// Builds a model from architecture JSON text.
    public convenience init(architectureJSON text: String) throws {
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            throw BorderlineError(.invalidConfiguration, "the architecture is not valid JSON: \(Architecture.describe(error))")
        }
        try self.init(architecture: value)
    }

    /// Reads an architecture JSON file and builds the model it describes (parameters are
    /// placeholders). Errors name the file.
    public static func fromArchitectureFile(_ path: String) throws -> Model {
        let text = try Architecture.readText(path)
        do {
            return try Model(architectureJSON: text)
        } catch let e as BorderlineError {
            throw e.inFile(path)
        }
    }

    /// The architecture description of this model (docs/model-format.md).
    public var architecture: JSONValue {
        var layers: [JSONValue] = []
        for (i, node) in nodes.enumerated() {
            var entry: [String: JSONValue] = ["name": .string(node.name), "type": .string(node.layer.typeName)]
            let config = node.layer.config
            if config != .null, config != .object([:]) { entry["config"] = config }
            if node.inputs != [i - 1] {
                entry["inputs"] = .array(node.inputs.map { $0 == -1 ? "input" : .string(nodes[$0].name) })
            }
            layers.append(.object(entry))
        }
        var root: [String: JSONValue] = [
            "input_shape": JSONValue(inputShape),
            "layers": .array(layers),
            "output": .string(nodes[outputNode].name),
        ]
        if let e = embeddingNode { root["embedding"] = .string(nodes[e].name) }
        if !classNames.isEmpty { root["class_names"] = .array(classNames.map { .string($0) }) }
        if !metadata.isEmpty { root["metadata"] = .object(metadata) }
        if inputBox != .unit { root["input_box"] = inputBox.json }
        return .object(root)
    }

    /// The architecture as JSON text (sorted keys).
    public func architectureJSON(pretty: Bool = false) -> String { architecture.serialized(pretty: pretty) }
}

enum Architecture {
    /// The keys an architecture JSON object may have.
    static let topLevelKeys = ["input_shape", "class_names", "layers", "output", "embedding", "metadata",
                               "input_box", "input_normalization"]
    /// The keys a layer entry may have.
    static let layerKeys = ["name", "type", "config", "inputs"]
    /// The name of the layer `input_normalization` creates.
    static let inputNormalizationName = "input_normalization"

    /// A short rendering of a JSON value for messages.
    static func brief(_ v: JSONValue) -> String {
        let s = v.serialized()
        return s.count > 80 ? String(s.prefix(77)) + "…" : s
    }

    /// The useful part of a JSONDecoder error.
    static func describe(_ error: Error) -> String {
        if let e = error as? DecodingError {
            switch e {
            case .dataCorrupted(let c):
                let underlying = (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
                return underlying ?? c.debugDescription
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c):
                return c.debugDescription
            @unknown default:
                return "\(e)"
            }
        }
        return "\(error)"
    }

    /// Reads a UTF-8 text file; a missing file is `.fileNotFound`.
    static func readText(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BorderlineError(.fileNotFound, "no such file", file: path)
        }
        guard !isDirectory.boolValue else { throw BorderlineError(.unreadableFile, "is a directory", file: path) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BorderlineError(.fileNotFound, "cannot be read", file: path)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw BorderlineError(.invalidConfiguration, "is not UTF-8 text", file: path)
        }
        return text
    }
}
