import Foundation

/// What batch norm's backward pass needs besides the input: the per-channel statistics the
/// forward pass normalised with, and whether they were batch statistics.
public final class BatchNormSaved {
    /// `μ_c` used for normalisation.
    public let mean: [Float]
    /// `1 / √(σ²_c + ε)` used for normalisation.
    public let invStd: [Float]
    /// True in training mode (the statistics depend on the batch, which backward must account for).
    public let usedBatchStatistics: Bool
    init(mean: [Float], invStd: [Float], usedBatchStatistics: Bool) {
        self.mean = mean
        self.invStd = invStd
        self.usedBatchStatistics = usedBatchStatistics
    }
}

/// Batch normalisation over channel `c` (dimension 1 of the batch, e.g. `[N, C, H, W]` or `[N, F]`),
/// PyTorch's `BatchNorm1d`/`BatchNorm2d`:
/// `y = γ_c · x̂ + β_c`, `x̂ = (x − μ_c) / √(σ²_c + ε)`.
///
/// - Training: `μ_c`, `σ²_c` are the mean and the *biased* variance over the `M = N·H·W` values of
///   channel `c`; the running statistics are updated with PyTorch's momentum convention,
///   `running_mean ← (1 − m)·running_mean + m·μ_c` and `running_var ← (1 − m)·running_var + m·σ²_c·M/(M − 1)`
///   (the *unbiased* variance).
/// - Inference: `μ_c`, `σ²_c` are `running_mean`, `running_var`.
///
/// Backward, with `g = ∂L/∂y`: `∂L/∂γ += Σ g·x̂`, `∂L/∂β += Σ g`; the input gradient is
/// `γ/√(σ²+ε) · g` at inference, and in training (where `μ`, `σ²` depend on `x`)
/// `∂L/∂x = γ/√(σ²+ε) · (g − Σg/M − x̂ · Σ(g·x̂)/M)`.
public final class BatchNorm: ConfigurableLayer {
    public static let typeName = "BatchNorm"
    public static let configKeys: [String]? = ["num_features", "eps", "momentum"]
    public let numFeatures: Int
    /// Kept in Double so the configuration round-trips exactly (1e-5, not 9.99999974e-06).
    public let eps: Double
    public let momentum: Double
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Parameter
    public let runningVar: Parameter

    /// A batch norm with PyTorch's initial state: `γ = 1`, `β = 0`, running mean 0, running variance 1.
    public init(numFeatures: Int, eps: Double = 1e-5, momentum: Double = 0.1) {
        precondition(numFeatures > 0, "BatchNorm: num_features must be positive")
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        weight = Parameter("weight", Tensor(repeating: 1, shape: [numFeatures]))
        bias = Parameter("bias", Tensor(zeros: [numFeatures]))
        runningMean = Parameter("running_mean", Tensor(zeros: [numFeatures]), trainable: false)
        runningVar = Parameter("running_var", Tensor(repeating: 1, shape: [numFeatures]), trainable: false)
    }

    public convenience init(config: JSONValue) throws {
        let c = ConfigReader(config)
        let eps = try c.double("eps", default: 1e-5), momentum = try c.double("momentum", default: 0.1)
        guard eps > 0, (0...1).contains(momentum) else {
            throw BorderlineError(.invalidConfiguration, "eps must be positive and momentum in [0, 1], found \(eps), \(momentum)")
        }
        self.init(numFeatures: try c.positiveInt("num_features"), eps: eps, momentum: momentum)
    }

    public var config: JSONValue {
        ["num_features": .init(numFeatures), "eps": .init(eps), "momentum": .init(momentum)]
    }

