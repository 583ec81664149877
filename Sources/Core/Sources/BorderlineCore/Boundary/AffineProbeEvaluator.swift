import Foundation

/// Evaluates a classifier at affine combinations of a fixed set of anchor points — the shape of
/// almost every boundary probe: bisection midpoints and IDC points `a + λ(b − a)`, slice grids
/// `o + u·e₁ + v·e₂`, direction sweeps `x + t·d`.
///
/// **Maths.** Query `q` is `x_q = Σ_j w_qj · A_j` over `arity` anchors with `Σ_j w_qj = 1`. When
/// the model's first layer is affine, `f₁(x) = W x + b`, then `f₁(x_q) = Σ_j w_qj · f₁(A_j)`
/// exactly (the weights sum to 1, so the bias is carried once). So `f₁` runs once per anchor, each
/// query costs `arity` vector additions in the first layer's output space, and the rest of the
/// model runs from there. Equal to evaluating `x_q` up to float rounding (the test allows 1e-5 on
/// the logits).
///
/// **When.** The split is used when the classifier is a ``ModelClassifier`` (or one counting its
/// queries) and either
/// - its first node is a `Dense` layer (after any `Flatten`/`Reshape`) read by nothing else, and
///   the layer's output is smaller than its input (`784 → 50` in the FCN: 98 % of the first
///   layer's work is skipped); or
/// - it runs on the lane kernels (``LanePlan``: a sequential CNN) and `convolutions` is on: the
///   first convolution's full-resolution output (without bias) is computed once per anchor, and
///   each query block mixes those outputs in registers with the first pool, bias and activation
///   fused behind — the interpolated outputs never reach memory, so the expansion of a
///   convolution (the CNN's conv1: 784 → 6760 values) costs nothing but the anchors' own outputs.
///   Used when the anchors' outputs fit in a quarter of the memory budget (``MemoryBudget``).
/// Black-box classifiers and everything else evaluate the points themselves (the same results,
/// the ordinary cost).
public final class AffineProbeEvaluator {
    public let classifier: any Classifier
    /// The anchors, `[m] + inputShape`.
    public let anchors: Tensor
    /// `f₁` of every anchor (`[m, F₁]`) when the dense split is used, else nil.
    private let firstOutputs: Tensor?
    /// The model and the node whose output `firstOutputs` holds.
    private let model: Model?
    private let splitNode: Int
    /// The lane plan and the anchors' first-convolution outputs when the convolution split is used.
    private let lanes: (plan: LanePlan, anchors: LanePlan.AnchorConvolutions, step: Int)?
    /// Counts the queries answered without calling the classifier (when it counts queries).
    private let counter: QueryCounter?

    /// Whether queries skip the first layer (see the type's documentation).
    public var isSplit: Bool { firstOutputs != nil || lanes != nil }

    /// The model behind `classifier` and the counter its queries go to, when it is a
    /// ``ModelClassifier`` or a query-counting wrapper of one.
    static func unwrap(_ classifier: any Classifier) -> (ModelClassifier, QueryCounter?)? {
        if let mc = classifier as? ModelClassifier { return (mc, nil) }
        if let q = classifier as? QueryCountingClassifier, let mc = q.base as? ModelClassifier { return (mc, q.counter) }
        if let q = classifier as? QueryCountingDifferentiableClassifier, let mc = q.base as? ModelClassifier { return (mc, q.counter) }
        return nil
    }

    /// Whether an evaluator over `classifier` would skip its first layer.
    public static func splits(_ classifier: any Classifier, convolutions: Bool = false) -> Bool {
        guard let (mc, _) = unwrap(classifier) else { return false }
        return splitNode(of: mc.model) != nil || (convolutions && lanePlan(of: mc.model) != nil)
    }

    /// The model's lane plan and the step that ends at its output, when it has one.
    static func lanePlan(of model: Model) -> (LanePlan, Int)? {
        guard let plan = model.lanePlan, let step = plan.step(endingAt: model.outputNode), plan.isDense(step) else { return nil }
        return (plan, step)
    }

    /// Prepares `anchors` (`[m] + classifier.inputShape`): one pass of the first layer over them
    /// when a split applies. `convolutions` allows the convolution split (see the type).
    public init(_ classifier: any Classifier, anchors: Tensor, convolutions: Bool = false) throws {
        try classifier.checkBatch(anchors)
        self.classifier = classifier
        self.anchors = anchors
        let unwrapped = AffineProbeEvaluator.unwrap(classifier)
        counter = unwrapped?.1
        if let mc = unwrapped?.0, let node = AffineProbeEvaluator.splitNode(of: mc.model) {
            let m = mc.model
            model = m
            splitNode = node
            var parts: [Tensor] = []
            var start = 0
            while start < anchors.batchSize {
                let end = min(anchors.batchSize, start + mc.batchSize)
                let chunk = end - start == anchors.batchSize ? anchors : anchors.slice(batch: start..<end)
                parts.append(m.trace(chunk, upTo: node).records[node].output)
                start = end
            }
            firstOutputs = parts.isEmpty ? Tensor(zeros: [0] + m.nodeShapes[node])
                : parts.count == 1 ? parts[0] : Tensor.concatenate(batches: parts)
            lanes = nil
        } else if convolutions, let mc = unwrapped?.0, let (plan, step) = AffineProbeEvaluator.lanePlan(of: mc.model),
                  Double(anchors.batchSize + plan.lanes) * Double(plan.anchorFloats) * 4 <= MemoryBudget.bytes / 4 {
            model = mc.model
            splitNode = -1
            firstOutputs = nil
            lanes = (plan, plan.anchorConvolutions(anchors), step)
        } else {
            model = nil
            splitNode = -1
            firstOutputs = nil
            lanes = nil
        }
    }

