/// Flattens each sample to `[count]`.
///
/// - `channels_first` (PyTorch): the row-major order of the `[C, H, W]` sample, a pure reshape.
/// - `channels_last` (Keras): the order of the channels-last sample `[H, W, C]`,
///   `y[(h·W + w)·C + c] = x[c, h, w]`, so that a Dense layer imported from Keras sees its inputs in
///   the order it was trained on. (Generally: the first sample dimension moves last.)
///
/// Backward applies the inverse permutation to `∂L/∂y`.
public final class Flatten: ConfigurableLayer {
    public static let typeName = "Flatten"
    public static let configKeys: [String]? = ["order"]

    public enum Order: String, Sendable {
        case channelsFirst = "channels_first"
        case channelsLast = "channels_last"
    }

    public let order: Order

    public init(order: Order = .channelsFirst) { self.order = order }

    public convenience init(config: JSONValue) throws {
        let name = try ConfigReader(config).string("order", default: Order.channelsFirst.rawValue)
        guard let order = Order(rawValue: name) else {
            throw BorderlineError(.invalidConfiguration, "order must be \"channels_first\" or \"channels_last\", found \"\(name)\"")
        }
        self.init(order: order)
    }

    public var config: JSONValue { ["order": .string(order.rawValue)] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.single(inputShapes, expecting: "of any shape")
        return [Tensor.count(of: s)]
    }

    /// Moves a `[n, C, S]` block to `[n, S, C]` (or back, with `channels` and `plane` swapped).
    private static func transposePlanes(_ x: Tensor, channels C: Int, plane S: Int, shape: [Int]) -> Tensor {
        let n = x.batchSize
        return Tensor(shape: shape) { out in
            guard n > 0, C > 0, S > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                for s in 0..<n {
                    let src = xp.baseAddress! + s * C * S, dst = out.baseAddress! + s * C * S
                    for c in 0..<C {
                        let row = src + c * S
                        for p in 0..<S { dst[p * C + c] = row[p] }
                    }
                }
            }
        }
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        let n = x.batchSize, count = x.sampleCount
        guard order == .channelsLast, x.rank > 2 else { return (x.reshaped([n, count]), nil) }
        let C = x.shape[1]
        return (Flatten.transposePlanes(x, channels: C, plane: count / C, shape: [n, count]), nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let x = record.inputs[0]
        guard order == .channelsLast, x.rank > 2 else { return [gradOutput.reshaped(x.shape)] }
        let C = x.shape[1]
        // The inverse of "[C, S] → [S, C]" is the same transpose with the roles swapped.
        return [Flatten.transposePlanes(gradOutput, channels: x.sampleCount / C, plane: C, shape: x.shape)]
    }
}

/// Reinterprets each sample under a new shape with the same element count (row-major, like
/// `torch.reshape`). One dimension of the target may be `-1`, meaning "whatever is left".
/// Backward reshapes `∂L/∂y` back.
public final class Reshape: ConfigurableLayer {
    public static let typeName = "Reshape"
    public static let configKeys: [String]? = ["shape"]
    /// The per-sample target shape as configured (may contain one `-1`).
    public let shape: [Int]

    public init(shape: [Int]) throws {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 || $0 == -1 }), shape.filter({ $0 == -1 }).count <= 1 else {
            throw BorderlineError(.invalidConfiguration, "shape must be positive sizes with at most one -1, found \(shape)")
        }
        self.shape = shape
    }

    public convenience init(config: JSONValue) throws { try self.init(shape: try ConfigReader(config).intList("shape")) }

    public var config: JSONValue { ["shape": .init(shape)] }

    /// The target shape for samples of `count` elements, or nil if it cannot hold them.
    func resolved(count: Int) -> [Int]? {
        let known = shape.filter { $0 != -1 }.reduce(1, *)
        guard let hole = shape.firstIndex(of: -1) else { return known == count ? shape : nil }
        guard known > 0, count % known == 0 else { return nil }
        var s = shape
        s[hole] = count / known
        return s
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.single(inputShapes, expecting: "of any shape")
        guard let out = resolved(count: Tensor.count(of: s)) else {
            throw BorderlineError(.shapeMismatch, "cannot reshape input \(s) (\(Tensor.count(of: s)) elements) to \(shape)")
        }
        return out
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        guard let out = resolved(count: x.sampleCount) else { preconditionFailure("Reshape: cannot reshape \(x.shape) to \(shape)") }
        return (x.reshaped([x.batchSize] + out), nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        inputGradients ? [gradOutput.reshaped(record.inputs[0].shape)] : []
    }
}