    public var parameters: [Parameter] { [weight, bias, runningMean, runningVar] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.single(inputShapes, expecting: "[\(numFeatures)] or [\(numFeatures), H, W]")
        guard !s.isEmpty, s[0] == numFeatures else {
            throw BorderlineError(.shapeMismatch, "expects input [\(numFeatures)] or [\(numFeatures), H, W], got \(s)")
        }
        return s
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        HeapTuning.apply() // large activations: reuse heap memory instead of page-faulting (see HeapTuning)
        let x = inputs[0]
        precondition(x.rank >= 2 && x.shape[1] == numFeatures, "BatchNorm: input \(x.shape) has no \(numFeatures) channels in dimension 1")
        let n = x.batchSize, C = numFeatures, S = x.sampleCount / C, M = n * S
        var mean = [Float](repeating: 0, count: C), invStd = [Float](repeating: 0, count: C)
        let useBatch = context.training
        if useBatch {
            x.withUnsafeBufferPointer { xp in
                for c in 0..<C where M > 0 {
                    // Two passes in Double: exact enough that the result matches PyTorch's to float precision.
                    var sum = 0.0
                    for s in 0..<n {
                        let p = xp.baseAddress! + (s * C + c) * S
                        for k in 0..<S { sum += Double(p[k]) }
                    }
                    let mu = sum / Double(M)
                    var sq = 0.0
                    for s in 0..<n {
                        let p = xp.baseAddress! + (s * C + c) * S
                        for k in 0..<S { let d = Double(p[k]) - mu; sq += d * d }
                    }
                    let variance = sq / Double(M)
                    mean[c] = Float(mu)
                    invStd[c] = Float(1 / (variance + eps).squareRoot())
                    // Running variance is the unbiased estimate; with one value per channel it is
                    // undefined (PyTorch refuses such batches), so the biased one is used instead.
                    let unbiased = M > 1 ? sq / Double(M - 1) : variance
                    let m = momentum
                    runningMean.value.scalars[c] = Float((1 - m) * Double(runningMean.value.scalars[c]) + m * mu)
                    runningVar.value.scalars[c] = Float((1 - m) * Double(runningVar.value.scalars[c]) + m * unbiased)
                }
            }
        } else {
            for c in 0..<C {
                mean[c] = runningMean.value.scalars[c]
                invStd[c] = 1 / (runningVar.value.scalars[c] + Float(eps)).squareRoot()
            }
        }
        // y = x·a_c + b_c with a_c = γ_c/√(σ²+ε), b_c = β_c − μ_c·a_c.
        let gamma = weight.value.scalars, beta = bias.value.scalars
        let y = Tensor(shape: x.shape) { out in
            guard M > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                for c in 0..<C {
                    let a = gamma[c] * invStd[c], b = beta[c] - mean[c] * a
                    for s in 0..<n {
                        let src = xp.baseAddress! + (s * C + c) * S, dst = out.baseAddress! + (s * C + c) * S
                        for k in 0..<S { dst[k] = src[k] * a + b }
                    }
                }
            }
        }
        return (y, BatchNormSaved(mean: mean, invStd: invStd, usedBatchStatistics: useBatch))
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard let saved = record.saved as? BatchNormSaved else { preconditionFailure("BatchNorm: backward without forward statistics") }
        let x = record.inputs[0]
        let n = x.batchSize, C = numFeatures, S = x.sampleCount / C, M = n * S
        guard M > 0 else { return inputGradients ? [Tensor(zeros: x.shape)] : [] }
        // Per channel: Σ g and Σ g·x̂ (both needed by the parameter and the training-mode input gradients).
        var sumG = [Float](repeating: 0, count: C), sumGX = [Float](repeating: 0, count: C)
        x.withUnsafeBufferPointer { xp in
            gradOutput.withUnsafeBufferPointer { gp in
                for c in 0..<C {
                    let mu = saved.mean[c], inv = saved.invStd[c]
                    var sg = 0.0, sgx = 0.0
                    for s in 0..<n {
                        let xs = xp.baseAddress! + (s * C + c) * S, gs = gp.baseAddress! + (s * C + c) * S
                        var a: Float = 0, b: Float = 0
                        for k in 0..<S { a += gs[k]; b += gs[k] * (xs[k] - mu) }
                        sg += Double(a)
                        sgx += Double(b)
                    }
                    sumG[c] = Float(sg)
                    sumGX[c] = Float(sgx) * inv
                }
            }
        }
        if parameterGradients {
            for c in 0..<C {
                weight.gradient.scalars[c] += sumGX[c]
                bias.gradient.scalars[c] += sumG[c]
            }
        }
        guard inputGradients else { return [] }
        let gamma = weight.value.scalars
        let dx = Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                gradOutput.withUnsafeBufferPointer { gp in
                    for c in 0..<C {
                        let mu = saved.mean[c], inv = saved.invStd[c], scale = gamma[c] * inv
                        // Training: dx = scale·(g − Σg/M − x̂·Σ(g x̂)/M) with x̂ = (x − μ)·inv.
                        let meanG = saved.usedBatchStatistics ? sumG[c] / Float(M) : 0
                        let k2 = saved.usedBatchStatistics ? sumGX[c] / Float(M) * inv : 0
                        for s in 0..<n {
                            let off = (s * C + c) * S
                            let xs = xp.baseAddress! + off, gs = gp.baseAddress! + off, dst = out.baseAddress! + off
                            for k in 0..<S { dst[k] = scale * (gs[k] - meanG - (xs[k] - mu) * k2) }
                        }
                    }
                }
            }
        }
        return [dx]
    }
}
