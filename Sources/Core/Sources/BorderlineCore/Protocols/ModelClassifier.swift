import Foundation

/// Adapts a ``Model`` whose output is logits to ``DifferentiableClassifier``: exact scores,
/// probabilities `softmax(Z)`, the embedding the model names, and vector–Jacobian products by
/// back-propagation (``Model/vjp(_:cotangent:)``). Large batches are processed in chunks of
/// `batchSize` rows so memory stays bounded; the results are the same as in one pass.
public final class ModelClassifier: DifferentiableClassifier {
    public let model: Model
    public let batchSize: Int
    public let classNames: [String]

    /// - Parameter classNames: overrides the model's class names (the model's, else `0…K−1`).
    public init(_ model: Model, classNames: [String]? = nil, batchSize: Int = 256) {
        self.model = model
        self.batchSize = Swift.max(1, batchSize)
        self.classNames = classNames ?? (model.classNames.isEmpty ? (0..<model.classCount).map(String.init) : model.classNames)
    }

    public var inputShape: [Int] { model.inputShape }

    /// The box the model declares (``Model/inputBox``; `[0, 1]` unless its file says otherwise).
    public var inputBox: InputBox { model.inputBox }

    public var embeddingShape: [Int]? { model.embeddingNode.map { model.nodeShapes[$0] } }

    private func chunked(_ x: Tensor, _ body: (Tensor) throws -> Tensor) rethrows -> Tensor {
        let n = x.batchSize
        if n <= batchSize { return try body(x) }
        var parts: [Tensor] = []
        var start = 0
        while start < n {
            let end = Swift.min(n, start + batchSize)
            parts.append(try body(x.slice(batch: start..<end)))
            start = end
        }
        return Tensor.concatenate(batches: parts)
    }

    public func logits(_ x: Tensor) throws -> Tensor {
        try checkBatch(x)
        return chunked(x) { model.forward($0).reshaped([$0.batchSize, classNames.count]) }
    }

    public func probabilities(_ x: Tensor) throws -> Tensor { try logits(x).softmaxRows() }

    public func embedding(_ x: Tensor) throws -> Tensor? {
        try checkBatch(x)
        guard model.embeddingNode != nil else { return nil }
        return chunked(x) { model.embedding($0)! }
    }

    public func vjp(_ x: Tensor, cotangent: Tensor, of output: ClassifierOutput) throws -> VectorJacobianProduct {
        let k = classNames.count
        guard cotangent.shape == [x.batchSize, k] else {
            throw BorderlineError(.shapeMismatch, "cotangent has shape \(cotangent.shape); expected [\(x.batchSize), \(k)]")
        }
        let result = try vjp(x) { z, rows in
            let v = cotangent.slice(batch: rows)
            switch output {
            case .logits: return v
            case .probabilities:
                return ModelClassifier.probabilityCotangentToLogits(v, probabilities: z.softmaxRows())
            }
        }
        switch output {
        case .logits: return result
        case .probabilities: return VectorJacobianProduct(output: result.output.softmaxRows(), inputGradient: result.inputGradient)
        }
    }

    /// One forward and one backward pass per chunk of `batchSize` rows; the cotangent is computed
    /// from each chunk's logits in between.
    public func vjp(_ x: Tensor, cotangentFromLogits: (Tensor, Range<Int>) -> Tensor) throws -> VectorJacobianProduct {
        try checkBatch(x)
        let k = classNames.count
        var outputs: [Tensor] = []
        var gradients: [Tensor] = []
        var start = 0
        while start < x.batchSize {
            let end = Swift.min(x.batchSize, start + batchSize)
            let xs = end - start == x.batchSize ? x : x.slice(batch: start..<end)
            let outShape = model.outputShape
            let result = model.vjp(xs) { z in
                cotangentFromLogits(z.reshaped([end - start, k]), start..<end).reshaped([end - start] + outShape)
            }
            outputs.append(result.output.reshaped([end - start, k]))
            gradients.append(result.inputGradient)
            start = end
        }
        return VectorJacobianProduct(output: outputs.count == 1 ? outputs[0] : Tensor.concatenate(batches: outputs),
                                     inputGradient: gradients.count == 1 ? gradients[0] : Tensor.concatenate(batches: gradients))
    }
}
