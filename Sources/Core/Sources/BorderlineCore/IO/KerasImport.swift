import Foundation

/// Reads a Keras model (legacy `.h5`, or the config and weights of a Keras 3 `.keras` archive;
/// Keras 2 and Keras 3, Sequential and Functional, with nested Sequential/Functional models used
/// as layers) into a channels-first Borderline model; see docs/model-format.md for the conversion
/// rules.
struct KerasImporter {
    /// The file messages name (the `.h5` or the `.keras`).
    let path: String
    /// The model config (`{"class_name": "Functional", "config": {…}}`).
    let modelConfig: JSONValue
    let weights: any KerasWeightSource
    /// What the file says beside the config: keras_version, backend, and for files Borderline
    /// exported, class_names and borderline_architecture.
    var kerasVersion: String?
    var backend: String?
    var classNames: [String] = []
    var borderlineArchitecture: String?

    /// Keras layer classes the importer understands.
    static let supportedClasses = [
        "InputLayer", "Dense", "Conv2D", "Conv2DTranspose", "MaxPooling2D", "AveragePooling2D",
        "GlobalAveragePooling2D", "BatchNormalization", "Activation", "ReLU", "LeakyReLU", "Softmax",
        "Flatten", "Reshape", "Permute", "ZeroPadding2D", "Cropping2D", "Dropout", "Add",
        "DepthwiseConv2D", "ELU", "PReLU", "Rescaling", "Normalization", "UpSampling2D", "Concatenate", "Multiply",
        "LayerNormalization", "Sequential", "Functional",
    ]
    /// Keras 2 spellings of the same layers.
    static let aliases = ["Convolution2D": "Conv2D", "Conv2DTranspose": "Conv2DTranspose", "Deconvolution2D": "Conv2DTranspose",
                          "MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D", "AveragePooling2D": "AveragePooling2D",
                          "GlobalAvgPool2D": "GlobalAveragePooling2D"]

    /// One Keras layer of the model config.
    struct Spec {
        var className: String
        /// The Borderline node name: the Keras name, prefixed by the nested models it sits in
        /// (`base.conv1` for layer `conv1` of the nested model `base`).
        var name: String
        var config: JSONValue
        /// Names (prefixed like `name`) of the Keras layers whose outputs feed this one.
        var inbound: [String]
        /// The layer's own Keras name.
        var kerasName: String
        /// The Keras names of the nested models around the layer, outermost first.
        var scope: [String] = []
        /// The `weightsKey`s of those nested models.
        var scopeKeys: [String] = []
        /// The group name Keras 3 gives the layer in `model.weights.h5` (`conv2d_1`): the snake-cased
        /// class name, numbered among the layers of its model.
        var weightsKey: String = ""

        init(className: String, name: String, config: JSONValue, inbound: [String]) {
            self.className = className
            self.name = name
            self.config = config
            self.inbound = inbound
            self.kerasName = name
        }
    }

    /// The Borderline node that holds a Keras tensor, with Keras `ZeroPadding2D` padding not yet
    /// applied (it is folded into the following convolution or average pooling).
    struct Value {
        var node: Int
        var pendingPadding: Padding2D?
    }

    init(path: String, modelConfig: JSONValue, weights: any KerasWeightSource) {
        self.path = path
        self.modelConfig = modelConfig
        self.weights = weights
    }

    /// A legacy `.h5` file: `model_config` and `model_weights`.
    init(root: HDF5Group) throws {
        let path = root.file.path
        let text = try root.stringAttribute("model_config")
        let config: JSONValue
        do {
            config = try JSONValue.parse(text)
        } catch {
            throw BorderlineError(.invalidConfiguration, "root attribute model_config is not valid JSON: \(Architecture.describe(error))", file: path)
        }
        self.init(path: path, modelConfig: config, weights: try KerasWeights(root: root))
        if root.hasAttribute("keras_version") { kerasVersion = try? root.stringAttribute("keras_version") }
        if root.hasAttribute("backend") { backend = try? root.stringAttribute("backend") }
        if root.hasAttribute("class_names") { classNames = try root.stringArrayAttribute("class_names") }
        if root.hasAttribute("borderline_architecture") { borderlineArchitecture = try? root.stringAttribute("borderline_architecture") }
    }

    func error(_ kind: BorderlineError.Kind, _ message: String) -> BorderlineError {
        BorderlineError(kind, message, file: path)
    }

    // MARK: Model config

    /// The layers of a Sequential or Functional config, with its input and output layer names and
    /// the input shape it declares.
    func modelSpecs(className: String, body: JSONValue, buildConfig: JSONValue?) throws -> (specs: [Spec], input: String, output: String, inputShape: [Int?]?) {
        switch className {
        case "Sequential":
            var (specs, inputName, shape) = try sequentialSpecs(body)
            guard let last = specs.last else { throw self.error(.invalidConfiguration, "the Keras Sequential model has no layers") }
            if shape == nil, let built = buildConfig?["input_shape"]?.arrayValue, built.count > 1 { shape = built.dropFirst().map(\.intValue) }
            return (specs, inputName, last.name, shape)
        case "Functional", "Model":
            let (specs, inputName, outputName) = try functionalSpecs(body)
            let shape = try specs.first(where: { $0.name == inputName }).flatMap { try batchShape($0) }
            return (specs, inputName, outputName, shape)
        default:
            throw self.error(.unknownLayerType,
                "the Keras model class '\(className)' is not supported (only Sequential and Functional models are)")
        }
    }

    func importModel() throws -> Model {
        let config = modelConfig
        guard let className = config["class_name"]?.stringValue else {
            throw self.error(.invalidConfiguration, "the Keras model config has no class_name")
        }
        let body = config["config"] ?? .null
        let (specs, inputName, outputName, kerasInputShape) = try modelSpecs(className: className, body: body, buildConfig: config["build_config"])
        guard let shapeWithNulls = kerasInputShape else {
            throw self.error(.invalidConfiguration, "the Keras model config does not say its input shape (no InputLayer, batch_input_shape or build_input_shape)")
        }
        guard !shapeWithNulls.isEmpty, shapeWithNulls.allSatisfy({ $0 != nil && $0! > 0 }) else {
            throw self.error(.invalidConfiguration,
                "the Keras model's input shape \(shapeWithNulls.map { $0.map(String.init) ?? "None" }) has unknown dimensions; Borderline needs a fixed input size")
        }
        let kerasInput = shapeWithNulls.map { $0! }
        var metadata: [String: JSONValue] = ["source": "keras", "keras_model_class": .string(className)]
        if let v = kerasVersion { metadata["keras_version"] = .string(v) }
        if let v = backend { metadata["keras_backend"] = .string(v) }

        let builder = GraphBuilder(inputShape: KerasLayout.ourShape(kerasInput))
        var values: [String: Value] = [:]
        let output = try convertLayers(specs, input: inputName, output: outputName, inputValue: Value(node: -1, pendingPadding: nil),
                                       builder: builder, values: &values)
        guard output.pendingPadding == nil else {
            throw self.error(.unknownLayerType, "the model output is a ZeroPadding2D layer, which Borderline can only fold into a following convolution")
        }
        guard output.node >= 0 else { throw self.error(.invalidConfiguration, "the Keras model's output is its input") }
        var outputNode = output.node
        if builder.nodes[outputNode].layer is Softmax, builder.consumers(of: outputNode) == 0, builder.nodes[outputNode].inputs[0] >= 0 {
            let source = builder.nodes[outputNode].inputs[0]
            builder.remove(outputNode)
            outputNode = source > outputNode ? source - 1 : source
            metadata["removed_output_activation"] = "softmax"
        }
        // Files Borderline exported carry the class names and the original architecture (for the
        // embedding layer and the metadata); other Keras files may carry class names too, and get
        // the embedding of `KerasImporter.penultimateEmbedding`.
        var classNames = self.classNames
        var embedding: Int?
        if let text = borderlineArchitecture {
            if let original = try? JSONValue.parse(text) {
                if let name = original["embedding"]?.stringValue { embedding = builder.nodes.firstIndex { $0.name == name } }
                for (key, value) in original["metadata"]?.objectValue ?? [:] where metadata[key] == nil { metadata[key] = value }
                if classNames.isEmpty, let names = original["class_names"]?.arrayValue?.compactMap(\.stringValue) { classNames = names }
            }
        } else {
            embedding = KerasImporter.penultimateEmbedding(builder.nodes, output: outputNode)
        }
        if classNames.count != Tensor.count(of: builder.shape(outputNode)) { classNames = [] }
        let model: Model
        do {
            model = try Model(inputShape: builder.inputShape, nodes: builder.nodes, outputNode: outputNode, embeddingNode: embedding,
                              classNames: classNames, metadata: metadata)
        } catch let e as BorderlineError {
            throw e.inFile(path)
        }
        if let box = KerasImporter.pixelInputBox(model) { model.inputBox = box }
        return model
    }

