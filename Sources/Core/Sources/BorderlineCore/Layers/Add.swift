/// Element-wise sum of two or more same-shaped inputs, `y = x₁ + … + xₖ` (the join of a residual
/// block). Backward: `∂L/∂xᵢ = g` for every input.
public final class Add: ConfigurableLayer {
    public static let typeName = "Add"
    public static let configKeys: [String]? = []
    public init() {}
    public init(config: JSONValue) throws {}
    public var config: JSONValue { [:] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count >= 2 else {
            throw BorderlineError(.shapeMismatch, "expects two or more inputs, got \(inputShapes.count)")
        }
        guard inputShapes.allSatisfy({ $0 == inputShapes[0] }) else {
            throw BorderlineError(.shapeMismatch, "inputs must share one shape, got \(ShapeCheck.describe(inputShapes))")
        }
        return inputShapes[0]
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        precondition(!inputs.isEmpty && inputs.allSatisfy { $0.shape == inputs[0].shape }, "Add: input shapes differ")
        var y = inputs[0]
        for x in inputs.dropFirst() { y.addScaled(x, by: 1) }
        return (y, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        inputGradients ? Array(repeating: gradOutput, count: record.inputs.count) : []
    }
}
