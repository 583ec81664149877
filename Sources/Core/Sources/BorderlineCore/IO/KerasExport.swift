import Foundation

/// Writes a model as a Keras legacy `.h5` that Keras 3 loads with `keras.models.load_model(path)`
/// and `model.load_weights(path)`. The Keras model is channels-last: feed it NHWC batches.
///
/// A chain of layers becomes a `Sequential` model, anything else a `Functional` one. Only the
/// layers the output depends on are written. Where Keras has no direct equivalent, small helper
/// layers keep the outputs identical: a channels-first `Flatten` becomes `Permute` + `Flatten`,
/// padding that TensorFlow's `"same"` does not produce becomes `ZeroPadding2D` + `"valid"`, and a
/// `Reshape` of an image is wrapped in `Permute`s.
struct KerasExporter {
    struct KerasLayer {
        var className: String
        var name: String
        var config: [String: JSONValue]
        /// Keras names of the layers feeding this one, with their Keras per-sample shapes.
        var inputs: [(name: String, shape: [Int])]
        var weights: [(role: String, value: Tensor)]
    }

    let model: Model
    private(set) var layers: [KerasLayer] = []
    private(set) var inputName = "input"
    private(set) var outputName = ""
    private var names: Set<String> = []

    init(model: Model) throws {
        self.model = model
        try build()
    }

    private mutating func uniqueName(_ base: String) -> String {
        var name = base, i = 1
        while names.contains(name) { name = "\(base)_\(i)"; i += 1 }
        names.insert(name)
        return name
    }

    private func error(_ node: Model.Node, _ message: String, kind: BorderlineError.Kind = .invalidConfiguration) -> BorderlineError {
        BorderlineError(kind, "layer '\(node.name)' (\(node.layer.typeName)) cannot be written for Keras: \(message)")
    }

    /// Appends a Keras layer and returns its output (name and Keras shape).
    @discardableResult
    private mutating func emit(_ className: String, _ name: String, _ config: [String: JSONValue],
                               inputs: [(name: String, shape: [Int])], outputShape: [Int],
                               weights: [(role: String, value: Tensor)] = []) -> (name: String, shape: [Int]) {
        var config = config
        config["name"] = .string(name)
        config["trainable"] = true
        config["dtype"] = "float32"
        layers.append(KerasLayer(className: className, name: name, config: config, inputs: inputs, weights: weights))
        return (name, outputShape)
    }

    private mutating func build() throws {
        // Only the nodes the output depends on.
        var needed = Set<Int>([model.outputNode])
        for i in stride(from: model.outputNode, through: 0, by: -1) where needed.contains(i) {
            for j in model.nodes[i].inputs where j >= 0 { needed.insert(j) }
        }
        names = Set(model.nodes.enumerated().filter { needed.contains($0.offset) }.map(\.element.name))
        inputName = uniqueName("input")
        let inputKeras = KerasLayout.kerasShape(model.inputShape)
        var outputs: [Int: (name: String, shape: [Int])] = [-1: (inputName, inputKeras)]
        for (i, node) in model.nodes.enumerated() where needed.contains(i) {
            let ins = node.inputs.map { outputs[$0]! }
            outputs[i] = try convert(node, inputs: ins, inputShapes: node.inputs.map { $0 == -1 ? model.inputShape : model.nodeShapes[$0] },
                                     outputShape: model.nodeShapes[i])
        }
        outputName = outputs[model.outputNode]!.name
    }

    private func parameter(_ node: Model.Node, _ name: String) throws -> Tensor {
        guard let p = node.layer.parameters.first(where: { $0.name == name }) else {
            throw error(node, "it has no parameter '\(name)'")
        }
        return p.value
    }

