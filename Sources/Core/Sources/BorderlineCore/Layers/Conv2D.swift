/// A 2-D convolution (PyTorch's `Conv2d`, cross-correlation) with `groups` and `dilation`:
/// `y[n, o, oy, ox] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x[n, g(o)·C_g + c, oy·sh − top + i·dh, ox·sw − left + j·dw]`
/// with zero padding, `W ∈ ℝ^{out×C_g×kh×kw}`, `C_g = in / groups` input channels per group and
/// `g(o) = ⌊o / (out / groups)⌋` the group of output channel `o` (`groups = in` is a depthwise
/// convolution).
///
/// With the patch matrix `X` of a chunk of images side by side (``Im2Col``), whose rows are
/// channel-major so that group `g` owns the row block `X_g`, the forward pass is one sgemm per
/// group, `Y_g = W_g · X_g` (`W_g` viewed as `(out/groups) × (C_g·kh·kw)`). Backward, with
/// `G = ∂L/∂Y` in the same channel-major layout: `∂L/∂W_g += G_g · X_gᵀ`, `∂L/∂b += Σ G`, and
/// `∂L/∂X_g = W_gᵀ · G_g`, which col2im folds back onto the input. Images are processed in chunks
/// sized so that the patch matrix stays in cache (see
/// ``Im2Col/imagesPerChunk(rows:plane:batch:budget:)``), with one scratch allocation per call.
/// Depthwise convolutions (`groups = in`) skip im2col and run direct kernels instead
/// (DepthwiseConvolution.swift).
public final class Conv2D: ConfigurableLayer {
    public static let typeName = "Conv2D"
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: (h: Int, w: Int)
    public let stride: (h: Int, w: Int)
    public let padding: Padding2D
    /// Spacing of the kernel taps (PyTorch's `dilation`; 1 = adjacent).
    public let dilation: (h: Int, w: Int)
    /// Channel groups: input and output channels are split into `groups` blocks convolved
    /// separately (1 = dense, `inChannels` = depthwise).
    public let groups: Int
    public let weight: Parameter
    public let bias: Parameter?

