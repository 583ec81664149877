import Foundation

/// A generative model: a map `G` from a latent space to the classifier's input space, and where
/// it can, the way back (`E ≈ G⁻¹`) and vector–Jacobian products of `G`.
///
/// **Contract.** ``generate(_:)`` maps a latent batch `[N] + latentShape` to an input batch
/// `[N] + outputShape`, deterministically. ``encode(_:)`` maps inputs back to latents with
/// `G(E(x)) ≈ x` where ``canEncode`` is true, and throws `.invalidArgument` otherwise.
/// ``vjp(_:cotangent:)`` returns `Vₙᵀ ∂G(zₙ)/∂zₙ` per row where ``isDifferentiable`` is true,
/// and throws otherwise. Probers that search in latent space (e.g. latent trajectories) use it;
/// ``ModelGenerator`` adapts a decoder ``Model`` and an optional encoder.
public protocol Generator: AnyObject {
    /// The shape of one latent vector.
    var latentShape: [Int] { get }
    /// The shape of one generated sample (the classifier's input shape when they work together).
    var outputShape: [Int] { get }
    /// `G(z)` for a batch of latents.
    func generate(_ z: Tensor) throws -> Tensor
    /// Whether ``encode(_:)`` is available.
    var canEncode: Bool { get }
    /// `E(x)`, a latent batch with `G(E(x)) ≈ x`.
    func encode(_ x: Tensor) throws -> Tensor
    /// Whether ``vjp(_:cotangent:)`` is available.
    var isDifferentiable: Bool { get }
    /// `G(z)` and `Vₙᵀ ∂G(zₙ)/∂zₙ` for every row.
    func vjp(_ z: Tensor, cotangent: Tensor) throws -> (output: Tensor, latentGradient: Tensor)
}

extension Generator {
    public var canEncode: Bool { false }
    public var isDifferentiable: Bool { false }
    public func encode(_ x: Tensor) throws -> Tensor {
        throw BorderlineError(.invalidArgument, "this generator cannot encode inputs into its latent space")
    }
    public func vjp(_ z: Tensor, cotangent: Tensor) throws -> (output: Tensor, latentGradient: Tensor) {
        throw BorderlineError(.invalidArgument, "this generator offers no vector–Jacobian products")
    }
}