    private mutating func convert(_ node: Model.Node, inputs: [(name: String, shape: [Int])], inputShapes: [[Int]],
                                  outputShape ours: [Int]) throws -> (name: String, shape: [Int]) {
        let c = ConfigReader(node.layer.config)
        let name = node.name
        let out = KerasLayout.kerasShape(ours)
        let x = inputs.first!
        let s = inputShapes.first!
        switch node.layer.typeName {
        case Dense.typeName:
            let bias = try c.bool("bias", default: true)
            var w: [(role: String, value: Tensor)] = [("kernel", KerasLayout.transpose2D(try parameter(node, "weight")))]
            if bias { w.append(("bias", try parameter(node, "bias"))) }
            return emit("Dense", name, ["units": .init(try c.int("out_features")), "activation": "linear", "use_bias": .bool(bias)],
                        inputs: [x], outputShape: out, weights: w)

        case Conv2D.typeName:
            let k = try c.ints("kernel_size", count: 2), st = try c.ints("stride", count: 2, default: [1, 1])
            let dilation = try c.ints("dilation", count: 2, default: [1, 1]), groups = try c.int("groups", default: 1)
            let pad = try Padding2D.read(c)
            let bias = try c.bool("bias", default: true)
            if dilation != [1, 1] && st != [1, 1] {
                throw error(node, "dilation \(dilation) with stride \(st) has no Keras Conv2D equivalent (Keras refuses strides > 1 with dilation_rate > 1)")
            }
            // "same" padding is computed from the dilated kernel's extent.
            let span = [dilation[0] * (k[0] - 1) + 1, dilation[1] * (k[1] - 1) + 1]
            var input = x
            var mode = "valid"
            if pad != .zero {
                if KerasExporter.isSame(pad, input: s, kernel: span, stride: st, output: ours) {
                    mode = "same"
                } else {
                    input = emit("ZeroPadding2D", uniqueName(name + ".pad"),
                                 ["padding": [JSONValue([pad.top, pad.bottom]), JSONValue([pad.left, pad.right])], "data_format": "channels_last"],
                                 inputs: [x], outputShape: [x.shape[0] + pad.top + pad.bottom, x.shape[1] + pad.left + pad.right, x.shape[2]])
                }
            }
            var w: [(role: String, value: Tensor)] = [("kernel", KerasLayout.kernelToKeras(try parameter(node, "weight")))]
            if bias { w.append(("bias", try parameter(node, "bias"))) }
            return emit("Conv2D", name, [
                "filters": .init(try c.int("out_channels")), "kernel_size": .init(k), "strides": .init(st), "padding": .string(mode),
                "data_format": "channels_last", "dilation_rate": .init(dilation), "groups": .init(groups), "activation": "linear",
                "use_bias": .bool(bias),
            ], inputs: [input], outputShape: out, weights: w)

        case ConvTranspose2D.typeName:
            let k = try c.ints("kernel_size", count: 2), st = try c.ints("stride", count: 2, default: [1, 1])
            let pad = try Padding2D.read(c)
            let op = try c.ints("output_padding", count: 2, default: [0, 0])
            // Crops of the full output (in − 1)·stride + kernel that Borderline applies, per dimension.
            let wanted = [(pad.top, pad.bottom - op[0]), (pad.left, pad.right - op[1])]
            let bias = try c.bool("bias", default: true)
            var w: [(role: String, value: Tensor)] = [("kernel", KerasLayout.kernelToKeras(try parameter(node, "weight")))]
            if bias { w.append(("bias", try parameter(node, "bias"))) }
            var config: [String: JSONValue] = [
                "filters": .init(try c.int("out_channels")), "kernel_size": .init(k), "strides": .init(st),
                "data_format": "channels_last", "dilation_rate": .init([1, 1]), "activation": "linear", "use_bias": .bool(bias),
            ]
            if let (mode, outputPadding) = KerasExporter.transposeArguments(kernel: k, stride: st, crops: wanted) {
                config["padding"] = .string(mode)
                config["output_padding"] = outputPadding.map { JSONValue($0) } ?? .null
                return emit("Conv2DTranspose", name, config, inputs: [x], outputShape: out, weights: w)
            }
            // Keras aligns transposed convolutions differently from PyTorch (it crops the end, PyTorch
            // both sides): write the full output ("valid", extended by output_padding where PyTorch
            // extends it) and crop it with Cropping2D.
            let extend = [max(0, -wanted[0].1), max(0, -wanted[1].1)]
            guard extend[0] < st[0], extend[1] < st[1] else {
                throw error(node, "padding \(pad.json) with output_padding \(op) has no Keras Conv2DTranspose equivalent")
            }
            config["padding"] = "valid"
            config["output_padding"] = .init(extend)
            let full = [(s[1] - 1) * st[0] + k[0] + extend[0], (s[2] - 1) * st[1] + k[1] + extend[1], out[2]]
            let deconv = emit("Conv2DTranspose", uniqueName(name + ".full"), config, inputs: [x], outputShape: full, weights: w)
            return emit("Cropping2D", name, [
                "cropping": [JSONValue([wanted[0].0, max(0, wanted[0].1)]), JSONValue([wanted[1].0, max(0, wanted[1].1)])],
                "data_format": "channels_last",
            ], inputs: [deconv], outputShape: out)

        case MaxPool2D.typeName, AvgPool2D.typeName:
            let isMax = node.layer.typeName == MaxPool2D.typeName
            let k = try c.ints("kernel_size", count: 2)
            let st = try c.ints("stride", count: 2, default: k)
            let pad = try Padding2D.read(c)
            var input = x
            var mode = "valid"
            let countIncludePad = try c.bool("count_include_pad", default: true)
            if pad != .zero {
                if KerasExporter.isSame(pad, input: s, kernel: k, stride: st, output: ours), isMax || !countIncludePad {
                    // Keras's "same" average pooling excludes the padding from the average.
                    mode = "same"
                } else if !isMax && !countIncludePad {
                    throw error(node, "padding \(pad.json) excluded from the average (count_include_pad false) for input \(s) is not what Keras's padding='same' gives")
                } else if !isMax {
                    // Borderline's average pooling counts padding as zeros: exactly ZeroPadding2D + valid.
                    input = emit("ZeroPadding2D", uniqueName(name + ".pad"),
                                 ["padding": [JSONValue([pad.top, pad.bottom]), JSONValue([pad.left, pad.right])], "data_format": "channels_last"],
                                 inputs: [x], outputShape: [x.shape[0] + pad.top + pad.bottom, x.shape[1] + pad.left + pad.right, x.shape[2]])
                } else {
                    throw error(node, "padding \(pad.json) for input \(s) is not what Keras's padding='same' gives")
                }
            }
            return emit(isMax ? "MaxPooling2D" : "AveragePooling2D", name, [
                "pool_size": .init(k), "strides": .init(st), "padding": .string(mode), "data_format": "channels_last",
            ], inputs: [input], outputShape: out)

        case GlobalAvgPool2D.typeName:
            return emit("GlobalAveragePooling2D", name, ["data_format": "channels_last", "keepdims": false], inputs: [x], outputShape: out)

        case BatchNorm.typeName:
            guard s.count == 1 || s.count == 3 else { throw error(node, "input shape \(s) is neither [C, H, W] nor [F]") }
            let momentum = try c.double("momentum", default: 0.1)
            return emit("BatchNormalization", name, [
                "axis": -1, "momentum": .init(1 - momentum), "epsilon": .init(try c.double("eps", default: 1e-5)),
                "center": true, "scale": true,
            ], inputs: [x], outputShape: out, weights: [
                ("gamma", try parameter(node, "weight")), ("beta", try parameter(node, "bias")),
                ("moving_mean", try parameter(node, "running_mean")), ("moving_variance", try parameter(node, "running_var")),
            ])

        case ReLU.typeName:
            return emit("ReLU", name, [:], inputs: [x], outputShape: out)
        case LeakyReLU.typeName:
            return emit("LeakyReLU", name, ["negative_slope": .init(try c.double("negative_slope", default: 0.01))], inputs: [x], outputShape: out)
        case Sigmoid.typeName:
            return emit("Activation", name, ["activation": "sigmoid"], inputs: [x], outputShape: out)
        case Tanh.typeName:
            return emit("Activation", name, ["activation": "tanh"], inputs: [x], outputShape: out)
        case Softmax.typeName:
            return emit("Softmax", name, ["axis": -1], inputs: [x], outputShape: out)
        case Dropout.typeName:
            return emit("Dropout", name, ["rate": .init(try c.double("p", default: 0.5))], inputs: [x], outputShape: out)
        case Add.typeName:
            return emit("Add", name, [:], inputs: inputs, outputShape: out)

        case Flatten.typeName:
            let order = try c.string("order", default: "channels_first")
            var input = x
            // Keras flattens its channels-last tensor; a channels-first flatten needs the channels
            // moved to the front first.
            if order == "channels_first", s.count == 3, !KerasLayout.layoutsAgree(s) {
                input = emit("Permute", uniqueName(name + ".channels_first"), ["dims": .init([3, 1, 2])], inputs: [x], outputShape: s)
            } else if order == "channels_last", s.count >= 2, s.count != 3, s[0] > 1, Tensor.count(of: Array(s.dropFirst())) > 1 {
                // Borderline's channels_last moves the first sample dimension last.
                let dims = Array(2...s.count) + [1]
                input = emit("Permute", uniqueName(name + ".channels_last"), ["dims": .init(dims)], inputs: [x],
                             outputShape: Array(s.dropFirst()) + [s[0]])
            }
            return emit("Flatten", name, ["data_format": "channels_last"], inputs: [input], outputShape: out)

        case Reshape.typeName:
            var input = x
            if !KerasLayout.layoutsAgree(s) {
                input = emit("Permute", uniqueName(name + ".channels_first"), ["dims": .init([3, 1, 2])], inputs: [x], outputShape: s)
            }
            if ours.count == 3, !KerasLayout.layoutsAgree(ours) {
                let reshaped = emit("Reshape", uniqueName(name + ".reshape"), ["target_shape": .init(ours)], inputs: [input], outputShape: ours)
                return emit("Permute", name, ["dims": .init([2, 3, 1])], inputs: [reshaped], outputShape: out)
            }
            return emit("Reshape", name, ["target_shape": .init(out)], inputs: [input], outputShape: out)

        case Permute.typeName:
            let p = try c.intList("dims")
            let rank = p.count
            let oToKIn = KerasLayout.oursToKeras(rank: rank), kToOOut = KerasLayout.kerasToOurs(rank: rank)
            let dims = (0..<rank).map { oToKIn[p[kToOOut[$0]]] + 1 }
            return emit("Permute", name, ["dims": .init(dims)], inputs: [x], outputShape: out)

        default:
            throw error(node, "the Keras exporter does not write \(node.layer.typeName) layers; save the model in the native format instead",
                        kind: .unknownLayerType)
        }
    }

