import Foundation

/// Estimates vector–Jacobian products of a black-box classifier from its scores alone.
///
/// For a row `x`, a cotangent `v` and the output `f` (probabilities, or logits `log P` for a
/// black box), the target is the gradient of `φ(x) = ⟨v, f(x)⟩`. Two estimators:
///
/// - **NES** (natural evolution strategies, antithetic): with `u₁ … u_m ~ N(0, I)`,
///   `ĝ = (1 / (2σm)) Σᵢ [φ(x + σuᵢ) − φ(x − σuᵢ)] uᵢ`, an unbiased estimate of the gradient of
///   the Gaussian-smoothed `φ`; it costs `2m` queries per row.
/// - **Finite differences** (central, coordinate-wise): `ĝ_j = [φ(x + h e_j) − φ(x − h e_j)] / (2h)`,
///   exact to `O(h²)` for smooth `φ`; it costs `2D` queries per row (`D` input values).
///
/// Plus one query per row for `f(x)` itself. Directions come from a ``RandomGenerator`` seeded
/// by the configuration, so a seed reproduces every estimate; ``queryCount`` counts every row
/// the estimator evaluated. A run enables the estimator explicitly (`--gradient-estimator`);
/// it is never substituted silently for exact gradients.
public final class ZerothOrderGradientEstimator: DifferentiableClassifier {
    public enum Method: String, Sendable, CaseIterable {
        case nes
        case finiteDifferences = "finite-differences"
    }

    public struct Configuration: Sendable, Equatable {
        public var method: Method
        /// NES: the number `m` of antithetic direction pairs per row.
        public var samples: Int
        /// NES: the smoothing radius `σ`; finite differences: the step `h`.
        public var step: Float
        public var seed: UInt64
        /// Rows evaluated per classifier call.
        public var batchSize: Int
        public init(method: Method = .nes, samples: Int = 50, step: Float = 0.01, seed: UInt64 = 0, batchSize: Int = 512) {
            self.method = method
            self.samples = samples
            self.step = step
            self.seed = seed
            self.batchSize = batchSize
        }
    }

    public let base: any Classifier
    public let configuration: Configuration
    public private(set) var queryCount = 0
    private var random: RandomGenerator

    public init(_ base: any Classifier, configuration: Configuration) throws {
        guard configuration.samples > 0 else {
            throw BorderlineError(.invalidArgument, "zeroth-order gradient estimator: samples must be positive, got \(configuration.samples)")
        }
        guard configuration.step > 0, configuration.step.isFinite else {
            throw BorderlineError(.invalidArgument, "zeroth-order gradient estimator: step must be a positive number, got \(configuration.step)")
        }
        self.base = base
        self.configuration = configuration
        self.random = RandomGenerator(seed: configuration.seed)
    }

    public var inputShape: [Int] { base.inputShape }
    public var inputBox: InputBox { base.inputBox }
    public var classNames: [String] { base.classNames }
    public var gradientsAreEstimated: Bool { true }

    public func probabilities(_ x: Tensor) throws -> Tensor {
        queryCount += x.batchSize
        return try base.probabilities(x)
    }

    public func logits(_ x: Tensor) throws -> Tensor {
        queryCount += x.batchSize
        return try base.logits(x)
    }

    private func evaluate(_ x: Tensor, _ output: ClassifierOutput) throws -> Tensor {
        var parts: [Tensor] = []
        var start = 0
        while start < x.batchSize {
            let end = Swift.min(x.batchSize, start + Swift.max(1, configuration.batchSize))
            let chunk = x.slice(batch: start..<end)
            parts.append(output == .logits ? try logits(chunk) : try probabilities(chunk))
            start = end
        }
        return parts.count == 1 ? parts[0] : Tensor.concatenate(batches: parts)
    }

    public func vjp(_ x: Tensor, cotangent: Tensor, of output: ClassifierOutput) throws -> VectorJacobianProduct {
        try checkBatch(x)
        let n = x.batchSize, k = classCount, d = x.sampleCount
        guard cotangent.shape == [n, k] else {
            throw BorderlineError(.shapeMismatch, "cotangent has shape \(cotangent.shape); expected [\(n), \(k)]")
        }
        let f0 = try evaluate(x, output)
        var gradient = [Float](repeating: 0, count: n * d)
        let v = cotangent.scalars
        // φ for every row of a perturbed batch whose row r belongs to input row r % n.
        func phi(_ f: Tensor) -> [Float] {
            (0..<f.batchSize).map { r in
                let row = r % n
                var s: Float = 0
                for j in 0..<k { s += v[row * k + j] * f.scalars[r * k + j] }
                return s
            }
        }
        let h = configuration.step
        switch configuration.method {
        case .nes:
            for _ in 0..<configuration.samples {
                var u = [Float](repeating: 0, count: n * d)
                for i in 0..<u.count { u[i] = random.nextNormal() }
                var perturbed = [Float](repeating: 0, count: 2 * n * d)
                for i in 0..<(n * d) {
                    perturbed[i] = x.scalars[i] + h * u[i]
                    perturbed[n * d + i] = x.scalars[i] - h * u[i]
                }
                let values = phi(try evaluate(Tensor(shape: [2 * n] + inputShape, scalars: perturbed), output))
                for r in 0..<n {
                    let w = (values[r] - values[n + r]) / (2 * h * Float(configuration.samples))
                    for j in 0..<d { gradient[r * d + j] += w * u[r * d + j] }
                }
            }
        case .finiteDifferences:
            // Coordinates in blocks so that one classifier call evaluates several of them.
            let block = Swift.max(1, configuration.batchSize / Swift.max(1, 2 * n))
            var j0 = 0
            while j0 < d {
                let j1 = Swift.min(d, j0 + block)
                var perturbed: [Float] = []
                perturbed.reserveCapacity(2 * (j1 - j0) * n * d)
                for j in j0..<j1 {
                    for sign: Float in [1, -1] {
                        var copy = x.scalars
                        for r in 0..<n { copy[r * d + j] += sign * h }
                        perturbed += copy
                    }
                }
                let values = phi(try evaluate(Tensor(shape: [2 * (j1 - j0) * n] + inputShape, scalars: perturbed), output))
                for (b, j) in (j0..<j1).enumerated() {
                    for r in 0..<n {
                        gradient[r * d + j] = (values[(2 * b) * n + r] - values[(2 * b + 1) * n + r]) / (2 * h)
                    }
                }
                j0 = j1
            }
        }
        return VectorJacobianProduct(output: f0, inputGradient: Tensor(shape: x.shape, scalars: gradient))
    }
}