    /// `[0, 255]` for a model whose input goes straight into `Rescaling(1/255)` or
    /// `Rescaling(1/127.5, …)`, Keras's idioms for byte images: the valid raw inputs are pixel
    /// values, not the unit box.
    static func pixelInputBox(_ model: Model) -> InputBox? {
        let readers = model.nodes.filter { $0.inputs.contains(-1) }
        guard readers.count == 1, let rescaling = readers[0].layer as? Rescaling, rescaling.scaleValues.count == 1 else { return nil }
        let s = rescaling.scaleValues[0]
        guard abs(255 * s - 1) < 1e-6 || abs(127.5 * s - 1) < 1e-6 else { return nil }
        return try? InputBox(lower: 0, upper: 255)
    }

    /// Converts the layers of one model (the whole model, or a nested one) whose input layer is
    /// `input` and whose input value is `inputValue`; returns the value of its output layer.
    func convertLayers(_ specs: [Spec], input inputName: String, output outputName: String, inputValue: Value,
                       builder: GraphBuilder, values: inout [String: Value]) throws -> Value {
        values[inputName] = inputValue
        var consumers: [String: Int] = [:]
        for spec in specs { for source in spec.inbound { consumers[source, default: 0] += 1 } }
        for spec in try topologicalOrder(specs, input: inputName) where spec.name != inputName {
            let inputs = try spec.inbound.map { source -> Value in
                guard let v = values[source] else {
                    throw self.error(.invalidConfiguration, "Keras layer '\(spec.name)' reads '\(source)', which is not a layer of the model")
                }
                return v
            }
            if ["Sequential", "Functional", "Model"].contains(spec.className) {
                values[spec.name] = try convertNested(spec, inputs: inputs, builder: builder, values: &values)
                continue
            }
            do {
                values[spec.name] = try convert(spec, inputs: inputs, builder: builder, weights: weights,
                                                readers: spec.inbound.map { consumers[$0] ?? 0 })
            } catch var e as BorderlineError {
                if !e.message.contains("'\(spec.name)'") {
                    e.message = "Keras layer '\(spec.name)' (\(spec.className)): \(e.message)"
                }
                throw e.inFile(path)
            }
        }
        guard let output = values[outputName] else {
            throw self.error(.invalidConfiguration, "the Keras model's output layer '\(outputName)' is not among its layers")
        }
        return output
    }

    /// A Sequential or Functional model used as a layer (a base model inside a bigger one): its
    /// layers join the graph, named `outer.inner`, and read the nested model's input.
    func convertNested(_ spec: Spec, inputs: [Value], builder: GraphBuilder, values: inout [String: Value]) throws -> Value {
        guard inputs.count == 1 else {
            throw error(.invalidConfiguration, "the nested Keras model '\(spec.name)' (\(spec.className)) has \(inputs.count) inputs; Borderline supports one")
        }
        var (inner, input, output, declared) = try modelSpecs(className: spec.className, body: spec.config, buildConfig: nil)
        if declared == nil, let built = spec.config["build_input_shape"]?.arrayValue, built.count > 1 { declared = built.dropFirst().map(\.intValue) }
        let actual = KerasLayout.kerasShape(builder.shape(inputs[0].node))
        if let declared, declared.count == actual.count, zip(declared, actual).contains(where: { $0 != nil && $0! != $1 }) {
            throw error(.shapeMismatch,
                "the nested Keras model '\(spec.name)' declares input shape \(declared.map { $0.map(String.init) ?? "None" }) but is applied to a tensor of shape \(actual)")
        }
        let prefix = spec.name + "."
        for i in inner.indices {
            inner[i].name = prefix + inner[i].name
            inner[i].inbound = inner[i].inbound.map { prefix + $0 }
            inner[i].scope = spec.scope + [spec.kerasName]
            inner[i].scopeKeys = spec.scopeKeys + [spec.weightsKey]
        }
        return try convertLayers(inner, input: prefix + input, output: prefix + output, inputValue: inputs[0], builder: builder, values: &values)
    }

    /// The embedding of a Keras model that does not say its own (no `borderline_architecture`):
    /// when the output node (after a final softmax is removed) is a Dense layer, the node that feeds
    /// it, skipping back over Dropout layers; none when that is the model input or the output is not
    /// Dense. E.g. `… Flatten → Dense(relu) "fc1" → Dense(softmax) "fc2"` gives `fc1.relu`, and
    /// `… GlobalAveragePooling2D "gap" → Dropout → Dense` gives `gap`.
    static func penultimateEmbedding(_ nodes: [Model.Node], output: Int) -> Int? {
        guard nodes.indices.contains(output), nodes[output].layer is Dense, var node = nodes[output].inputs.first else { return nil }
        while node >= 0, nodes[node].layer is Dropout, let source = nodes[node].inputs.first { node = source }
        return node >= 0 ? node : nil
    }

    /// Layer specs of a Sequential config: each layer reads the previous one.
    func sequentialSpecs(_ body: JSONValue) throws -> ([Spec], String, [Int?]?) {
        guard let list = body.arrayValue ?? body["layers"]?.arrayValue else {
            throw error(.invalidConfiguration, "the Keras Sequential config has no 'layers' list")
        }
        var specs: [Spec] = []
        var inputName = "input"
        var inputShape: [Int?]?
        var previous: String?
        for (i, entry) in list.enumerated() {
            guard let className = entry["class_name"]?.stringValue else {
                throw error(.invalidConfiguration, "Keras layer #\(i) has no class_name")
            }
            let config = entry["config"] ?? .object([:])
            guard let name = config["name"]?.stringValue ?? entry["name"]?.stringValue else {
                throw error(.invalidConfiguration, "Keras layer #\(i) (\(className)) has no name")
            }
            let spec = Spec(className: className, name: name, config: config, inbound: previous.map { [$0] } ?? [inputName])
            if className == "InputLayer" {
                guard previous == nil else { throw error(.invalidConfiguration, "InputLayer '\(name)' is not the first layer") }
                inputName = name
                inputShape = try batchShape(spec)
                previous = name
                continue
            }
            if previous == nil, inputShape == nil, let s = try batchShape(spec) { inputShape = s }
            specs.append(spec)
            previous = name
        }
        if inputShape == nil, let built = body["build_input_shape"]?.arrayValue, built.count > 1 {
            inputShape = built.dropFirst().map(\.intValue)
        }
        KerasImporter.numberWeightsKeys(&specs)
        return (specs, inputName, inputShape)
    }