    /// Whether explicit padding equals TensorFlow's `"same"` for this input: the same first window
    /// and the same number of windows (the padding past the last window is never read).
    static func isSame(_ pad: Padding2D, input s: [Int], kernel k: [Int], stride st: [Int], output ours: [Int]) -> Bool {
        guard s.count == 3, ours.count == 3 else { return false }
        let h = KerasLayout.samePadding(input: s[1], kernel: k[0], stride: st[0])
        let w = KerasLayout.samePadding(input: s[2], kernel: k[1], stride: st[1])
        return pad.top == h.before && pad.left == w.before
            && ours[1] == (s[1] + st[0] - 1) / st[0] && ours[2] == (s[2] + st[1] - 1) / st[1]
    }

    /// Keras `padding` and `output_padding` whose crops of the full transposed-convolution output
    /// equal `crops` in both dimensions, or nil if there are none.
    static func transposeArguments(kernel k: [Int], stride st: [Int], crops: [(Int, Int)]) -> (String, [Int]?)? {
        func matches(_ same: Bool, _ op: [Int?]) -> Bool {
            (0..<2).allSatisfy { d in
                let c = KerasLayout.transposeCrops(kernel: k[d], stride: st[d], same: same, outputPadding: op[d])
                return c.start == crops[d].0 && c.end == crops[d].1
            }
        }
        for same in [false, true] {
            if matches(same, [nil, nil]) { return (same ? "same" : "valid", nil) }
            var choice: [Int] = []
            for d in 0..<2 {
                guard let op = (0..<st[d]).first(where: { op in
                    let c = KerasLayout.transposeCrops(kernel: k[d], stride: st[d], same: same, outputPadding: op)
                    return c.start == crops[d].0 && c.end == crops[d].1
                }) else { break }
                choice.append(op)
            }
            if choice.count == 2 { return (same ? "same" : "valid", choice) }
        }
        return nil
    }

