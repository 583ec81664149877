import Foundation
import SwiftProtobuf

// Reads an ONNX model (`torch.onnx.export`, tf2onnx, …) into a Borderline model; the operator list
// and the conversion rules are in docs/model-format.md. The protobuf types (`Onnx_ModelProto`, …)
// are generated once from tools/onnx/onnx.proto by tools/onnx/regenerate.sh and committed.
//
// ONNX tensors carry the batch as their first dimension; Borderline's shapes are per sample. Every
// graph tensor is held as a node of the model plus a *logical* per-sample shape: Reshape, Flatten,
// Squeeze and Unsqueeze only change that shape (a row-major view), and a Reshape node is added only
// where a layer needs the view materialised. Constants (initializers, Constant nodes, `Shape` of a
// graph tensor) are folded, so the shape arithmetic torch emits leaves no trace in the model.

/// A tensor of the ONNX graph during import.
enum ONNXValue {
    /// The output of model node `node` (`-1`: the model input), seen with the per-sample `shape`
    /// (same element count as the node's own shape, row-major).
    case tensor(node: Int, shape: [Int])
    case constant(ONNXConstant)
}

/// Imports one ONNX file. Use ``Model/load(contentsOf:architecture:)``.
struct ONNXImporter {
    let path: String
    let proto: Onnx_ModelProto
    /// The default-domain opset the model was exported with.
    let opset: Int

    /// Operators the importer converts (docs/model-format.md lists them with their limits).
    static let supportedOperators = [
        "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "Conv", "Div", "Dropout",
        "Elu", "Erf (in the GELU pattern)", "Flatten", "Gather", "Gelu", "Gemm", "GlobalAveragePool", "GlobalMaxPool",
        "Identity", "LayerNormalization", "LeakyRelu", "MatMul", "MaxPool", "Mul", "PRelu", "ReduceMean", "Relu", "Reshape",
        "Shape", "Sigmoid", "Slice", "Softmax", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze",
    ]

    /// Parses the protobuf. Errors name the file.
    init(path: String) throws {
        self.path = path
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw BorderlineError(.fileNotFound, "cannot be read", file: path)
        }
        let proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw BorderlineError(.unreadableFile,
                "is not a readable ONNX model: the protobuf does not parse (\(error)); the file may be truncated or not ONNX", file: path)
        }
        guard proto.hasGraph, !proto.graph.node.isEmpty else {
            throw BorderlineError(.unreadableFile,
                "is not an ONNX model: it parses as protobuf but has no graph with nodes (ir_version \(proto.irVersion)); the file may be truncated or not ONNX",
                file: path)
        }
        self.proto = proto
        let defaultDomain = proto.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        self.opset = Int(defaultDomain?.version ?? 1)
    }

    func importModel() throws -> Model {
        var conversion = try ONNXConversion(importer: self)
        return try conversion.run()
    }
}

/// The state of one conversion: the graph being built and the value of every ONNX tensor so far.
struct ONNXConversion {
    let importer: ONNXImporter
    var path: String { importer.path }
    var opset: Int { importer.opset }
    let graph: Onnx_GraphProto
    let directory: String
    let builder: GraphBuilder
    /// The batch size the model was exported with, when its input declares a fixed one.
    let exportBatch: Int64?
    var values: [String: ONNXValue] = [:]
    /// How many nodes read each tensor (to fold a bias Add into the MatMul it follows).
    var readers: [String: Int] = [:]
    /// Dense nodes made from a MatMul, by output name, whose bias a following Add may fill in.
    var biasFree: [String: Int] = [:]
    /// Names taken by initializers' layers, so two layers never claim the same state_dict prefix.
    var usedPrefixes: Set<String> = []
    /// Outputs of fused patterns (GELU, SiLU): node index → the pattern that replaces it.
    var fusions: [Int: ONNXFusion] = [:]
    var skipped: Set<Int> = []

