import Foundation

/// What layer and group normalisation keep for backward: per normalised block, its mean and
/// `1 / √(σ² + ε)`.
public final class BlockStatistics {
    public let mean: [Float]
    public let invStd: [Float]
    init(mean: [Float], invStd: [Float]) {
        self.mean = mean
        self.invStd = invStd
    }
}

/// Mean and `1/√(σ² + ε)` (biased variance, two passes in Double) of `count` floats.
@inline(__always)
func blockStatistics(_ p: UnsafePointer<Float>, count: Int, eps: Double) -> (mean: Float, invStd: Float) {
    var sum = 0.0
    for k in 0..<count { sum += Double(p[k]) }
    let mu = sum / Double(count)
    var sq = 0.0
    for k in 0..<count { let d = Double(p[k]) - mu; sq += d * d }
    return (Float(mu), Float(1 / (sq / Double(count) + eps).squareRoot()))
}

/// Layer normalisation over the last dimensions of each sample (PyTorch's `LayerNorm`): with
/// `D` the product of `normalized_shape`, each row of `D` trailing elements is normalised on its
/// own, `x̂ = (x − μ) / √(σ² + ε)` (μ, σ² the row's mean and biased variance), then
/// `y = γ ⊙ x̂ + β` with `γ, β` of shape `normalized_shape` (when `elementwise_affine`).
///
/// Backward, with `ĝ = γ ⊙ g` over one row: `∂L/∂x = (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)) / √(σ² + ε)`;
/// `∂L/∂γ += Σ_rows g ⊙ x̂`, `∂L/∂β += Σ_rows g`.
public final class LayerNorm: ConfigurableLayer {
    public static let typeName = "LayerNorm"
    public static let configKeys: [String]? = ["normalized_shape", "eps", "elementwise_affine", "bias"]
    public let normalizedShape: [Int]
    /// Kept in Double so the configuration round-trips exactly.
    public let eps: Double
    public let weight: Parameter?
    public let bias: Parameter?

    /// PyTorch's initial state: `γ = 1`, `β = 0`.
    public init(normalizedShape: [Int], eps: Double = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) throws {
        guard !normalizedShape.isEmpty, normalizedShape.allSatisfy({ $0 > 0 }) else {
            throw BorderlineError(.invalidConfiguration, "normalized_shape must be a non-empty list of positive integers, found \(normalizedShape)")
        }
        guard eps > 0 else { throw BorderlineError(.invalidConfiguration, "eps must be positive, found \(eps)") }
        self.normalizedShape = normalizedShape
        self.eps = eps
        weight = elementwiseAffine ? Parameter("weight", Tensor(repeating: 1, shape: normalizedShape)) : nil
        self.bias = elementwiseAffine && bias ? Parameter("bias", Tensor(zeros: normalizedShape)) : nil
    }

    public convenience init(config: JSONValue) throws {
        let c = ConfigReader(config)
        let shape: [Int]
        if let one = config["normalized_shape"]?.intValue { shape = [one] } else { shape = try c.intList("normalized_shape") }
        try self.init(normalizedShape: shape, eps: try c.double("eps", default: 1e-5),
                      elementwiseAffine: try c.bool("elementwise_affine", default: true), bias: try c.bool("bias", default: true))
    }

    public var config: JSONValue {
        ["normalized_shape": .init(normalizedShape), "eps": .init(eps), "elementwise_affine": .bool(weight != nil),
         "bias": .bool(bias != nil)]
    }

    public var parameters: [Parameter] { [weight, bias].compactMap { $0 } }

