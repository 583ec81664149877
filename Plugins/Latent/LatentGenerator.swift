import BorderlineCore
import Foundation

/// The generator `G` of the latent plugin: any model file whose input is a latent vector, with
/// an optional encoder for `G⁻¹`. An encoder whose output has twice the latent size is read as a
/// VAE encoder (`μ | log σ²`, as `borderline train-vae` writes it) and `G⁻¹(x) = μ(x)`; one whose
/// output has the latent size is used as it is. Without an encoder, ``LatentInversion`` finds
/// `G⁻¹(x)` by optimisation.
public final class LatentGenerator: Generator {
    public let decoder: Model
    public let encoder: Model?
    public let latentCount: Int

    public init(decoder: Model, encoder: Model?) throws {
        let l = decoder.inputShape.reduce(1, *)
        if let encoder {
            let out = encoder.outputShape.reduce(1, *)
            guard encoder.inputShape.reduce(1, *) == decoder.outputShape.reduce(1, *) else {
                throw BorderlineError(.shapeMismatch, "latent: the encoder reads \(encoder.inputShape) but the decoder writes \(decoder.outputShape)")
            }
            guard out == l || out == 2 * l else {
                throw BorderlineError(.shapeMismatch, "latent: the encoder gives \(encoder.outputShape) per image; expected \(l) values (a latent) or \(2 * l) (a VAE's μ | log σ²) for the decoder's latent \(decoder.inputShape)")
            }
        }
        self.decoder = decoder
        self.encoder = encoder
        self.latentCount = l
    }

    /// Loads the decoder (and encoder) files, each a path or a shipped model name that `resolve`
    /// turns into a path (`RunContext.modelPath(_:)`). An empty decoder means the shipped
    /// Fashion-MNIST VAE (`Models/fashion-vae-decoder.h5`, with `Models/fashion-vae-encoder.h5`
    /// unless the encoder is given); an encoder of `none` means no encoder.
    public static func load(decoder decoderSpec: String, encoder encoderSpec: String,
                            resolve: (String) throws -> String) throws -> LatentGenerator {
        func shipped(_ name: String) throws -> String {
            do { return try resolve(name) } catch let e as BorderlineError {
                throw BorderlineError(.fileNotFound, "latent: the shipped generator file \(name).h5 was not found (\(e.message)); set latent.decoder=PATH or BORDERLINE_MODELS")
            }
        }
        let d = decoderSpec.isEmpty ? try shipped("fashion-vae-decoder") : try resolve(decoderSpec)
        let e: String?
        switch encoderSpec {
        case "none": e = nil
        case "": e = decoderSpec.isEmpty ? try shipped("fashion-vae-encoder") : nil
        default: e = try resolve(encoderSpec)
        }
        let decoder = try Model.load(contentsOf: d)
        let encoder = try e.map { try Model.load(contentsOf: $0) }
        return try LatentGenerator(decoder: decoder, encoder: encoder)
    }

    public var latentShape: [Int] { [latentCount] }
    public var outputShape: [Int] { decoder.outputShape }
    public var canEncode: Bool { encoder != nil }
    public var isDifferentiable: Bool { true }

    public func generate(_ z: Tensor) throws -> Tensor {
        let n = z.batchSize
        guard z.count == n * latentCount else { throw BorderlineError(.shapeMismatch, "latent batch has shape \(z.shape); expected [N, \(latentCount)]") }
        return Evaluation.logits(decoder, images: z.reshaped([n] + decoder.inputShape))
    }

    public func encode(_ x: Tensor) throws -> Tensor {
        guard let encoder else { throw BorderlineError(.invalidArgument, "latent: this generator has no encoder") }
        let n = x.batchSize
        guard x.count == n * encoder.inputShape.reduce(1, *) else {
            throw BorderlineError(.shapeMismatch, "latent: images of shape \(x.shape) do not fit the encoder's input \(encoder.inputShape)")
        }
        let out = Evaluation.logits(encoder, images: x.reshaped([n] + encoder.inputShape))
        let width = out.sampleCount
        if width == latentCount { return out.reshaped([n, latentCount]) }
        return VariationalAutoencoder.split(out.reshaped([n, width]), latent: latentCount).mean
    }

    public func vjp(_ z: Tensor, cotangent: Tensor) throws -> (output: Tensor, latentGradient: Tensor) {
        let n = z.batchSize
        guard cotangent.count == n * decoder.outputShape.reduce(1, *) else {
            throw BorderlineError(.shapeMismatch, "cotangent has shape \(cotangent.shape); expected [\(n)] + \(decoder.outputShape)")
        }
        let r = decoder.vjp(z.reshaped([n] + decoder.inputShape)) { _ in cotangent.reshaped([n] + self.decoder.outputShape) }
        return (r.output, r.inputGradient.reshaped([n, latentCount]))
    }
}

/// `G⁻¹(x)` by optimisation when the generator has no encoder: Adam on `z` minimising the
/// per-pixel mean squared error `‖G(z) − x‖² / D`, from `restarts` seeded starts `z ~ N(0, I)`
/// per image (all rows and restarts in one batch), keeping the best restart of each image.
public enum LatentInversion {
    public struct Settings: Sendable {
        public var restarts = 4
        public var steps = 300
        public var learningRate: Float = 0.05
        public init() {}
    }

    /// The latents and their reconstruction errors (per-pixel MSE).
    public static func invert(_ g: any Generator, images x: Tensor, settings: Settings, random: inout RandomGenerator,
                              checkStop: () throws -> Void = {}) throws -> (latents: Tensor, errors: [Float]) {
        let n = x.batchSize, l = g.latentShape.reduce(1, *), d = x.sampleCount, r = max(1, settings.restarts)
        guard n > 0 else { return (Tensor(zeros: [0, l]), []) }
        let z = Parameter("z", random.normal(shape: [r * n, l]))
        var targets = [Float](); targets.reserveCapacity(r * n * d)
        for _ in 0..<r { targets += x.scalars }
        let adam = Adam(learningRate: settings.learningRate)
        var errors = [Float](repeating: .infinity, count: r * n)
        for step in 0...settings.steps {
            if step % 16 == 0 { try checkStop() }
            // Cotangent of the mean squared error, per row: 2(G(z) − x)/D.
            let out = try g.generate(z.value).scalars
            var grad = [Float](repeating: 0, count: r * n * d)
            for row in 0..<(r * n) {
                var se: Float = 0
                for j in 0..<d { let e = out[row * d + j] - targets[row * d + j]; se += e * e; grad[row * d + j] = 2 * e / Float(d) }
                errors[row] = se / Float(d)
            }
            if step == settings.steps { break }
            z.gradient = try g.vjp(z.value, cotangent: Tensor(shape: [r * n] + g.outputShape, scalars: grad)).latentGradient
            adam.step([z])
        }
        var best = [Float](repeating: 0, count: n * l), bestErr = [Float](repeating: .infinity, count: n)
        for k in 0..<r {
            for i in 0..<n where errors[k * n + i] < bestErr[i] {
                bestErr[i] = errors[k * n + i]
                for j in 0..<l { best[i * l + j] = z.value.scalars[(k * n + i) * l + j] }
            }
        }
        return (Tensor(shape: [n, l], scalars: best), bestErr)
    }
}