    init(importer: ONNXImporter) throws {
        self.importer = importer
        graph = importer.proto.graph
        directory = URL(fileURLWithPath: importer.path).deletingLastPathComponent().path
        let path = importer.path

        if !graph.sparseInitializer.isEmpty {
            throw BorderlineError(.unknownLayerType, "the ONNX graph has sparse initializers, which Borderline does not read", file: path)
        }
        var initial: [String: ONNXValue] = [:]
        for t in graph.initializer {
            initial[t.name] = .constant(try ONNXConstant.read(t, what: "initializer '\(t.name)'", file: path, directory: directory))
        }
        let inputs = graph.input.filter { initial[$0.name] == nil }
        guard inputs.count == 1 else {
            throw BorderlineError(.invalidConfiguration,
                "the ONNX graph has \(inputs.count) inputs (\(inputs.map(\.name).joined(separator: ", "))); Borderline models have exactly one", file: path)
        }
        let input = inputs[0]
        guard case .tensorType(let type)? = input.type.value else {
            throw BorderlineError(.invalidConfiguration, "the ONNX input '\(input.name)' is not a tensor", file: path)
        }
        if type.elemType != 0, type.elemType != Int32(Onnx_TensorProto.DataType.float.rawValue) {
            let name = Onnx_TensorProto.DataType(rawValue: Int(type.elemType)).map { "\($0)" } ?? "\(type.elemType)"
            throw BorderlineError(.invalidConfiguration, "the ONNX input '\(input.name)' has element type \(name); Borderline models take float32", file: path)
        }
        let dims = type.shape.dim
        guard type.hasShape, dims.count >= 2 else {
            throw BorderlineError(.invalidConfiguration,
                "the ONNX input '\(input.name)' has \(type.hasShape ? "rank \(dims.count)" : "no shape"); Borderline needs [batch, …] with fixed sample dimensions",
                file: path)
        }
        var sample: [Int] = []
        for (i, d) in dims.enumerated().dropFirst() {
            guard case .dimValue(let v)? = d.value, v > 0 else {
                let shown = dims.map { d -> String in
                    switch d.value { case .dimValue(let v)?: return "\(v)"; case .dimParam(let p)?: return p; default: return "?" }
                }
                throw BorderlineError(.invalidConfiguration,
                    "the ONNX input '\(input.name)' has shape [\(shown.joined(separator: ", "))]: dimension \(i) is not a fixed size; Borderline needs a fixed sample shape (export with a fixed-size example input)",
                    file: path)
            }
            sample.append(Int(v))
        }
        guard sample.allSatisfy({ $0 <= 1 << 20 }), sample.reduce(1.0, { $0 * Double($1) }) <= Double(1 << 28) else {
            throw BorderlineError(.invalidConfiguration,
                "the ONNX input '\(input.name)' has sample shape \(sample), larger than Borderline handles", file: path)
        }
        if case .dimValue(let b)? = dims[0].value { exportBatch = b } else { exportBatch = nil }
        builder = GraphBuilder(inputShape: sample)
        initial[input.name] = .tensor(node: -1, shape: sample)
        values = initial
        guard graph.output.count == 1 else {
            throw BorderlineError(.invalidConfiguration,
                "the ONNX graph has \(graph.output.count) outputs (\(graph.output.map(\.name).joined(separator: ", "))); Borderline models have exactly one", file: path)
        }
        for node in graph.node { for name in node.input where !name.isEmpty { readers[name, default: 0] += 1 } }
        for output in graph.output { readers[output.name, default: 0] += 1 }
    }

    // MARK: The graph

    mutating func run() throws -> Model {
        let live = liveNodes()
        fusions = ONNXFusion.find(in: graph.node, readers: readers, constants: { name in
            if case .constant(let c)? = self.values[name] { return c }
            return self.constantNodeValue(name)
        }).filter { LayerRegistry.typeNames.contains($0.value.kind.rawValue) }
        for fusion in fusions.values { skipped.formUnion(fusion.covered) }
        for (i, node) in graph.node.enumerated() where live.contains(i) {
            if let fusion = fusions[i] {
                try convertFusion(fusion, node: node, index: i)
                continue
            }
            if skipped.contains(i) { continue }
            do {
                try convert(node, index: i)
            } catch var e as BorderlineError {
                e.message = "ONNX node '\(displayName(node, i))' (\(node.opType)): \(e.message)"
                e.file = path
                throw e
            }
        }
        let outputName = graph.output[0].name
        guard let out = values[outputName] else {
            throw BorderlineError(.invalidConfiguration, "the ONNX graph's output '\(outputName)' is produced by no node", file: path)
        }
        guard case .tensor(var node, let shape) = out, node >= 0 else {
            throw BorderlineError(.invalidConfiguration, "the ONNX graph's output '\(outputName)' is a constant or the input itself", file: path)
        }
        node = try materialise(node: node, shape: shape, name: "output")
        var metadata: [String: JSONValue] = [
            "source": "onnx", "onnx_opset": .init(opset), "onnx_ir_version": .init(Int(importer.proto.irVersion)),
        ]
        if !importer.proto.producerName.isEmpty {
            metadata["onnx_producer"] = .string(importer.proto.producerName + (importer.proto.producerVersion.isEmpty ? "" : " " + importer.proto.producerVersion))
        }
        if builder.nodes[node].layer is Softmax, builder.consumers(of: node) == 0, builder.nodes[node].inputs[0] >= 0 {
            let source = builder.nodes[node].inputs[0]
            builder.remove(node)
            node = source > node ? source - 1 : source
            metadata["removed_output_activation"] = "softmax"
        }
        node = pruneUnread(output: node)
        do {
            return try Model(inputShape: builder.inputShape, nodes: builder.nodes, outputNode: node,
                             embeddingNode: KerasImporter.penultimateEmbedding(builder.nodes, output: node), metadata: metadata)
        } catch let e as BorderlineError {
            throw e.inFile(path)
        }
    }

