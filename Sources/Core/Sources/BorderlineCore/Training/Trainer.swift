import Foundation

/// Hyper-parameters of supervised classifier training (the paper's recipe by default:
/// Adam, lr 0.01 decayed ×0.99 every 100 steps, batch 64), optionally adversarial
/// (``AdversarialTrainingConfiguration``) or with Mixup (``Mixup``).
public struct TrainingConfiguration: Sendable, Codable, Equatable {
    public var epochs: Int = 40
    public var batchSize: Int = 64
    public var learningRate: Float = 0.01
    /// Multiply the learning rate by `decayRate` every `decaySteps` optimiser steps.
    public var decayRate: Float = 0.99
    public var decaySteps: Int = 100
    public var optimizer: String = "adam"
    /// Momentum for `sgd`.
    public var momentum: Float = 0.9
    public var seed: UInt64 = 0
    /// Train on adversarial examples of every batch instead of the batch (nil: normal training).
    public var adversarial: AdversarialTrainingConfiguration?
    /// Mixup's α: train on mixed batches with `λ ~ Beta(α, α)` (nil: no Mixup).
    public var mixupAlpha: Float?
    public init() {}

    /// Checks the values a person can get wrong.
    public func validate() throws {
        guard epochs > 0 else { throw BorderlineError(.invalidArgument, "epochs must be positive, got \(epochs)") }
        guard batchSize > 0 else { throw BorderlineError(.invalidArgument, "batch size must be positive, got \(batchSize)") }
        guard learningRate > 0, learningRate.isFinite else { throw BorderlineError(.invalidArgument, "learning rate must be a positive number, got \(learningRate)") }
        guard decayRate > 0, decayRate <= 1 else { throw BorderlineError(.invalidArgument, "decay rate must be in (0, 1], got \(decayRate)") }
        guard decaySteps > 0 else { throw BorderlineError(.invalidArgument, "decay steps must be positive, got \(decaySteps)") }
        guard ["adam", "sgd"].contains(optimizer) else { throw BorderlineError(.invalidArgument, "optimizer must be adam or sgd, got '\(optimizer)'") }
        try adversarial?.validate()
        if let alpha = mixupAlpha {
            guard alpha.isFinite, alpha > 0 else { throw BorderlineError(.invalidArgument, "mixup α must be a positive number, got \(alpha)") }
            guard adversarial == nil else {
                throw BorderlineError(.invalidArgument, "choose adversarial training or mixup, not both (the adversarial examples need one label per row)")
            }
        }
    }

    /// The optimiser with its step-decay schedule (stepped once per optimiser step).
    func makeOptimizer() -> (any Optimizer, StepLR) {
        let o: any Optimizer = optimizer == "sgd" ? SGD(learningRate: learningRate, momentum: momentum)
                                                  : Adam(learningRate: learningRate)
        return (o, StepLR(optimizer: o, stepSize: decaySteps, gamma: decayRate))
    }
}

/// One epoch's outcome.
public struct EpochRecord: Sendable, Codable, Equatable {
    public var epoch: Int
    public var trainLoss: Float
    public var trainAccuracy: Float
    /// Accuracy on the evaluation set, when one was given.
    public var evaluationAccuracy: Float?
    public var seconds: Double
}

