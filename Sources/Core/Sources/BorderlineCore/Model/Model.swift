import Foundation

/// A classifier or generator as a directed acyclic graph of layers.
///
/// Node `i` applies `nodes[i].layer` to the outputs of `nodes[i].inputs` (index `-1` is the
/// model input). Nodes are stored in topological order, so one forward sweep and one reverse
/// sweep evaluate the model and its vector–Jacobian product. A sequential model is the chain
/// `0 → 1 → … → n-1`.
public final class Model {
    public struct Node {
        public var name: String
        public var layer: any Layer
        /// Indices of the nodes whose outputs feed this one; `-1` is the model input.
        public var inputs: [Int]
        public init(name: String, layer: any Layer, inputs: [Int]) {
            self.name = name
            self.layer = layer
            self.inputs = inputs
        }
    }

    /// Per-sample input shape, e.g. `[1, 28, 28]` (CHW) or `[784]`.
    public let inputShape: [Int]
    public let nodes: [Node]
    /// Per-sample output shape of every node.
    public let nodeShapes: [[Int]]
    /// The node whose output is the model output (logits for a classifier).
    public let outputNode: Int
    /// The node whose output is the penultimate-layer embedding, if the model has one.
    public let embeddingNode: Int?
    /// Class names, one per output unit of a classifier; empty for generators.
    public var classNames: [String]
    /// Free-form metadata stored with the model (training command, accuracy, …).
    public var metadata: [String: JSONValue]
    /// The valid inputs, in raw input space (architecture JSON `input_box`; default `[0, 1]`).
    /// Setting it checks nothing; ``Model/init(architecture:)`` checks per-channel bounds
    /// against the input shape.
    public var inputBox: InputBox = .unit

    /// The lane plan of this model (``LanePlan``), compiled on first use for the current lane width.
    private let planCache = PlanCache()
    private final class PlanCache: @unchecked Sendable {
        let lock = NSLock()
        var lanes = -1
        var plan: LanePlan?
    }

    /// The model's lane plan when lane kernels are enabled and every layer up to the output has one.
    var lanePlan: LanePlan? {
        guard LanePlan.isEnabled else { return nil }
        planCache.lock.lock()
        defer { planCache.lock.unlock() }
        let lanes = LanePlan.currentLanes
        if planCache.lanes != lanes {
            planCache.plan = LanePlan(self)
            planCache.lanes = lanes
        }
        return planCache.plan
    }

    /// The model's dense plan (``DensePlan``) when the fused dense kernel is enabled and the model
    /// up to its output is a chain of dense layers and activations; compiled on first use.
    var densePlan: DensePlan? {
        guard DensePlan.isEnabled else { return nil }
        return densePlanCache.plan(for: self)
    }
    private let densePlanCache = DensePlanCache()
    private final class DensePlanCache: @unchecked Sendable {
        let lock = NSLock()
        var compiled = false
        var plan: DensePlan?
        func plan(for model: Model) -> DensePlan? {
            lock.lock()
            defer { lock.unlock() }
            if !compiled { plan = DensePlan(model); compiled = true }
            return plan
        }
    }

    /// Builds and shape-checks a graph.
    public init(inputShape: [Int], nodes: [Node], outputNode: Int? = nil, embeddingNode: Int? = nil,
                classNames: [String] = [], metadata: [String: JSONValue] = [:]) throws {
        guard !nodes.isEmpty else { throw BorderlineError(.invalidConfiguration, "model has no layers") }
        guard inputShape.allSatisfy({ $0 > 0 }) else {
            throw BorderlineError(.invalidConfiguration, "input shape \(inputShape) has a non-positive dimension")
        }
        var shapes: [[Int]] = []
        var names = Set<String>()
        for (i, node) in nodes.enumerated() {
            guard names.insert(node.name).inserted else {
                throw BorderlineError(.invalidConfiguration, "layer name '\(node.name)' is used twice")
            }
            guard !node.inputs.isEmpty else {
                throw BorderlineError(.invalidConfiguration, "layer '\(node.name)' has no inputs")
            }
            for j in node.inputs where j < -1 || j >= i {
                throw BorderlineError(.invalidConfiguration,
                    "layer '\(node.name)' reads node \(j), which is not an earlier layer (graph must be acyclic and in order)")
            }
            let inShapes = node.inputs.map { $0 == -1 ? inputShape : shapes[$0] }
            do {
                shapes.append(try node.layer.outputShape(for: inShapes))
            } catch var e as BorderlineError {
                e.message = "layer '\(node.name)' (\(node.layer.typeName)): \(e.message)"
                throw e
            }
        }
        let out = outputNode ?? nodes.count - 1
        guard out >= 0 && out < nodes.count else { throw BorderlineError(.invalidConfiguration, "output node \(out) out of range") }
        if let e = embeddingNode, e < 0 || e >= nodes.count {
            throw BorderlineError(.invalidConfiguration, "embedding node \(e) out of range")
        }
        if !classNames.isEmpty, Tensor.count(of: shapes[out]) != classNames.count {
            throw BorderlineError(.shapeMismatch,
                "model has \(Tensor.count(of: shapes[out])) outputs but \(classNames.count) class names")
        }
        self.inputShape = inputShape
        self.nodes = nodes
        self.nodeShapes = shapes
        self.outputNode = out
        self.embeddingNode = embeddingNode
        self.classNames = classNames
        self.metadata = metadata
    }

