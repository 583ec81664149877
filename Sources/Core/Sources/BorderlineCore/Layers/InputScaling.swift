/// Per-channel constants of the input-scaling layers: one value for every element, or one per
/// channel (sample dimension 0, i.e. `C` of `[C, H, W]`, the features of `[F]`).
struct ChannelConstants: Equatable {
    /// Kept in Double so the configuration round-trips exactly.
    let values: [Double]

    /// Reads a number or a non-empty list of numbers.
    static func read(_ config: JSONValue, _ key: String, default d: Double? = nil) throws -> ChannelConstants {
        guard let v = config[key], v != .null else {
            if let d { return ChannelConstants(values: [d]) }
            throw BorderlineError(.invalidConfiguration, "config key '\(key)' is missing (a number or a list of numbers, one per channel)")
        }
        if let x = v.doubleValue { return ChannelConstants(values: [x]) }
        if let a = v.arrayValue, !a.isEmpty {
            let xs = a.compactMap(\.doubleValue)
            if xs.count == a.count { return ChannelConstants(values: xs) }
        }
        throw BorderlineError(.invalidConfiguration,
            "config key '\(key)' must be a number or a non-empty list of numbers (one per channel), found \(Architecture.brief(v))")
    }

    var json: JSONValue { values.count == 1 ? .init(values[0]) : .array(values.map { .init($0) }) }

    /// Throws unless the constants fit a sample of shape `s` (one value, or one per channel).
    func check(_ s: [Int], _ key: String) throws {
        guard values.count == 1 || s.first == values.count else {
            throw BorderlineError(.shapeMismatch, "'\(key)' has \(values.count) values, one per channel, but the input is \(s)")
        }
    }

    /// The value for each channel of a sample with `channels` channels, as Float.
    func perChannel(_ channels: Int) -> [Float] {
        values.count == 1 ? [Float](repeating: Float(values[0]), count: channels) : values.map(Float.init)
    }
}

/// `y[c, …] = f_c(x[c, …])` over a batch, channel `c` the first sample dimension; the loop shared
/// by the two input-scaling layers and their backward passes.
@inline(__always)
func perChannel(_ x: Tensor, channels C: Int, _ f: (Int, Float) -> Float) -> Tensor {
    let n = x.batchSize, S = C > 0 ? x.sampleCount / C : 0
    return Tensor(shape: x.shape) { out in
        x.withUnsafeBufferPointer { xp in
            for s in 0..<n {
                for c in 0..<C {
                    let off = (s * C + c) * S
                    for k in 0..<S { out[off + k] = f(c, xp[off + k]) }
                }
            }
        }
    }
}

/// The number of channels of a batch for constants with `count` values (1 means "all one channel").
@inline(__always)
private func channelCount(_ x: Tensor, _ count: Int) -> Int { count == 1 ? 1 : x.shape.count > 1 ? x.shape[1] : 1 }

/// `y = x · scale + offset` (Keras's `Rescaling`, e.g. `scale = 1/255` for byte images, or
/// `1/127.5` with `offset = −1`); `scale` and `offset` are numbers or per-channel lists.
/// Backward: `∂L/∂x = g · scale`.
public final class Rescaling: ConfigurableLayer {
    public static let typeName = "Rescaling"
    public static let configKeys: [String]? = ["scale", "offset"]
    let scale: ChannelConstants
    let offset: ChannelConstants

    public var scaleValues: [Double] { scale.values }
    public var offsetValues: [Double] { offset.values }

    public init(scale: [Double], offset: [Double] = [0]) throws {
        guard !scale.isEmpty, !offset.isEmpty else { throw BorderlineError(.invalidConfiguration, "scale and offset need at least one value") }
        guard scale.count == 1 || offset.count == 1 || scale.count == offset.count else {
            throw BorderlineError(.invalidConfiguration, "scale has \(scale.count) values but offset \(offset.count)")
        }
        self.scale = ChannelConstants(values: scale)
        self.offset = ChannelConstants(values: offset)
    }

    public convenience init(config: JSONValue) throws {
        try self.init(scale: try ChannelConstants.read(config, "scale").values,
                      offset: try ChannelConstants.read(config, "offset", default: 0).values)
    }

    public var config: JSONValue { ["scale": scale.json, "offset": offset.json] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.single(inputShapes, expecting: "of any shape")
        try scale.check(s, "scale")
        try offset.check(s, "offset")
        return s
    }

