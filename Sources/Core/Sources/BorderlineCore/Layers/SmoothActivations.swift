import Foundation

/// Shape rule of the element-wise activations: one input of any shape, output of the same shape.
func sameShapeActivation(_ inputShapes: [[Int]]) throws -> [Int] {
    try ShapeCheck.single(inputShapes, expecting: "of any shape")
}

/// The Gaussian error linear unit (PyTorch's `GELU`):
/// - `approximate = "none"`: `y = x · Φ(x) = ½ x (1 + erf(x / √2))`, with
///   `∂y/∂x = Φ(x) + x φ(x)`, `φ(x) = e^{−x²/2} / √(2π)`;
/// - `approximate = "tanh"`: `y = ½ x (1 + tanh u)`, `u = √(2/π) (x + 0.044715 x³)`, with
///   `∂y/∂x = ½ (1 + tanh u) + ½ x (1 − tanh² u) √(2/π) (1 + 3·0.044715 x²)`.
public final class GELU: ConfigurableLayer {
    public static let typeName = "GELU"
    public static let configKeys: [String]? = ["approximate"]

    public enum Approximation: String, Sendable {
        /// The exact erf form.
        case none
        /// The tanh approximation (Keras `approximate=True`, ONNX `Gelu(approximate="tanh")`).
        case tanh
    }

    public let approximate: Approximation

    public init(approximate: Approximation = .none) { self.approximate = approximate }

    public convenience init(config: JSONValue) throws {
        let name = try ConfigReader(config).string("approximate", default: Approximation.none.rawValue)
        guard let a = Approximation(rawValue: name) else {
            throw BorderlineError(.invalidConfiguration, "config key 'approximate' must be \"none\" or \"tanh\", found \"\(name)\"")
        }
        self.init(approximate: a)
    }

    public var config: JSONValue { ["approximate": .string(approximate.rawValue)] }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try sameShapeActivation(inputShapes) }

    static let sqrtHalf = Float(0.5.squareRoot())
    static let invSqrt2Pi = Float(1 / (2 * Double.pi).squareRoot())
    static let sqrt2OverPi = Float((2 / Double.pi).squareRoot())
    static let cubic: Float = 0.044715

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        switch approximate {
        case .none:
            return (elementwise(inputs[0]) { x in x * 0.5 * (1 + Foundation.erf(x * GELU.sqrtHalf)) }, nil)
        case .tanh:
            return (elementwise(inputs[0]) { x in
                0.5 * x * (1 + Foundation.tanh(GELU.sqrt2OverPi * (x + GELU.cubic * x * x * x)))
            }, nil)
        }
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        switch approximate {
        case .none:
            return [elementwise(gradOutput, record.inputs[0]) { g, x in
                let cdf = 0.5 * (1 + Foundation.erf(x * GELU.sqrtHalf))
                let pdf = Foundation.exp(-0.5 * x * x) * GELU.invSqrt2Pi
                return g * (cdf + x * pdf)
            }]
        case .tanh:
            return [elementwise(gradOutput, record.inputs[0]) { g, x in
                let x2 = x * x
                let t = Foundation.tanh(GELU.sqrt2OverPi * (x + GELU.cubic * x2 * x))
                let du = GELU.sqrt2OverPi * (1 + 3 * GELU.cubic * x2)
                return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
            }]
        }
    }
}

/// The sigmoid-weighted linear unit (PyTorch's `SiLU`, Keras's `swish`): `y = x · σ(x)`.
/// Backward: `∂L/∂x = g · σ(x) (1 + x (1 − σ(x)))`.
public final class SiLU: ConfigurableLayer {
    public static let typeName = "SiLU"
    public static let configKeys: [String]? = []
    public init() {}
    public init(config: JSONValue) throws {}
    public var config: JSONValue { [:] }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try sameShapeActivation(inputShapes) }

    @inline(__always) static func sigmoid(_ x: Float) -> Float {
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        (elementwise(inputs[0]) { x in x * SiLU.sigmoid(x) }, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        return [elementwise(gradOutput, record.inputs[0]) { g, x in
            let s = SiLU.sigmoid(x)
            return g * s * (1 + x * (1 - s))
        }]
    }
}

/// The exponential linear unit (PyTorch's `ELU`, default `alpha = 1`):
/// `y = x` for `x > 0`, else `α (eˣ − 1)`. Backward: `∂L/∂x = g` for `x > 0`, else `g · α eˣ`.
public final class ELU: ConfigurableLayer {
    public static let typeName = "ELU"
    public static let configKeys: [String]? = ["alpha"]
    /// Kept in Double so the configuration round-trips exactly.
    public let alpha: Double
    public init(alpha: Double = 1) { self.alpha = alpha }
    public convenience init(config: JSONValue) throws {
        self.init(alpha: try ConfigReader(config).double("alpha", default: 1))
    }
    public var config: JSONValue { ["alpha": .init(alpha)] }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try sameShapeActivation(inputShapes) }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let a = Float(alpha)
        return (elementwise(inputs[0]) { x in x > 0 ? x : a * Foundation.expm1(x) }, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let a = Float(alpha)
        return [elementwise(gradOutput, record.inputs[0]) { g, x in x > 0 ? g : g * a * Foundation.exp(x) }]
    }
}
