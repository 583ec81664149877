import ArgumentParser
import BorderlineCore
import BorderlineHost
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a classifier with softmax cross-entropy (defaults: the DeepDIG paper's recipe).",
        discussion: "--adversarial trains on adversarial examples of every batch (Madry et al.), --mixup on mixed batches (Zhang et al.). See Models/README.md.")

    @Option(help: "Architecture: cnn or fcn (the DeepDIG paper's Fashion-MNIST models, papers/000 Table 1), or an architecture JSON file (docs/model-format.md; PyTorch's default initialisation, seeded).")
    var architecture: String = "cnn"

    @Option(help: "Adversarial training: pgd-linf or fgsm (every batch is replaced by its adversarial examples).")
    var adversarial: String?
    @Option(help: "L∞ radius ε of --adversarial.") var epsilon: Float?
    @Option(help: "PGD steps of --adversarial pgd-linf.") var pgdSteps: Int = 7
    @Option(help: "PGD step size (default 2.5·ε / steps).") var pgdStepSize: Float?
    @Option(help: "Mixup: train on mixed batches with λ ~ Beta(ALPHA, ALPHA).") var mixup: Float?

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
    @Option(name: [.customShort("o"), .customLong("out"), .customLong("output")], help: "Where to write the trained model (native HDF5).") var output: String
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
        configuration.adversarial = try adversarialConfiguration()
        configuration.mixupAlpha = mixup
        try configuration.validate()
        var train = try DataSources.load(data, split: .train)
        if let limit {
            guard limit > 0 else { throw BorderlineError(.invalidArgument, "--limit must be positive, got \(limit)") }
            train = train.prefix(limit)
        }
        let testSet = try? DataSources.load(data, split: .test)
        let model = try ModelFactory.make(architecture, seed: seed, classNames: train.classNames)
        if train.imageShape != model.inputShape, let reshaped = try? train.reshaped(to: model.inputShape) { train = reshaped }
        let test = try testSet.map { try $0.imageShape == model.inputShape ? $0 : $0.reshaped(to: model.inputShape) }
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
        if case .object(var training) = model.metadata["training"] {
            if !["cnn", "fcn"].contains(architecture) { training["architecture_file"] = .string(architecture) }
            if let a = configuration.adversarial {
                var entry: [String: JSONValue] = ["method": .string(a.method.rawValue), "epsilon": .number(Double("\(a.epsilon)") ?? 0)]
                if a.method == .pgdLinf {
                    entry["steps"] = .init(a.steps)
                    entry["step_size"] = .number(Double("\(a.stepSize)") ?? 0)
                    entry["random_start"] = .bool(a.randomStart)
                }
                training["adversarial"] = .object(entry)
            }
            if let mixup { training["mixup_alpha"] = .number(Double("\(mixup)") ?? 0) }
            model.metadata["training"] = .object(training)
        }
        if let accuracy { model.metadata["test_accuracy"] = .number((Double(accuracy) * 1e4).rounded() / 1e4) }
        try model.save(to: output, format: .native)
        print("wrote \(output)" + (accuracy.map { String(format: " (test accuracy %.2f %%)", 100 * $0) } ?? ""))
    }

    /// `--adversarial`, `--epsilon` and the PGD options, checked together.
    private func adversarialConfiguration() throws -> AdversarialTrainingConfiguration? {
        guard let adversarial else {
            if epsilon != nil { throw BorderlineError(.invalidArgument, "--epsilon needs --adversarial pgd-linf or fgsm") }
            return nil
        }
        guard let method = AdversarialTrainingConfiguration.Method(rawValue: adversarial) else {
            throw BorderlineError(.invalidArgument, "--adversarial must be pgd-linf or fgsm, got '\(adversarial)'")
        }
        guard let epsilon else { throw BorderlineError(.invalidArgument, "--adversarial \(adversarial) needs --epsilon (the L∞ radius, e.g. 0.1)") }
        return AdversarialTrainingConfiguration(method: method, epsilon: epsilon, steps: pgdSteps, stepSize: pgdStepSize)
    }
}