    // MARK: Writing

    /// The Keras model config (`Sequential` for a chain, `Functional` otherwise).
    var modelConfig: JSONValue {
        let inputShape = KerasLayout.kerasShape(model.inputShape)
        let inputConfig: JSONValue = [
            "batch_shape": .array([.null] + inputShape.map { JSONValue($0) }), "dtype": "float32", "sparse": false, "name": .string(inputName),
        ]
        var previous = inputName
        let isChain = layers.allSatisfy { l in
            defer { previous = l.name }
            return l.inputs.count == 1 && l.inputs[0].name == previous
        }
        if isChain {
            let list: [JSONValue] = [["class_name": "InputLayer", "config": inputConfig]]
                + layers.map { ["class_name": .string($0.className), "config": .object($0.config)] }
            return ["class_name": "Sequential", "config": ["name": "sequential", "trainable": true, "layers": .array(list)]]
        }
        func tensor(_ input: (name: String, shape: [Int])) -> JSONValue {
            ["class_name": "__keras_tensor__", "config": [
                "shape": .array([.null] + input.shape.map { JSONValue($0) }), "dtype": "float32",
                "keras_history": [.string(input.name), 0, 0],
            ]]
        }
        var list: [JSONValue] = [["class_name": "InputLayer", "config": inputConfig, "name": .string(inputName), "inbound_nodes": []]]
        for l in layers {
            let args: JSONValue = l.inputs.count == 1 ? .array([tensor(l.inputs[0])]) : .array([.array(l.inputs.map(tensor))])
            list.append(["class_name": .string(l.className), "config": .object(l.config), "name": .string(l.name),
                         "inbound_nodes": [["args": args, "kwargs": [:]]]])
        }
        return ["class_name": "Functional", "config": [
            "name": "functional", "trainable": true, "layers": .array(list),
            "input_layers": [.string(inputName), 0, 0], "output_layers": [.string(outputName), 0, 0],
        ]]
    }