    /// A chain of named layers.
    public static func sequential(inputShape: [Int], _ layers: [(String, any Layer)], embedding: String? = nil,
                                  classNames: [String] = [], metadata: [String: JSONValue] = [:]) throws -> Model {
        let nodes = layers.enumerated().map { i, l in Node(name: l.0, layer: l.1, inputs: [i - 1]) }
        var embeddingNode: Int?
        if let embedding {
            guard let e = nodes.firstIndex(where: { $0.name == embedding }) else {
                throw BorderlineError(.invalidConfiguration, "embedding layer '\(embedding)' is not in the model")
            }
            embeddingNode = e
        }
        return try Model(inputShape: inputShape, nodes: nodes, embeddingNode: embeddingNode,
                         classNames: classNames, metadata: metadata)
    }

    /// Whether batches of this model run faster split across threads than through threaded
    /// OpenBLAS: true when it has convolutions or pooling, and for dense-only models as
    /// ``ComputePolicy/denseThreading`` says.
    public var prefersBatchSplitting: Bool { ComputePolicy.denseThreading == .splitBatches || isConvolutional }

    /// Whether the model has convolutions or pooling (their batches always split).
    var isConvolutional: Bool {
        nodes.contains { ["Conv2D", "ConvTranspose2D", "MaxPool2D", "AvgPool2D"].contains($0.layer.typeName) }
    }

    /// Per-sample output shape.
    public var outputShape: [Int] { nodeShapes[outputNode] }
    /// Number of classes (output units).
    public var classCount: Int { Tensor.count(of: outputShape) }

    /// Every parameter with its qualified name `layer.param` (PyTorch's `state_dict` keys).
    public var namedParameters: [(name: String, parameter: Parameter)] {
        nodes.flatMap { node in node.layer.parameters.map { ("\(node.name).\($0.name)", $0) } }
    }

    /// The parameters an optimiser updates.
    public var trainableParameters: [Parameter] { namedParameters.map(\.parameter).filter(\.isTrainable) }

    /// Number of trainable scalars.
    public var parameterCount: Int { trainableParameters.reduce(0) { $0 + $1.value.count } }

    /// Freezes or unfreezes every learnable parameter (running statistics stay untrainable).
    /// A frozen model still back-propagates to its input, which is how an autoencoder is trained
    /// *through* a fixed classifier.
    public func setFrozen(_ frozen: Bool) {
        for node in nodes {
            for p in node.layer.parameters where !Model.isBuffer(p.name) { p.isTrainable = !frozen }
        }
    }

    static func isBuffer(_ name: String) -> Bool { name.hasPrefix("running_") || name == "num_batches_tracked" }

    public func zeroGradients() { for (_, p) in namedParameters { p.zeroGradient() } }

    // MARK: Forward and backward

    /// The record of one forward pass: every node's inputs, output and saved state.
    public struct Trace {
        public var input: Tensor
        public var records: [LayerRecord]
        /// The model output of this pass.
        public var output: Tensor
    }

    /// Checks that `x` is a batch of this model's inputs.
    public func checkInput(_ x: Tensor) throws {
        guard x.rank == inputShape.count + 1, x.sampleShape == inputShape else {
            throw BorderlineError(.shapeMismatch, "input batch has shape \(x.shape); the model expects [batch] + \(inputShape)")
        }
    }

