import Foundation

/// A node's attributes by name, refusing any the importer does not understand (an ignored
/// attribute could change what the operator computes).
struct ONNXAttributes {
    private var byName: [String: Onnx_AttributeProto] = [:]

    init(_ node: Onnx_NodeProto, known: Set<String>) throws {
        for a in node.attribute {
            guard known.contains(a.name) else {
                throw BorderlineError(.unknownLayerType,
                    "has attribute '\(a.name)', which Borderline's import of \(node.opType) does not understand (it knows: \(known.sorted().joined(separator: ", ")))")
            }
            byName[a.name] = a
        }
    }

    func has(_ name: String) -> Bool { byName[name] != nil }

    func int(_ name: String, _ d: Int) throws -> Int {
        guard let a = byName[name] else { return d }
        guard a.type == .int || a.hasI else { throw BorderlineError(.invalidConfiguration, "attribute '\(name)' must be an integer") }
        return Int(a.i)
    }

    func ints(_ name: String) throws -> [Int]? {
        guard let a = byName[name] else { return nil }
        guard a.type == .ints || !a.ints.isEmpty else { throw BorderlineError(.invalidConfiguration, "attribute '\(name)' must be a list of integers") }
        return a.ints.map { Int($0) }
    }

    func float(_ name: String, _ d: Float) throws -> Float {
        guard let a = byName[name] else { return d }
        guard a.type == .float || a.hasF else { throw BorderlineError(.invalidConfiguration, "attribute '\(name)' must be a float") }
        return a.f
    }

    func string(_ name: String, _ d: String) throws -> String {
        guard let a = byName[name] else { return d }
        guard a.type == .string || a.hasS else { throw BorderlineError(.invalidConfiguration, "attribute '\(name)' must be a string") }
        return String(decoding: a.s, as: UTF8.self)
    }

    func attribute(_ name: String) -> Onnx_AttributeProto? { byName[name] }
}

extension ONNXConversion {
    // MARK: Constants

    /// The value of a `Constant` node.
    func constantAttribute(_ node: Onnx_NodeProto) throws -> ONNXConstant {
        let a = try ONNXAttributes(node, known: ["value", "value_float", "value_floats", "value_int", "value_ints", "sparse_value", "value_string", "value_strings"])
        if let t = a.attribute("value") {
            return try ONNXConstant.read(t.t, what: "the value of Constant node '\(node.name)'", file: path, directory: directory)
        }
        if let v = a.attribute("value_float") { return ONNXConstant(dims: [], floats: [v.f]) }
        if let v = a.attribute("value_floats") { return ONNXConstant(dims: [v.floats.count], floats: v.floats) }
        if let v = a.attribute("value_int") { return ONNXConstant(dims: [], ints: [v.i]) }
        if let v = a.attribute("value_ints") { return ONNXConstant(dims: [v.ints.count], ints: v.ints.map { $0 }) }
        throw BorderlineError(.unknownLayerType, "holds a sparse or string constant, which Borderline does not read")
    }

    /// A constant as a flat list of known integers (axes, shapes, pads).
    func intList(_ c: ONNXConstant, role: String) throws -> [Int] {
        do {
            return try c.knownInts()
        } catch let e as BorderlineError {
            throw BorderlineError(.invalidConfiguration, "its \(role) \(c.brief) \(e.message)")
        }
    }

    // MARK: Dispatch

    mutating func convertFusion(_ fusion: ONNXFusion, node: Onnx_NodeProto, index: Int) throws {
        guard case .tensor(let n, let s)? = values[fusion.input] else {
            throw BorderlineError(.invalidConfiguration,
                "the \(fusion.kind.rawValue) pattern ending in ONNX node '\(displayName(node, index))' reads '\(fusion.input)', which is not a graph tensor", file: path)
        }
        let name = layerName(node, index: index, suffix: fusion.kind.rawValue.lowercased())
        do {
            let x = try materialise(node: n, shape: s, name: name)
            let config: JSONValue = fusion.kind == .gelu ? ["approximate": "none"] : [:]
            values[fusion.output] = .tensor(node: try add(name, fusion.kind.rawValue, config, inputs: [x]), shape: s)
        } catch var e as BorderlineError {
            e.message = "ONNX nodes ending in '\(displayName(node, index))' (the \(fusion.kind.rawValue) pattern): \(e.message)"
            e.file = path
            throw e
        }
    }

    mutating func convert(_ node: Onnx_NodeProto, index: Int) throws {
        guard node.domain.isEmpty || node.domain == "ai.onnx" else {
            throw BorderlineError(.unknownLayerType,
                "uses operator '\(node.opType)' of domain '\(node.domain)', which Borderline does not import (only the standard ai.onnx operators: \(ONNXImporter.supportedOperators.joined(separator: ", ")))")
        }
        guard !node.output.isEmpty, !node.output[0].isEmpty else { throw BorderlineError(.invalidConfiguration, "has no output") }
        switch node.opType {
        case "Constant":
            setOutput(node, .constant(try constantAttribute(node)))
        case "Identity":
            _ = try ONNXAttributes(node, known: [])
            setOutput(node, try input(node, 0))
        case "Dropout":
            _ = try ONNXAttributes(node, known: ["ratio", "seed", "is_test"])
            try requireSingleOutput(node)
            if case .constant(let training)? = try optionalInput(node, 2), (try? training.knownInts().first) ?? 0 != 0 {
                throw BorderlineError(.invalidConfiguration, "is in training mode; export the model in eval mode (model.eval())")
            }
            setOutput(node, try input(node, 0))
        case "Cast":
            try cast(node)
        case "Shape":
            try shapeOf(node)
        case "Gather":
            try gather(node)
        case "Unsqueeze", "Squeeze":
            try squeeze(node, unsqueeze: node.opType == "Unsqueeze")
        case "Slice":
            try slice(node)
        case "Concat":
            try concat(node, index: index)
        case "Reshape":
            try reshape(node)
        case "Flatten":
            try flatten(node)
        case "Transpose":
            try transpose(node, index: index)
        case "Conv":
            try conv(node, index: index)
        case "Gemm":
            try gemm(node, index: index)
        case "MatMul":
            try matmul(node, index: index)
        case "BatchNormalization":
            try batchNorm(node, index: index)
        case "LayerNormalization":
            try layerNorm(node, index: index)
        case "MaxPool", "AveragePool":
            try pool(node, index: index, max: node.opType == "MaxPool")
        case "GlobalAveragePool", "GlobalMaxPool":
            try globalPool(node, index: index, max: node.opType == "GlobalMaxPool")
        case "ReduceMean":
            try reduceMean(node, index: index)
        case "Add", "Sub", "Mul", "Div":
            try arithmetic(node, index: index)
        case "Relu", "Sigmoid", "Tanh":
            _ = try ONNXAttributes(node, known: [])
            try activation(node, index: index, type: ["Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh"][node.opType]!, config: [:])
        case "LeakyRelu":
            let a = try ONNXAttributes(node, known: ["alpha"])
            try activation(node, index: index, type: "LeakyReLU", config: ["negative_slope": .init(Double(try a.float("alpha", 0.01)))])
        case "Elu":
            let a = try ONNXAttributes(node, known: ["alpha"])
            try activation(node, index: index, type: "ELU", config: ["alpha": .init(Double(try a.float("alpha", 1)))])
        case "Gelu":
            let a = try ONNXAttributes(node, known: ["approximate"])
            let approximate = try a.string("approximate", "none")
            guard approximate == "none" || approximate == "tanh" else {
                throw BorderlineError(.invalidConfiguration, "approximate '\(approximate)' is not 'none' or 'tanh'")
            }
            try activation(node, index: index, type: "GELU", config: ["approximate": .string(approximate)])
        case "Clip":
            try clip(node, index: index)
        case "PRelu":
            try prelu(node, index: index)
        case "Softmax":
            try softmax(node, index: index)
        case "Erf":
            throw BorderlineError(.unknownLayerType,
                "is an Erf outside the GELU pattern x·½·(1 + erf(x/√2)) that Borderline recognises; only that use of Erf is supported")
        default:
            throw BorderlineError(.unknownLayerType,
                "uses operator '\(node.opType)', which Borderline does not import (supported: \(ONNXImporter.supportedOperators.joined(separator: ", ")))")
        }
    }