/// Trains a classifier with softmax cross-entropy, reproducibly from `configuration.seed`.
/// With `adversarial`, each batch is replaced by its adversarial examples before the step
/// (Madry et al.); with `mixupAlpha`, by its Mixup (Zhang et al.). Either way the reported
/// training accuracy is the one on the batches actually trained on.
public enum ClassifierTraining {
    /// Runs `configuration.epochs` epochs of mini-batch training on shuffled `data`.
    /// - Parameter evaluation: a held-out set scored after every epoch (not used for training).
    @discardableResult
    public static func train(_ model: Model, on data: Dataset, evaluation: Dataset? = nil,
                             configuration: TrainingConfiguration,
                             progress: ProgressReporter = SilentProgress(),
                             epochFinished: (EpochRecord) -> Void = { _ in }) throws -> [EpochRecord] {
        try configuration.validate()
        try data.validate(for: model)
        if let evaluation { try evaluation.validate(for: model) }
        var generator = RandomGenerator(seed: configuration.seed)
        let (optimizer, schedule) = configuration.makeOptimizer()
        let parameters = model.trainableParameters
        ComputePolicy.prepareBLAS(for: model, gradient: true)    // one pass per training batch
        let n = data.count
        let batches = (n + configuration.batchSize - 1) / configuration.batchSize
        // Separate streams, so normal training draws exactly what it always did.
        var mixupGenerator = generator.derived(0x6D69_7875_70)
        let attackSeeds = generator.derived(0x6164_7665_7273)
        let attacked = configuration.adversarial.map { _ in ModelClassifier(model) }
        var step = 0
        var history: [EpochRecord] = []
        for epoch in 1...configuration.epochs {
            let start = Date()
            let order = generator.permutation(n)
            progress.begin("epoch \(epoch)/\(configuration.epochs)", total: batches)
            var lossSum = 0.0, correct = 0
            for b in 0..<batches {
                let indices = Array(order[(b * configuration.batchSize)..<min(n, (b + 1) * configuration.batchSize)])
                var x = data.images.gather(batch: indices)
                let y = indices.map { data.labels[$0] }
                var partnerLabels = y, lambda: Float = 1
                if let adversarial = configuration.adversarial, let attacked {
                    var seeds = attackSeeds.derived(UInt64(step))
                    x = try adversarial.adversarialBatch(attacked, x, labels: y, seed: seeds.next())
                } else if let alpha = configuration.mixupAlpha {
                    lambda = Mixup.sampleLambda(alpha: alpha, generator: &mixupGenerator)
                    let partners = mixupGenerator.permutation(indices.count)
                    partnerLabels = partners.map { y[$0] }
                    x = Mixup.mix(x, partners: partners, lambda: lambda)
                }
                let context = ForwardContext(training: true, generator: generator.derived(UInt64(step)))
                for p in parameters { p.zeroGradient() }
                var lossValue: Float = 0
                let (output, _) = try model.backpropagate(x, context: context, parameterGradients: true, inputGradient: false) { logits in
                    let loss = configuration.mixupAlpha == nil ? try Loss.softmaxCrossEntropy(logits: logits, labels: y)
                        : try Loss.mixupCrossEntropy(logits: logits, labels: y, partnerLabels: partnerLabels, lambda: lambda)
                    lossValue = loss.value
                    return loss.gradient
                }
                optimizer.step(parameters)
                schedule.step()
                step += 1
                lossSum += Double(lossValue) * Double(indices.count)
                correct += zip(output.argmaxRows(), y).filter { $0 == $1 }.count
                if b % 20 == 0 || b == batches - 1 {
                    progress.update(completed: b + 1, detail: String(format: "loss %.4f", lossSum / Double(min(n, (b + 1) * configuration.batchSize))))
                }
            }
            guard lossSum.isFinite else {
                throw BorderlineError(.invalidArgument, "training diverged in epoch \(epoch) (loss is not finite); try a smaller learning rate")
            }
            let evalAccuracy = evaluation.map { Evaluation.accuracy(model, on: $0) }
            let record = EpochRecord(epoch: epoch, trainLoss: Float(lossSum / Double(n)), trainAccuracy: Float(correct) / Float(n),
                                     evaluationAccuracy: evalAccuracy, seconds: Date().timeIntervalSince(start))
            progress.end(summary: String(format: "epoch %d: loss %.4f, train acc %.2f%%", epoch, record.trainLoss, 100 * record.trainAccuracy)
                         + (evalAccuracy.map { String(format: ", test acc %.2f%%", 100 * $0) } ?? ""))
            history.append(record)
            epochFinished(record)
        }
        return history
    }
}

/// Batched inference over whole data sets.
public enum Evaluation {
    /// Logits for every image, computed in batches.
    public static func logits(_ model: Model, images: Tensor, batchSize: Int = 512) -> Tensor {
        let n = images.batchSize
        guard n > 0 else { return Tensor(zeros: [0] + model.outputShape) }
        var parts: [Tensor] = []
        var start = 0
        while start < n {
            let end = min(n, start + batchSize)
            parts.append(model.forward(images.slice(batch: start..<end)))
            start = end
        }
        return parts.count == 1 ? parts[0] : Tensor.concatenate(batches: parts)
    }

    /// Predicted class per image.
    public static func predictions(_ model: Model, images: Tensor, batchSize: Int = 512) -> [Int] {
        logits(model, images: images, batchSize: batchSize).argmaxRows()
    }

    /// Share of images whose prediction equals the label.
    public static func accuracy(_ model: Model, on data: Dataset, batchSize: Int = 512) -> Float {
        let p = predictions(model, images: data.images, batchSize: batchSize)
        guard !p.isEmpty else { return 0 }
        return Float(zip(p, data.labels).filter { $0 == $1 }.count) / Float(p.count)
    }

    /// `confusion[true][predicted]` counts.
    public static func confusionMatrix(_ model: Model, on data: Dataset, batchSize: Int = 512) -> [[Int]] {
        let k = model.classCount
        var m = Array(repeating: Array(repeating: 0, count: k), count: k)
        for (p, y) in zip(predictions(model, images: data.images, batchSize: batchSize), data.labels) where y < k { m[y][p] += 1 }
        return m
    }
}