    func write(to path: String) throws {
        let file = try HDF5File.create(path)
        do {
            let root = try file.root()
            try root.setAttribute("keras_version", string: "3.0.0")
            try root.setAttribute("backend", string: "tensorflow")
            try root.setAttribute("model_config", string: modelConfig.serialized())
            try root.setAttribute("borderline_architecture", string: model.architectureJSON())
            if !model.classNames.isEmpty { try root.setAttribute("class_names", strings: model.classNames) }
            let weights = try root.createGroup("model_weights")
            try weights.setAttribute("keras_version", string: "3.0.0")
            try weights.setAttribute("backend", string: "tensorflow")
            let isSequential = modelConfig["class_name"]?.stringValue == "Sequential"
            try weights.setAttribute("layer_names", strings: (isSequential ? [] : [inputName]) + layers.map(\.name))
            for name in ([inputName] + layers.map(\.name)).sorted() where !(isSequential && name == inputName) {
                let group = try weights.createGroup(name)
                let layer = layers.first { $0.name == name }
                let w = layer?.weights ?? []
                try group.setAttribute("weight_names", strings: w.map { "\(name)/\($0.role)" })
                for (role, value) in w {
                    try group.writeTensor(value, name: "\(name)/\(role)")
                }
            }
            let top = try weights.createGroup("top_level_model_weights")
            try top.setAttribute("weight_names", strings: [])
        }
        try file.close()
    }
}
