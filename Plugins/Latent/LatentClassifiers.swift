import BorderlineCore
import Foundation

/// `f ∘ G`: the classifier seen from the generator's latent space. Its input is a latent batch
/// `[N, L]`; every row costs one query of `f` (counted by `f` when it counts).
public class ComposedClassifier: Classifier {
    public let classifier: any Classifier
    public let generator: any Generator
    public init(_ classifier: any Classifier, _ generator: any Generator) throws {
        guard classifier.inputShape.reduce(1, *) == generator.outputShape.reduce(1, *) else {
            throw BorderlineError(.shapeMismatch,
                "latent: the generator makes samples of shape \(generator.outputShape) but the classifier reads \(classifier.inputShape)")
        }
        self.classifier = classifier
        self.generator = generator
    }
    public var inputShape: [Int] { generator.latentShape }
    public var classNames: [String] { classifier.classNames }
    /// `G(z)` shaped as the classifier's input.
    public func images(_ z: Tensor) throws -> Tensor {
        try generator.generate(z).reshaped([z.batchSize] + classifier.inputShape)
    }
    public func probabilities(_ z: Tensor) throws -> Tensor { try classifier.probabilities(images(z)) }
    public func logits(_ z: Tensor) throws -> Tensor { try classifier.logits(images(z)) }
}

/// `f ∘ G` with exact latent gradients: `Vᵀ ∂f(G(z))/∂z = (Vᵀ ∂f/∂x) ∂G/∂z`, one vector–Jacobian
/// product of `f` and one of `G` per batch.
public final class ComposedDifferentiableClassifier: ComposedClassifier, DifferentiableClassifier {
    let differentiable: any DifferentiableClassifier
    public init(_ classifier: any DifferentiableClassifier, _ generator: any Generator) throws {
        guard generator.isDifferentiable else {
            throw BorderlineError(.invalidArgument, "latent: exact gradients need a differentiable generator")
        }
        differentiable = classifier
        try super.init(classifier, generator)
    }
    public var gradientsAreEstimated: Bool { differentiable.gradientsAreEstimated }
    public func vjp(_ z: Tensor, cotangent: Tensor, of output: ClassifierOutput) throws -> VectorJacobianProduct {
        let x = try images(z)
        let r = try differentiable.vjp(x, cotangent: cotangent, of: output)
        let g = try generator.vjp(z, cotangent: r.inputGradient.reshaped([z.batchSize] + generator.outputShape))
        return VectorJacobianProduct(output: r.output, inputGradient: g.latentGradient.reshaped(z.shape))
    }
}
