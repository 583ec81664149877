/// Joins two or more inputs along one sample dimension (PyTorch's `torch.cat(xs, dim=axis + 1)`,
/// Keras's `Concatenate`, ONNX `Concat`): `axis` counts the sample dimensions from 0 (default:
/// channels of `[C, H, W]`, features of `[F]`); a negative axis counts from the end. The inputs
/// agree in every other dimension. Backward hands each input its slice of `∂L/∂y`.
public final class Concatenate: ConfigurableLayer {
    public static let typeName = "Concatenate"
    public static let configKeys: [String]? = ["axis"]
    public let axis: Int

    public init(axis: Int = 0) { self.axis = axis }
    public convenience init(config: JSONValue) throws { self.init(axis: try ConfigReader(config).int("axis", default: 0)) }
    public var config: JSONValue { ["axis": .init(axis)] }

    /// The axis as a non-negative sample dimension for samples of rank `rank`, or nil if outside.
    func resolvedAxis(rank: Int) -> Int? {
        let a = axis < 0 ? axis + rank : axis
        return (0..<rank).contains(a) ? a : nil
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count >= 2 else { throw BorderlineError(.shapeMismatch, "expects two or more inputs, got \(inputShapes.count)") }
        let rank = inputShapes[0].count
        guard inputShapes.allSatisfy({ $0.count == rank }), let a = resolvedAxis(rank: rank) else {
            throw BorderlineError(.shapeMismatch,
                "inputs must share one rank with axis \(axis) inside it, got \(ShapeCheck.describe(inputShapes))")
        }
        for s in inputShapes where (0..<rank).contains(where: { $0 != a && s[$0] != inputShapes[0][$0] }) {
            throw BorderlineError(.shapeMismatch,
                "inputs must agree in every dimension but axis \(axis), got \(ShapeCheck.describe(inputShapes))")
        }
        var out = inputShapes[0]
        out[a] = inputShapes.reduce(0) { $0 + $1[a] }
        return out
    }