    /// The nodes the graph output depends on (ONNX nodes are in topological order).
    func liveNodes() -> Set<Int> {
        var needed: Set<String> = [graph.output[0].name]
        var live: Set<Int> = []
        for (i, node) in graph.node.enumerated().reversed() where node.output.contains(where: needed.contains) {
            live.insert(i)
            for name in node.input where !name.isEmpty { needed.insert(name) }
        }
        return live
    }

    /// Removes model nodes nothing reads (e.g. one whose only reader was a `Shape`); returns the
    /// output's new index.
    func pruneUnread(output: Int) -> Int {
        var out = output
        var changed = true
        while changed {
            changed = false
            for i in stride(from: builder.nodes.count - 1, through: 0, by: -1) where i != out && builder.consumers(of: i) == 0 {
                builder.remove(i)
                if i < out { out -= 1 }
                changed = true
            }
        }
        return out
    }

    /// The value of a `Constant` node's output, for the fusion matcher (before conversion).
    func constantNodeValue(_ name: String) -> ONNXConstant? {
        guard let node = graph.node.first(where: { $0.opType == "Constant" && $0.output.first == name }) else { return nil }
        return try? constantAttribute(node)
    }

    func displayName(_ node: Onnx_NodeProto, _ index: Int) -> String {
        node.name.isEmpty ? "#\(index) \(node.output.first ?? "")" : node.name
    }

    // MARK: Naming

    /// The Borderline name for a node's layer: the state_dict prefix of its weight when the exporter
    /// kept it (`features.3.weight` → `features.3`), else the ONNX node name with `/` turned into
    /// `.` (`/layer1/conv/Conv` → `layer1.conv.Conv`), else the operator and position.
    mutating func layerName(_ node: Onnx_NodeProto, index: Int, weight: String? = nil, suffix: String? = nil) -> String {
        if let weight, weight.hasSuffix(".weight") {
            let prefix = String(weight.dropLast(".weight".count))
            if !prefix.isEmpty, !prefix.contains("::"), !usedPrefixes.contains(prefix) {
                usedPrefixes.insert(prefix)
                return builder.uniqueName(prefix)
            }
        }
        // torch.onnx scopes repeat the parent in a child's qualified name ("/layer2/downsample/
        // downsample.0/Conv"): keep the child.
        var parts: [String] = []
        for part in node.name.split(separator: "/").map(String.init) where !part.isEmpty {
            if let last = parts.last, part.hasPrefix(last + ".") { parts.removeLast() }
            parts.append(part.replacingOccurrences(of: "::", with: "."))
        }
        // A layer with weights is named after its module ("/layer1/conv1/Conv" → "layer1.conv1").
        if weight != nil, parts.count >= 2, parts.last?.hasPrefix(node.opType) == true,
           !usedPrefixes.contains(parts.dropLast().joined(separator: ".")) {
            parts.removeLast()
            usedPrefixes.insert(parts.joined(separator: "."))
        }
        var base = parts.joined(separator: ".")
        if base.isEmpty || base == "input" { base = "\(node.opType.lowercased())_\(index)" }
        if let suffix { base += "." + suffix }
        return builder.uniqueName(base)
    }

    // MARK: Values

    func value(_ name: String) throws -> ONNXValue {
        guard let v = values[name] else {
            throw BorderlineError(.invalidConfiguration, "reads '\(name)', which no earlier node, initializer or input produces")
        }
        return v
    }

    /// Input `i` of a node, or nil when it is absent (missing or the empty name).
    func optionalInput(_ node: Onnx_NodeProto, _ i: Int) throws -> ONNXValue? {
        guard i < node.input.count, !node.input[i].isEmpty else { return nil }
        return try value(node.input[i])
    }

