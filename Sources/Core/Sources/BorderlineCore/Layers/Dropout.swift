/// The mask a training-mode dropout pass applied: `0` for dropped elements, `1/(1 − p)` for kept ones.
public final class DropoutMask {
    public let mask: [Float]
    init(_ mask: [Float]) { self.mask = mask }
}

/// Inverted dropout (PyTorch's `Dropout`): in training each element is zeroed with probability
/// `p` and the survivors are scaled by `1/(1 − p)`, so `E[y] = x`; at inference `y = x`.
/// The mask is drawn from the pass's `ForwardContext.generator`, so a seed reproduces it.
/// Backward: `∂L/∂x = g ⊙ mask` (identity at inference).
public final class Dropout: ConfigurableLayer {
    public static let typeName = "Dropout"
    public static let configKeys: [String]? = ["p"]
    /// The drop probability, kept in Double so the configuration round-trips exactly.
    public let p: Double

    public init(p: Double = 0.5) throws {
        guard (0...1).contains(p) else { throw BorderlineError(.invalidConfiguration, "p must be in [0, 1], found \(p)") }
        self.p = p
    }

    public convenience init(config: JSONValue) throws { try self.init(p: try ConfigReader(config).double("p", default: 0.5)) }

    public var config: JSONValue { ["p": .init(p)] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        try ShapeCheck.single(inputShapes, expecting: "of any shape")
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        guard context.training, p > 0 else { return (x, nil) }
        // p = 1 drops everything (PyTorch returns zeros rather than dividing by 0).
        let keepScale: Float = p < 1 ? Float(1 / (1 - p)) : 0
        let drop = Float(p)
        var generator = context.generator
        var mask = [Float](repeating: 0, count: x.count)
        for i in 0..<mask.count where generator.nextUniform() >= drop { mask[i] = keepScale }
        context.generator = generator
        let y = elementwise(x, Tensor(shape: x.shape, scalars: mask)) { $0 * $1 }
        return (y, DropoutMask(mask))
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        guard let saved = record.saved as? DropoutMask else { return [gradOutput] }
        return [elementwise(gradOutput, Tensor(shape: gradOutput.shape, scalars: saved.mask)) { $0 * $1 }]
    }
}
