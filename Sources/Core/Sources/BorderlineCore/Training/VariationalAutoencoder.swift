import Foundation

/// The pieces of a variational autoencoder (Kingma & Welling, 2014) on top of ``Model``:
/// the reparameterisation `z = μ + σ·ε`, the KL term against the standard normal prior, and a
/// training loop for an encoder/decoder pair.
///
/// **Layout.** The encoder maps an input to `2L` values per row: `μ` (the first `L`) followed by
/// `log σ²` (the last `L`). The decoder maps `L` latent values to the input's shape, with values in
/// `[0, 1]` (a final sigmoid) for the Bernoulli (binary cross-entropy) reconstruction term.
public enum VariationalAutoencoder {
    /// `z = μ + exp(½ log σ²) ⊙ ε` for `μ`, `log σ²`, `ε` all `[N, L]`.
    public static func reparameterize(mean: Tensor, logVariance: Tensor, noise: Tensor) -> Tensor {
        precondition(mean.shape == logVariance.shape && mean.shape == noise.shape, "reparameterize: shapes \(mean.shape), \(logVariance.shape), \(noise.shape) differ")
        return Tensor(shape: mean.shape) { z in
            mean.withUnsafeBufferPointer { m in
                logVariance.withUnsafeBufferPointer { lv in
                    noise.withUnsafeBufferPointer { e in
                        for i in 0..<z.count { z[i] = m[i] + Foundation.exp(0.5 * lv[i]) * e[i] }
                    }
                }
            }
        }
    }

    /// The backward pass of ``reparameterize(mean:logVariance:noise:)``: from `g = ∂L/∂z`,
    /// `∂L/∂μ = g` and `∂L/∂log σ² = g ⊙ ε ⊙ ½ exp(½ log σ²)`.
    public static func reparameterizeBackward(_ gradient: Tensor, logVariance: Tensor, noise: Tensor)
        -> (mean: Tensor, logVariance: Tensor) {
        precondition(gradient.shape == logVariance.shape && gradient.shape == noise.shape, "reparameterizeBackward: shapes differ")
        let dLogVar = Tensor(shape: gradient.shape) { out in
            gradient.withUnsafeBufferPointer { g in
                logVariance.withUnsafeBufferPointer { lv in
                    noise.withUnsafeBufferPointer { e in
                        for i in 0..<out.count { out[i] = g[i] * e[i] * 0.5 * Foundation.exp(0.5 * lv[i]) }
                    }
                }
            }
        }
        return (gradient, dLogVar)
    }

    /// `KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j)` per row, averaged over the
    /// `N` rows (PyTorch's usual `−0.5 * sum(1 + logvar − mu² − exp(logvar)) / N`), with its
    /// gradients `∂/∂μ = μ / N` and `∂/∂log σ² = ½ (σ² − 1) / N`.
    public static func klDivergence(mean: Tensor, logVariance: Tensor) -> (value: Float, mean: Tensor, logVariance: Tensor) {
        precondition(mean.shape == logVariance.shape && mean.rank == 2, "klDivergence: expected two [N, L] tensors, got \(mean.shape) and \(logVariance.shape)")
        let n = mean.batchSize
        guard n > 0 else { return (0, mean, logVariance) }
        let scale = 1 / Float(n)
        var total = 0.0
        let dMean = mean.map { $0 * scale }
        let dLogVar = Tensor(shape: mean.shape) { out in
            mean.withUnsafeBufferPointer { m in
                logVariance.withUnsafeBufferPointer { lv in
                    for i in 0..<out.count {
                        let v = Foundation.exp(lv[i])
                        total += -0.5 * Double(1 + lv[i] - m[i] * m[i] - v)
                        out[i] = 0.5 * (v - 1) * scale
                    }
                }
            }
        }
        return (Float(total / Double(n)), dMean, dLogVar)
    }

    /// Binary cross-entropy summed over each row's elements and averaged over rows (the VAE's
    /// Bernoulli negative log-likelihood): `(1/N) Σ_n Σ_k −[x log p + (1 − x) log(1 − p)]`, logs
    /// clamped at −100 as PyTorch does; gradient as in ``Loss/binaryCrossEntropy(probabilities:targets:)``
    /// times the row size.
    public static func reconstructionLoss(probabilities p: Tensor, targets x: Tensor) throws -> LossValue {
        let perRow = Float(p.sampleCount)
        let l = try Loss.binaryCrossEntropy(probabilities: p, targets: x)
        return (l.value * perRow, l.gradient.map { $0 * perRow })
    }