    /// Layer specs of a Functional config (Keras 2 or Keras 3 inbound-node style).
    func functionalSpecs(_ body: JSONValue) throws -> ([Spec], String, String) {
        guard let list = body["layers"]?.arrayValue else {
            throw error(.invalidConfiguration, "the Keras Functional config has no 'layers' list")
        }
        var specs: [Spec] = []
        for (i, entry) in list.enumerated() {
            guard let className = entry["class_name"]?.stringValue else {
                throw error(.invalidConfiguration, "Keras layer #\(i) has no class_name")
            }
            let config = entry["config"] ?? .object([:])
            guard let name = entry["name"]?.stringValue ?? config["name"]?.stringValue else {
                throw error(.invalidConfiguration, "Keras layer #\(i) (\(className)) has no name")
            }
            specs.append(Spec(className: className, name: name, config: config,
                              inbound: try inboundNames(entry["inbound_nodes"], layer: name)))
        }
        KerasImporter.numberWeightsKeys(&specs)
        let inputs = try endpoints(body["input_layers"], key: "input_layers")
        let outputs = try endpoints(body["output_layers"], key: "output_layers")
        guard inputs.count == 1 else {
            throw error(.invalidConfiguration, "the Keras model has \(inputs.count) inputs (\(inputs.joined(separator: ", "))); Borderline supports exactly one")
        }
        guard outputs.count == 1 else {
            throw error(.invalidConfiguration, "the Keras model has \(outputs.count) outputs (\(outputs.joined(separator: ", "))); Borderline supports exactly one")
        }
        return (specs, inputs[0], outputs[0])
    }

    /// `input_layers` / `output_layers`: `["name", 0, 0]` or `[["name", 0, 0], …]`.
    func endpoints(_ value: JSONValue?, key: String) throws -> [String] {
        guard let list = value?.arrayValue else { throw error(.invalidConfiguration, "the Keras Functional config has no '\(key)'") }
        if let name = list.first?.stringValue { return [name] }
        return try list.map { entry in
            guard let name = entry.arrayValue?.first?.stringValue else {
                throw error(.invalidConfiguration, "the Keras Functional config's '\(key)' entry \(Architecture.brief(entry)) is not [name, node, tensor]")
            }
            return name
        }
    }

    /// The layers feeding a layer, from its `inbound_nodes`:
    /// Keras 3 `[{"args": [<__keras_tensor__ with keras_history [layer, node, index]>…], "kwargs": {}}]`,
    /// Keras 2 `[[[layer, node, index, {kwargs}], …]]`.
    func inboundNames(_ nodes: JSONValue?, layer: String) throws -> [String] {
        guard let nodes = nodes?.arrayValue, !nodes.isEmpty else { return [] }
        guard nodes.count == 1 else {
            throw error(.unknownLayerType,
                "Keras layer '\(layer)' is called \(nodes.count) times (a shared layer); Borderline supports layers used once")
        }
        var names: [String] = []
        func collect(_ v: JSONValue) {
            switch v {
            case .array(let a): a.forEach(collect)
            case .object(let o):
                if o["class_name"]?.stringValue == "__keras_tensor__",
                   let history = o["config"]?["keras_history"]?.arrayValue, let name = history.first?.stringValue {
                    names.append(name)
                } else {
                    o.values.forEach(collect)
                }
            default: break
            }
        }
        let node = nodes[0]
        if let object = node.objectValue {
            collect(object["args"] ?? .null)
        } else if let entries = node.arrayValue {
            for entry in entries {
                guard let name = entry.arrayValue?.first?.stringValue else {
                    throw error(.invalidConfiguration, "Keras layer '\(layer)' has a malformed inbound node \(Architecture.brief(entry))")
                }
                names.append(name)
            }
        }
        return names
    }

    /// The per-sample Keras input shape an InputLayer (or a first layer) declares.
    func batchShape(_ spec: Spec) throws -> [Int?]? {
        for key in ["batch_shape", "batch_input_shape"] {
            if let list = spec.config[key]?.arrayValue, !list.isEmpty { return list.dropFirst().map(\.intValue) }
        }
        if let list = spec.config["shape"]?.arrayValue { return list.map(\.intValue) }
        if let list = spec.config["input_shape"]?.arrayValue { return list.map(\.intValue) }
        return nil
    }

    /// Specs in an order where every layer comes after the layers it reads (Keras's own order
    /// when it already is one).
    func topologicalOrder(_ specs: [Spec], input: String) throws -> [Spec] {
        var done: Set<String> = [input]
        var remaining = specs
        var ordered: [Spec] = []
        while !remaining.isEmpty {
            guard let i = remaining.firstIndex(where: { s in s.inbound.allSatisfy { done.contains($0) } }) else {
                let names = remaining.map(\.name).prefix(5).joined(separator: ", ")
                throw error(.invalidConfiguration, "the Keras layers \(names) read layers that are missing or form a cycle")
            }
            let s = remaining.remove(at: i)
            ordered.append(s)
            done.insert(s.name)
        }
        return ordered
    }

    // MARK: Layers