    /// Runs the model and keeps what the backward pass needs.
    public func trace(_ x: Tensor, context: ForwardContext = ForwardContext(training: false), upTo last: Int? = nil) -> Trace {
        precondition(x.sampleShape == inputShape, "Model: input shape \(x.shape) does not match [batch] + \(inputShape)")
        let end = last ?? (nodes.count - 1)
        var records: [LayerRecord] = []
        records.reserveCapacity(end + 1)
        for i in 0...end {
            let node = nodes[i]
            let inputs = node.inputs.map { $0 == -1 ? x : records[$0].output }
            let (y, saved) = node.layer.forward(inputs, context: context)
            records.append(LayerRecord(inputs: inputs, output: y, saved: saved))
        }
        return Trace(input: x, records: records, output: records[min(outputNode, end)].output)
    }

    /// The model output (logits for a classifier) for a batch, in inference mode.
    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x) }

    /// The model output for a batch.
    ///
    /// In inference mode a large batch of a convolutional model is split across
    /// ``ComputePolicy/threads`` threads (rows are independent, so the result is the same as one pass).
    public func forward(_ x: Tensor, training: Bool = false) -> Tensor {
        ComputePolicy.prepareBLAS(for: self)
        if !training, let plan = lanePlan, let s = plan.step(endingAt: outputNode), plan.isDense(s) {
            return planned(x) { plan.forward($0, through: s, shape: self.outputShape) }
        }
        if !training, let plan = densePlan {
            return plan.forward(x, outputShape: outputShape)
        }
        if !training, let chunks = ComputePolicy.chunks(batch: x.batchSize, for: self) {
            if let (node, dense) = leadingDense {
                // Each thread's rows go into the first Dense layer in place, not sliced out first:
                // the copy cost the FCN's split forward 40 % of its arithmetic time.
                let per = x.sampleCount
                return x.withUnsafeBufferPointer { xp in
                    let base = UncheckedSendable(xp)
                    return Tensor.concatenate(batches: ComputePolicy.parallelMap(chunks) { r in
                        self.forward(after: node, value: dense.output(rows: base.value.baseAddress.map { $0 + r.lowerBound * per }, count: r.count))
                    })
                }
            }
            return Tensor.concatenate(batches: ComputePolicy.parallelMap(chunks) { r in
                self.trace(x.slice(batch: r), upTo: self.outputNode).output
            })
        }
        return trace(x, context: ForwardContext(training: training), upTo: outputNode).output
    }

    /// The model's first Dense layer and its node, when only reshapes come before it and nothing
    /// after it reads the input or those reshapes: then its output for any rows can be computed
    /// from the input's rows in place, and the rest of the model run by ``forward(after:value:)``.
    var leadingDense: (node: Int, layer: Dense)? {
        // A channels-last Flatten permutes unless the dimension it moves last has one entry.
        func isReshape(_ i: Int) -> Bool {
            if nodes[i].layer is Reshape { return true }
            guard let f = nodes[i].layer as? Flatten else { return false }
            return f.order == .channelsFirst || (i == 0 ? inputShape : nodeShapes[i - 1]).first ?? 1 == 1
        }
        guard let k = nodes.indices.first(where: { !isReshape($0) }), k <= outputNode,
              let dense = nodes[k].layer as? Dense, dense.inFeatures == Tensor.count(of: inputShape) else { return nil }
        for i in 0...k where nodes[i].inputs != [i - 1] { return nil }
        for i in (k + 1)..<nodes.count where nodes[i].inputs.contains(where: { $0 < k }) { return nil }
        return (k, dense)
    }

    /// The penultimate-layer embedding for a batch, or nil when the model names none.
    public func embedding(_ x: Tensor) -> Tensor? {
        guard let e = embeddingNode else { return nil }
        ComputePolicy.prepareBLAS(for: self)
        if let plan = lanePlan, let s = plan.step(endingAt: e), plan.isDense(s) {
            return planned(x) { plan.forward($0, through: s, shape: self.nodeShapes[e]) }
        }
        if let chunks = ComputePolicy.chunks(batch: x.batchSize, for: self) {
            return Tensor.concatenate(batches: ComputePolicy.parallelMap(chunks) { r in
                self.trace(x.slice(batch: r), upTo: e).records[e].output
            })
        }
        return trace(x, upTo: e).records[e].output
    }

    /// The model output when node `node` outputs `value` (inference): runs nodes `node + 1 …`
    /// up to the output. Later nodes must read only `node` and nodes after it (the caller checks;
    /// ``AffineProbeEvaluator`` does).
    public func forward(after node: Int, value: Tensor) -> Tensor {
        precondition(node >= 0 && node <= outputNode && value.sampleShape == nodeShapes[node],
                     "Model.forward(after:): value \(value.shape) is not a batch of node \(node)'s output \(nodeShapes[node])")
        if node == outputNode { return value }
        ComputePolicy.prepareBLAS(for: self)
        var outputs = [Tensor?](repeating: nil, count: outputNode + 1)
        outputs[node] = value
        let context = ForwardContext(training: false)
        for i in (node + 1)...outputNode {
            let inputs = nodes[i].inputs.map { j -> Tensor in
                precondition(j >= node, "Model.forward(after:): node \(i) reads node \(j), before node \(node)")
                return outputs[j]!
            }
            outputs[i] = nodes[i].layer.forward(inputs, context: context).output
        }
        return outputs[outputNode]!
    }

    /// `body` over the batch, split across threads as ``ComputePolicy`` says.
    private func planned(_ x: Tensor, _ body: (Tensor) -> Tensor) -> Tensor {
        guard let chunks = ComputePolicy.chunks(batch: x.batchSize, for: self) else { return body(x) }
        return Tensor.concatenate(batches: ComputePolicy.parallelMap(chunks) { r in body(x.slice(batch: r)) })
    }

    /// One forward and one backward pass: the model output for `x`, and `∂L/∂x` for the output
    /// gradient `outputGradient(output)` (when `inputGradient`); adds `∂L/∂θ` into the trainable
    /// parameters when `parameterGradients`. The same as ``trace(_:context:upTo:)`` followed by
    /// ``backward(_:outputGradient:nodeGradients:parameterGradients:inputGradient:)``, through the
    /// lane kernels where the model has a plan (see ``LanePlan``); a dense-only model computes
    /// the same thing bit for bit with its activations in a kept workspace (``DensePlan``). One
    /// thread (training batches).
    public func backpropagate(_ x: Tensor, context: ForwardContext = ForwardContext(training: false),
                              parameterGradients: Bool, inputGradient: Bool,
                              outputGradient: (Tensor) throws -> Tensor) rethrows -> (output: Tensor, inputGradient: Tensor?) {
        precondition(x.sampleShape == inputShape, "Model: input shape \(x.shape) does not match [batch] + \(inputShape)")
        if let plan = densePlan, !(context.training && plan.inferenceOnly) {
            return try plan.backpropagate(x, parameterGradients: parameterGradients, inputGradient: inputGradient, outputGradient: outputGradient)
        }
        if let plan = lanePlan, !(context.training && plan.inferenceOnly), x.batchSize > 0 {
            let pending = plan.beginGradient(x, outputShape: outputShape)
            let g: Tensor
            do { g = try outputGradient(pending.output) } catch {
                _ = plan.finishGradient(pending, outputGradient: Tensor(zeros: pending.output.shape), parameterGradients: false, inputGradient: false)
                throw error
            }
            let dx = plan.finishGradient(pending, outputGradient: g, parameterGradients: parameterGradients, inputGradient: inputGradient)
            return (pending.output, dx)
        }
        let t = trace(x, context: context, upTo: outputNode)
        let g = try outputGradient(t.output)
        let dx = backward(t, outputGradient: g, parameterGradients: parameterGradients, inputGradient: inputGradient)
        return (t.output, inputGradient ? dx : nil)
    }

    /// Back-propagates through a trace.
    ///
    /// - Parameters:
    ///   - outputGradient: `∂L/∂(model output)`.
    ///   - nodeGradients: extra `∂L/∂(node output)` terms for inner nodes (e.g. a loss on the embedding).
    ///   - parameterGradients: accumulate `∂L/∂θ` into the trainable parameters.
    /// - Returns: `∂L/∂x`, the vector–Jacobian product with respect to the input.
    @discardableResult
    public func backward(_ trace: Trace, outputGradient: Tensor?, nodeGradients: [Int: Tensor] = [:],
                         parameterGradients: Bool = true, inputGradient: Bool = true) -> Tensor? {
        let n = trace.records.count
        var grads = [Tensor?](repeating: nil, count: n)
        func accumulate(_ index: Int, _ g: Tensor) {
            if let existing = grads[index] { grads[index] = existing + g } else { grads[index] = g }
        }
        if let outputGradient {
            precondition(outputGradient.shape == trace.records[outputNode].output.shape, "Model.backward: gradient shape \(outputGradient.shape) ≠ output shape")
            accumulate(outputNode, outputGradient)
        }
        for (i, g) in nodeGradients { accumulate(i, g) }
        var inputGrad: Tensor?
        // The earliest node that still needs a gradient: nothing before it is visited.
        for i in stride(from: n - 1, through: 0, by: -1) {
            guard let g = grads[i] else { continue }
            grads[i] = nil
            let node = nodes[i]
            let wantsParams = parameterGradients && node.layer.parameters.contains(where: \.isTrainable)
            let needsInputs = inputGradient || node.inputs.contains { $0 >= 0 }
            let inGrads = node.layer.backward(g, record: trace.records[i], inputGradients: needsInputs, parameterGradients: wantsParams)
            guard needsInputs else { continue }
            for (k, j) in node.inputs.enumerated() {
                if j == -1 {
                    if inputGradient { inputGrad = inputGrad.map { $0 + inGrads[k] } ?? inGrads[k] }
                } else {
                    accumulate(j, inGrads[k])
                }
            }
        }
        return inputGrad
    }

    /// The vector–Jacobian product `vᵀ ∂f(x)/∂x` for a batch and a cotangent `v` of the output's
    /// shape, in one forward and one backward pass. Parameter gradients are left untouched.
    /// Returns the model output as well, since callers almost always need it.
    ///
    /// `cotangent` sees the whole batch's output once. Large batches run their forward and backward
    /// passes split across ``ComputePolicy/inferenceThreads`` threads; inputs' rows are independent
    /// in inference mode, so the result equals a single pass (``ComputePolicy``).
    public func vjp(_ x: Tensor, cotangent: (Tensor) -> Tensor) -> (output: Tensor, inputGradient: Tensor) {
        if let plan = densePlan {
            return plan.vjp(x, cotangent: cotangent)
        }
        ComputePolicy.prepareBLAS(for: self, gradient: true)
        if let plan = lanePlan, x.batchSize > 0 {
            let chunks = ComputePolicy.chunks(batch: x.batchSize, for: self, gradient: true) ?? [0..<x.batchSize]
            let pending = chunks.count == 1 ? [plan.beginGradient(x, outputShape: outputShape)]
                : ComputePolicy.parallelMap(chunks) { r in plan.beginGradient(x.slice(batch: r), outputShape: self.outputShape) }
            let output = pending.count == 1 ? pending[0].output : Tensor.concatenate(batches: pending.map(\.output))
            let v = cotangent(output)
            if chunks.count == 1 {
                return (output, plan.finishGradient(pending[0], outputGradient: v, parameterGradients: false, inputGradient: true)!)
            }
            let grads = ComputePolicy.parallelMap(Array(chunks.indices)) { i in
                plan.finishGradient(pending[i], outputGradient: v.slice(batch: chunks[i]), parameterGradients: false, inputGradient: true)!
            }
            return (output, Tensor.concatenate(batches: grads))
        }
        guard let chunks = ComputePolicy.chunks(batch: x.batchSize, for: self, gradient: true) else {
            let t = trace(x, upTo: outputNode)
            let v = cotangent(t.output)
            let g = backward(t, outputGradient: v, parameterGradients: false)!
            return (t.output, g)
        }
        let traces = ComputePolicy.parallelMap(chunks) { r in self.trace(x.slice(batch: r), upTo: self.outputNode) }
        let output = Tensor.concatenate(batches: traces.map(\.output))
        let v = cotangent(output)
        let grads = ComputePolicy.parallelMap(Array(chunks.indices)) { i in
            self.backward(traces[i], outputGradient: v.slice(batch: chunks[i]), parameterGradients: false)!
        }
        return (output, Tensor.concatenate(batches: grads))
    }
}