    /// The first `Dense` node of `model` if the split applies: only reshapes before it, each node
    /// up to it read only by the next, no later node reading anything before it, output smaller
    /// than input.
    static func splitNode(of model: Model) -> Int? {
        var i = 0
        while i < model.nodes.count, model.nodes[i].layer is Flatten || model.nodes[i].layer is Reshape { i += 1 }
        guard i < model.nodes.count, i <= model.outputNode, i < model.outputNode,
              let dense = model.nodes[i].layer as? Dense, dense.outFeatures < dense.inFeatures else { return nil }
        for (j, node) in model.nodes.enumerated() {
            if j <= i { guard node.inputs == [j - 1] else { return nil } }
            else { guard node.inputs.allSatisfy({ $0 >= i }) else { return nil } }
        }
        return i
    }

    /// The query points themselves: row `q` is `Σ_j weights[q·arity + j] · anchors[indices[q·arity + j]]`.
    public func points(indices: [Int], weights: [Float], arity: Int) throws -> Tensor {
        let rows = try check(indices: indices, weights: weights, arity: arity)
        return AffineProbeEvaluator.combine(anchors, indices: indices, weights: weights, arity: arity, rows: rows)
    }

    /// Class probabilities at the query points (see ``points(indices:weights:arity:)``), `[Q, K]`.
    public func probabilities(indices: [Int], weights: [Float], arity: Int) throws -> Tensor {
        try logits(indices: indices, weights: weights, arity: arity).softmaxRows()
    }

    /// Logits at the query points, `[Q, K]` (for a black-box classifier: what its `logits` gives).
    public func logits(indices: [Int], weights: [Float], arity: Int) throws -> Tensor {
        let rows = try check(indices: indices, weights: weights, arity: arity)
        if let lanes, let model, arity * lanes.plan.lanes <= LanePlan.maximumAnchorsPerBlock {
            counter?.add(rows)
            let k = model.classCount, shape = model.outputShape
            ComputePolicy.prepareBLAS(for: model)
            // Rows are independent: split across threads as a forward pass would be.
            let parts = max(1, min(ComputePolicy.inferenceThreads, rows / max(1, ComputePolicy.minimumRowsPerThread)))
            let ranges = (0..<parts).map { i in (rows * i / parts)..<(rows * (i + 1) / parts) }
            let outputs = ComputePolicy.parallelMap(ranges) { r in
                lanes.plan.forwardMixtures(lanes.anchors, indices: indices[(r.lowerBound * arity)..<(r.upperBound * arity)],
                                           weights: weights[(r.lowerBound * arity)..<(r.upperBound * arity)], arity: arity,
                                           through: lanes.step, shape: shape)
            }
            return (outputs.count == 1 ? outputs[0] : Tensor.concatenate(batches: outputs)).reshaped([rows, k])
        }
        guard let firstOutputs, let model, let mc = unwrapped(classifier) else {
            return try classifier.logits(AffineProbeEvaluator.combine(anchors, indices: indices, weights: weights, arity: arity, rows: rows))
        }
        let k = mc.classCount
        var parts: [Tensor] = []
        var start = 0
        while start < rows {
            let end = min(rows, start + mc.batchSize)
            let idx = Array(indices[(start * arity)..<(end * arity)]), w = Array(weights[(start * arity)..<(end * arity)])
            let z = AffineProbeEvaluator.combine(firstOutputs, indices: idx, weights: w, arity: arity, rows: end - start)
            counter?.add(end - start)
            parts.append(model.forward(after: splitNode, value: z).reshaped([end - start, k]))
            start = end
        }
        if parts.isEmpty { return Tensor(zeros: [0, k]) }
        return parts.count == 1 ? parts[0] : Tensor.concatenate(batches: parts)
    }

    private func unwrapped(_ classifier: any Classifier) -> ModelClassifier? { AffineProbeEvaluator.unwrap(classifier)?.0 }

    private func check(indices: [Int], weights: [Float], arity: Int) throws -> Int {
        guard arity >= 1, indices.count == weights.count, indices.count % arity == 0 else {
            throw BorderlineError(.invalidArgument,
                "affine probes: \(indices.count) indices and \(weights.count) weights do not make rows of \(arity)")
        }
        let m = anchors.batchSize
        for i in indices where i < 0 || i >= m {
            throw BorderlineError(.invalidArgument, "affine probes: anchor index \(i) outside 0..<\(m)")
        }
        let rows = indices.count / arity
        for q in 0..<rows {
            var s: Float = 0
            for j in 0..<arity { s += weights[q * arity + j] }
            guard abs(s - 1) <= 1e-4 else {
                throw BorderlineError(.invalidArgument, "affine probes: the weights of query \(q) sum to \(s), not 1")
            }
        }
        return rows
    }

    /// `out[q] = Σ_j w[q·arity + j] · source[idx[q·arity + j]]`, accumulated in order (for a
    /// segment `(1 − λ, λ)`: `(1 − λ)·a + λ·b`).
    static func combine(_ source: Tensor, indices: [Int], weights: [Float], arity: Int, rows: Int) -> Tensor {
        let per = source.sampleCount
        return Tensor(shape: [rows] + source.sampleShape) { out in
            guard rows > 0, per > 0 else { return }
            source.withUnsafeBufferPointer { src in
                let s = src.baseAddress!, o = out.baseAddress!
                for q in 0..<rows {
                    let dst = o + q * per
                    let first = s + indices[q * arity] * per, w0 = weights[q * arity]
                    for e in 0..<per { dst[e] = w0 * first[e] }
                    for j in 1..<max(1, arity) {
                        let row = s + indices[q * arity + j] * per, w = weights[q * arity + j]
                        for e in 0..<per { dst[e] += w * row[e] }
                    }
                }
            }
        }
    }
}