    private var rowLength: Int { Tensor.count(of: normalizedShape) }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.single(inputShapes, expecting: "ending in \(normalizedShape)")
        guard s.count >= normalizedShape.count, Array(s.suffix(normalizedShape.count)) == normalizedShape else {
            throw BorderlineError(.shapeMismatch, "normalises over the last dimensions \(normalizedShape), but the input is \(s)")
        }
        return s
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        let D = rowLength, rows = x.count / D
        var mean = [Float](repeating: 0, count: rows), invStd = [Float](repeating: 0, count: rows)
        let gamma = weight?.value.scalars, beta = bias?.value.scalars
        let y = Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                for r in 0..<rows {
                    let src = xp.baseAddress! + r * D, dst = out.baseAddress! + r * D
                    let (mu, inv) = blockStatistics(src, count: D, eps: eps)
                    mean[r] = mu
                    invStd[r] = inv
                    for k in 0..<D {
                        var v = (src[k] - mu) * inv
                        if let gamma { v *= gamma[k] }
                        if let beta { v += beta[k] }
                        dst[k] = v
                    }
                }
            }
        }
        return (y, BlockStatistics(mean: mean, invStd: invStd))
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard let saved = record.saved as? BlockStatistics else { preconditionFailure("LayerNorm: backward without forward statistics") }
        let x = record.inputs[0]
        let D = rowLength, rows = x.count / D
        if parameterGradients, weight != nil || bias != nil {
            var dGamma = [Double](repeating: 0, count: D), dBeta = [Double](repeating: 0, count: D)
            x.withUnsafeBufferPointer { xp in
                gradOutput.withUnsafeBufferPointer { gp in
                    for r in 0..<rows {
                        let mu = saved.mean[r], inv = saved.invStd[r]
                        for k in 0..<D {
                            let g = gp[r * D + k]
                            dGamma[k] += Double(g * (xp[r * D + k] - mu) * inv)
                            dBeta[k] += Double(g)
                        }
                    }
                }
            }
            if let weight { for k in 0..<D { weight.gradient.scalars[k] += Float(dGamma[k]) } }
            if let bias { for k in 0..<D { bias.gradient.scalars[k] += Float(dBeta[k]) } }
        }
        guard inputGradients else { return [] }
        let gamma = weight?.value.scalars
        let dx = Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                gradOutput.withUnsafeBufferPointer { gp in
                    for r in 0..<rows {
                        let xs = xp.baseAddress! + r * D, gs = gp.baseAddress! + r * D, dst = out.baseAddress! + r * D
                        let mu = saved.mean[r], inv = saved.invStd[r]
                        var sumG = 0.0, sumGX = 0.0
                        for k in 0..<D {
                            let gh = gamma.map { gs[k] * $0[k] } ?? gs[k]
                            sumG += Double(gh)
                            sumGX += Double(gh * (xs[k] - mu) * inv)
                        }
                        let meanG = Float(sumG / Double(D)), meanGX = Float(sumGX / Double(D))
                        for k in 0..<D {
                            let gh = gamma.map { gs[k] * $0[k] } ?? gs[k]
                            dst[k] = inv * (gh - meanG - (xs[k] - mu) * inv * meanGX)
                        }
                    }
                }
            }
        }
        return [dx]
    }
}

/// Group normalisation (PyTorch's `GroupNorm`): the `C` channels of each sample (dimension 0 of
/// `[C, …]`) are split into `num_groups` groups of `C / G` channels; each group's `C/G · S`
/// values (`S` elements per channel) are normalised with their own mean and biased variance,
/// `x̂ = (x − μ) / √(σ² + ε)`, then `y = γ_c x̂ + β_c` per channel (when `affine`).
///
/// Backward, with `ĝ = γ_c g` over one group: `∂L/∂x = (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)) / √(σ² + ε)`;
/// `∂L/∂γ_c += Σ g x̂`, `∂L/∂β_c += Σ g` over the channel's elements of all samples.
public final class GroupNorm: ConfigurableLayer {
    public static let typeName = "GroupNorm"
    public static let configKeys: [String]? = ["num_groups", "num_channels", "eps", "affine"]
    public let numGroups: Int
    public let numChannels: Int
    public let eps: Double
    public let weight: Parameter?
    public let bias: Parameter?

    public init(numGroups: Int, numChannels: Int, eps: Double = 1e-5, affine: Bool = true) throws {
        guard numGroups > 0, numChannels > 0, numChannels % numGroups == 0 else {
            throw BorderlineError(.invalidConfiguration,
                "num_groups (\(numGroups)) must be positive and divide num_channels (\(numChannels))")
        }
        guard eps > 0 else { throw BorderlineError(.invalidConfiguration, "eps must be positive, found \(eps)") }
        self.numGroups = numGroups
        self.numChannels = numChannels
        self.eps = eps
        weight = affine ? Parameter("weight", Tensor(repeating: 1, shape: [numChannels])) : nil
        bias = affine ? Parameter("bias", Tensor(zeros: [numChannels])) : nil
    }

    public convenience init(config: JSONValue) throws {
        let c = ConfigReader(config)
        try self.init(numGroups: try c.positiveInt("num_groups"), numChannels: try c.positiveInt("num_channels"),
                      eps: try c.double("eps", default: 1e-5), affine: try c.bool("affine", default: true))
    }

