/// A fully connected layer: `y = x Wᵀ + b` with `W ∈ ℝ^{out×in}` (PyTorch's `Linear` layout).
///
/// Backward: `∂L/∂x = g W`, `∂L/∂W += gᵀ x`, `∂L/∂b += Σ_batch g`, all three as single sgemm /
/// gemv calls over the batch.
public final class Dense: ConfigurableLayer {
    public static let typeName = "Dense"
    public static let configKeys: [String]? = ["in_features", "out_features", "bias"]
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?

    /// A dense layer with PyTorch's default initialisation: `W, b ~ U(−1/√in, 1/√in)`.
    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true, generator: inout RandomGenerator) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Parameter("weight", generator.uniform(shape: [outFeatures, inFeatures], low: -bound, high: bound))
        self.bias = bias ? Parameter("bias", generator.uniform(shape: [outFeatures], low: -bound, high: bound)) : nil
    }

    public convenience init(config: JSONValue) throws {
        let c = ConfigReader(config)
        let inF = try c.int("in_features"), outF = try c.int("out_features")
        guard inF > 0, outF > 0 else {
            throw BorderlineError(.invalidConfiguration, "in_features and out_features must be positive, found \(inF), \(outF)")
        }
        try MemoryBudget.require(elements: [inF, outF], for: "a weight of out_features × in_features = \(outF) × \(inF)", kind: .invalidConfiguration)
        var g = RandomGenerator(seed: 0)
        self.init(inFeatures: inF, outFeatures: outF, bias: try c.bool("bias", default: true), generator: &g)
    }

    public var config: JSONValue {
        ["in_features": .init(inFeatures), "out_features": .init(outFeatures), "bias": .bool(bias != nil)]
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, inputShapes[0] == [inFeatures] else {
            throw BorderlineError(.shapeMismatch, "expects input [\(inFeatures)], got \(inputShapes.map { "\($0)" }.joined(separator: ", "))")
        }
        return [outFeatures]
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        return (x.withUnsafeBufferPointer { output(rows: $0.baseAddress, count: x.batchSize) }, nil)
    }

    /// `y = x Wᵀ + b` for `count` rows of `inFeatures` floats starting at `rows`, read in place:
    /// a batch split hands each thread its rows without copying them out (``Model/forward(_:training:)``).
    func output(rows: UnsafePointer<Float>?, count n: Int) -> Tensor {
        Tensor(shape: [n, outFeatures]) { out in
            guard n > 0, let rows else { return }
            if let bias {
                bias.value.withUnsafeBufferPointer { b in
                    for r in 0..<n { (out.baseAddress! + r * outFeatures).update(from: b.baseAddress!, count: outFeatures) }
                }
            }
            weight.value.withUnsafeBufferPointer { w in
                BLAS.gemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: rows, lda: inFeatures,
                          b: w.baseAddress!, ldb: inFeatures, beta: bias == nil ? 0 : 1, c: out.baseAddress!, ldc: outFeatures)
            }
        }
    }

    public func backward(_ g: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        let x = record.inputs[0]
        let n = x.batchSize
        if parameterGradients {
            g.withUnsafeBufferPointer { gp in
                x.withUnsafeBufferPointer { xp in
                    weight.gradient.withUnsafeMutableBufferPointer { gw in
                        BLAS.gemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: gp.baseAddress!, lda: outFeatures,
                                  b: xp.baseAddress!, ldb: inFeatures, beta: 1, c: gw.baseAddress!, ldc: inFeatures)
                    }
                }
                if let bias {
                    bias.gradient.withUnsafeMutableBufferPointer { gb in
                        for r in 0..<n {
                            let row = gp.baseAddress! + r * outFeatures
                            for j in 0..<outFeatures { gb[j] += row[j] }
                        }
                    }
                }
            }
        }
        guard inputGradients else { return [] }
        let dx = Tensor(shape: x.shape) { out in
            g.withUnsafeBufferPointer { gp in
                weight.value.withUnsafeBufferPointer { w in
                    BLAS.gemm(m: n, n: inFeatures, k: outFeatures, a: gp.baseAddress!, lda: outFeatures,
                              b: w.baseAddress!, ldb: inFeatures, c: out.baseAddress!, ldc: inFeatures)
                }
            }
        }
        return [dx]
    }
}
