/// `y = min(max(x, 0), 6)` (PyTorch's `ReLU6`, MobileNet's activation; NaN passes through).
/// Backward as PyTorch's `hardtanh`: `∂L/∂x = g` for `0 < x < 6`, else 0.
public final class ReLU6: ConfigurableLayer {
    public static let typeName = "ReLU6"
    public static let configKeys: [String]? = []
    public init() {}
    public init(config: JSONValue) throws {}
    public var config: JSONValue { [:] }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try sameShapeActivation(inputShapes) }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        (elementwise(inputs[0]) { x in x < 0 ? 0 : (x > 6 ? 6 : x) }, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        return [elementwise(gradOutput, record.inputs[0]) { g, x in x > 0 && x < 6 ? g : 0 }]
    }
}

/// `y = min(max(x, min), max)` (PyTorch's `torch.clamp`, ONNX `Clip`); either bound may be
/// absent (no limit on that side). NaN passes through. Backward as `torch.clamp`:
/// `∂L/∂x = g` for `min ≤ x ≤ max` (bounds included), else 0.
public final class Clip: ConfigurableLayer {
    public static let typeName = "Clip"
    public static let configKeys: [String]? = ["min", "max"]
    /// Kept in Double so the configuration round-trips exactly; nil means unbounded.
    public let minimum: Double?
    public let maximum: Double?

    public init(min: Double? = nil, max: Double? = nil) throws {
        if let lo = min, let hi = max, lo > hi {
            throw BorderlineError(.invalidConfiguration, "min (\(lo)) must not exceed max (\(hi))")
        }
        minimum = min
        maximum = max
    }

    public convenience init(config: JSONValue) throws {
        let c = ConfigReader(config)
        try self.init(min: try c.optionalDouble("min"), max: try c.optionalDouble("max"))
    }

    public var config: JSONValue {
        var o: [String: JSONValue] = [:]
        if let minimum { o["min"] = .init(minimum) }
        if let maximum { o["max"] = .init(maximum) }
        return .object(o)
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try sameShapeActivation(inputShapes) }

    private var bounds: (Float, Float) { (minimum.map(Float.init) ?? -.infinity, maximum.map(Float.init) ?? .infinity) }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let (lo, hi) = bounds
        return (elementwise(inputs[0]) { x in x < lo ? lo : (x > hi ? hi : x) }, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let (lo, hi) = bounds
        return [elementwise(gradOutput, record.inputs[0]) { g, x in x >= lo && x <= hi ? g : 0 }]
    }
}

/// The parametric ReLU (PyTorch's `PReLU`): `y = x` for `x > 0`, else `a_c · x`, with one learned
/// slope for all elements (`num_parameters = 1`) or one per channel (sample dimension 0, PyTorch's
/// dimension 1). Backward: `∂L/∂x = g` for `x > 0`, else `a_c g`; `∂L/∂a_c += Σ_{x ≤ 0} g · x`.
public final class PReLU: ConfigurableLayer {
    public static let typeName = "PReLU"
    public static let configKeys: [String]? = ["num_parameters"]
    public let numParameters: Int
    public let weight: Parameter

    /// PyTorch's initial slope is 0.25.
    public init(numParameters: Int = 1, initialSlope: Float = 0.25) {
        precondition(numParameters > 0, "PReLU: num_parameters must be positive")
        self.numParameters = numParameters
        weight = Parameter("weight", Tensor(repeating: initialSlope, shape: [numParameters]))
    }

    public convenience init(config: JSONValue) throws {
        self.init(numParameters: try ConfigReader(config).positiveInt("num_parameters", default: 1))
    }

    public var config: JSONValue { ["num_parameters": .init(numParameters)] }
    public var parameters: [Parameter] { [weight] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.single(inputShapes, expecting: "of any shape")
        guard numParameters == 1 || s.first == numParameters else {
            throw BorderlineError(.shapeMismatch, "has \(numParameters) slopes, one per channel, but the input is \(s)")
        }
        return s
    }

    /// Elements per channel block and number of channels of a batch.
    private func layout(_ x: Tensor) -> (channels: Int, plane: Int) {
        numParameters == 1 ? (1, x.sampleCount) : (numParameters, x.sampleCount / numParameters)
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        let (C, S) = layout(x), n = x.batchSize
        let slopes = weight.value.scalars
        let y = Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                for s in 0..<n {
                    for c in 0..<C {
                        let a = slopes[c], off = (s * C + c) * S
                        for k in 0..<S { let v = xp[off + k]; out[off + k] = v > 0 ? v : a * v }
                    }
                }
            }
        }
        return (y, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        let x = record.inputs[0]
        let (C, S) = layout(x), n = x.batchSize
        if parameterGradients {
            var sums = [Double](repeating: 0, count: C)
            x.withUnsafeBufferPointer { xp in
                gradOutput.withUnsafeBufferPointer { gp in
                    for s in 0..<n {
                        for c in 0..<C {
                            let off = (s * C + c) * S
                            var acc: Float = 0
                            for k in 0..<S where !(xp[off + k] > 0) { acc += gp[off + k] * xp[off + k] }
                            sums[c] += Double(acc)
                        }
                    }
                }
            }
            for c in 0..<C { weight.gradient.scalars[c] += Float(sums[c]) }
        }
        guard inputGradients else { return [] }
        let slopes = weight.value.scalars
        let dx = Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                gradOutput.withUnsafeBufferPointer { gp in
                    for s in 0..<n {
                        for c in 0..<C {
                            let a = slopes[c], off = (s * C + c) * S
                            for k in 0..<S { out[off + k] = xp[off + k] > 0 ? gp[off + k] : a * gp[off + k] }
                        }
                    }
                }
            }
        }
        return [dx]
    }
}
