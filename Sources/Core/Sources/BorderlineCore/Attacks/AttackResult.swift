import Foundation

/// The outcome of an attack on a batch: the adversarial inputs and, per row, whether it
/// succeeded, the class it is predicted as and its RMS distortion.
///
/// The RMS distortion of row `n` is `‖x′ₙ − xₙ‖₂ / √D` with `D` the number of input elements
/// (He, Li & Song's Table 1 measure). ``meanRMSDistortion`` averages it over the successful
/// rows only, as that table does.
public struct AttackResult: Sendable {
    /// Same shape as the inputs, inside the attack's domain. Rows where an attack found nothing
    /// (C&W, OPTMARGIN) are the unchanged inputs.
    public var adversarials: Tensor
    /// Per row: misclassified (untargeted) or classified as the target (targeted).
    public var succeeded: [Bool]
    /// The classifier's predicted class of each adversarial.
    public var predictions: [Int]
    /// `‖x′ − x‖₂ / √D` per row.
    public var rmsDistortion: [Float]
    /// Per row, the model evaluations the attack spent on it (forward passes and, for gradient
    /// attacks, vector–Jacobian products, one per row each), when the attack counts them
    /// (the score-based ``SquareAttack`` and ``DeepFool``); nil otherwise.
    public var queries: [Int]?

    public init(adversarials: Tensor, succeeded: [Bool], predictions: [Int], rmsDistortion: [Float], queries: [Int]? = nil) {
        self.adversarials = adversarials
        self.succeeded = succeeded
        self.predictions = predictions
        self.rmsDistortion = rmsDistortion
        self.queries = queries
    }

    /// Evaluates `adversarials` against `inputs`: predictions by `classifier`, success by `goal`.
    /// (A score-based attack passes its black-box view: only ``Classifier/predictions(_:)`` is used.)
    public init(classifier: any Classifier, inputs: Tensor, adversarials: Tensor, labels: [Int], goal: AttackGoal) throws {
        let predictions = try classifier.predictions(adversarials)
        self.init(adversarials: adversarials,
                  succeeded: predictions.indices.map { goal.isSuccess(prediction: predictions[$0], row: $0, labels: labels) },
                  predictions: predictions,
                  rmsDistortion: AttackResult.rmsDistances(inputs, adversarials))
    }

    /// Fraction of rows that succeeded (0 for an empty batch).
    public var successRate: Double {
        succeeded.isEmpty ? 0 : Double(succeeded.filter { $0 }.count) / Double(succeeded.count)
    }

    /// Mean RMS distortion over the successful rows (NaN when none succeeded).
    public var meanRMSDistortion: Double {
        let values = zip(succeeded, rmsDistortion).filter(\.0).map { Double($0.1) }
        return values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// `‖aₙ − bₙ‖₂ / √D` for every row of two batches of one shape.
    public static func rmsDistances(_ a: Tensor, _ b: Tensor) -> [Float] {
        precondition(a.shape == b.shape, "rmsDistances: shapes \(a.shape) and \(b.shape) differ")
        let n = a.batchSize, d = a.sampleCount
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                (0..<n).map { r in
                    var s: Float = 0
                    for i in r * d..<(r + 1) * d { let t = pb[i] - pa[i]; s += t * t }
                    return (s / Float(max(d, 1))).squareRoot()
                }
            }
        }
    }
}