    public var config: JSONValue {
        ["num_groups": .init(numGroups), "num_channels": .init(numChannels), "eps": .init(eps), "affine": .bool(weight != nil)]
    }

    public var parameters: [Parameter] { [weight, bias].compactMap { $0 } }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.single(inputShapes, expecting: "[\(numChannels), …]")
        guard s.first == numChannels else {
            throw BorderlineError(.shapeMismatch, "expects input [\(numChannels), …] (channels first), got \(s)")
        }
        return s
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        let n = x.batchSize, C = numChannels, S = x.sampleCount / C, Cg = C / numGroups, D = Cg * S
        let blocks = n * numGroups
        var mean = [Float](repeating: 0, count: blocks), invStd = [Float](repeating: 0, count: blocks)
        let gamma = weight?.value.scalars, beta = bias?.value.scalars
        let y = Tensor(shape: x.shape) { out in
            guard D > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                for b in 0..<blocks {
                    // Group b of sample b / G: channels (b % G)·Cg ..< +Cg, contiguous in NCHW.
                    let src = xp.baseAddress! + b * D, dst = out.baseAddress! + b * D
                    let (mu, inv) = blockStatistics(src, count: D, eps: eps)
                    mean[b] = mu
                    invStd[b] = inv
                    for cc in 0..<Cg {
                        let c = (b % numGroups) * Cg + cc
                        let a = gamma?[c] ?? 1, shift = beta?[c] ?? 0
                        for k in (cc * S)..<((cc + 1) * S) { dst[k] = (src[k] - mu) * inv * a + shift }
                    }
                }
            }
        }
        return (y, BlockStatistics(mean: mean, invStd: invStd))
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard let saved = record.saved as? BlockStatistics else { preconditionFailure("GroupNorm: backward without forward statistics") }
        let x = record.inputs[0]
        let n = x.batchSize, C = numChannels, S = x.sampleCount / C, Cg = C / numGroups, D = Cg * S
        let blocks = n * numGroups
        if parameterGradients, weight != nil || bias != nil {
            var dGamma = [Double](repeating: 0, count: C), dBeta = [Double](repeating: 0, count: C)
            x.withUnsafeBufferPointer { xp in
                gradOutput.withUnsafeBufferPointer { gp in
                    for b in 0..<blocks {
                        let mu = saved.mean[b], inv = saved.invStd[b]
                        for cc in 0..<Cg {
                            let c = (b % numGroups) * Cg + cc
                            var sg: Float = 0, sgx: Float = 0
                            for k in (b * D + cc * S)..<(b * D + (cc + 1) * S) {
                                sg += gp[k]
                                sgx += gp[k] * (xp[k] - mu) * inv
                            }
                            dGamma[c] += Double(sgx)
                            dBeta[c] += Double(sg)
                        }
                    }
                }
            }
            if let weight { for c in 0..<C { weight.gradient.scalars[c] += Float(dGamma[c]) } }
            if let bias { for c in 0..<C { bias.gradient.scalars[c] += Float(dBeta[c]) } }
        }
        guard inputGradients else { return [] }
        let gamma = weight?.value.scalars
        let dx = Tensor(shape: x.shape) { out in
            guard D > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                gradOutput.withUnsafeBufferPointer { gp in
                    for b in 0..<blocks {
                        let xs = xp.baseAddress! + b * D, gs = gp.baseAddress! + b * D, dst = out.baseAddress! + b * D
                        let mu = saved.mean[b], inv = saved.invStd[b]
                        var sumG = 0.0, sumGX = 0.0
                        for cc in 0..<Cg {
                            let a = gamma?[(b % numGroups) * Cg + cc] ?? 1
                            for k in (cc * S)..<((cc + 1) * S) {
                                let gh = gs[k] * a
                                sumG += Double(gh)
                                sumGX += Double(gh * (xs[k] - mu) * inv)
                            }
                        }
                        let meanG = Float(sumG / Double(D)), meanGX = Float(sumGX / Double(D))
                        for cc in 0..<Cg {
                            let a = gamma?[(b % numGroups) * Cg + cc] ?? 1
                            for k in (cc * S)..<((cc + 1) * S) {
                                dst[k] = inv * (gs[k] * a - meanG - (xs[k] - mu) * inv * meanGX)
                            }
                        }
                    }
                }
            }
        }
        return [dx]
    }
}