    private func channels(_ x: Tensor) -> Int { channelCount(x, max(scale.values.count, offset.values.count)) }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0], C = channels(x)
        let a = scale.perChannel(C), b = offset.perChannel(C)
        return (perChannel(x, channels: C) { c, v in v * a[c] + b[c] }, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let C = channels(record.inputs[0])
        let a = scale.perChannel(C)
        return [perChannel(gradOutput, channels: C) { c, g in g * a[c] }]
    }
}

/// Input normalisation as part of the model: `y = (x − mean_c) / d_c`, per channel (or one value
/// for all), with
/// - `std` given (torchvision's `Normalize(mean, std)`): `d = std`;
/// - `variance` given (Keras's `Normalization`, which stores the variance): `d = max(√variance, 10⁻⁷)`
///   (Keras's `backend.epsilon()`), computed in float32 as Keras does.
///
/// With it at the front of a model, gradients are taken with respect to the raw input.
/// Backward: `∂L/∂x = g / d`.
public final class Normalization: ConfigurableLayer {
    public static let typeName = "Normalization"
    public static let configKeys: [String]? = ["mean", "std", "variance"]
    let mean: ChannelConstants
    /// Exactly one of the two is set.
    let std: ChannelConstants?
    let variance: ChannelConstants?

    public var meanValues: [Double] { mean.values }
    /// The standard deviations, when given in torchvision's form.
    public var stdValues: [Double]? { std?.values }
    /// The variances, when given in Keras's form.
    public var varianceValues: [Double]? { variance?.values }
    /// The divisors `d_c` (see the type's documentation).
    public var divisors: [Float] {
        if let std { return std.values.map(Float.init) }
        return variance!.values.map { Swift.max(Float($0).squareRoot(), 1e-7) }
    }

    /// torchvision's form, `(x − mean) / std`.
    public convenience init(mean: [Double], std: [Double]) throws { try self.init(mean: mean, std: std, variance: nil) }
    /// Keras's form, `(x − mean) / max(√variance, 1e-7)`.
    public convenience init(mean: [Double], variance: [Double]) throws { try self.init(mean: mean, std: nil, variance: variance) }

    init(mean: [Double], std: [Double]?, variance: [Double]?) throws {
        guard (std == nil) != (variance == nil) else {
            throw BorderlineError(.invalidConfiguration, "give exactly one of 'std' and 'variance'")
        }
        let spread = std ?? variance!
        guard !mean.isEmpty, !spread.isEmpty, mean.count == 1 || spread.count == 1 || mean.count == spread.count else {
            throw BorderlineError(.invalidConfiguration, "mean has \(mean.count) values but \(std != nil ? "std" : "variance") \(spread.count)")
        }
        if let std, let bad = std.first(where: { !($0 > 0) }) {
            throw BorderlineError(.invalidConfiguration, "std must be positive, found \(bad)")
        }
        if let variance, let bad = variance.first(where: { !($0 >= 0) }) {
            throw BorderlineError(.invalidConfiguration, "variance must not be negative, found \(bad)")
        }
        self.mean = ChannelConstants(values: mean)
        self.std = std.map { ChannelConstants(values: $0) }
        self.variance = variance.map { ChannelConstants(values: $0) }
    }

    public convenience init(config: JSONValue) throws {
        let mean = try ChannelConstants.read(config, "mean").values
        let hasStd = config["std"] != nil && config["std"] != .null
        let hasVariance = config["variance"] != nil && config["variance"] != .null
        guard hasStd != hasVariance else {
            throw BorderlineError(.invalidConfiguration,
                "give exactly one of config keys 'std' (torchvision's Normalize) and 'variance' (Keras's Normalization)")
        }
        try self.init(mean: mean, std: hasStd ? try ChannelConstants.read(config, "std").values : nil,
                      variance: hasVariance ? try ChannelConstants.read(config, "variance").values : nil)
    }

    public var config: JSONValue {
        var o: [String: JSONValue] = ["mean": mean.json]
        if let std { o["std"] = std.json }
        if let variance { o["variance"] = variance.json }
        return .object(o)
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.single(inputShapes, expecting: "of any shape")
        try mean.check(s, "mean")
        try (std ?? variance!).check(s, std != nil ? "std" : "variance")
        return s
    }

    private func channels(_ x: Tensor) -> Int { channelCount(x, max(mean.values.count, (std ?? variance!).values.count)) }

    private func divisors(_ C: Int) -> [Float] {
        let d = divisors
        return d.count == 1 ? [Float](repeating: d[0], count: C) : d
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0], C = channels(x)
        let m = mean.perChannel(C), d = divisors(C)
        return (perChannel(x, channels: C) { c, v in (v - m[c]) / d[c] }, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let C = channels(record.inputs[0]), d = divisors(C)
        return [perChannel(gradOutput, channels: C) { c, g in g / d[c] }]
    }
}