    /// A convolution with PyTorch's default initialisation (`kaiming_uniform_(a=√5)`):
    /// `W, b ~ U(−1/√fan_in, 1/√fan_in)` with `fan_in = (in / groups) · kh · kw`.
    public init(inChannels: Int, outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: Padding2D = .zero, dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true,
                generator: inout RandomGenerator) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize.0 > 0 && kernelSize.1 > 0 && stride.0 > 0 && stride.1 > 0
                     && dilation.0 > 0 && dilation.1 > 0 && groups > 0, "Conv2D: sizes must be positive")
        precondition(inChannels % groups == 0 && outChannels % groups == 0, "Conv2D: groups must divide the channel counts")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = (kernelSize.0, kernelSize.1)
        self.stride = (stride.0, stride.1)
        self.padding = padding
        self.dilation = (dilation.0, dilation.1)
        self.groups = groups
        let bound = 1 / Float(inChannels / groups * kernelSize.0 * kernelSize.1).squareRoot()
        weight = Parameter("weight", generator.uniform(shape: [outChannels, inChannels / groups, kernelSize.0, kernelSize.1],
                                                       low: -bound, high: bound))
        self.bias = bias ? Parameter("bias", generator.uniform(shape: [outChannels], low: -bound, high: bound)) : nil
    }

    public convenience init(config: JSONValue) throws {
        let c = ConfigReader(config)
        let inC = try c.positiveInt("in_channels"), outC = try c.positiveInt("out_channels")
        let k = try c.positivePair("kernel_size")
        try MemoryBudget.require(elements: [inC, outC, k.0, k.1], for: "a kernel of \(outC) × \(inC) × \(k.0) × \(k.1)", kind: .invalidConfiguration)
        let s = try c.positivePair("stride", default: [1, 1])
        let d = try c.positivePair("dilation", default: [1, 1])
        let groups = try c.positiveInt("groups", default: 1)
        guard inC % groups == 0, outC % groups == 0 else {
            throw BorderlineError(.invalidConfiguration,
                "config key 'groups' (\(groups)) must divide in_channels (\(inC)) and out_channels (\(outC))")
        }
        var g = RandomGenerator(seed: 0)
        self.init(inChannels: inC, outChannels: outC, kernelSize: k, stride: s, padding: try Padding2D.read(c),
                  dilation: d, groups: groups, bias: try c.bool("bias", default: true), generator: &g)
    }

    public static let configKeys: [String]? = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"]

    public var config: JSONValue {
        ["in_channels": .init(inChannels), "out_channels": .init(outChannels),
         "kernel_size": .init([kernelSize.h, kernelSize.w]), "stride": .init([stride.h, stride.w]),
         "padding": padding.json, "dilation": .init([dilation.h, dilation.w]), "groups": .init(groups),
         "bias": .bool(bias != nil)]
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    /// The window geometry over an `H × W` input.
    public func geometry(height: Int, width: Int) -> ConvGeometry {
        ConvGeometry(channels: inChannels, height: height, width: width, kernelH: kernelSize.h, kernelW: kernelSize.w,
                     strideH: stride.h, strideW: stride.w,
                     padTop: padding.top, padBottom: padding.bottom, padLeft: padding.left, padRight: padding.right,
                     dilationH: dilation.h, dilationW: dilation.w)
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
        if isDepthwise { return (depthwiseForward(x), nil) }
        let n = x.batchSize
        let g = geometry(height: x.shape[2], width: x.shape[3])
        let K = g.patchSize, P = g.outPlane, O = outChannels
        let G = groups, Kg = K / G, Og = O / G
        let biasValues = bias?.value.scalars ?? [Float](repeating: 0, count: O)
        let y = Tensor(shape: [n, O, g.outH, g.outW]) { out in
            x.withUnsafeBufferPointer { xp in
                weight.value.withUnsafeBufferPointer { wp in
                    // One scratch block per call: the patch matrix and the channel-major product.
                    Im2Col.forEachChunk(batch: n, patchRows: K, channelRows: O, plane: P) { chunk in
                        let ld = chunk.rowStride, cols = chunk.columns, product = chunk.channelMajor
                        chunk.pack(xp.baseAddress!, g)
                        for group in 0..<G {
                            BLAS.gemm(m: Og, n: ld, k: Kg, a: wp.baseAddress! + group * Og * Kg, lda: Kg,
                                      b: cols + group * Kg * ld, ldb: ld, c: product + group * Og * ld, ldc: ld)
                        }
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
        if isDepthwise {
            return depthwiseBackward(gradOutput, x: record.inputs[0], inputGradients: inputGradients, parameterGradients: parameterGradients)
        }
        let x = record.inputs[0]
        let n = x.batchSize
        let g = geometry(height: x.shape[2], width: x.shape[3])
        let K = g.patchSize, P = g.outPlane, O = outChannels
        let G = groups, Kg = K / G, Og = O / G
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
                                    for group in 0..<G {
                                        BLAS.gemm(transB: true, m: Og, n: Kg, k: ld, a: gradT + group * Og * ld, lda: ld,
                                                  b: cols + group * Kg * ld, ldb: ld, beta: 1, c: gw.baseAddress! + group * Og * Kg, ldc: Kg)
                                    }
                                }
                                bias?.gradient.withUnsafeMutableBufferPointer { gb in
                                    for o in 0..<O {
                                        let row = gradT + o * ld
                                        gb[o] += VectorKernels.sum(row, count: ld)
                                    }
                                }
                            }
                            if inputGradients {
                                // The patch buffer is free again: reuse it for ∂L/∂X_g = W_gᵀ G_g.
                                for group in 0..<G {
                                    BLAS.gemm(transA: true, m: Kg, n: ld, k: Og, a: wp.baseAddress! + group * Og * Kg, lda: Kg,
                                              b: gradT + group * Og * ld, ldb: ld, c: cols + group * Kg * ld, ldc: ld)
                                }
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