    /// Converts one Keras layer; `readers` counts, for each input, the Keras layers that read it.
    func convert(_ spec: Spec, inputs: [Value], builder: GraphBuilder, weights: any KerasWeightSource, readers: [Int]) throws -> Value {
        let c = spec.config
        let name = spec.name
        let className = KerasImporter.aliases[spec.className] ?? spec.className
        func single(foldsPadding: Bool = false) throws -> Value {
            guard inputs.count == 1 else { throw error(.invalidConfiguration, "expects one input, has \(inputs.count)") }
            if !foldsPadding, inputs[0].pendingPadding != nil { throw paddingNotFoldable(spec) }
            return inputs[0]
        }
        func channelsLast() throws {
            if let f = c["data_format"]?.stringValue, f != "channels_last" {
                throw error(.invalidConfiguration, "data_format '\(f)' is not supported (only channels_last)")
            }
        }
        func pair(_ key: String, default d: [Int]? = nil) throws -> [Int] {
            if let v = c[key], v != .null, let a = v.intArray(count: 2), a.count == 2 { return a }
            if let d, c[key] == nil || c[key] == .null { return d }
            throw error(.invalidConfiguration, "'\(key)' must be two integers, found \(c[key].map(Architecture.brief) ?? "nothing")")
        }
        func image(_ v: Value) throws -> [Int] {
            let s = builder.shape(v.node)
            guard s.count == 3 else {
                throw error(.shapeMismatch, "needs an image input (H, W, C), got a tensor of shape \(KerasLayout.kerasShape(s))")
            }
            return s
        }
        func noDilation() throws {
            if let d = c["dilation_rate"], d != .null, let a = d.intArray(count: 2), a != [1, 1] {
                throw error(.invalidConfiguration, "dilation_rate \(a) is not supported")
            }
            if let g = c["groups"]?.intValue, g != 1 { throw error(.invalidConfiguration, "groups = \(g) is not supported") }
        }
        func bool(_ key: String, default d: Bool) -> Bool { c[key]?.boolValue ?? d }
        func positiveInt(_ key: String) throws -> Int {
            guard let v = c[key]?.intValue, v > 0 else {
                throw error(.invalidConfiguration, "'\(key)' must be a positive integer, found \(c[key].map(Architecture.brief) ?? "nothing")")
            }
            return v
        }
        func paddingMode() throws -> Bool {
            let p = (c["padding"]?.stringValue ?? "valid").lowercased()
            guard p == "valid" || p == "same" else { throw error(.invalidConfiguration, "padding '\(p)' is not supported (valid or same)") }
            return p == "same"
        }

        switch className {
        case "InputLayer":
            throw error(.invalidConfiguration, "a second InputLayer '\(name)'; Borderline models have one input")

        case "Dense":
            let x = try single()
            let s = builder.shape(x.node)
            guard s.count == 1 else {
                throw error(.shapeMismatch, "Dense on a tensor of shape \(KerasLayout.kerasShape(s)) is not supported; it needs a flat input (add Flatten)")
            }
            let units = try positiveInt("units")
            let useBias = bool("use_bias", default: true)
            let node = try builder.add(name, "Dense", ["in_features": .init(s[0]), "out_features": .init(units), "bias": .bool(useBias)],
                                       inputs: [x.node])
            let w = try weights.take(spec, roles: useBias ? ["kernel", "bias"] : ["kernel"])
            try assign(w["kernel"]!, to: builder.nodes[node], parameter: "weight", kerasShape: [s[0], units], layout: "(in, out)",
                       convert: KerasLayout.transpose2D)
            if useBias { try assign(w["bias"]!, to: builder.nodes[node], parameter: "bias", kerasShape: [units], layout: "(out,)") }
            return try activation(c["activation"], after: node, layer: name, builder: builder)

        case "Conv2D", "DepthwiseConv2D":
            // DepthwiseConv2D(depth_multiplier m) is Conv2D with groups = in, out = in·m; its kernel
            // (kh, kw, in, m) puts output channel c·m + j at [.., .., c, j].
            try channelsLast()
            let depthwise = className == "DepthwiseConv2D"
            let x = try single(foldsPadding: true)
            let s = try image(x)
            let pre = x.pendingPadding ?? .zero
            let k = try pair("kernel_size"), st = try pair("strides", default: [1, 1])
            let d = try pair("dilation_rate", default: [1, 1])
            let multiplier = depthwise ? (c["depth_multiplier"]?.intValue ?? 1) : 1
            let filters = depthwise ? s[0] * multiplier : try positiveInt("filters")
            let groups = depthwise ? s[0] : (c["groups"]?.intValue ?? 1)
            guard multiplier > 0, groups > 0, s[0] % groups == 0, filters % groups == 0 else {
                throw error(.invalidConfiguration, "groups = \(groups) does not divide the \(s[0]) input channels and \(filters) filters")
            }
            if st != [1, 1], d != [1, 1] {
                throw error(.invalidConfiguration, "strides \(st) together with dilation_rate \(d) is not supported (Keras refuses it too)")
            }
            var pad = pre
            if try paddingMode() {
                let extent = [(k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1]
                let h = KerasLayout.samePadding(input: s[1] + pre.top + pre.bottom, kernel: extent[0], stride: st[0])
                let w = KerasLayout.samePadding(input: s[2] + pre.left + pre.right, kernel: extent[1], stride: st[1])
                pad = Padding2D(top: pre.top + h.before, bottom: pre.bottom + h.after, left: pre.left + w.before, right: pre.right + w.after)
            }
            let useBias = bool("use_bias", default: true)
            var conv: [String: JSONValue] = [
                "in_channels": .init(s[0]), "out_channels": .init(filters), "kernel_size": .init(k),
                "stride": .init(st), "padding": pad.json, "bias": .bool(useBias),
            ]
            if groups != 1 { conv["groups"] = .init(groups) }
            if d != [1, 1] { conv["dilation"] = .init(d) }
            let node = try builder.add(name, "Conv2D", .object(conv), inputs: [x.node])
            let w = try weights.take(spec, roles: useBias ? ["kernel", "bias"] : ["kernel"])
            if depthwise {
                // (kh, kw, in, m) → [in·m, 1, kh, kw]: the row-major order of (in, m) is the output channel.
                try assign(w["kernel"]!, to: builder.nodes[node], parameter: "weight", kerasShape: [k[0], k[1], s[0], multiplier],
                           layout: "(kh, kw, in, depth_multiplier)", convert: { t in
                               KerasLayout.permuteAll(t, [2, 3, 0, 1]).reshaped([filters, 1, k[0], k[1]]) })
            } else {
                try assign(w["kernel"]!, to: builder.nodes[node], parameter: "weight", kerasShape: [k[0], k[1], s[0] / groups, filters],
                           layout: "(kh, kw, in/groups, out)", convert: KerasLayout.kernelFromKeras)
            }
            if useBias { try assign(w["bias"]!, to: builder.nodes[node], parameter: "bias", kerasShape: [filters], layout: "(out,)") }
            return try activation(c["activation"], after: node, layer: name, builder: builder)

        case "Conv2DTranspose":
            try channelsLast()
            try noDilation()
            let x = try single()
            let s = try image(x)
            let k = try pair("kernel_size"), st = try pair("strides", default: [1, 1])
            let filters = try positiveInt("filters")
            let same = try paddingMode()
            var op: [Int?] = [nil, nil]
            if let v = c["output_padding"], v != .null {
                guard let a = v.intArray(count: 2), a.count == 2 else {
                    throw error(.invalidConfiguration, "'output_padding' must be two integers, found \(Architecture.brief(v))")
                }
                op = a.map { $0 }
            }
            let crops = (0..<2).map { KerasLayout.transposeCrops(kernel: k[$0], stride: st[$0], same: same, outputPadding: op[$0]) }
            guard crops.allSatisfy({ $0.start >= 0 }) else {
                throw error(.invalidConfiguration, "this padding/output_padding combination pads before the first output row, which Borderline's ConvTranspose2D cannot express")
            }
            let pad = Padding2D(top: crops[0].start, bottom: max(crops[0].end, 0), left: crops[1].start, right: max(crops[1].end, 0))
            let outputPadding = [max(-crops[0].end, 0), max(-crops[1].end, 0)]
            let useBias = bool("use_bias", default: true)
            let node = try builder.add(name, "ConvTranspose2D", [
                "in_channels": .init(s[0]), "out_channels": .init(filters), "kernel_size": .init(k), "stride": .init(st),
                "padding": pad.json, "output_padding": .init(outputPadding), "bias": .bool(useBias),
            ], inputs: [x.node])
            let w = try weights.take(spec, roles: useBias ? ["kernel", "bias"] : ["kernel"])
            try assign(w["kernel"]!, to: builder.nodes[node], parameter: "weight", kerasShape: [k[0], k[1], filters, s[0]],
                       layout: "(kh, kw, out, in)", convert: KerasLayout.kernelFromKeras)
            if useBias { try assign(w["bias"]!, to: builder.nodes[node], parameter: "bias", kerasShape: [filters], layout: "(out,)") }
            return try activation(c["activation"], after: node, layer: name, builder: builder)

        case "MaxPooling2D", "AveragePooling2D":
            try channelsLast()
            let isMax = className == "MaxPooling2D"
            let x = try single(foldsPadding: !isMax)
            let s = try image(x)
            let k = try pair("pool_size", default: [2, 2])
            let st = try pair("strides", default: k)
            var pad = x.pendingPadding ?? .zero
            // Keras's "same" average pooling averages over the pixels inside the image only
            // (count_include_pad = false); ZeroPadding2D before it pads with real zeros.
            var countIncludePad = true
            if try paddingMode() {
                let h = KerasLayout.samePadding(input: s[1] + pad.top + pad.bottom, kernel: k[0], stride: st[0])
                let w = KerasLayout.samePadding(input: s[2] + pad.left + pad.right, kernel: k[1], stride: st[1])
                if !isMax, h.before + h.after + w.before + w.after > 0 {
                    guard pad == .zero else {
                        throw error(.invalidConfiguration,
                            "Keras layer '\(name)' (AveragePooling2D): padding 'same' after a ZeroPadding2D mixes padding that counts as zeros with padding that does not; Borderline's AvgPool2D has one rule per layer")
                    }
                    countIncludePad = false
                }
                pad = Padding2D(top: pad.top + h.before, bottom: pad.bottom + h.after, left: pad.left + w.before, right: pad.right + w.after)
            }
            var poolConfig: [String: JSONValue] = ["kernel_size": .init(k), "stride": .init(st), "padding": pad.json]
            if !isMax { poolConfig["count_include_pad"] = .bool(countIncludePad) }
            let node = try builder.add(name, isMax ? "MaxPool2D" : "AvgPool2D", .object(poolConfig), inputs: [x.node])
            return Value(node: node, pendingPadding: nil)

        case "GlobalAveragePooling2D":
            try channelsLast()
            let x = try single()
            let s = try image(x)
            var node = try builder.add(name, "GlobalAvgPool2D", [:], inputs: [x.node])
            if bool("keepdims", default: false) {
                node = try builder.add(builder.uniqueName(name + ".keepdims"), "Reshape", ["shape": .init([s[0], 1, 1])], inputs: [node])
            }
            return Value(node: node, pendingPadding: nil)

        case "BatchNormalization":
            let x = try single()
            let s = builder.shape(x.node)
            guard s.count == 1 || s.count == 3 else {
                throw error(.shapeMismatch, "BatchNormalization on a tensor of shape \(KerasLayout.kerasShape(s)) is not supported")
            }
            let axisValue = c["axis"].flatMap { $0.intValue ?? ($0.arrayValue?.count == 1 ? $0.arrayValue?[0].intValue : nil) } ?? -1
            guard axisValue == -1 || axisValue == s.count else {
                throw error(.invalidConfiguration, "axis \(axisValue) is not supported; Borderline normalises the channel (last Keras) axis")
            }
            let features = s[0]
            let epsilon = c["epsilon"]?.doubleValue ?? 1e-3
            let momentum = c["momentum"]?.doubleValue ?? 0.99
            let center = bool("center", default: true), scale = bool("scale", default: true)
            let node = try builder.add(name, "BatchNorm", [
                "num_features": .init(features), "eps": .init(epsilon), "momentum": .init(1 - momentum),
            ], inputs: [x.node])
            var roles: [String] = []
            if scale { roles.append("gamma") }
            if center { roles.append("beta") }
            roles += ["moving_mean", "moving_variance"]
            let w = try weights.take(spec, roles: roles)
            let n = builder.nodes[node]
            if scale { try assign(w["gamma"]!, to: n, parameter: "weight", kerasShape: [features], layout: "(C,)") }
            if center { try assign(w["beta"]!, to: n, parameter: "bias", kerasShape: [features], layout: "(C,)") }
            try assign(w["moving_mean"]!, to: n, parameter: "running_mean", kerasShape: [features], layout: "(C,)")
            try assign(w["moving_variance"]!, to: n, parameter: "running_var", kerasShape: [features], layout: "(C,)")
            return Value(node: node, pendingPadding: nil)

        case "Activation":
            let x = try single()
            let node = try activation(c["activation"], after: x.node, layer: name, builder: builder, nodeName: name)
            return node

        case "ReLU":
            let x = try single()
            let slope = c["negative_slope"]?.doubleValue ?? 0
            if let t = c["threshold"]?.doubleValue, t != 0 { throw error(.invalidConfiguration, "threshold \(t) is not supported") }
            if let m = c["max_value"], m != .null {
                guard slope == 0, let top = m.doubleValue, top > 0 else {
                    throw error(.invalidConfiguration, "max_value \(m) with negative_slope \(slope) is not supported")
                }
                let node = top == 6
                    ? try builder.add(name, "ReLU6", [:], inputs: [x.node])
                    : try builder.add(name, "Clip", ["min": 0, "max": .init(top)], inputs: [x.node])
                return Value(node: node, pendingPadding: nil)
            }
            let node = slope == 0
                ? try builder.add(name, "ReLU", [:], inputs: [x.node])
                : try builder.add(name, "LeakyReLU", ["negative_slope": .init(slope)], inputs: [x.node])
            return Value(node: node, pendingPadding: nil)

        case "ELU":
            let x = try single()
            return Value(node: try builder.add(name, "ELU", ["alpha": .init(c["alpha"]?.doubleValue ?? 1)], inputs: [x.node]), pendingPadding: nil)

        case "PReLU":
            // alpha has the input's shape minus the axes in shared_axes; Borderline's PReLU has one
            // slope, or one per channel (Keras shared_axes [1, 2] on images).
            let x = try single()
            let s = builder.shape(x.node)
            let shared = Set(c["shared_axes"]?.arrayValue?.compactMap(\.intValue) ?? (c["shared_axes"]?.intValue.map { [$0] } ?? []))
            let kerasS = KerasLayout.kerasShape(s)
            let alphaShape = kerasS.indices.map { shared.contains($0 + 1) ? 1 : kerasS[$0] }
            let perChannel = Array(repeating: 1, count: max(kerasS.count - 1, 0)) + [kerasS.last ?? 1]
            guard alphaShape.allSatisfy({ $0 == 1 }) || alphaShape == perChannel else {
                throw error(.invalidConfiguration,
                    "PReLU with alpha of shape \(alphaShape) (shared_axes \(shared.sorted())) is not supported; Borderline's PReLU takes one slope or one per channel (shared_axes [1, 2] for images)")
            }
            let count = alphaShape.reduce(1, *)
            let node = try builder.add(name, "PReLU", ["num_parameters": .init(count)], inputs: [x.node])
            let w = try weights.take(spec, roles: ["alpha"])
            try assign(w["alpha"]!, to: builder.nodes[node], parameter: "weight", kerasShape: alphaShape, layout: "alpha",
                       convert: { $0.reshaped([count]) })
            return Value(node: node, pendingPadding: nil)

        case "Rescaling":
            let x = try single()
            func numbers(_ key: String, default d: Double) throws -> JSONValue {
                guard let v = c[key], v != .null else { return .init(d) }
                if v.doubleValue != nil { return v }
                if let a = v.arrayValue, !a.isEmpty, a.allSatisfy({ $0.doubleValue != nil }) { return a.count == 1 ? a[0] : v }
                throw error(.invalidConfiguration, "'\(key)' must be a number or a list of numbers (one per channel), found \(Architecture.brief(v))")
            }
            return Value(node: try builder.add(name, "Rescaling", ["scale": try numbers("scale", default: 1), "offset": try numbers("offset", default: 0)],
                                               inputs: [x.node]), pendingPadding: nil)

        case "Normalization":
            // (x − mean) / max(√variance, 1e-7) per channel (axis −1); mean and variance are in the
            // config when given to the constructor, else weights (mean, variance, count) from adapt().
            let x = try single()
            let s = builder.shape(x.node)
            let channels = KerasLayout.kerasShape(s).last ?? 1
            if c["invert"]?.boolValue == true { throw error(.invalidConfiguration, "invert = true is not supported") }
            let axis = c["axis"].flatMap { $0.intValue ?? ($0.arrayValue?.count == 1 ? $0.arrayValue?[0].intValue : nil) } ?? -1
            guard axis == -1 || axis == s.count else {
                throw error(.invalidConfiguration, "axis \(Architecture.brief(c["axis"] ?? .null)) is not supported; Borderline normalises per channel (axis -1)")
            }
            var mean: [Float], variance: [Float]
            if let m = c["mean"], m != .null, let v = c["variance"], v != .null {
                func list(_ j: JSONValue) -> [Float]? {
                    if let d = j.doubleValue { return [Float(d)] }
                    return j.arrayValue.map { a in a.compactMap(\.doubleValue).map(Float.init) }
                }
                guard let mm = list(m), let vv = list(v), !mm.isEmpty, !vv.isEmpty else {
                    throw error(.invalidConfiguration, "'mean' and 'variance' must be numbers or lists of numbers")
                }
                (mean, variance) = (mm, vv)
            } else {
                let w = try weights.take(spec, roles: ["mean", "variance", "count"])
                let kShape = w["mean"]!.value.shape
                guard w["mean"]!.value.count == channels || w["mean"]!.value.count == 1, w["variance"]!.value.count == w["mean"]!.value.count else {
                    throw error(.shapeMismatch, "dataset \(w["mean"]!.path) has shape \(kShape); layer \(name) (Normalization) expects \(channels) per-channel means")
                }
                (mean, variance) = (w["mean"]!.value.scalars, w["variance"]!.value.scalars)
            }
            guard [1, channels].contains(mean.count), [1, channels].contains(variance.count) else {
                throw error(.shapeMismatch, "mean (\(mean.count) values) and variance (\(variance.count)) must have one value or one per channel (\(channels))")
            }
            func json(_ v: [Float]) -> JSONValue { v.count == 1 ? .init(Double(v[0])) : .array(v.map { .init(Double($0)) }) }
            return Value(node: try builder.add(name, "Normalization", ["mean": json(mean), "variance": json(variance)], inputs: [x.node]),
                         pendingPadding: nil)

        case "UpSampling2D":
            try channelsLast()
            let x = try single()
            _ = try image(x)
            let size = try pair("size", default: [2, 2])
            let mode = c["interpolation"]?.stringValue ?? "nearest"
            guard mode == "nearest" else { throw error(.invalidConfiguration, "interpolation '\(mode)' is not supported (only nearest)") }
            return Value(node: try builder.add(name, "UpSampling2D", ["scale_factor": .init(size), "mode": "nearest"], inputs: [x.node]),
                         pendingPadding: nil)

        case "Concatenate":
            guard inputs.count >= 2 else { throw error(.invalidConfiguration, "Concatenate needs at least two inputs, has \(inputs.count)") }
            if inputs.contains(where: { $0.pendingPadding != nil }) { throw paddingNotFoldable(spec) }
            let s = builder.shape(inputs[0].node)
            let raw = c["axis"]?.intValue ?? -1
            let kerasAxis = raw < 0 ? raw + s.count : raw - 1
            guard kerasAxis >= 0, kerasAxis < s.count else { throw error(.invalidConfiguration, "axis \(raw) is out of range for samples of rank \(s.count)") }
            let axis = KerasLayout.kerasToOurs(rank: s.count)[kerasAxis]
            return Value(node: try builder.add(name, "Concatenate", ["axis": .init(axis)], inputs: inputs.map(\.node)), pendingPadding: nil)

        case "Multiply":
            guard inputs.count == 2 else { throw error(.invalidConfiguration, "Multiply of \(inputs.count) inputs is not supported (two)") }
            if inputs.contains(where: { $0.pendingPadding != nil }) { throw paddingNotFoldable(spec) }
            return Value(node: try builder.add(name, "Multiply", [:], inputs: inputs.map(\.node)), pendingPadding: nil)

        case "LayerNormalization":
            let x = try single()
            let s = builder.shape(x.node)
            let axes = c["axis"].flatMap { $0.intValue.map { [$0] } ?? $0.arrayValue?.compactMap(\.intValue) } ?? [-1]
            guard s.count == 1, axes.map({ $0 < 0 ? $0 + 2 : $0 }) == [1] else {
                throw error(.invalidConfiguration,
                    "LayerNormalization over axis \(axes) of a tensor of shape \(KerasLayout.kerasShape(s)) is not supported (only over flat features)")
            }
            let center = bool("center", default: true), scale = bool("scale", default: true)
            if c["rms_scaling"]?.boolValue == true { throw error(.invalidConfiguration, "rms_scaling = true is not supported") }
            let node = try builder.add(name, "LayerNorm", ["normalized_shape": .init(s), "eps": .init(c["epsilon"]?.doubleValue ?? 1e-3),
                                                           "elementwise_affine": .bool(scale || center), "bias": .bool(center)], inputs: [x.node])
            var roles: [String] = []
            if scale { roles.append("gamma") }
            if center { roles.append("beta") }
            let w = try weights.take(spec, roles: roles)
            let n = builder.nodes[node]
            if scale { try assign(w["gamma"]!, to: n, parameter: "weight", kerasShape: s, layout: "(features,)") }
            else if center, let p = n.layer.parameters.first(where: { $0.name == "weight" }) { p.value = Tensor(repeating: 1, shape: s) }
            if center { try assign(w["beta"]!, to: n, parameter: "bias", kerasShape: s, layout: "(features,)") }
            return Value(node: node, pendingPadding: nil)

        case "LeakyReLU":
            let x = try single()
            let slope = c["negative_slope"]?.doubleValue ?? c["alpha"]?.doubleValue ?? 0.3
            return Value(node: try builder.add(name, "LeakyReLU", ["negative_slope": .init(slope)], inputs: [x.node]), pendingPadding: nil)

        case "Softmax":
            let x = try single()
            let axis = c["axis"].flatMap { $0.intValue ?? $0.arrayValue?.first?.intValue } ?? -1
            let s = builder.shape(x.node)
            guard s.count == 1, axis == -1 || axis == 1 else {
                throw error(.shapeMismatch, "Softmax over axis \(axis) of a tensor of shape \(KerasLayout.kerasShape(s)) is not supported (only over flat features)")
            }
            return Value(node: try builder.add(name, "Softmax", [:], inputs: [x.node]), pendingPadding: nil)

        case "Flatten":
            try channelsLast()
            let x = try single()
            let s = builder.shape(x.node)
            let order = s.count == 3 ? "channels_last" : "channels_first"
            return Value(node: try builder.add(name, "Flatten", ["order": .string(order)], inputs: [x.node]), pendingPadding: nil)

        case "Reshape":
            let x = try single()
            let s = builder.shape(x.node)
            let count = Tensor.count(of: s)
            guard let targetList = c["target_shape"]?.arrayValue else {
                throw error(.invalidConfiguration, "'target_shape' is missing")
            }
            var target = try targetList.map { v -> Int in
                guard let i = v.intValue ?? (v == .null ? -1 : nil), i > 0 || i == -1 else {
                    throw error(.invalidConfiguration, "'target_shape' \(Architecture.brief(.array(targetList))) must hold positive sizes (one may be -1)")
                }
                return i
            }
            if let hole = target.firstIndex(of: -1) {
                let known = target.filter { $0 != -1 }.reduce(1, *)
                guard target.filter({ $0 == -1 }).count == 1, known > 0, count % known == 0 else {
                    throw error(.shapeMismatch, "cannot reshape \(KerasLayout.kerasShape(s)) to \(target)")
                }
                target[hole] = count / known
            }
            guard Tensor.count(of: target) == count else {
                throw error(.shapeMismatch, "cannot reshape \(KerasLayout.kerasShape(s)) (\(count) elements) to \(target)")
            }
            return Value(node: try reshape(from: x.node, inputShape: s, kerasTarget: target, name: name, builder: builder), pendingPadding: nil)

        case "Permute":
            let x = try single()
            let s = builder.shape(x.node)
            guard let dims = c["dims"]?.intArray(count: s.count), dims.count == s.count, dims.sorted() == Array(1...s.count) else {
                throw error(.invalidConfiguration, "'dims' must be a permutation of 1…\(s.count), found \(c["dims"].map(Architecture.brief) ?? "nothing")")
            }
            let oToK = KerasLayout.oursToKeras(rank: s.count), kToO = KerasLayout.kerasToOurs(rank: s.count)
            let perm = (0..<s.count).map { kToO[dims[oToK[$0]] - 1] }
            if perm == Array(0..<s.count) { return x }
            return Value(node: try builder.add(name, "Permute", ["dims": .init(perm)], inputs: [x.node]), pendingPadding: nil)

        case "ZeroPadding2D":
            try channelsLast()
            let x = try single(foldsPadding: true)
            _ = try image(x)
            let p: Padding2D
            let v = c["padding"] ?? .number(1)
            if let i = v.intValue {
                p = Padding2D(i, i)
            } else if let a = v.arrayValue, a.count == 2, let h = a[0].intValue, let w = a[1].intValue {
                p = Padding2D(h, w)
            } else if let a = v.arrayValue, a.count == 2, let h = a[0].intArray(count: 2), let w = a[1].intArray(count: 2), h.count == 2, w.count == 2 {
                p = Padding2D(top: h[0], bottom: h[1], left: w[0], right: w[1])
            } else {
                throw error(.invalidConfiguration, "'padding' must be n, (h, w) or ((top, bottom), (left, right)), found \(Architecture.brief(v))")
            }
            let pre = x.pendingPadding ?? .zero
            return Value(node: x.node, pendingPadding: Padding2D(top: pre.top + p.top, bottom: pre.bottom + p.bottom,
                                                                 left: pre.left + p.left, right: pre.right + p.right))

        case "Cropping2D":
            // Only as the exporter writes it: directly after a Conv2DTranspose that nothing else reads,
            // where it becomes part of the transposed convolution's padding.
            try channelsLast()
            let x = try single()
            let v = c["cropping"] ?? .null
            guard let a = v.arrayValue, a.count == 2, let h = a[0].intArray(count: 2), let w = a[1].intArray(count: 2),
                  h.count == 2, w.count == 2 else {
                throw error(.invalidConfiguration, "'cropping' must be ((top, bottom), (left, right)), found \(Architecture.brief(v))")
            }
            guard x.node >= 0, readers == [1], builder.consumers(of: x.node) == 0,
                  builder.nodes[x.node].layer.typeName == ConvTranspose2D.typeName else {
                throw error(.unknownLayerType,
                    "Keras layer '\(name)' (Cropping2D) is only supported directly after a Conv2DTranspose without activation that nothing else reads")
            }
            let node = builder.nodes[x.node]
            let cc = ConfigReader(node.layer.config)
            let pad = try Padding2D.read(cc)
            let op = try cc.ints("output_padding", count: 2, default: [0, 0])
            // Crops of the full output, start and end (negative end = extension), plus this cropping.
            let ends = [pad.bottom - op[0] + h[1], pad.right - op[1] + w[1]]
            var config = node.layer.config.objectValue ?? [:]
            config["padding"] = Padding2D(top: pad.top + h[0], bottom: max(ends[0], 0), left: pad.left + w[0], right: max(ends[1], 0)).json
            config["output_padding"] = .init([max(-ends[0], 0), max(-ends[1], 0)])
            try builder.replaceLayer(x.node, config: .object(config))
            return x

        case "Dropout":
            let x = try single()
            let rate = c["rate"]?.doubleValue ?? 0.5
            return Value(node: try builder.add(name, "Dropout", ["p": .init(rate)], inputs: [x.node]), pendingPadding: nil)

        case "Add":
            guard inputs.count >= 2 else { throw error(.invalidConfiguration, "Add needs at least two inputs, has \(inputs.count)") }
            if inputs.contains(where: { $0.pendingPadding != nil }) { throw paddingNotFoldable(spec) }
            return Value(node: try builder.add(name, "Add", [:], inputs: inputs.map(\.node)), pendingPadding: nil)

        default:
            throw error(.unknownLayerType,
                "Keras layer '\(name)' has class '\(spec.className)', which Borderline does not import (supported: \(KerasImporter.supportedClasses.joined(separator: ", ")))")
        }
    }

    func paddingNotFoldable(_ spec: Spec) -> BorderlineError {
        error(.unknownLayerType,
            "Keras layer '\(spec.name)' (\(spec.className)) reads a ZeroPadding2D output; Borderline imports ZeroPadding2D only directly before Conv2D or AveragePooling2D")
    }

    /// A Keras `Reshape` to `kerasTarget` (which is in Keras layout), in channels-first terms:
    /// permute a `[C, H, W]` input to channels-last, reshape, and permute a rank-3 result back.
    func reshape(from input: Int, inputShape s: [Int], kerasTarget target: [Int], name: String, builder: GraphBuilder) throws -> Int {
        var node = input
        let needsIn = !KerasLayout.layoutsAgree(s)
        let ourTarget = KerasLayout.ourShape(target)
        let needsOut = target.count == 3 && !KerasLayout.layoutsAgree(ourTarget)
        if needsIn && target.count == 1 {
            return try builder.add(name, "Flatten", ["order": "channels_last"], inputs: [node])
        }
        if needsIn {
            node = try builder.add(builder.uniqueName(name + ".to_channels_last"), "Permute", ["dims": .init([1, 2, 0])], inputs: [node])
        }
        if needsOut {
            node = try builder.add(builder.uniqueName(name + ".channels_last"), "Reshape", ["shape": .init(target)], inputs: [node])
            return try builder.add(name, "Permute", ["dims": .init([2, 0, 1])], inputs: [node])
        }
        return try builder.add(name, "Reshape", ["shape": .init(ourTarget)], inputs: [node])
    }

    /// The layer for a Keras activation (inline `activation=` or an `Activation` layer).
    func activation(_ value: JSONValue?, after node: Int, layer: String, builder: GraphBuilder, nodeName: String? = nil) throws -> Value {
        var name: String?
        switch value {
        case nil, .null?: name = nil
        case .string(let s)?: name = s
        case .object(let o)?:
            name = o["config"]?.stringValue ?? o["config"]?["name"]?.stringValue ?? o["class_name"]?.stringValue?.lowercased()
        default:
            throw error(.invalidConfiguration, "Keras layer '\(layer)' has a malformed activation \(Architecture.brief(value!))")
        }
        guard let activation = name, activation != "linear" else { return Value(node: node, pendingPadding: nil) }
        let type: String
        var config: JSONValue = [:]
        switch activation {
        case "relu": type = "ReLU"
        case "sigmoid": type = "Sigmoid"
        case "tanh": type = "Tanh"
        case "softmax":
            let s = builder.shape(node)
            guard s.count == 1 else {
                throw error(.shapeMismatch, "Keras layer '\(layer)' applies softmax to a tensor of shape \(KerasLayout.kerasShape(s)); only flat features are supported")
            }
            type = "Softmax"
        case "leaky_relu":
            type = "LeakyReLU"
            config = ["negative_slope": 0.2]
        case "relu6": type = "ReLU6"
        case "elu": type = "ELU"
        case "silu", "swish": type = "SiLU"
        case "gelu": (type, config) = ("GELU", ["approximate": "none"])
        default:
            throw error(.unknownLayerType,
                "Keras layer '\(layer)' uses activation '\(activation)', which Borderline does not support (relu, relu6, sigmoid, tanh, softmax, leaky_relu, elu, silu/swish, gelu, linear)")
        }
        let nodeName = nodeName ?? builder.uniqueName("\(layer).\(activation)")
        return Value(node: try builder.add(nodeName, type, config, inputs: [node]), pendingPadding: nil)
    }

    /// Checks a Keras weight against the shape the layer needs (in Keras layout), converts it and
    /// stores it in the layer's parameter.
    func assign(_ weight: KerasWeights.Weight, to node: Model.Node, parameter: String, kerasShape: [Int], layout: String,
                convert: (Tensor) -> Tensor = { $0 }) throws {
        guard weight.value.shape == kerasShape else {
            throw error(.shapeMismatch,
                "dataset \(weight.path) has shape \(weight.value.shape); layer \(node.name) (\(node.layer.typeName)) expects \(layout) = \(kerasShape)")
        }
        guard let p = node.layer.parameters.first(where: { $0.name == parameter }) else {
            throw error(.invalidConfiguration, "layer \(node.name) (\(node.layer.typeName)) has no parameter '\(parameter)'")
        }
        let value = convert(weight.value)
        precondition(value.shape == p.value.shape, "Keras import: converted \(weight.path) to \(value.shape), layer has \(p.value.shape)")
        p.value = value
    }
}

/// Where a Keras importer finds each layer's weights.
protocol KerasWeightSource {
    /// The weights of a Keras layer, keyed by role (`kernel`, `bias`, `gamma`, …); `roles` is the
    /// order Keras creates them in.
    func take(_ spec: KerasImporter.Spec, roles: [String]) throws -> [String: KerasWeights.Weight]
}

/// The weights of a legacy Keras `.h5` file, found by following the `weight_names` attribute of
/// each group under `model_weights`. A nested model's weights sit in its group, named
/// `inner_layer/role` (Functional) or `nested_model/inner_layer/role` (Sequential).
struct KerasWeights: KerasWeightSource {
    struct Weight {
        var path: String
        var value: Tensor
    }