    /// The loss of one batch, `BCE_sum + β·KL` per row averaged over rows, with the encoder's and
    /// decoder's traces, and (when `backward` is set) the parameter gradients accumulated.
    public struct BatchLoss {
        public var reconstruction: Float
        public var kl: Float
        public var total: Float { reconstruction + kl }
    }

    /// One forward (and optionally backward) pass over a batch: encode, split `μ | log σ²`,
    /// reparameterise with `noise` (`[N, L]`), decode, loss. With `backward`, gradients are
    /// accumulated into both models' trainable parameters (call `zeroGradients` first).
    public static func batchLoss(encoder: Model, decoder: Model, images x: Tensor, noise: Tensor, beta: Float = 1,
                                 backward: Bool) throws -> BatchLoss {
        let n = x.batchSize, l = decoder.inputShape.reduce(1, *)
        guard encoder.outputShape.reduce(1, *) == 2 * l else {
            throw BorderlineError(.shapeMismatch, "VAE: the encoder gives \(encoder.outputShape) per row; expected 2 × \(l) (μ and log σ²) for the decoder's latent \(decoder.inputShape)")
        }
        guard noise.shape == [n, l] else { throw BorderlineError(.shapeMismatch, "VAE: noise has shape \(noise.shape); expected [\(n), \(l)]") }
        let et = encoder.trace(x, context: ForwardContext(training: backward))
        let (mean, logVar) = split(et.output.reshaped([n, 2 * l]), latent: l)
        let z = reparameterize(mean: mean, logVariance: logVar, noise: noise)
        let dt = decoder.trace(z.reshaped([n] + decoder.inputShape), context: ForwardContext(training: backward))
        let target = x.reshaped(dt.output.shape)
        let rec = try reconstructionLoss(probabilities: dt.output, targets: target)
        let kl = klDivergence(mean: mean, logVariance: logVar)
        if backward {
            let dz = decoder.backward(dt, outputGradient: rec.gradient)!.reshaped([n, l])
            let (dm, dlv) = reparameterizeBackward(dz, logVariance: logVar, noise: noise)
            let gm = dm + beta * kl.mean, glv = dlv + beta * kl.logVariance
            var joined = [Float](repeating: 0, count: n * 2 * l)
            gm.withUnsafeBufferPointer { a in
                glv.withUnsafeBufferPointer { b in
                    for r in 0..<n {
                        for j in 0..<l { joined[r * 2 * l + j] = a[r * l + j]; joined[r * 2 * l + l + j] = b[r * l + j] }
                    }
                }
            }
            encoder.backward(et, outputGradient: Tensor(shape: et.output.shape, scalars: joined), inputGradient: false)
        }
        return BatchLoss(reconstruction: rec.value, kl: beta * kl.value)
    }

    /// Splits `[N, 2L]` into `μ` (`[N, L]`, first half of each row) and `log σ²` (second half).
    public static func split(_ t: Tensor, latent l: Int) -> (mean: Tensor, logVariance: Tensor) {
        let n = t.batchSize
        var m = [Float](repeating: 0, count: n * l), v = [Float](repeating: 0, count: n * l)
        t.withUnsafeBufferPointer { p in
            for r in 0..<n {
                for j in 0..<l { m[r * l + j] = p[r * 2 * l + j]; v[r * l + j] = p[r * 2 * l + l + j] }
            }
        }
        return (Tensor(shape: [n, l], scalars: m), Tensor(shape: [n, l], scalars: v))
    }

    /// Training settings (Adam, one shuffled pass over the data per epoch, seeded).
    public struct TrainingConfiguration: Sendable, Equatable {
        public var epochs = 20
        public var batchSize = 128
        public var learningRate: Float = 1e-3
        public var beta: Float = 1
        public var seed: UInt64 = 0
        public init() {}
        public func validate() throws {
            guard epochs > 0 else { throw BorderlineError(.invalidArgument, "epochs must be positive, got \(epochs)") }
            guard batchSize > 0 else { throw BorderlineError(.invalidArgument, "batch size must be positive, got \(batchSize)") }
            guard learningRate > 0, learningRate.isFinite else { throw BorderlineError(.invalidArgument, "learning rate must be a positive number, got \(learningRate)") }
            guard beta >= 0, beta.isFinite else { throw BorderlineError(.invalidArgument, "β must be a non-negative number, got \(beta)") }
        }
    }

