/// Reorders the dimensions of each sample: output dimension `i` is input dimension `dims[i]`
/// (0-based, the batch dimension excluded), like `torch.permute(x, [0] + [d + 1 for d in dims])`.
///
/// Borderline's engine is channels-first; the Keras importer and exporter use `Permute` where a
/// Keras `Reshape` or `Permute` works on the channels-last layout (`[1, 2, 0]` turns a `[C, H, W]`
/// sample into `[H, W, C]`, `[2, 0, 1]` turns it back). Backward applies the inverse permutation.
public final class Permute: ConfigurableLayer {
    public static let typeName = "Permute"
    public static let configKeys: [String]? = ["dims"]
    /// The permutation of the sample dimensions.
    public let dims: [Int]

    public init(dims: [Int]) throws {
        guard !dims.isEmpty, dims.sorted() == Array(0..<dims.count) else {
            throw BorderlineError(.invalidConfiguration, "dims must be a permutation of 0..<\(max(dims.count, 1)), found \(dims)")
        }
        self.dims = dims
    }

    public convenience init(config: JSONValue) throws { try self.init(dims: try ConfigReader(config).intList("dims")) }

    public var config: JSONValue { ["dims": .init(dims)] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1 else {
            throw BorderlineError(.shapeMismatch, "expects one input, got \(inputShapes.count)")
        }
        let s = inputShapes[0]
        guard s.count == dims.count else {
            throw BorderlineError(.shapeMismatch, "permutation \(dims) needs inputs of rank \(dims.count), got \(s)")
        }
        return dims.map { s[$0] }
    }

    /// The inverse permutation.
    var inverse: [Int] {
        var inv = [Int](repeating: 0, count: dims.count)
        for (i, d) in dims.enumerated() { inv[d] = i }
        return inv
    }

    /// Permutes every sample of `x` (shape `[n] + sample`) by `perm`.
    static func permute(_ x: Tensor, _ perm: [Int]) -> Tensor {
        let sample = x.sampleShape
        let outSample = perm.map { sample[$0] }
        let n = x.batchSize, count = x.sampleCount, rank = sample.count
        // Input strides, read in the order of the output dimensions.
        var inStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * sample[d + 1] }
        let strides = perm.map { inStrides[$0] }
        return Tensor(shape: [n] + outSample) { out in
            guard count > 0, n > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                var index = [Int](repeating: 0, count: rank)
                for s in 0..<n {
                    let src = xp.baseAddress! + s * count, dst = out.baseAddress! + s * count
                    for i in 0..<rank { index[i] = 0 }
                    var offset = 0
                    for j in 0..<count {
                        dst[j] = src[offset]
                        // Advance the output multi-index (last dimension fastest).
                        var d = rank - 1
                        while d >= 0 {
                            index[d] += 1
                            offset += strides[d]
                            if index[d] < outSample[d] { break }
                            offset -= strides[d] * outSample[d]
                            index[d] = 0
                            d -= 1
                        }
                    }
                }
            }
        }
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        (Permute.permute(inputs[0], dims), nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        inputGradients ? [Permute.permute(gradOutput, inverse)] : []
    }
}
