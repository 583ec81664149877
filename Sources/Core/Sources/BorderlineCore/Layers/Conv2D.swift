/// A 2-D convolution (PyTorch's `Conv2d`, cross-correlation):
/// `y[n, o, oy, ox] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x[n, c, oy·sh − top + i, ox·sw − left + j]`
/// with zero padding, `W ∈ ℝ^{out×in×kh×kw}`.
///
/// With the patch matrix `X` of a chunk of images side by side (``Im2Col``), the forward pass is
/// one sgemm `Y = W · X` (`W` viewed as `out × (in·kh·kw)`). Backward, with `G = ∂L/∂Y` in the same
/// channel-major layout: `∂L/∂W += G · Xᵀ`, `∂L/∂b += Σ G`, and `∂L/∂X = Wᵀ · G`, which col2im
/// folds back onto the input. Images are processed in chunks sized so that the patch matrix
/// stays in cache (see ``Im2Col/imagesPerChunk(rows:plane:batch:budget:)``), with one scratch
/// allocation per call.
public final class Conv2D: ConfigurableLayer {
    public static let typeName = "Conv2D"
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: (h: Int, w: Int)
    public let stride: (h: Int, w: Int)
    public let padding: Padding2D
    public let weight: Parameter
    public let bias: Parameter?

    /// A convolution with PyTorch's default initialisation (`kaiming_uniform_(a=√5)`):
    /// `W, b ~ U(−1/√fan_in, 1/√fan_in)` with `fan_in = in · kh · kw`.
    public init(inChannels: Int, outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: Padding2D = .zero, bias: Bool = true, generator: inout RandomGenerator) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize.0 > 0 && kernelSize.1 > 0 && stride.0 > 0 && stride.1 > 0,
                     "Conv2D: sizes must be positive")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = (kernelSize.0, kernelSize.1)
        self.stride = (stride.0, stride.1)
        self.padding = padding
        let bound = 1 / Float(inChannels * kernelSize.0 * kernelSize.1).squareRoot()
        weight = Parameter("weight", generator.uniform(shape: [outChannels, inChannels, kernelSize.0, kernelSize.1],
                                                       low: -bound, high: bound))
        self.bias = bias ? Parameter("bias", generator.uniform(shape: [outChannels], low: -bound, high: bound)) : nil
    }

    public convenience init(config: JSONValue) throws {
        let c = ConfigReader(config)
        let inC = try c.positiveInt("in_channels"), outC = try c.positiveInt("out_channels")
        let k = try c.positivePair("kernel_size")
        let s = try c.positivePair("stride", default: [1, 1])
        var g = RandomGenerator(seed: 0)
        self.init(inChannels: inC, outChannels: outC, kernelSize: k, stride: s, padding: try Padding2D.read(c),
                  bias: try c.bool("bias", default: true), generator: &g)
    }

    public var config: JSONValue {
        ["in_channels": .init(inChannels), "out_channels": .init(outChannels),
         "kernel_size": .init([kernelSize.h, kernelSize.w]), "stride": .init([stride.h, stride.w]),
         "padding": padding.json, "bias": .bool(bias != nil)]
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    /// The window geometry over an `H × W` input.
    public func geometry(height: Int, width: Int) -> ConvGeometry {
        ConvGeometry(channels: inChannels, height: height, width: width, kernelH: kernelSize.h, kernelW: kernelSize.w,
                     strideH: stride.h, strideW: stride.w,
                     padTop: padding.top, padBottom: padding.bottom, padLeft: padding.left, padRight: padding.right)
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.image(inputShapes, channels: inChannels)
        let g = geometry(height: s.h, width: s.w)
        try ShapeCheck.window(g, input: (s.h, s.w))
        return [outChannels, g.outH, g.outW]
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        HeapTuning.apply() // large activations: reuse heap memory instead of page-faulting (see HeapTuning)
        let x = inputs[0]
        precondition(x.rank == 4 && x.shape[1] == inChannels, "Conv2D: input \(x.shape) is not [batch, \(inChannels), H, W]")
        let n = x.batchSize
        let g = geometry(height: x.shape[2], width: x.shape[3])
        let K = g.patchSize, P = g.outPlane, O = outChannels
        let biasValues = bias?.value.scalars ?? [Float](repeating: 0, count: O)
        let y = Tensor(shape: [n, O, g.outH, g.outW]) { out in
            x.withUnsafeBufferPointer { xp in
                weight.value.withUnsafeBufferPointer { wp in
                    // One scratch block per call: the patch matrix and the channel-major product.
                    Im2Col.forEachChunk(batch: n, patchRows: K, channelRows: O, plane: P) { chunk in
                        let ld = chunk.rowStride, cols = chunk.columns, product = chunk.channelMajor
                        chunk.pack(xp.baseAddress!, g)
                        BLAS.gemm(m: O, n: ld, k: K, a: wp.baseAddress!, lda: K, b: cols, ldb: ld, c: product, ldc: ld)
                        // [O, m·P] → [m, O, P], adding the bias on the way.
                        for s in 0..<chunk.count {
                            for o in 0..<O {
                                let dst = out.baseAddress! + ((chunk.start + s) * O + o) * P
                                let src = product + o * ld + s * P
                                let b = biasValues[o]
                                for p in 0..<P { dst[p] = src[p] + b }
                            }
                        }
                    }
                }
            }
        }
        return (y, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        let x = record.inputs[0]
        let n = x.batchSize
        let g = geometry(height: x.shape[2], width: x.shape[3])
        let K = g.patchSize, P = g.outPlane, O = outChannels
        var dx = Tensor(zeros: inputGradients ? x.shape : [0])
        guard n > 0, inputGradients || parameterGradients else { return inputGradients ? [dx] : [] }

        gradOutput.withUnsafeBufferPointer { gp in
            x.withUnsafeBufferPointer { xp in
                weight.value.withUnsafeBufferPointer { wp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        Im2Col.forEachChunk(batch: n, patchRows: K, channelRows: O, plane: P) { chunk in
                            let ld = chunk.rowStride, cols = chunk.columns, gradT = chunk.channelMajor
                            Im2Col.toChannelMajor(gp.baseAddress! + chunk.start * O * P, batch: chunk.count, channels: O, plane: P,
                                                  into: gradT)
                            if parameterGradients {
                                chunk.pack(xp.baseAddress!, g)
                                weight.gradient.withUnsafeMutableBufferPointer { gw in
                                    BLAS.gemm(transB: true, m: O, n: K, k: ld, a: gradT, lda: ld, b: cols, ldb: ld,
                                              beta: 1, c: gw.baseAddress!, ldc: K)
                                }
                                bias?.gradient.withUnsafeMutableBufferPointer { gb in
                                    for o in 0..<O {
                                        let row = gradT + o * ld
                                        gb[o] += VectorKernels.sum(row, count: ld)
                                    }
                                }
                            }
                            if inputGradients {
                                // The patch buffer is free again: reuse it for ∂L/∂X = Wᵀ G.
                                BLAS.gemm(transA: true, m: K, n: ld, k: O, a: wp.baseAddress!, lda: K, b: gradT, ldb: ld,
                                          c: cols, ldc: ld)
                                chunk.accumulate(g, into: dxp.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        return inputGradients ? [dx] : []
    }
}