    let root: HDF5Group
    let group: HDF5Group?

    init(root: HDF5Group) throws {
        self.root = root
        self.group = root.kind(of: "model_weights") == .group ? try root.group("model_weights") : nil
    }

    /// `weight_names` (or Keras's chunked `weight_names0`, `weight_names1`, … for long lists).
    static func names(_ group: HDF5Group, attribute: String) throws -> [String] {
        if group.hasAttribute(attribute) { return try group.stringArrayAttribute(attribute) }
        var names: [String] = []
        var chunk = 0
        while group.hasAttribute("\(attribute)\(chunk)") {
            names += try group.stringArrayAttribute("\(attribute)\(chunk)")
            chunk += 1
        }
        return names
    }

    /// The role of a weight from its name: `dense/kernel:0` → `kernel`.
    static func role(_ name: String) -> String {
        var last = name.split(separator: "/").last.map(String.init) ?? name
        if let colon = last.lastIndex(of: ":") { last = String(last[..<colon]) }
        return last
    }

    /// The weights of a Keras layer, keyed by role. Roles are matched by name (`kernel`, `bias`,
    /// `gamma`, …) when the names say them, else by position (Keras's legacy order: trainable
    /// weights, then the others).
    func take(_ spec: KerasImporter.Spec, roles: [String]) throws -> [String: Weight] {
        let path = root.file.path
        guard let group else {
            throw BorderlineError(.missingEntry, "group /model_weights is missing; Keras layer '\(spec.name)' (\(spec.className)) needs its weights", file: path)
        }
        // A layer of a nested model: its weights are listed by the outermost nested model's group,
        // as `…/layer/role`.
        let groupName = spec.scope.first ?? spec.kerasName
        guard group.kind(of: groupName) == .group else {
            throw BorderlineError(.missingEntry,
                "group /model_weights/\(groupName) not found; Keras layer '\(spec.name)' (\(spec.className)) needs \(roles.joined(separator: ", "))", file: path)
        }
        let layerGroup = try group.group(groupName)
        var names = try KerasWeights.names(layerGroup, attribute: "weight_names")
        if !spec.scope.isEmpty {
            names = names.filter { name in
                let parts = name.split(separator: "/").map(String.init)
                return parts.count >= 2 && parts[parts.count - 2] == spec.kerasName
            }
        }
        guard names.count == roles.count else {
            throw BorderlineError(names.count < roles.count ? .missingEntry : .invalidConfiguration,
                "group \(layerGroup.path) lists \(names.count) weights\(spec.scope.isEmpty ? "" : " of layer '\(spec.kerasName)'") (\(names.joined(separator: ", "))) in weight_names; " +
                "Keras layer '\(spec.name)' (\(spec.className)) expects \(roles.count): \(roles.joined(separator: ", "))", file: path)
        }
        let named = names.map(KerasWeights.role)
        let order: [String] = Set(named) == Set(roles) ? named : roles
        var result: [String: Weight] = [:]
        for (name, role) in zip(names, order) {
            let dataset = try layerGroup.dataset(name)
            let value = try dataset.readTensor()
            try ParameterAssignment.checkFinite(value, what: "dataset \(dataset.path)", file: path)
            result[role] = Weight(path: dataset.path, value: value)
        }
        return result
    }
}

/// A model graph grown one layer at a time, with every node's shape known as it is added.
final class GraphBuilder {
    let inputShape: [Int]
    private(set) var nodes: [Model.Node] = []
    private(set) var shapes: [[Int]] = []
    private var names: Set<String> = ["input"]

