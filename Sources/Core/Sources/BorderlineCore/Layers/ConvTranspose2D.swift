/// A transposed 2-D convolution (PyTorch's `ConvTranspose2d`), the adjoint of ``Conv2D``:
/// every input pixel scatters a weighted kernel onto the output,
/// `y[n, o, iy·sh − top + i, ix·sw − left + j] += W[c, o, i, j] · x[n, c, iy, ix]`, plus `b[o]`,
/// with `W ∈ ℝ^{in×out×kh×kw}` and output size
/// `Hout = (Hin − 1)·sh − top − bottom + kh + output_padding` (likewise `Wout`).
///
/// Seen from the output, this is the col2im of `Wᵀ · x`: with `x` in channel-major layout
/// `X ∈ ℝ^{in × (n·Hin·Win)}`, the forward pass is the sgemm `C = Wᵀ X` (`W` viewed as
/// `in × (out·kh·kw)`) folded onto the output by col2im, where the window geometry is that of
/// the convolution taking `y` back to `x`. Backward with `G = im2col(∂L/∂y)`: `∂L/∂X = W G`,
/// `∂L/∂W += X Gᵀ`, `∂L/∂b += Σ ∂L/∂y`.
public final class ConvTranspose2D: ConfigurableLayer {
    public static let typeName = "ConvTranspose2D"
    public static let configKeys: [String]? = ["in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "bias"]
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: (h: Int, w: Int)
    public let stride: (h: Int, w: Int)
    /// Rows/columns cropped from the full transposed-convolution output, per side.
    public let padding: Padding2D
    /// Extra rows/columns added at the bottom/right of the output (each < stride).
    public let outputPadding: (h: Int, w: Int)
    public let weight: Parameter
    public let bias: Parameter?

    /// A transposed convolution with PyTorch's default initialisation: `W, b ~ U(±1/√fan_in)`
    /// where, as in PyTorch, `fan_in = out · kh · kw` (computed from dimension 1 of the
    /// `[in, out, kh, kw]` weight).
    public init(inChannels: Int, outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: Padding2D = .zero, outputPadding: (Int, Int) = (0, 0), bias: Bool = true,
                generator: inout RandomGenerator) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize.0 > 0 && kernelSize.1 > 0 && stride.0 > 0 && stride.1 > 0,
                     "ConvTranspose2D: sizes must be positive")
        precondition(outputPadding.0 >= 0 && outputPadding.1 >= 0 && outputPadding.0 < stride.0 && outputPadding.1 < stride.1,
                     "ConvTranspose2D: output_padding must be smaller than the stride")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = (kernelSize.0, kernelSize.1)
        self.stride = (stride.0, stride.1)
        self.padding = padding
        self.outputPadding = (outputPadding.0, outputPadding.1)
        let bound = 1 / Float(outChannels * kernelSize.0 * kernelSize.1).squareRoot()
        weight = Parameter("weight", generator.uniform(shape: [inChannels, outChannels, kernelSize.0, kernelSize.1],
                                                       low: -bound, high: bound))
        self.bias = bias ? Parameter("bias", generator.uniform(shape: [outChannels], low: -bound, high: bound)) : nil
    }

    public convenience init(config: JSONValue) throws {
        let c = ConfigReader(config)
        let inC = try c.positiveInt("in_channels"), outC = try c.positiveInt("out_channels")
        let k = try c.positivePair("kernel_size")
        try MemoryBudget.require(elements: [inC, outC, k.0, k.1], for: "a kernel of \(outC) × \(inC) × \(k.0) × \(k.1)", kind: .invalidConfiguration)
        let s = try c.positivePair("stride", default: [1, 1])
        let op = try c.ints("output_padding", count: 2, default: [0, 0])
        guard op[0] >= 0, op[1] >= 0, op[0] < s.0, op[1] < s.1 else {
            throw BorderlineError(.invalidConfiguration,
                "output_padding \(op) must be non-negative and smaller than the stride [\(s.0), \(s.1)]")
        }
        var g = RandomGenerator(seed: 0)
        self.init(inChannels: inC, outChannels: outC, kernelSize: k, stride: s, padding: try Padding2D.read(c),
                  outputPadding: (op[0], op[1]), bias: try c.bool("bias", default: true), generator: &g)
    }

    public var config: JSONValue {
        ["in_channels": .init(inChannels), "out_channels": .init(outChannels),
         "kernel_size": .init([kernelSize.h, kernelSize.w]), "stride": .init([stride.h, stride.w]),
         "padding": padding.json, "output_padding": .init([outputPadding.h, outputPadding.w]),
         "bias": .bool(bias != nil)]
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    /// Output size for an `inH × inW` input.
    public func outputSize(height inH: Int, width inW: Int) -> (h: Int, w: Int) {
        ((inH - 1) * stride.h - padding.top - padding.bottom + kernelSize.h + outputPadding.h,
         (inW - 1) * stride.w - padding.left - padding.right + kernelSize.w + outputPadding.w)
    }

    /// The window geometry of the convolution that maps the output back onto the input grid.
    public func geometry(height inH: Int, width inW: Int) -> ConvGeometry {
        let out = outputSize(height: inH, width: inW)
        return ConvGeometry(channels: outChannels, height: out.h, width: out.w, kernelH: kernelSize.h, kernelW: kernelSize.w,
                            strideH: stride.h, strideW: stride.w,
                            padTop: padding.top, padBottom: padding.bottom, padLeft: padding.left, padRight: padding.right)
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.image(inputShapes, channels: inChannels)
        let out = outputSize(height: s.h, width: s.w)
        guard out.h > 0, out.w > 0 else {
            throw BorderlineError(.shapeMismatch,
                "input \(s.h)×\(s.w) gives an empty output (\(out.h)×\(out.w)): padding \(padding.json) crops too much")
        }
        return [outChannels, out.h, out.w]
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        HeapTuning.apply() // large activations: reuse heap memory instead of page-faulting (see HeapTuning)
        let x = inputs[0]
        precondition(x.rank == 4 && x.shape[1] == inChannels, "ConvTranspose2D: input \(x.shape) is not [batch, \(inChannels), H, W]")
        let n = x.batchSize, Pin = x.shape[2] * x.shape[3]
        let g = geometry(height: x.shape[2], width: x.shape[3])
        let K = g.patchSize, C = inChannels, outPlane = g.height * g.width
        let biasValues = bias?.value.scalars
        let y = Tensor(shape: [n, outChannels, g.height, g.width]) { out in
            guard n > 0 else { return }
            // Start from the bias (or 0); col2im then accumulates the kernel contributions.
            for s in 0..<n {
                for o in 0..<outChannels {
                    (out.baseAddress! + (s * outChannels + o) * outPlane).update(repeating: biasValues?[o] ?? 0, count: outPlane)
                }
            }
            x.withUnsafeBufferPointer { xp in
                weight.value.withUnsafeBufferPointer { wp in
                    Im2Col.forEachChunk(batch: n, patchRows: K, channelRows: C, plane: Pin) { chunk in
                        let ld = chunk.rowStride, cols = chunk.columns, xT = chunk.channelMajor
                        Im2Col.toChannelMajor(xp.baseAddress! + chunk.start * C * Pin, batch: chunk.count, channels: C, plane: Pin,
                                              into: xT)
                        BLAS.gemm(transA: true, m: K, n: ld, k: C, a: wp.baseAddress!, lda: K, b: xT, ldb: ld, c: cols, ldc: ld)
                        chunk.accumulate(g, into: out.baseAddress!)
                    }
                }
            }
        }
        return (y, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        let x = record.inputs[0]
        let n = x.batchSize, Pin = x.shape[2] * x.shape[3]
        let g = geometry(height: x.shape[2], width: x.shape[3])
        let K = g.patchSize, C = inChannels, outPlane = g.height * g.width
        var dx = Tensor(zeros: inputGradients ? x.shape : [0])
        guard n > 0, inputGradients || parameterGradients else { return inputGradients ? [dx] : [] }

        gradOutput.withUnsafeBufferPointer { gp in
            x.withUnsafeBufferPointer { xp in
                weight.value.withUnsafeBufferPointer { wp in
                    dx.withUnsafeMutableBufferPointer { dxp in
                        Im2Col.forEachChunk(batch: n, patchRows: K, channelRows: C, plane: Pin) { chunk in
                            let start = chunk.start, m = chunk.count, ld = chunk.rowStride
                            let cols = chunk.columns, xT = chunk.channelMajor
                            chunk.pack(gp.baseAddress!, g)
                            if parameterGradients {
                                Im2Col.toChannelMajor(xp.baseAddress! + start * C * Pin, batch: m, channels: C, plane: Pin, into: xT)
                                weight.gradient.withUnsafeMutableBufferPointer { gw in
                                    BLAS.gemm(transB: true, m: C, n: K, k: ld, a: xT, lda: ld, b: cols, ldb: ld,
                                              beta: 1, c: gw.baseAddress!, ldc: K)
                                }
                                bias?.gradient.withUnsafeMutableBufferPointer { gb in
                                    for s in 0..<m {
                                        for o in 0..<outChannels {
                                            let plane = gp.baseAddress! + ((start + s) * outChannels + o) * outPlane
                                            gb[o] += VectorKernels.sum(plane, count: outPlane)
                                        }
                                    }
                                }
                            }
                            if inputGradients {
                                // ∂L/∂X = W G in channel-major layout, then back to [m, in, Hin·Win].
                                BLAS.gemm(m: C, n: ld, k: K, a: wp.baseAddress!, lda: K, b: cols, ldb: ld, c: xT, ldc: ld)
                                Im2Col.fromChannelMajor(xT, batch: m, channels: C, plane: Pin,
                                                        into: dxp.baseAddress! + start * C * Pin)
                            }
                        }
                    }
                }
            }
        }
        return inputGradients ? [dx] : []
    }
}