    /// Trains the pair on `images` (`[N] + encoder.inputShape`, values in `[0, 1]`), reporting
    /// progress; returns the mean loss of each epoch. Shuffling and `ε` come from one generator
    /// seeded with `configuration.seed`, so a seed (and one BLAS thread) reproduces the weights.
    @discardableResult
    public static func train(encoder: Model, decoder: Model, images: Tensor, configuration: TrainingConfiguration,
                             progress: ProgressReporter? = nil, checkStop: () throws -> Void = {}) throws -> [BatchLoss] {
        try configuration.validate()
        let n = images.batchSize, l = decoder.inputShape.reduce(1, *)
        guard n > 0 else { throw BorderlineError(.dataMismatch, "VAE training: no images") }
        var random = RandomGenerator(seed: configuration.seed ^ 0x5641_45)
        let adam = Adam(learningRate: configuration.learningRate)
        let params = encoder.trainableParameters + decoder.trainableParameters
        let b = min(configuration.batchSize, n)
        let stepsPerEpoch = n / b
        var history: [BatchLoss] = []
        for epoch in 1...configuration.epochs {
            let order = random.permutation(n)
            progress?.begin("VAE epoch \(epoch)/\(configuration.epochs)", total: stepsPerEpoch)
            var rec = 0.0, kl = 0.0
            for s in 0..<stepsPerEpoch {
                if s % 16 == 0 { try checkStop() }
                let x = images.gather(batch: Array(order[(s * b)..<((s + 1) * b)]))
                let noise = random.normal(shape: [b, l])
                for p in params { p.zeroGradient() }
                let loss = try batchLoss(encoder: encoder, decoder: decoder, images: x, noise: noise, beta: configuration.beta, backward: true)
                guard loss.total.isFinite else {
                    throw BorderlineError(.invalidConfiguration, "VAE training diverged at epoch \(epoch), step \(s + 1) (loss \(loss.total)); lower the learning rate")
                }
                adam.step(params)
                rec += Double(loss.reconstruction); kl += Double(loss.kl)
                if (s + 1) % 20 == 0 || s + 1 == stepsPerEpoch {
                    progress?.update(completed: s + 1, detail: String(format: "loss %.2f", (rec + kl) / Double(s + 1)))
                }
            }
            let record = BatchLoss(reconstruction: Float(rec / Double(stepsPerEpoch)), kl: Float(kl / Double(stepsPerEpoch)))
            progress?.end(summary: String(format: "VAE epoch %d: reconstruction %.2f, KL %.2f (per image, nats)", epoch, record.reconstruction, record.kl))
            history.append(record)
        }
        return history
    }
}

extension Model {
    /// A dense VAE for `[1, 28, 28]` images in `[0, 1]`:
    /// encoder `flatten → 784-h₁-h₂ (ReLU) → 2L` (μ | log σ²); decoder `L → h₂-h₁ (ReLU) → 784 → sigmoid
    /// → reshape [1, 28, 28]`. Initialised with PyTorch's default rules from `seed`.
    public static func denseVAE(inputShape: [Int] = [1, 28, 28], hidden: [Int] = [512, 256], latent: Int = 16,
                                seed: UInt64) throws -> (encoder: Model, decoder: Model) {
        guard latent > 0, !hidden.isEmpty, hidden.allSatisfy({ $0 > 0 }) else {
            throw BorderlineError(.invalidArgument, "VAE: latent size and hidden widths must be positive (got latent \(latent), hidden \(hidden))")
        }
        var g = RandomGenerator(seed: seed)
        let d = inputShape.reduce(1, *)
        var enc: [(String, any Layer)] = [("flatten", Flatten())]
        var width = d
        for (i, h) in hidden.enumerated() {
            enc.append(("enc\(i + 1)", Dense(inFeatures: width, outFeatures: h, generator: &g)))
            enc.append(("enc\(i + 1).relu", ReLU()))
            width = h
        }
        enc.append(("enc.stats", Dense(inFeatures: width, outFeatures: 2 * latent, generator: &g)))
        var dec: [(String, any Layer)] = []
        width = latent
        for (i, h) in hidden.reversed().enumerated() {
            dec.append(("dec\(i + 1)", Dense(inFeatures: width, outFeatures: h, generator: &g)))
            dec.append(("dec\(i + 1).relu", ReLU()))
            width = h
        }
        dec.append(("dec.out", Dense(inFeatures: width, outFeatures: d, generator: &g)))
        dec.append(("dec.sigmoid", Sigmoid()))
        dec.append(("dec.reshape", try Reshape(shape: inputShape)))
        return (try Model.sequential(inputShape: inputShape, enc), try Model.sequential(inputShape: [latent], dec))
    }
}