    /// (outer, inner): how many blocks precede the axis (batch included) and the elements per
    /// index of the axis, for a batch tensor.
    private func layout(_ x: Tensor, axis a: Int) -> (outer: Int, inner: Int) {
        let dims = x.shape
        return (dims[0...a].reduce(1, *), dims[(a + 2)...].reduce(1, *))
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let a = resolvedAxis(rank: inputs[0].rank - 1)!
        let (outer, inner) = layout(inputs[0], axis: a)
        let widths = inputs.map { $0.shape[a + 1] * inner }
        let total = widths.reduce(0, +)
        var shape = inputs[0].shape
        shape[a + 1] = inputs.reduce(0) { $0 + $1.shape[a + 1] }
        let y = Tensor(shape: shape) { out in
            var start = 0
            for (x, w) in zip(inputs, widths) {
                x.withUnsafeBufferPointer { xp in
                    guard w > 0 else { return }
                    for o in 0..<outer { (out.baseAddress! + o * total + start).update(from: xp.baseAddress! + o * w, count: w) }
                }
                start += w
            }
        }
        return (y, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let inputs = record.inputs
        let a = resolvedAxis(rank: inputs[0].rank - 1)!
        let (outer, inner) = layout(inputs[0], axis: a)
        let widths = inputs.map { $0.shape[a + 1] * inner }
        let total = widths.reduce(0, +)
        var start = 0
        return gradOutput.withUnsafeBufferPointer { gp in
            zip(inputs, widths).map { x, w in
                defer { start += w }
                let s = start
                return Tensor(shape: x.shape) { out in
                    guard w > 0 else { return }
                    for o in 0..<outer { (out.baseAddress! + o * w).update(from: gp.baseAddress! + o * total + s, count: w) }
                }
            }
        }
    }
}

/// Element-wise product of two or more inputs, `y = x₁ ⊙ … ⊙ xₖ` (Keras's `Multiply`, ONNX `Mul`),
/// with broadcasting: the inputs' sample shapes have one rank, and each dimension is either the
/// output's or 1 (a squeeze-and-excitation gate `[C, 1, 1]` times features `[C, H, W]`).
/// Backward: `∂L/∂xᵢ = Σ_{broadcast} g ⊙ Π_{j≠i} xⱼ`, summed over the dimensions input `i` was
/// broadcast along.
public final class Multiply: ConfigurableLayer {
    public static let typeName = "Multiply"
    public static let configKeys: [String]? = []
    public init() {}
    public init(config: JSONValue) throws {}
    public var config: JSONValue { [:] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count >= 2 else { throw BorderlineError(.shapeMismatch, "expects two or more inputs, got \(inputShapes.count)") }
        return try Broadcast.shape(inputShapes)
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let shape = Broadcast.batchShape(inputs.map(\.shape))
        if inputs.allSatisfy({ $0.shape == shape }) {
            var y = inputs[0]
            for x in inputs.dropFirst() { y = elementwise(y, x, *) }
            return (y, nil)
        }
        let offsets = inputs.map { Broadcast.offsets(of: $0.shape, in: shape) }
        let y = Tensor(shape: shape) { out in
            for i in 0..<out.count { out[i] = 1 }
            for (x, off) in zip(inputs, offsets) {
                x.withUnsafeBufferPointer { xp in
                    off.withUnsafeBufferPointer { op in
                        for i in 0..<out.count { out[i] *= xp[Int(op[i])] }
                    }
                }
            }
        }
        return (y, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let inputs = record.inputs
        let shape = gradOutput.shape
        if inputs.allSatisfy({ $0.shape == shape }) {
            return inputs.indices.map { i in
                var g = gradOutput
                for (j, x) in inputs.enumerated() where j != i { g = elementwise(g, x, *) }
                return g
            }
        }
        let offsets = inputs.map { Broadcast.offsets(of: $0.shape, in: shape) }
        return inputs.indices.map { i in
            // g ⊙ Π_{j≠i} xⱼ over the output, then summed into input i's (broadcast) positions.
            var product = gradOutput
            product.withUnsafeMutableBufferPointer { pp in
                for (j, x) in inputs.enumerated() where j != i {
                    x.withUnsafeBufferPointer { xp in
                        offsets[j].withUnsafeBufferPointer { op in
                            for k in 0..<pp.count { pp[k] *= xp[Int(op[k])] }
                        }
                    }
                }
            }
            var dx = Tensor(zeros: inputs[i].shape)
            dx.withUnsafeMutableBufferPointer { dp in
                product.withUnsafeBufferPointer { pp in
                    offsets[i].withUnsafeBufferPointer { op in
                        for k in 0..<pp.count { dp[Int(op[k])] += pp[k] }
                    }
                }
            }
            return dx
        }
    }
}

/// Broadcasting of same-rank shapes where every dimension is the common size or 1.
enum Broadcast {
    /// The broadcast per-sample shape, or `.shapeMismatch`.
    static func shape(_ shapes: [[Int]]) throws -> [Int] {
        let rank = shapes[0].count
        guard shapes.allSatisfy({ $0.count == rank }) else {
            throw BorderlineError(.shapeMismatch, "inputs must share one rank (broadcast dimensions have size 1), got \(ShapeCheck.describe(shapes))")
        }
        var out = [Int](repeating: 1, count: rank)
        for d in 0..<rank {
            let sizes = Set(shapes.map { $0[d] }).subtracting([1])
            guard sizes.count <= 1 else {
                throw BorderlineError(.shapeMismatch,
                    "inputs do not broadcast: dimension \(d) has sizes \(sizes.sorted()) (each must be the same or 1), got \(ShapeCheck.describe(shapes))")
            }
            out[d] = sizes.first ?? 1
        }
        return out
    }

    /// The broadcast shape of batch tensors (checked by ``shape(_:)`` when the model was built).
    static func batchShape(_ shapes: [[Int]]) -> [Int] {
        (0..<shapes[0].count).map { d in shapes.map { $0[d] }.max()! }
    }

    /// For every element of a tensor of shape `out` (row-major), the index of the element of a
    /// tensor of shape `shape` that broadcasts onto it (stride 0 along dimensions of size 1).
    static func offsets(of shape: [Int], in out: [Int]) -> [Int32] {
        let rank = out.count
        var strides = [Int](repeating: 0, count: rank)
        var s = 1
        for d in stride(from: rank - 1, through: 0, by: -1) {
            strides[d] = shape[d] == 1 ? 0 : s
            s *= shape[d]
        }
        let count = out.reduce(1, *)
        var result = [Int32](repeating: 0, count: count)
        guard count > 0 else { return result }
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        for k in 0..<count {
            result[k] = Int32(truncatingIfNeeded: offset)
            // Advance the multi-index (last dimension fastest), keeping the offset in step.
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                offset += strides[d]
                if index[d] < out[d] { break }
                offset -= strides[d] * index[d]
                index[d] = 0
                d -= 1
            }
        }
        return result
    }
}