    init(inputShape: [Int]) { self.inputShape = inputShape }

    func shape(_ node: Int) -> [Int] { node == -1 ? inputShape : shapes[node] }

    /// `base`, or `base_1`, `base_2`, … if taken.
    func uniqueName(_ base: String) -> String {
        if !names.contains(base) { return base }
        var i = 1
        while names.contains("\(base)_\(i)") { i += 1 }
        return "\(base)_\(i)"
    }

    @discardableResult
    func add(_ name: String, _ type: String, _ config: JSONValue, inputs: [Int]) throws -> Int {
        guard !names.contains(name) else { throw BorderlineError(.invalidConfiguration, "layer name '\(name)' is used twice") }
        let layer = try LayerRegistry.make(typeName: type, config: config, layerName: name)
        do {
            shapes.append(try layer.outputShape(for: inputs.map(shape)))
        } catch var e as BorderlineError {
            e.message = "layer '\(name)' (\(type)): \(e.message)"
            throw e
        }
        names.insert(name)
        nodes.append(Model.Node(name: name, layer: layer, inputs: inputs))
        return nodes.count - 1
    }

    /// Rebuilds a node's layer (same type, same parameter values) with another configuration; only for
    /// nodes nobody reads yet.
    func replaceLayer(_ node: Int, config: JSONValue) throws {
        precondition(consumers(of: node) == 0, "GraphBuilder: node \(node) is already read")
        let old = nodes[node]
        let layer = try LayerRegistry.make(typeName: old.layer.typeName, config: config, layerName: old.name)
        let shape: [Int]
        do {
            shape = try layer.outputShape(for: old.inputs.map(self.shape))
        } catch var e as BorderlineError {
            e.message = "layer '\(old.name)' (\(old.layer.typeName)): \(e.message)"
            throw e
        }
        for (new, previous) in zip(layer.parameters, old.layer.parameters) { new.value = previous.value }
        nodes[node].layer = layer
        shapes[node] = shape
    }

    func consumers(of node: Int) -> Int { nodes.reduce(0) { $0 + $1.inputs.filter { $0 == node }.count } }

    /// Removes a node nobody reads, renumbering the later ones.
    func remove(_ node: Int) {
        precondition(consumers(of: node) == 0, "GraphBuilder: node \(node) is still read")
        names.remove(nodes[node].name)
        nodes.remove(at: node)
        shapes.remove(at: node)
        for i in nodes.indices { nodes[i].inputs = nodes[i].inputs.map { $0 > node ? $0 - 1 : $0 } }
    }
}
