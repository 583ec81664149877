import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a classifier with softmax cross-entropy (defaults: the DeepDIG paper's recipe).")

    @Option(help: "Architecture: cnn or fcn (the DeepDIG paper's Fashion-MNIST models, papers/000 Table 1).")
    var architecture: String = "cnn"

    @Option(help: "Training data set (its train split is used; the test split is scored after each epoch).")
    var data: String = "fashion-mnist"

    @Option(help: "Epochs.") var epochs: Int = 40
    @Option(help: "Mini-batch size.") var batchSize: Int = 64
    @Option(help: "Initial learning rate.") var learningRate: Float = 0.01
    @Option(help: "Multiply the learning rate by this every --decay-steps steps.") var decayRate: Float = 0.99
    @Option(help: "Steps between learning-rate decays.") var decaySteps: Int = 100
    @Option(help: "Optimizer: adam or sgd.") var optimizer: String = "adam"
    @Option(help: "Seed for initialisation, shuffling and dropout.") var seed: UInt64 = 0
    @Option(help: "Train on only the first N training images (quick experiments).") var limit: Int?
    @Option(name: [.short, .long], help: "Where to write the trained model (native HDF5).") var output: String
    @Flag(help: "No progress output.") var quiet = false

    func run() throws {
        var configuration = TrainingConfiguration()
        configuration.epochs = epochs
        configuration.batchSize = batchSize
        configuration.learningRate = learningRate
        configuration.decayRate = decayRate
        configuration.decaySteps = decaySteps
        configuration.optimizer = optimizer
        configuration.seed = seed
        try configuration.validate()
        var train = try DataSources.load(data, split: .train)
        if let limit {
            guard limit > 0 else { throw BorderlineError(.invalidArgument, "--limit must be positive, got \(limit)") }
            train = train.prefix(limit)
        }
        let test = try? DataSources.load(data, split: .test)
        let model = try ModelFactory.make(architecture, seed: seed, classNames: train.classNames)
        let progress = TerminalProgress(quiet: quiet)
        let start = Date()
        let history = try ClassifierTraining.train(model, on: train, evaluation: test, configuration: configuration, progress: progress)
        let accuracy = test.map { Evaluation.accuracy(model, on: $0) }
        model.metadata["trained_by"] = .string("borderline train " + CommandLine.arguments.dropFirst(2).joined(separator: " "))
        model.metadata["training"] = .object([
            "data": .string(train.name), "seed": .number(Double(seed)), "epochs": .init(epochs),
            "batch_size": .init(batchSize), "learning_rate": .number(Double("\(learningRate)") ?? 0),
            "decay_rate": .number(Double("\(decayRate)") ?? 0), "decay_steps": .init(decaySteps), "optimizer": .string(optimizer),
            "seconds": .number((Date().timeIntervalSince(start) * 10).rounded() / 10),
            "final_train_loss": .number(((Double(history.last?.trainLoss ?? 0)) * 1e4).rounded() / 1e4),
            "blas": .string("OpenBLAS \(BLAS.coreName), \(BLAS.threadCount) thread(s)"),
        ])
        if let accuracy { model.metadata["test_accuracy"] = .number((Double(accuracy) * 1e4).rounded() / 1e4) }
        try model.save(to: output, format: .native)
        print("wrote \(output)" + (accuracy.map { String(format: " (test accuracy %.2f %%)", 100 * $0) } ?? ""))
    }
}
