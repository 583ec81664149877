/// The box of valid inputs of a classifier, `lower_c ≤ x[c, …] ≤ upper_c`: one bound pair for
/// every element, or one per channel (sample dimension 0: `C` of `[C, H, W]`, the features of
/// `[F]`). Bounds are in the model's raw input space — before any `Normalization` layer the model
/// starts with — so attacks, samplers and probers that clip or sample inputs use this box.
///
/// The default is the unit box `[0, 1]` (images scaled to `[0, 1]`). A model file declares
/// another one in its architecture JSON (`"input_box": {"lower": 0, "upper": 255}`, or per-channel
/// lists; docs/model-format.md).
public struct InputBox: Equatable, Sendable, CustomStringConvertible {
    /// Kept in Double so the architecture JSON round-trips exactly; one value or one per channel.
    public let lowerBounds: [Double]
    public let upperBounds: [Double]

    /// `[0, 1]` for every element.
    public static let unit = InputBox(uncheckedLower: [0], upper: [1])

    private init(uncheckedLower lower: [Double], upper: [Double]) {
        lowerBounds = lower
        upperBounds = upper
    }

    /// One bound pair for every element.
    public init(lower: Double, upper: Double) throws { try self.init(lower: [lower], upper: [upper]) }

    /// Bounds with one value each, or one per channel (either list may have one value, which
    /// then holds for every channel).
    /// - Throws: `.invalidConfiguration` for empty or non-finite bounds, lists of different
    ///   lengths (other than 1), or a lower bound above its upper bound.
    public init(lower: [Double], upper: [Double]) throws {
        guard !lower.isEmpty, !upper.isEmpty else {
            throw BorderlineError(.invalidConfiguration, "input_box: 'lower' and 'upper' need at least one value")
        }
        guard lower.count == upper.count || lower.count == 1 || upper.count == 1 else {
            throw BorderlineError(.invalidConfiguration,
                "input_box: 'lower' has \(lower.count) values but 'upper' \(upper.count) (one value, or one per channel)")
        }
        guard (lower + upper).allSatisfy(\.isFinite) else {
            throw BorderlineError(.invalidConfiguration, "input_box: bounds must be finite numbers, found lower \(lower), upper \(upper)")
        }
        let n = max(lower.count, upper.count)
        for c in 0..<n where lower[lower.count == 1 ? 0 : c] > upper[upper.count == 1 ? 0 : c] {
            throw BorderlineError(.invalidConfiguration,
                "input_box: lower bound \(lower[lower.count == 1 ? 0 : c]) exceeds upper bound \(upper[upper.count == 1 ? 0 : c])" +
                (n > 1 ? " for channel \(c)" : ""))
        }
        lowerBounds = lower
        upperBounds = upper
    }

    /// Whether one bound pair holds for every element.
    public var isUniform: Bool { lowerBounds.count == 1 && upperBounds.count == 1 }

    /// The number of channels the bounds are given for (1 when uniform).
    public var channelCount: Int { max(lowerBounds.count, upperBounds.count) }

    /// The bounds of channel `c` (any `c` when uniform).
    public func bounds(channel c: Int) -> (lower: Float, upper: Float) {
        (Float(lowerBounds[lowerBounds.count == 1 ? 0 : c]), Float(upperBounds[upperBounds.count == 1 ? 0 : c]))
    }

    /// The smallest lower and the largest upper bound over all channels.
    public var hull: (lower: Float, upper: Float) {
        (Float(lowerBounds.min()!), Float(upperBounds.max()!))
    }

    /// Throws `.shapeMismatch` unless per-channel bounds fit samples of shape `inputShape`.
    public func check(inputShape: [Int]) throws {
        guard channelCount == 1 || inputShape.first == channelCount else {
            throw BorderlineError(.shapeMismatch,
                "input_box has \(channelCount) bounds, one per channel, but the input shape is \(inputShape)")
        }
    }

