/// Adapts a decoder ``Model`` (latent → input), and optionally an encoder ``Model``
/// (input → latent), to ``Generator``. Vector–Jacobian products back-propagate through the
/// decoder.
public final class ModelGenerator: Generator {
    public let decoder: Model
    public let encoder: Model?

    /// - Throws: `.shapeMismatch` when the encoder's input is not the decoder's output or its
    ///   output is not the decoder's input.
    public init(decoder: Model, encoder: Model? = nil) throws {
        if let encoder {
            guard encoder.inputShape == decoder.outputShape, encoder.outputShape == decoder.inputShape else {
                throw BorderlineError(.shapeMismatch,
                    "encoder maps \(encoder.inputShape) → \(encoder.outputShape) but the decoder maps \(decoder.inputShape) → \(decoder.outputShape)")
            }
        }
        self.decoder = decoder
        self.encoder = encoder
    }

    public var latentShape: [Int] { decoder.inputShape }
    public var outputShape: [Int] { decoder.outputShape }
    public var canEncode: Bool { encoder != nil }
    public var isDifferentiable: Bool { true }

    public func generate(_ z: Tensor) throws -> Tensor {
        try decoder.checkInput(z)
        return decoder.forward(z)
    }

    public func encode(_ x: Tensor) throws -> Tensor {
        guard let encoder else { throw BorderlineError(.invalidArgument, "this generator has no encoder") }
        try encoder.checkInput(x)
        return encoder.forward(x)
    }

    public func vjp(_ z: Tensor, cotangent: Tensor) throws -> (output: Tensor, latentGradient: Tensor) {
        try decoder.checkInput(z)
        guard cotangent.shape == [z.batchSize] + decoder.outputShape else {
            throw BorderlineError(.shapeMismatch, "cotangent has shape \(cotangent.shape); expected \([z.batchSize] + decoder.outputShape)")
        }
        let r = decoder.vjp(z) { _ in cotangent }
        return (r.output, r.inputGradient)
    }
}