    // MARK: Shape arithmetic on constants

    mutating func cast(_ node: Onnx_NodeProto) throws {
        let a = try ONNXAttributes(node, known: ["to", "saturate", "round_mode"])
        let to = try a.int("to", 1)
        let floatTypes = [Onnx_TensorProto.DataType.float, .double, .float16, .bfloat16].map(\.rawValue)
        switch try input(node, 0) {
        case .constant(let c):
            if floatTypes.contains(to) {
                setOutput(node, .constant(ONNXConstant(dims: c.dims, floats: try c.floats())))
            } else if to == Onnx_TensorProto.DataType.bool.rawValue {
                setOutput(node, .constant(ONNXConstant(dims: c.dims, ints: try c.floats().map { $0 != 0 ? 1 : 0 })))
            } else {
                setOutput(node, .constant(ONNXConstant(dims: c.dims, ints: try c.floats().map { Int64($0.rounded(.towardZero)) })))
            }
        case .tensor:
            guard to == Onnx_TensorProto.DataType.float.rawValue else {
                throw BorderlineError(.unknownLayerType, "casts the model's data to type \(to); Borderline computes in float32 only")
            }
            setOutput(node, try input(node, 0))
        }
    }

    mutating func shapeOf(_ node: Onnx_NodeProto) throws {
        let a = try ONNXAttributes(node, known: ["start", "end"])
        let full: [Int64?]
        switch try input(node, 0) {
        case .tensor(_, let s): full = [nil] + s.map { Int64($0) }
        case .constant(let c): full = c.dims.map { Int64($0) }
        }
        let r = full.count
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + r : v, 0), r) }
        let start = clamp(try a.int("start", 0)), end = clamp(try a.int("end", r))
        let part = start < end ? Array(full[start..<end]) : []
        setOutput(node, .constant(ONNXConstant(dims: [part.count], ints: part)))
    }

    mutating func gather(_ node: Onnx_NodeProto) throws {
        let a = try ONNXAttributes(node, known: ["axis"])
        guard case .constant(let data) = try input(node, 0) else {
            throw BorderlineError(.unknownLayerType, "gathers from the model's data; Borderline folds Gather on constants (shapes) only")
        }
        let indices = try constantInput(node, 1, role: "indices")
        let axisRaw = try a.int("axis", 0)
        let rank = data.dims.count
        guard rank >= 1 else { throw BorderlineError(.invalidConfiguration, "gathers from a scalar") }
        let axis = axisRaw < 0 ? axisRaw + rank : axisRaw
        guard axis >= 0, axis < rank else { throw BorderlineError(.invalidConfiguration, "axis \(axisRaw) is out of range for rank \(rank)") }
        let idx = try intList(indices, role: "indices").map { $0 < 0 ? $0 + data.dims[axis] : $0 }
        guard idx.allSatisfy({ $0 >= 0 && $0 < data.dims[axis] }) else {
            throw BorderlineError(.invalidConfiguration, "indices \(indices.brief) are out of range for dimension \(data.dims[axis])")
        }
        let outer = data.dims[..<axis].reduce(1, *), inner = data.dims[(axis + 1)...].reduce(1, *)
        let dims = Array(data.dims[..<axis]) + indices.dims + Array(data.dims[(axis + 1)...])
        var order: [Int] = []
        for o in 0..<outer { for i in idx { for k in 0..<inner { order.append((o * data.dims[axis] + i) * inner + k) } } }
        switch data.values {
        case .ints(let v): setOutput(node, .constant(ONNXConstant(dims: dims, ints: order.map { v[$0] })))
        case .floats(let v): setOutput(node, .constant(ONNXConstant(dims: dims, floats: order.map { v[$0] })))
        }
    }

    /// The axes of Squeeze/Unsqueeze: an attribute before opset 13, an input since.
    func axesOf(_ node: Onnx_NodeProto, _ a: ONNXAttributes, inputIndex: Int) throws -> [Int]? {
        if let axes = try a.ints("axes") { return axes }
        if let c = try optionalConstantInput(node, inputIndex, role: "axes") { return try intList(c, role: "axes") }
        return nil
    }

    mutating func squeeze(_ node: Onnx_NodeProto, unsqueeze: Bool) throws {
        let a = try ONNXAttributes(node, known: ["axes"])
        let axes = try axesOf(node, a, inputIndex: 1)
        let v = try input(node, 0)
        var full: [Int]
        switch v {
        case .tensor(_, let s): full = [-1] + s  // -1 marks the batch
        case .constant(let c): full = c.dims
        }
        if unsqueeze {
            guard let axes, !axes.isEmpty else { throw BorderlineError(.invalidConfiguration, "has no axes") }
            let r = full.count + axes.count
            let normal = Set(axes.map { $0 < 0 ? $0 + r : $0 })
            guard normal.count == axes.count, normal.allSatisfy({ $0 >= 0 && $0 < r }) else {
                throw BorderlineError(.invalidConfiguration, "axes \(axes) are invalid for output rank \(r)")
            }
            var out: [Int] = []
            var source = full.makeIterator()
            for i in 0..<r { out.append(normal.contains(i) ? 1 : source.next()!) }
            full = out
        } else {
            let r = full.count
            let normal = Set((axes ?? full.indices.filter { full[$0] == 1 }).map { $0 < 0 ? $0 + r : $0 })
            guard normal.allSatisfy({ $0 >= 0 && $0 < r && full[$0] == 1 }) else {
                throw BorderlineError(.invalidConfiguration, "axes \(axes ?? []) do not all have size 1 in \(full)")
            }
            full = full.indices.filter { !normal.contains($0) }.map { full[$0] }
        }
        switch v {
        case .constant(let c):
            setOutput(node, .constant(ONNXConstant(dims: full, values: c.values)))
        case .tensor(let n, _):
            guard full.first == -1 else {
                throw BorderlineError(.unknownLayerType, "moves the batch dimension (\(full)); Borderline keeps it first")
            }
            setOutput(node, .tensor(node: n, shape: Array(full.dropFirst())))
        }
    }

    mutating func slice(_ node: Onnx_NodeProto) throws {
        let a = try ONNXAttributes(node, known: ["starts", "ends", "axes"])
        guard case .constant(let data) = try input(node, 0) else {
            throw BorderlineError(.unknownLayerType, "slices the model's data; Borderline folds Slice on constants (shapes) only")
        }
        guard data.dims.count == 1 else {
            throw BorderlineError(.unknownLayerType, "slices a constant of shape \(data.dims); Borderline folds 1-D slices only")
        }
        let starts: [Int], ends: [Int]
        var axes: [Int]?, steps: [Int]?
        if let s = try a.ints("starts"), let e = try a.ints("ends") {
            starts = s
            ends = e
            axes = try a.ints("axes")
        } else {
            starts = try intList(try constantInput(node, 1, role: "starts"), role: "starts")
            ends = try intList(try constantInput(node, 2, role: "ends"), role: "ends")
            axes = try optionalConstantInput(node, 3, role: "axes").map { try intList($0, role: "axes") }
            steps = try optionalConstantInput(node, 4, role: "steps").map { try intList($0, role: "steps") }
        }
        guard starts.count == 1, ends.count == 1, (axes ?? [0]).map({ $0 < 0 ? $0 + 1 : $0 }) == [0] else {
            throw BorderlineError(.unknownLayerType, "slices with starts \(starts), ends \(ends), axes \(axes ?? []); Borderline folds one axis of a 1-D constant")
        }
        let n = data.dims[0]
        let step = steps?.first ?? 1
        guard step == 1 else { throw BorderlineError(.unknownLayerType, "slices with step \(step); only step 1 is supported") }
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + n : v, 0), n) }
        let lo = clamp(starts[0]), hi = clamp(ends[0])
        let range = lo < hi ? Array(lo..<hi) : []
        switch data.values {
        case .ints(let v): setOutput(node, .constant(ONNXConstant(dims: [range.count], ints: range.map { v[$0] })))
        case .floats(let v): setOutput(node, .constant(ONNXConstant(dims: [range.count], floats: range.map { v[$0] })))
        }
    }

    mutating func concat(_ node: Onnx_NodeProto, index: Int) throws {
        let a = try ONNXAttributes(node, known: ["axis"])
        guard a.has("axis") else { throw BorderlineError(.invalidConfiguration, "has no attribute 'axis'") }
        let axisRaw = try a.int("axis", 0)
        let inputs = try node.input.indices.compactMap { try optionalInput(node, $0) }
        guard !inputs.isEmpty else { throw BorderlineError(.invalidConfiguration, "has no inputs") }
        let constants = inputs.compactMap { v -> ONNXConstant? in if case .constant(let c) = v { return c }; return nil }
        if constants.count == inputs.count {
            // Shapes being put together: 1-D integer lists (or any constants along one axis).
            let rank = constants[0].dims.count
            let axis = axisRaw < 0 ? axisRaw + rank : axisRaw
            guard axis >= 0, axis < rank, constants.allSatisfy({ $0.dims.count == rank }) else {
                throw BorderlineError(.invalidConfiguration, "concatenates constants of shapes \(constants.map(\.dims)) along axis \(axisRaw)")
            }
            guard rank == 1 else { throw BorderlineError(.unknownLayerType, "concatenates constants of rank \(rank); Borderline folds 1-D lists only") }
            let dims = [constants.reduce(0) { $0 + $1.dims[0] }]
            if constants.allSatisfy({ if case .ints = $0.values { return true }; return false }) {
                setOutput(node, .constant(ONNXConstant(dims: dims, ints: try constants.flatMap { try $0.ints() })))
            } else {
                setOutput(node, .constant(ONNXConstant(dims: dims, floats: try constants.flatMap { try $0.floats() })))
            }
            return
        }
        guard constants.isEmpty else {
            throw BorderlineError(.unknownLayerType, "concatenates the model's data with constants; Borderline concatenates graph tensors only")
        }
        let tensors = inputs.compactMap { v -> (Int, [Int])? in if case .tensor(let n, let s) = v { return (n, s) }; return nil }
        let rank = tensors[0].1.count
        let axis = try sampleAxis(axisRaw, rank: rank)
        if tensors.count == 1 {
            setOutput(node, inputs[0])
            return
        }
        let name = layerName(node, index: index)
        let nodes = try tensors.map { try materialise(node: $0.0, shape: $0.1, name: name) }
        let out = try add(name, "Concatenate", ["axis": .init(axis)], inputs: nodes)
        setOutput(node, .tensor(node: out, shape: builder.shape(out)))
    }

    // MARK: Views

    mutating func reshape(_ node: Onnx_NodeProto) throws {
        let a = try ONNXAttributes(node, known: ["allowzero", "shape"])
        let allowZero = try a.int("allowzero", 0) != 0
        let target: [Int64?]
        if let s = try a.ints("shape") {
            target = s.map { Int64($0) }
        } else {
            target = try constantInput(node, 1, role: "target shape").ints()
        }
        switch try input(node, 0) {
        case .constant(let c):
            // Reshaping a constant: known sizes only.
            let t = try target.map { v -> Int in
                guard let v else { throw BorderlineError(.invalidConfiguration, "reshapes a constant with the batch size") }
                return Int(v)
            }
            let resolved = try resolveShape(t, input: c.dims, allowZero: allowZero)
            setOutput(node, .constant(ONNXConstant(dims: resolved, values: c.values)))
        case .tensor(let n, let s):
            setOutput(node, .tensor(node: n, shape: try sampleTarget(target, input: s, allowZero: allowZero)))
        }
    }

    /// An ONNX shape with 0 (copy) and one -1 (infer) resolved against an input of shape `input`.
    func resolveShape(_ t: [Int], input: [Int], allowZero: Bool) throws -> [Int] {
        var out = t
        for (i, v) in t.enumerated() where v == 0 && !allowZero {
            guard i < input.count else { throw BorderlineError(.invalidConfiguration, "target shape \(t) copies dimension \(i), which the input \(input) lacks") }
            out[i] = input[i]
        }
        let count = input.reduce(1, *)
        let holes = out.indices.filter { out[$0] == -1 }
        guard holes.count <= 1, out.allSatisfy({ $0 >= 0 || $0 == -1 }) else {
            throw BorderlineError(.invalidConfiguration, "target shape \(t) is not valid (sizes ≥ 0, at most one -1)")
        }
        if let h = holes.first {
            let known = out.filter { $0 != -1 }.reduce(1, *)
            guard known > 0, count % known == 0 else {
                throw BorderlineError(.shapeMismatch, "cannot reshape \(input) (\(count) elements) to \(t)")
            }
            out[h] = count / known
        }
        guard out.reduce(1, *) == count else {
            throw BorderlineError(.shapeMismatch, "cannot reshape \(input) (\(count) elements) to \(t)")
        }
        return out
    }

    /// The per-sample shape a Reshape target (which includes the batch) gives samples of shape
    /// `input`. Its first entry must be the batch: the batch size from `Shape`, 0 (copy), -1 with
    /// the sample dimensions all known, or the fixed batch size the model was exported with.
    func sampleTarget(_ target: [Int64?], input: [Int], allowZero: Bool) throws -> [Int] {
        let shown = "[" + target.map { $0.map(String.init) ?? "batch" }.joined(separator: ", ") + "]"
        guard let first = target.first else { throw BorderlineError(.invalidConfiguration, "has an empty target shape") }
        let rest = try target.dropFirst().map { v -> Int in
            guard let v else { throw BorderlineError(.unknownLayerType, "target shape \(shown) moves the batch size into a sample dimension") }
            return Int(v)
        }
        let keepsBatch = first == nil || (first == 0 && !allowZero) || (first == -1 && !rest.contains(-1))
            || (first != nil && first == exportBatch)
        guard keepsBatch else {
            throw BorderlineError(.unknownLayerType,
                "target shape \(shown) does not keep the batch as its first dimension (Borderline's layers work per sample; export with a batch of 1 or a dynamic batch)")
        }
        // 0 copies the input's dimension at the same position, counting the batch: shift by one.
        var t = rest
        for (i, v) in rest.enumerated() where v == 0 && !allowZero {
            guard i < input.count else { throw BorderlineError(.invalidConfiguration, "target shape \(shown) copies a dimension the input lacks") }
            t[i] = input[i]
        }
        return try resolveShape(t, input: input, allowZero: true)
    }

    mutating func flatten(_ node: Onnx_NodeProto) throws {
        let a = try ONNXAttributes(node, known: ["axis"])
        let v = try input(node, 0)
        switch v {
        case .constant(let c):
            let r = c.dims.count
            let raw = try a.int("axis", 1)
            let axis = raw < 0 ? raw + r : raw
            guard axis >= 0, axis <= r else { throw BorderlineError(.invalidConfiguration, "axis \(raw) is out of range") }
            setOutput(node, .constant(ONNXConstant(dims: [c.dims[..<axis].reduce(1, *), c.dims[axis...].reduce(1, *)], values: c.values)))
        case .tensor(let n, let s):
            let r = s.count + 1
            let raw = try a.int("axis", 1)
            let axis = raw < 0 ? raw + r : raw
            guard axis >= 1, axis <= r else {
                throw BorderlineError(.unknownLayerType, "flattens from axis \(raw), merging the batch into the samples; only axis ≥ 1 is supported")
            }
            let inner = s[(axis - 1)...].reduce(1, *)
            let shape = axis == 1 ? [inner] : [s[..<(axis - 1)].reduce(1, *), inner]
            setOutput(node, .tensor(node: n, shape: shape))
        }
    }

    mutating func transpose(_ node: Onnx_NodeProto, index: Int) throws {
        let a = try ONNXAttributes(node, known: ["perm"])
        let (n, s) = try tensorInput(node, 0)
        let r = s.count + 1
        let perm = try a.ints("perm") ?? Array((0..<r).reversed())
        guard perm.count == r, perm.sorted() == Array(0..<r) else {
            throw BorderlineError(.invalidConfiguration, "perm \(perm) is not a permutation of 0..<\(r)")
        }
        guard perm[0] == 0 else {
            throw BorderlineError(.unknownLayerType, "perm \(perm) moves the batch dimension; Borderline keeps it first")
        }
        let dims = perm.dropFirst().map { $0 - 1 }
        if dims == Array(0..<s.count) {
            setOutput(node, .tensor(node: n, shape: s))
            return
        }
        // A permutation that only moves size-1 dimensions keeps the row-major order: a view.
        let moved = dims.map { s[$0] }
        if dims.filter({ s[$0] != 1 }) == Array(0..<s.count).filter({ s[$0] != 1 }) {
            setOutput(node, .tensor(node: n, shape: moved))
            return
        }
        let name = layerName(node, index: index)
        let x = try materialise(node: n, shape: s, name: name)
        let out = try add(name, "Permute", ["dims": .init(dims)], inputs: [x])
        setOutput(node, .tensor(node: out, shape: builder.shape(out)))
    }

    // MARK: Layers with weights

    /// Copies a constant into a layer parameter after checking its shape.
    func setParameter(_ node: Int, _ name: String, _ value: Tensor, source: String) throws {
        let n = builder.nodes[node]
        guard let p = n.layer.parameters.first(where: { $0.name == name }) else {
            throw BorderlineError(.invalidConfiguration, "layer \(n.name) (\(n.layer.typeName)) has no parameter '\(name)'")
        }
        guard p.value.shape == value.shape else {
            throw BorderlineError(.shapeMismatch, "\(source) has shape \(value.shape); layer \(n.name) (\(n.layer.typeName)) expects its \(name) to be \(p.value.shape)")
        }
        try ParameterAssignment.checkFinite(value, what: source, file: path)
        p.value = value
    }

    /// A constant broadcast to a vector of `n` values (`[n]`, `[1, n]`, `[1]` or a scalar).
    func vector(_ c: ONNXConstant, count n: Int, role: String) throws -> [Float] {
        let f = try c.floats()
        if f.count == 1 { return [Float](repeating: f[0], count: n) }
        guard f.count == n, c.dims.filter({ $0 != 1 }) == [n] else {
            throw BorderlineError(.shapeMismatch, "its \(role) has shape \(c.dims); expected \(n) values")
        }
        return f
    }

    /// Window padding from `pads` ([top, left, bottom, right]) or `auto_pad`.
    func windowPadding(_ a: ONNXAttributes, input: (Int, Int), kernel: [Int], stride: [Int], dilation: [Int]) throws -> Padding2D {
        let autoPad = try a.string("auto_pad", "NOTSET")
        switch autoPad {
        case "NOTSET":
            let p = try a.ints("pads") ?? [0, 0, 0, 0]
            guard p.count == 4, p.allSatisfy({ $0 >= 0 }) else {
                throw BorderlineError(.invalidConfiguration, "pads \(p) must be four non-negative integers [top, left, bottom, right]")
            }
            return Padding2D(top: p[0], bottom: p[2], left: p[1], right: p[3])
        case "VALID":
            return .zero
        case "SAME_UPPER", "SAME_LOWER":
            let sizes = [input.0, input.1]
            var before = [0, 0], after = [0, 0]
            for i in 0..<2 {
                let out = (sizes[i] + stride[i] - 1) / stride[i]
                let total = max(0, (out - 1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1 - sizes[i])
                before[i] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2
                after[i] = total - before[i]
            }
            return Padding2D(top: before[0], bottom: after[0], left: before[1], right: after[1])
        default:
            throw BorderlineError(.invalidConfiguration, "auto_pad '\(autoPad)' is not NOTSET, VALID, SAME_UPPER or SAME_LOWER")
        }
    }

    func pair(_ a: ONNXAttributes, _ name: String, default d: [Int]) throws -> [Int] {
        guard let v = try a.ints(name) else { return d }
        guard v.count == 2, v.allSatisfy({ $0 > 0 }) else {
            throw BorderlineError(.unknownLayerType, "\(name) \(v) must be two positive integers (Borderline imports 2-D windows only)")
        }
        return v
    }

    func image(_ s: [Int], op: String) throws {
        guard s.count == 3 else {
            throw BorderlineError(.unknownLayerType, "\(op) on samples of shape \(s); Borderline supports 2-D images [C, H, W] only")
        }
    }

    mutating func conv(_ node: Onnx_NodeProto, index: Int) throws {
        let a = try ONNXAttributes(node, known: ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"])
        let (xn, s) = try tensorInput(node, 0)
        try image(s, op: "Conv")
        let w = try constantInput(node, 1, role: "weight")
        let b = try optionalConstantInput(node, 2, role: "bias")
        guard w.dims.count == 4 else { throw BorderlineError(.shapeMismatch, "its weight '\(node.input[1])' has shape \(w.dims); a 2-D convolution needs [out, in/group, kh, kw]") }
        let groups = try a.int("group", 1)
        let outC = w.dims[0], k = [w.dims[2], w.dims[3]]
        guard groups > 0, s[0] % groups == 0, outC % groups == 0, w.dims[1] * groups == s[0] else {
            throw BorderlineError(.shapeMismatch,
                "its weight '\(node.input[1])' has shape \(w.dims) and group = \(groups), which does not fit an input of \(s[0]) channels (expected [out, \(s[0])/\(groups), kh, kw])")
        }
        if let ks = try a.ints("kernel_shape"), ks != k {
            throw BorderlineError(.shapeMismatch, "kernel_shape \(ks) contradicts its weight of shape \(w.dims)")
        }
        let stride = try pair(a, "strides", default: [1, 1]), dilation = try pair(a, "dilations", default: [1, 1])
        let pad = try windowPadding(a, input: (s[1], s[2]), kernel: k, stride: stride, dilation: dilation)
        let name = layerName(node, index: index, weight: node.input[1])
        let x = try materialise(node: xn, shape: s, name: name)
        var config: [String: JSONValue] = [
            "in_channels": .init(s[0]), "out_channels": .init(outC), "kernel_size": .init(k), "stride": .init(stride),
            "padding": pad.json, "bias": .bool(b != nil),
        ]
        if groups != 1 { config["groups"] = .init(groups) }
        if dilation != [1, 1] { config["dilation"] = .init(dilation) }
        let out = try add(name, "Conv2D", .object(config), inputs: [x])
        try setParameter(out, "weight", try w.tensor(), source: "initializer '\(node.input[1])'")
        if let b { try setParameter(out, "bias", Tensor(shape: [outC], scalars: try vector(b, count: outC, role: "bias")), source: "initializer '\(node.input[2])'") }
        setOutput(node, .tensor(node: out, shape: builder.shape(out)))
    }

    /// A flat sample, or an error saying what Dense layers need.
    func flatInput(_ node: Onnx_NodeProto, op: String) throws -> (node: Int, features: Int) {
        let (n, s) = try tensorInput(node, 0)
        guard s.count == 1 else {
            throw BorderlineError(.unknownLayerType,
                "\(op) on samples of shape \(s); Borderline imports \(op) on flat features [batch, K] only (flatten first)")
        }
        return (try materialise(node: n, shape: s, name: node.name), s[0])
    }

    mutating func gemm(_ node: Onnx_NodeProto, index: Int) throws {
        let a = try ONNXAttributes(node, known: ["alpha", "beta", "transA", "transB", "broadcast"])
        guard try a.int("transA", 0) == 0 else {
            throw BorderlineError(.unknownLayerType, "has transA = 1 (the batch would be transposed into the features)")
        }
        let (x, k) = try flatInput(node, op: "Gemm")
        let b = try constantInput(node, 1, role: "weight B")
        let c = try optionalConstantInput(node, 2, role: "bias C")
        let transB = try a.int("transB", 0) != 0
        let alpha = try a.float("alpha", 1), beta = try a.float("beta", 1)
        guard b.dims.count == 2, (transB ? b.dims[1] : b.dims[0]) == k else {
            throw BorderlineError(.shapeMismatch,
                "its weight '\(node.input[1])' has shape \(b.dims); with transB = \(transB ? 1 : 0) and \(k) input features it must be \(transB ? "[out, \(k)]" : "[\(k), out]")")
        }
        let n = transB ? b.dims[0] : b.dims[1]
        let bv = try b.floats()
        var weight = [Float](repeating: 0, count: n * k)  // [out, in]
        for o in 0..<n { for i in 0..<k { weight[o * k + i] = alpha * (transB ? bv[o * k + i] : bv[i * n + o]) } }
        let name = layerName(node, index: index, weight: node.input[1])
        let out = try add(name, "Dense", ["in_features": .init(k), "out_features": .init(n), "bias": .bool(c != nil)], inputs: [x])
        try setParameter(out, "weight", Tensor(shape: [n, k], scalars: weight), source: "initializer '\(node.input[1])'")
        if let c {
            let bias = try vector(c, count: n, role: "bias C").map { beta * $0 }
            try setParameter(out, "bias", Tensor(shape: [n], scalars: bias), source: "initializer '\(node.input[2])'")
        }
        setOutput(node, .tensor(node: out, shape: [n]))
    }

    mutating func matmul(_ node: Onnx_NodeProto, index: Int) throws {
        _ = try ONNXAttributes(node, known: [])
        let (x, k) = try flatInput(node, op: "MatMul")
        let b = try constantInput(node, 1, role: "right-hand matrix")
        guard b.dims.count == 2, b.dims[0] == k else {
            throw BorderlineError(.shapeMismatch, "its right-hand matrix '\(node.input[1])' has shape \(b.dims); with \(k) input features it must be [\(k), out]")
        }
        let n = b.dims[1]
        let bv = try b.floats()
        var weight = [Float](repeating: 0, count: n * k)
        for o in 0..<n { for i in 0..<k { weight[o * k + i] = bv[i * n + o] } }
        let name = layerName(node, index: index, weight: node.input[1])
        let out = try add(name, "Dense", ["in_features": .init(k), "out_features": .init(n), "bias": false], inputs: [x])
        try setParameter(out, "weight", Tensor(shape: [n, k], scalars: weight), source: "initializer '\(node.input[1])'")
        if readers[node.output[0]] == 1 { biasFree[node.output[0]] = out }
        setOutput(node, .tensor(node: out, shape: [n]))
    }

    mutating func batchNorm(_ node: Onnx_NodeProto, index: Int) throws {
        let a = try ONNXAttributes(node, known: ["epsilon", "momentum", "training_mode", "spatial", "is_test", "consumed_inputs"])
        guard try a.int("training_mode", 0) == 0 else {
            throw BorderlineError(.invalidConfiguration, "is in training mode; export the model in eval mode (model.eval())")
        }
        guard try a.int("spatial", 1) == 1 else { throw BorderlineError(.unknownLayerType, "has spatial = 0, which Borderline does not support") }
        try requireSingleOutput(node)
        let (xn, s) = try tensorInput(node, 0)
        guard s.count == 1 || s.count == 3 else {
            throw BorderlineError(.unknownLayerType, "on samples of shape \(s); Borderline's BatchNorm takes [C] or [C, H, W]")
        }
        let c = s[0]
        let roles = ["scale", "bias", "mean", "variance"]
        let parts = try (1...4).map { try vector(try constantInput(node, $0, role: roles[$0 - 1]), count: c, role: roles[$0 - 1]) }
        let name = layerName(node, index: index, weight: node.input[1])
        let x = try materialise(node: xn, shape: s, name: name)
        let out = try add(name, "BatchNorm", ["num_features": .init(c), "eps": .init(Double(try a.float("epsilon", 1e-5)))], inputs: [x])
        for (p, (param, k)) in zip(parts, [("weight", 1), ("bias", 2), ("running_mean", 3), ("running_var", 4)]) {
            try setParameter(out, param, Tensor(shape: [c], scalars: p), source: "initializer '\(node.input[k])'")
        }
        setOutput(node, .tensor(node: out, shape: s))
    }

    mutating func layerNorm(_ node: Onnx_NodeProto, index: Int) throws {
        let a = try ONNXAttributes(node, known: ["axis", "epsilon", "stash_type"])
        try requireSingleOutput(node)
        let (xn, s) = try tensorInput(node, 0)
        let axis = try sampleAxis(try a.int("axis", -1), rank: s.count)
        let normalized = Array(s[axis...])
        let count = normalized.reduce(1, *)
        let scale = try constantInput(node, 1, role: "scale")
        let bias = try optionalConstantInput(node, 2, role: "bias")
        let name = layerName(node, index: index, weight: node.input[1])
        let x = try materialise(node: xn, shape: s, name: name)
        let out = try add(name, "LayerNorm", ["normalized_shape": .init(normalized), "eps": .init(Double(try a.float("epsilon", 1e-5)))], inputs: [x])
        func full(_ c: ONNXConstant, _ role: String) throws -> Tensor {
            let f = try c.floats()
            guard f.count == count || f.count == 1 else {
                throw BorderlineError(.shapeMismatch, "its \(role) has shape \(c.dims); expected \(normalized)")
            }
            return Tensor(shape: normalized, scalars: f.count == 1 ? [Float](repeating: f[0], count: count) : f)
        }
        try setParameter(out, "weight", try full(scale, "scale"), source: "initializer '\(node.input[1])'")
        if let bias {
            try setParameter(out, "bias", try full(bias, "bias"), source: "initializer '\(node.input[2])'")
        } else if builder.nodes[out].layer.parameters.contains(where: { $0.name == "bias" }) {
            try setParameter(out, "bias", Tensor(zeros: normalized), source: "the absent bias")
        }
        setOutput(node, .tensor(node: out, shape: s))
    }

    // MARK: Pooling

    mutating func pool(_ node: Onnx_NodeProto, index: Int, max isMax: Bool) throws {
        let known: Set<String> = isMax ? ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"]
                                       : ["auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"]
        let a = try ONNXAttributes(node, known: known)
        try requireSingleOutput(node)
        let (xn, s) = try tensorInput(node, 0)
        try image(s, op: node.opType)
        guard let k = try a.ints("kernel_shape"), k.count == 2, k.allSatisfy({ $0 > 0 }) else {
            throw BorderlineError(.unknownLayerType, "kernel_shape \(try a.ints("kernel_shape") ?? []) is not two positive integers (2-D pooling only)")
        }
        let stride = try pair(a, "strides", default: [1, 1])
        guard try pair(a, "dilations", default: [1, 1]) == [1, 1] else {
            throw BorderlineError(.unknownLayerType, "has dilations \(try a.ints("dilations") ?? []); Borderline's pooling has none")
        }
        var pad = try windowPadding(a, input: (s[1], s[2]), kernel: k, stride: stride, dilation: [1, 1])
        if try a.int("ceil_mode", 0) != 0 {
            // Ceil mode adds a last window where one more would start inside the (padded) input.
            let sizes = [s[1], s[2]], begin = [pad.top, pad.left], end = [pad.bottom, pad.right]
            var extra = [0, 0]
            for i in 0..<2 {
                let span = sizes[i] + begin[i] + end[i] - k[i]
                let floorOut = span / stride[i] + 1
                var ceilOut = (span + stride[i] - 1) / stride[i] + 1
                if (ceilOut - 1) * stride[i] >= sizes[i] + begin[i] { ceilOut -= 1 }
                extra[i] = max(0, (ceilOut - 1) * stride[i] + k[i] - (sizes[i] + begin[i] + end[i]))
                if ceilOut == floorOut { extra[i] = 0 }
            }
            if extra != [0, 0] {
                guard isMax else {
                    throw BorderlineError(.unknownLayerType,
                        "has ceil_mode = 1, which on this \(s[1])×\(s[2]) input adds a partial window whose average PyTorch divides by its in-bounds size; Borderline's AvgPool2D cannot express that exactly (use ceil_mode=False)")
                }
                pad = Padding2D(top: pad.top, bottom: pad.bottom + extra[0], left: pad.left, right: pad.right + extra[1])
            }
        }
        var config: [String: JSONValue] = ["kernel_size": .init(k), "stride": .init(stride), "padding": pad.json]
        if !isMax, pad != .zero, try a.int("count_include_pad", 0) == 0 {
            config["count_include_pad"] = false
        }
        let name = layerName(node, index: index)
        let x = try materialise(node: xn, shape: s, name: name)
        let out = try add(name, isMax ? "MaxPool2D" : "AvgPool2D", .object(config), inputs: [x])
        setOutput(node, .tensor(node: out, shape: builder.shape(out)))
    }

    mutating func globalPool(_ node: Onnx_NodeProto, index: Int, max isMax: Bool) throws {
        _ = try ONNXAttributes(node, known: [])
        let (xn, s) = try tensorInput(node, 0)
        try image(s, op: node.opType)
        let name = layerName(node, index: index)
        let x = try materialise(node: xn, shape: s, name: name)
        let out = isMax
            ? try add(name, "MaxPool2D", ["kernel_size": .init([s[1], s[2]]), "stride": .init([s[1], s[2]])], inputs: [x])
            : try add(name, "GlobalAvgPool2D", [:], inputs: [x])
        setOutput(node, .tensor(node: out, shape: [s[0], 1, 1]))  // ONNX keeps [N, C, 1, 1]
    }

    mutating func reduceMean(_ node: Onnx_NodeProto, index: Int) throws {
        let a = try ONNXAttributes(node, known: ["axes", "keepdims", "noop_with_empty_axes"])
        let (xn, s) = try tensorInput(node, 0)
        let axes = try a.ints("axes") ?? (try optionalConstantInput(node, 1, role: "axes").map { try intList($0, role: "axes") }) ?? []
        let r = s.count + 1
        let normal = Set(axes.map { $0 < 0 ? $0 + r : $0 })
        guard s.count == 3, normal == [2, 3] else {
            throw BorderlineError(.unknownLayerType,
                "averages over axes \(axes) of [batch] + \(s); Borderline imports ReduceMean only over the spatial axes of an image (global average pooling)")
        }
        let keep = try a.int("keepdims", 1) != 0
        let name = layerName(node, index: index)
        let x = try materialise(node: xn, shape: s, name: name)
        let out = try add(name, "GlobalAvgPool2D", [:], inputs: [x])
        setOutput(node, .tensor(node: out, shape: keep ? [s[0], 1, 1] : [s[0]]))
    }

    // MARK: Activations

    mutating func activation(_ node: Onnx_NodeProto, index: Int, type: String, config: JSONValue) throws {
        let (xn, s) = try tensorInput(node, 0)
        let name = layerName(node, index: index)
        let x = try materialise(node: xn, shape: s, name: name)
        setOutput(node, .tensor(node: try add(name, type, config, inputs: [x]), shape: s))
    }

    mutating func clip(_ node: Onnx_NodeProto, index: Int) throws {
        let a = try ONNXAttributes(node, known: ["min", "max"])
        var low: Float = -.infinity, high: Float = .infinity
        if opset < 11 {
            low = try a.float("min", -.infinity)
            high = try a.float("max", .infinity)
        } else {
            if let c = try optionalConstantInput(node, 1, role: "min") { low = try vector(c, count: 1, role: "min")[0] }
            if let c = try optionalConstantInput(node, 2, role: "max") { high = try vector(c, count: 1, role: "max")[0] }
        }
        if low == 0, high == .infinity {
            try activation(node, index: index, type: "ReLU", config: [:])
        } else if low == 0, high == 6 {
            try activation(node, index: index, type: "ReLU6", config: [:])
        } else {
            guard low.isFinite || high.isFinite, low <= high else {
                throw BorderlineError(.invalidConfiguration, "clips to [\(low), \(high)]")
            }
            var config: [String: JSONValue] = [:]
            if low.isFinite { config["min"] = .init(Double(low)) }
            if high.isFinite { config["max"] = .init(Double(high)) }
            try activation(node, index: index, type: "Clip", config: .object(config))
        }
    }

    mutating func prelu(_ node: Onnx_NodeProto, index: Int) throws {
        _ = try ONNXAttributes(node, known: [])
        let (xn, s) = try tensorInput(node, 0)
        let slope = try constantInput(node, 1, role: "slope")
        let f = try slope.floats()
        let channels = s.first ?? 1
        guard f.count == 1 || (f.count == channels && slope.dims.filter({ $0 != 1 }) == [channels]) else {
            throw BorderlineError(.shapeMismatch, "its slope has shape \(slope.dims); Borderline's PReLU takes one slope or one per channel (\(channels))")
        }
        let name = layerName(node, index: index, weight: node.input[1])
        let x = try materialise(node: xn, shape: s, name: name)
        let out = try add(name, "PReLU", ["num_parameters": .init(f.count)], inputs: [x])
        try setParameter(out, "weight", Tensor(shape: [f.count], scalars: f), source: "initializer '\(node.input[1])'")
        setOutput(node, .tensor(node: out, shape: s))
    }

    mutating func softmax(_ node: Onnx_NodeProto, index: Int) throws {
        let a = try ONNXAttributes(node, known: ["axis"])
        let (xn, s) = try tensorInput(node, 0)
        let axis = try a.int("axis", opset >= 13 ? -1 : 1)
        let r = s.count + 1
        let normal = axis < 0 ? axis + r : axis
        // Before opset 13, Softmax flattens from `axis`; with axis 1 that is the whole sample.
        let overSample = opset >= 13 ? (s.count == 1 && normal == 1) : normal == 1
        guard overSample else {
            throw BorderlineError(.unknownLayerType, "is a softmax over axis \(axis) of [batch] + \(s); Borderline's Softmax takes flat features")
        }
        let name = layerName(node, index: index)
        let x = try materialise(node: xn, shape: [s.reduce(1, *)], name: name)
        setOutput(node, .tensor(node: try add(name, "Softmax", [:], inputs: [x]), shape: s))
    }

    // MARK: Element-wise arithmetic

    mutating func arithmetic(_ node: Onnx_NodeProto, index: Int) throws {
        let a = try ONNXAttributes(node, known: ["broadcast", "axis"])
        if a.has("axis") { throw BorderlineError(.unknownLayerType, "uses the pre-opset-7 'axis' broadcast, which Borderline does not import") }
        let op = node.opType
        let lhs = try input(node, 0), rhs = try input(node, 1)
        switch (lhs, rhs) {
        case (.constant(let x), .constant(let y)):
            setOutput(node, .constant(try ONNXConstant.elementwise(x, y, op: op)))

        case (.tensor(let n1, let s1), .tensor(let n2, let s2)):
            guard op == "Add" || op == "Mul" else {
                throw BorderlineError(.unknownLayerType, "\(op) of two graph tensors; Borderline supports Add and Mul of two graph tensors")
            }
            guard s1 == s2 else {
                throw BorderlineError(.unknownLayerType,
                    "\(op) of graph tensors of shapes [batch] + \(s1) and [batch] + \(s2); Borderline supports tensors of one shape (no broadcasting)")
            }
            let name = layerName(node, index: index)
            let x = try materialise(node: n1, shape: s1, name: name), y = try materialise(node: n2, shape: s2, name: name)
            let out = try add(name, op == "Add" ? "Add" : "Multiply", [:], inputs: [x, y])
            setOutput(node, .tensor(node: out, shape: s1))

        case (.tensor(let n, let s), .constant(let c)), (.constant(let c), .tensor(let n, let s)):
            let constantFirst: Bool
            if case .constant = lhs { constantFirst = true } else { constantFirst = false }
            // MatMul + Add(bias): the bias of the Dense layer the MatMul became.
            if op == "Add", let dense = biasFree[constantFirst ? node.input[1] : node.input[0]], builder.consumers(of: dense) == 0,
               s.count == 1, let bias = try? vector(c, count: s[0], role: "bias") {
                var config = builder.nodes[dense].layer.config.objectValue ?? [:]
                config["bias"] = true
                try builder.replaceLayer(dense, config: .object(config))
                try setParameter(dense, "bias", Tensor(shape: [s[0]], scalars: bias),
                                 source: "initializer '\(constantFirst ? node.input[0] : node.input[1])'")
                setOutput(node, .tensor(node: dense, shape: s))
                return
            }
            try affine(node, index: index, tensor: (n, s), constant: c, constantFirst: constantFirst)
        }
    }

    /// `x ⊕ c` for a constant that is one value or one per channel, as Borderline's input-scaling
    /// layers compute it in float32: `x − c` and `x / c` as Normalization `(x − mean) / std`
    /// (a Sub followed by a Div, torchvision's normalisation, becomes one), `x + c`, `x · c` and
    /// `c − x` as Rescaling `x · scale + offset`.
    mutating func affine(_ node: Onnx_NodeProto, index: Int, tensor: (node: Int, shape: [Int]), constant c: ONNXConstant, constantFirst: Bool) throws {
        let op = node.opType
        let s = tensor.shape
        guard let d = sampleDims(of: c, against: s), ONNXConstant.broadcast(d, s) == s else {
            throw BorderlineError(.shapeMismatch, "\(op) of [batch] + \(s) and a constant of shape \(c.dims), which does not broadcast per sample")
        }
        // Which per-sample positions the constant varies along: nothing (a scalar) or the channels.
        let padded = [Int](repeating: 1, count: s.count - d.count) + d
        let varying = padded.indices.filter { padded[$0] != 1 }
        guard varying.isEmpty || varying == [0] else {
            throw BorderlineError(.unknownLayerType,
                "\(op) with a constant of shape \(c.dims) that varies along sample axes \(varying) of \(s); Borderline imports element-wise constants that are one value or one per channel")
        }
        if op == "Div", constantFirst {
            throw BorderlineError(.unknownLayerType, "divides a constant by the model's data (c / x), which Borderline does not import")
        }
        let values: [JSONValue] = try c.floats().map { .number(Double($0)) }
        let v: JSONValue = values.count == 1 ? values[0] : .array(values)
        let name = layerName(node, index: index)
        let x = try materialise(node: tensor.node, shape: s, name: name)
        let type: String, config: JSONValue
        switch (op, constantFirst) {
        case ("Sub", false):
            (type, config) = ("Normalization", ["mean": v, "std": 1])
        case ("Div", _):
            // (x − mean) / 1 followed by / std: one Normalization (x − mean) / std, as torch computes it.
            if x >= 0, builder.nodes[x].layer.typeName == "Normalization", builder.consumers(of: x) == 0,
               builder.nodes[x].layer.config["std"] == 1, readers[node.input[0]] == 1 {
                var merged = builder.nodes[x].layer.config.objectValue ?? [:]
                merged["std"] = v
                try builder.replaceLayer(x, config: .object(merged))
                setOutput(node, .tensor(node: x, shape: s))
                return
            }
            (type, config) = ("Normalization", ["mean": 0, "std": v])
        case ("Sub", true): (type, config) = ("Rescaling", ["scale": -1, "offset": v])
        case ("Add", _): (type, config) = ("Rescaling", ["scale": 1, "offset": v])
        default: (type, config) = ("Rescaling", ["scale": v, "offset": 0])
        }
        setOutput(node, .tensor(node: try add(name, type, config, inputs: [x]), shape: s))
    }
}

extension ONNXConstant {
    init(dims: [Int], values: Values) {
        switch values {
        case .floats(let f): self.init(dims: dims, floats: f)
        case .ints(let i): self.init(dims: dims, ints: i)
        }
    }
}
