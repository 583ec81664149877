import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct TrainVAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-vae",
        abstract: "Train a dense variational autoencoder (BCE + KL) and save its encoder and decoder as native HDF5 models.")

    @Option(help: "Training data set (train split; the test split gives the reported reconstruction error).")
    var data: String = "fashion-mnist"
    @Option(help: "Hidden widths of the encoder, comma-separated (the decoder mirrors them).") var hidden: String = "512,256"
    @Option(help: "Latent dimension L.") var latent: Int = 16
    @Option(help: "Epochs.") var epochs: Int = 20
    @Option(help: "Mini-batch size.") var batchSize: Int = 128
    @Option(help: "Adam learning rate.") var learningRate: Float = 1e-3
    @Option(help: "Weight β of the KL term (1: the plain VAE).") var beta: Float = 1
    @Option(help: "Seed for initialisation, shuffling and ε.") var seed: UInt64 = 0
    @Option(help: "Train on only the first N training images (quick experiments).") var limit: Int?
    @Option(help: "Where to write the encoder (x → μ | log σ², 2L values).") var encoder: String
    @Option(help: "Where to write the decoder (z → image).") var decoder: String
    @Option(help: "Optional PNG: 8 rows; rows 1–4 alternate test images and their reconstructions, rows 5–8 decode z ~ N(0, I).")
    var samples: String?
    @Flag(help: "No progress output.") var quiet = false

    func run() throws {
        let widths = hidden.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !widths.isEmpty, widths.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw BorderlineError(.invalidArgument, "--hidden must be positive integers separated by commas, got '\(hidden)'")
        }
        var configuration = VariationalAutoencoder.TrainingConfiguration()
        configuration.epochs = epochs
        configuration.batchSize = batchSize
        configuration.learningRate = learningRate
        configuration.beta = beta
        configuration.seed = seed
        try configuration.validate()
        var train = try DataSources.load(data, split: .train)
        if let limit {
            guard limit > 0 else { throw BorderlineError(.invalidArgument, "--limit must be positive, got \(limit)") }
            train = train.prefix(limit)
        }
        let test = try DataSources.load(data, split: .test)
        let (enc, dec) = try Model.denseVAE(inputShape: train.imageShape, hidden: widths.map { $0! }, latent: latent, seed: seed)
        let start = Date()
        let history = try VariationalAutoencoder.train(encoder: enc, decoder: dec, images: train.images, configuration: configuration,
                                                       progress: TerminalProgress(quiet: quiet))
        let seconds = Date().timeIntervalSince(start)
        // Test-set reconstruction G(μ(x)) without sampling: per-pixel mean squared error and BCE per image.
        let evaluation = try VAEEvaluation.measure(encoder: enc, decoder: dec, images: test.images, latent: latent)
        let command = "borderline train-vae " + CommandLine.arguments.dropFirst(2).joined(separator: " ")
        let training: JSONValue = .object([
            "data": .string(train.name), "seed": .number(Double(seed)), "epochs": .init(epochs), "batch_size": .init(batchSize),
            "learning_rate": .number(Double("\(learningRate)") ?? 0), "beta": .number(Double("\(beta)") ?? 0),
            "latent": .init(latent), "hidden": .string(hidden),
            "seconds": .number((seconds * 10).rounded() / 10),
            "final_train_reconstruction_bce": .number((Double(history.last!.reconstruction) * 100).rounded() / 100),
            "final_train_kl": .number((Double(history.last!.kl) * 100).rounded() / 100),
            "test_reconstruction_mse": .number((evaluation.mse * 1e5).rounded() / 1e5),
            "test_reconstruction_bce": .number((evaluation.bce * 100).rounded() / 100),
            "blas": .string("OpenBLAS \(BLAS.coreName), \(BLAS.threadCount) thread(s)"),
        ])
        for (m, role) in [(enc, "encoder (x → μ | log σ²)"), (dec, "decoder (z → x)")] {
            m.metadata["trained_by"] = .string(command)
            m.metadata["vae_role"] = .string(role)
            m.metadata["training"] = training
        }
        try enc.save(to: encoder, format: .native)
        try dec.save(to: decoder, format: .native)
        if let samples {
            var random = RandomGenerator(seed: seed ^ 0x53_414d)
            let columns = 16
            let xs = test.images.slice(batch: 0..<(2 * columns))
            let recon = try VAEEvaluation.reconstruct(encoder: enc, decoder: dec, images: xs, latent: latent)
            let generated = dec.forward(random.normal(shape: [4 * columns, latent]))
            var grid = try ImageGrid(sampleShape: test.imageShape, rows: 8, columns: columns, scale: 2, gap: 2)
            for c in 0..<columns {
                for h in 0..<2 {
                    grid.set(row: 2 * h, column: c, batch: xs, index: h * columns + c)
                    grid.set(row: 2 * h + 1, column: c, batch: recon, index: h * columns + c)
                }
                for r in 0..<4 { grid.set(row: 4 + r, column: c, batch: generated, index: r * columns + c) }
            }
            try grid.render().write(to: samples)
        }
        print(String(format: "wrote %@ and %@ in %.0f s (test reconstruction: MSE %.5f per pixel, BCE %.2f per image; final train loss %.2f + KL %.2f)",
                     encoder, decoder, seconds, evaluation.mse, evaluation.bce, history.last!.reconstruction, history.last!.kl))
    }
}

/// Reconstruction quality of a VAE on a set of images, decoding the posterior mean `μ(x)`.
enum VAEEvaluation {
    static func reconstruct(encoder: Model, decoder: Model, images: Tensor, latent: Int) throws -> Tensor {
        let stats = Evaluation.logits(encoder, images: images)
        let mean = VariationalAutoencoder.split(stats.reshaped([images.batchSize, 2 * latent]), latent: latent).mean
        return Evaluation.logits(decoder, images: mean)
    }

    static func measure(encoder: Model, decoder: Model, images: Tensor, latent: Int) throws -> (mse: Double, bce: Double) {
        let r = try reconstruct(encoder: encoder, decoder: decoder, images: images, latent: latent)
        let x = images.reshaped(r.shape)
        var se = 0.0
        for i in 0..<r.count { let d = Double(r.scalars[i] - x.scalars[i]); se += d * d }
        let bce = try VariationalAutoencoder.reconstructionLoss(probabilities: r, targets: x).value
        return (se / Double(r.count), Double(bce))
    }
}
