import Foundation

/// Shape rule of the element-wise activations: one input of any shape, output of the same shape.
private func sameShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try ShapeCheck.single(inputShapes, expecting: "of any shape")
}

/// `y = max(x, 0)` (NaN passes through). Backward: `∂L/∂x = g · [x > 0]`, the subgradient 0 at
/// `x = 0` as in PyTorch.
public final class ReLU: ConfigurableLayer {
    public static let typeName = "ReLU"
    public static let configKeys: [String]? = []
    public init() {}
    public init(config: JSONValue) throws {}
    public var config: JSONValue { [:] }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try sameShape(inputShapes) }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        (elementwise(inputs[0]) { $0 < 0 ? 0 : $0 }, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        return [elementwise(gradOutput, record.inputs[0]) { g, x in x > 0 ? g : 0 }]
    }
}

/// `y = x` for `x > 0`, else `slope · x` (PyTorch's `LeakyReLU`, default slope 0.01).
/// Backward: `∂L/∂x = g` for `x > 0`, else `slope · g`.
public final class LeakyReLU: ConfigurableLayer {
    public static let typeName = "LeakyReLU"
    public static let configKeys: [String]? = ["negative_slope"]
    /// Kept in Double so the configuration round-trips exactly; the kernels use it as Float.
    public let negativeSlope: Double
    public init(negativeSlope: Double = 0.01) { self.negativeSlope = negativeSlope }
    public convenience init(config: JSONValue) throws {
        self.init(negativeSlope: try ConfigReader(config).double("negative_slope", default: 0.01))
    }
    public var config: JSONValue { ["negative_slope": .init(negativeSlope)] }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try sameShape(inputShapes) }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let slope = Float(negativeSlope)
        return (elementwise(inputs[0]) { $0 > 0 ? $0 : $0 * slope }, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let slope = Float(negativeSlope)
        return [elementwise(gradOutput, record.inputs[0]) { g, x in x > 0 ? g : g * slope }]
    }
}

/// `y = 1 / (1 + e^{−x})`, evaluated without overflow for either sign of `x`.
/// Backward: `∂L/∂x = g · y · (1 − y)`.
public final class Sigmoid: ConfigurableLayer {
    public static let typeName = "Sigmoid"
    public static let configKeys: [String]? = []
    public init() {}
    public init(config: JSONValue) throws {}
    public var config: JSONValue { [:] }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try sameShape(inputShapes) }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        // 1 / (1 + e^−x) for x ≥ 0, e^x / (1 + e^x) below (no overflow), in the C kernel's tight loop.
        let x = inputs[0]
        return (Tensor(shape: x.shape) { out in
            x.withUnsafeBufferPointer { xp in
                guard let src = xp.baseAddress, let dst = out.baseAddress else { return }
                dst.update(from: src, count: xp.count)
                LaneKernels.applySigmoid(dst, count: xp.count)
            }
        }, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        return [elementwise(gradOutput, record.output) { g, y in g * y * (1 - y) }]
    }
}

/// `y = tanh(x)`. Backward: `∂L/∂x = g · (1 − y²)`.
public final class Tanh: ConfigurableLayer {
    public static let typeName = "Tanh"
    public static let configKeys: [String]? = []
    public init() {}
    public init(config: JSONValue) throws {}
    public var config: JSONValue { [:] }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try sameShape(inputShapes) }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        (elementwise(inputs[0]) { Foundation.tanh($0) }, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        return [elementwise(gradOutput, record.output) { g, y in g * (1 - y * y) }]
    }
}

/// Softmax over the features of a `[F]` sample: `y_i = e^{x_i − max x} / Σ_j e^{x_j − max x}`.
/// Backward: `∂L/∂x = y ⊙ (g − ⟨g, y⟩)`.
public final class Softmax: ConfigurableLayer {
    public static let typeName = "Softmax"
    public static let configKeys: [String]? = []
    public init() {}
    public init(config: JSONValue) throws {}
    public var config: JSONValue { [:] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.single(inputShapes, expecting: "[F]")
        guard s.count == 1 else { throw BorderlineError(.shapeMismatch, "expects a flat input [F], got \(s)") }
        return s
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        let rows = x.batchSize, F = x.sampleCount
        let y = Tensor(shape: x.shape) { out in
            guard rows > 0, F > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                for r in 0..<rows {
                    VectorKernels.softmax(xp.baseAddress! + r * F, into: out.baseAddress! + r * F, count: F)
                }
            }
        }
        return (y, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let y = record.output
        let rows = y.batchSize, F = y.sampleCount
        let dx = Tensor(shape: y.shape) { out in
            guard rows > 0, F > 0 else { return }
            y.withUnsafeBufferPointer { yp in
                gradOutput.withUnsafeBufferPointer { gp in
                    for r in 0..<rows {
                        let ys = yp.baseAddress! + r * F, gs = gp.baseAddress! + r * F, dst = out.baseAddress! + r * F
                        var dot: Float = 0
                        for i in 0..<F { dot += ys[i] * gs[i] }
                        for i in 0..<F { dst[i] = ys[i] * (gs[i] - dot) }
                    }
                }
            }
        }
        return [dx]
    }
}