    /// Runs `body(channel, pointer, count)` over each channel block of a batch `[N] + sample`.
    private func forEachChannelBlock(_ x: inout Tensor, _ body: (Int, UnsafeMutablePointer<Float>, Int) -> Void) {
        let n = x.batchSize
        let C = isUniform ? 1 : channelCount
        precondition(isUniform || (x.rank >= 2 && x.shape[1] == C), "InputBox: batch \(x.shape) does not have \(C) channels")
        let S = x.sampleCount / max(C, 1)
        x.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            for s in 0..<n {
                for c in 0..<C { body(c, base + (s * C + c) * S, S) }
            }
        }
    }

    /// Clips every element of a batch into the box, in place (NaN stays NaN).
    public func clamp(_ x: inout Tensor) {
        forEachChannelBlock(&x) { c, p, count in
            let (lo, hi) = bounds(channel: c)
            for k in 0..<count { let v = p[k]; p[k] = v < lo ? lo : (v > hi ? hi : v) }
        }
    }

    /// The batch with every element clipped into the box.
    public func clamped(_ x: Tensor) -> Tensor {
        var y = x
        clamp(&y)
        return y
    }

    /// Whether every element of the batch lies in the box, allowing `tolerance` outside it.
    public func contains(_ x: Tensor, tolerance: Float = 0) -> Bool {
        var copy = x
        var inside = true
        forEachChannelBlock(&copy) { c, p, count in
            let (lo, hi) = bounds(channel: c)
            for k in 0..<count where !(p[k] >= lo - tolerance && p[k] <= hi + tolerance) { inside = false; return }
        }
        return inside
    }

    /// A batch of `[N] + inputShape` uniform samples from the box, seeded.
    public func uniformSamples(_ n: Int, inputShape: [Int], generator: inout RandomGenerator) -> Tensor {
        var x = generator.uniform(shape: [n] + inputShape, low: 0, high: 1)
        forEachChannelBlock(&x) { c, p, count in
            let (lo, hi) = bounds(channel: c)
            for k in 0..<count { p[k] = lo + (hi - lo) * p[k] }
        }
        return x
    }

    /// `{"lower": …, "upper": …}` with numbers or per-channel lists.
    public var json: JSONValue {
        func value(_ v: [Double]) -> JSONValue { v.count == 1 ? .init(v[0]) : .array(v.map { .init($0) }) }
        return ["lower": value(lowerBounds), "upper": value(upperBounds)]
    }

    /// Reads `{"lower": …, "upper": …}`; a missing bound defaults to the unit box's.
    public init(json: JSONValue) throws {
        guard let o = json.objectValue else {
            throw BorderlineError(.invalidConfiguration, "'input_box' must be an object {\"lower\": …, \"upper\": …}, found \(Architecture.brief(json))")
        }
        for key in o.keys.sorted() where key != "lower" && key != "upper" {
            throw BorderlineError(.invalidConfiguration,
                "'input_box' has unknown key '\(key)'\(Suggestion.didYouMean(key, among: ["lower", "upper"])); it reads 'lower', 'upper'")
        }
        func bounds(_ key: String, default d: Double) throws -> [Double] {
            guard let v = o[key], v != .null else { return [d] }
            if let x = v.doubleValue { return [x] }
            if let a = v.arrayValue, !a.isEmpty, a.allSatisfy({ $0.doubleValue != nil }) { return a.compactMap(\.doubleValue) }
            throw BorderlineError(.invalidConfiguration,
                "'input_box.\(key)' must be a number or a non-empty list of numbers (one per channel), found \(Architecture.brief(v))")
        }
        try self.init(lower: try bounds("lower", default: 0), upper: try bounds("upper", default: 1))
    }

    public var description: String {
        func show(_ v: [Double]) -> String {
            let s = v.map { $0 == $0.rounded() && abs($0) < 1e9 ? String(Int($0)) : String($0) }
            return s.count == 1 ? s[0] : "[" + s.joined(separator: ", ") + "]"
        }
        return "[\(show(lowerBounds)), \(show(upperBounds))]"
    }
}