    func input(_ node: Onnx_NodeProto, _ i: Int) throws -> ONNXValue {
        guard let v = try optionalInput(node, i) else {
            throw BorderlineError(.invalidConfiguration, "has no input #\(i)")
        }
        return v
    }

    func tensorInput(_ node: Onnx_NodeProto, _ i: Int) throws -> (node: Int, shape: [Int]) {
        switch try input(node, i) {
        case .tensor(let n, let s): return (n, s)
        case .constant:
            throw BorderlineError(.unknownLayerType, "input #\(i) '\(node.input[i])' is a constant; Borderline applies this operator to the model's data only")
        }
    }

    func constantInput(_ node: Onnx_NodeProto, _ i: Int, role: String) throws -> ONNXConstant {
        switch try input(node, i) {
        case .constant(let c): return c
        case .tensor:
            throw BorderlineError(.unknownLayerType,
                "its \(role) (input #\(i) '\(node.input[i])') is computed by the graph; Borderline needs it as a constant (an initializer)")
        }
    }

    func optionalConstantInput(_ node: Onnx_NodeProto, _ i: Int, role: String) throws -> ONNXConstant? {
        guard try optionalInput(node, i) != nil else { return nil }
        return try constantInput(node, i, role: role)
    }

    mutating func setOutput(_ node: Onnx_NodeProto, _ v: ONNXValue) {
        values[node.output[0]] = v
    }

    /// Checks that only the first output of a node is read (Dropout's mask, MaxPool's indices, …).
    func requireSingleOutput(_ node: Onnx_NodeProto) throws {
        for (k, name) in node.output.enumerated().dropFirst() where !name.isEmpty && (readers[name] ?? 0) > 0 {
            throw BorderlineError(.unknownLayerType, "its output #\(k) '\(name)' is used, which Borderline does not support")
        }
    }

    // MARK: Building

    /// Adds a layer, checking that the layer took every configuration key it was given (a layer
    /// that silently ignored one would build a different model).
    @discardableResult
    func add(_ name: String, _ type: String, _ config: JSONValue, inputs: [Int]) throws -> Int {
        let index = try builder.add(name, type, config, inputs: inputs)
        let taken = builder.nodes[index].layer.config
        for (key, wanted) in config.objectValue ?? [:] {
            let got = taken[key]
            let same: Bool
            switch (wanted, got) {
            case (.number(let a), .number(let b)?): same = abs(a - b) <= 1e-12 * max(1, abs(a))
            default: same = got == wanted
            }
            guard same else {
                throw BorderlineError(.invalidConfiguration,
                    "Borderline's \(type) layer does not keep '\(key)' = \(Architecture.brief(wanted)) (it reads \(got.map(Architecture.brief) ?? "nothing")); this build cannot express the operator exactly")
            }
        }
        return index
    }

    /// The node holding `shape` as its own shape: `node` itself, or a Reshape of it.
    func materialise(node: Int, shape: [Int], name: String) throws -> Int {
        if builder.shape(node) == shape { return node }
        if shape.count == 1 {
            return try add(builder.uniqueName(name + ".flatten"), "Flatten", [:], inputs: [node])
        }
        return try add(builder.uniqueName(name + ".reshape"), "Reshape", ["shape": .init(shape)], inputs: [node])
    }

    /// A tensor input as a node of the given logical shape.
    func nodeInput(_ node: Onnx_NodeProto, _ i: Int, name: String) throws -> (node: Int, shape: [Int]) {
        let (n, s) = try tensorInput(node, i)
        return (try materialise(node: n, shape: s, name: name), s)
    }

    /// A per-sample axis from an ONNX axis of a tensor with per-sample rank `rank` (ONNX rank
    /// `rank + 1`); the batch axis is refused.
    func sampleAxis(_ axis: Int, rank: Int, what: String = "axis") throws -> Int {
        let full = rank + 1
        let a = axis < 0 ? axis + full : axis
        guard a >= 0, a < full else { throw BorderlineError(.invalidConfiguration, "\(what) \(axis) is out of range for rank \(full)") }
        guard a > 0 else { throw BorderlineError(.unknownLayerType, "\(what) \(axis) is the batch axis, which Borderline's layers never mix") }
        return a - 1
    }

    /// The per-sample shape a constant broadcasts to against samples of `shape`, after dropping
    /// a leading batch dimension of 1: nil when it would change the batch.
    func sampleDims(of c: ONNXConstant, against shape: [Int]) -> [Int]? {
        var d = c.dims
        if d.count > shape.count {
            guard d.count == shape.count + 1, d[0] == 1 else { return nil }
            d.removeFirst()
        }
        return d
    }
}
