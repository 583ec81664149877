/// Adaptive average pooling to a fixed output grid (PyTorch's `AdaptiveAvgPool2d`): output row
/// `i` of `oh` averages input rows `⌊i·H/oh⌋ ..< ⌈(i+1)·H/oh⌉` (likewise columns), so bins may
/// overlap or differ in size when `oh` does not divide `H`, and `output_size [1, 1]` is global
/// average pooling that keeps the `[C, 1, 1]` shape. Backward spreads `∂L/∂y / |bin|` over each bin.
public final class AdaptiveAvgPool2D: ConfigurableLayer {
    public static let typeName = "AdaptiveAvgPool2D"
    public static let configKeys: [String]? = ["output_size"]
    public let outputSize: (h: Int, w: Int)

    public init(outputSize: (Int, Int)) throws {
        guard outputSize.0 > 0, outputSize.1 > 0 else {
            throw BorderlineError(.invalidConfiguration, "output_size must be positive, found [\(outputSize.0), \(outputSize.1)]")
        }
        self.outputSize = (outputSize.0, outputSize.1)
    }

    public convenience init(config: JSONValue) throws {
        try self.init(outputSize: try ConfigReader(config).positivePair("output_size"))
    }

    public var config: JSONValue { ["output_size": .init([outputSize.h, outputSize.w])] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        [try ShapeCheck.image(inputShapes).c, outputSize.h, outputSize.w]
    }

    /// PyTorch's bins along one axis: `start = ⌊i·n/m⌋`, `end = ⌈(i+1)·n/m⌉`.
    static func bins(input n: Int, output m: Int) -> (lo: [Int], hi: [Int]) {
        ((0..<m).map { $0 * n / m }, (0..<m).map { (($0 + 1) * n + m - 1) / m })
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        precondition(x.rank == 4, "AdaptiveAvgPool2D: input \(x.shape) is not [batch, C, H, W]")
        let H = x.shape[2], W = x.shape[3], oh = outputSize.h, ow = outputSize.w
        let rows = AdaptiveAvgPool2D.bins(input: H, output: oh), cols = AdaptiveAvgPool2D.bins(input: W, output: ow)
        let planes = x.batchSize * x.shape[1]
        let y = Tensor(shape: [x.batchSize, x.shape[1], oh, ow]) { out in
            x.withUnsafeBufferPointer { xp in
                var o = 0
                for plane in 0..<planes {
                    let src = xp.baseAddress! + plane * H * W
                    for i in 0..<oh {
                        for j in 0..<ow {
                            var sum: Float = 0
                            for iy in rows.lo[i]..<rows.hi[i] {
                                for ix in cols.lo[j]..<cols.hi[j] { sum += src[iy * W + ix] }
                            }
                            out[o] = sum / Float((rows.hi[i] - rows.lo[i]) * (cols.hi[j] - cols.lo[j]))
                            o += 1
                        }
                    }
                }
            }
        }
        return (y, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let x = record.inputs[0]
        let H = x.shape[2], W = x.shape[3], oh = outputSize.h, ow = outputSize.w
        let rows = AdaptiveAvgPool2D.bins(input: H, output: oh), cols = AdaptiveAvgPool2D.bins(input: W, output: ow)
        let planes = x.batchSize * x.shape[1]
        var dx = Tensor(zeros: x.shape)
        gradOutput.withUnsafeBufferPointer { gp in
            dx.withUnsafeMutableBufferPointer { dp in
                var o = 0
                for plane in 0..<planes {
                    let dst = dp.baseAddress! + plane * H * W
                    for i in 0..<oh {
                        for j in 0..<ow {
                            let v = gp[o] / Float((rows.hi[i] - rows.lo[i]) * (cols.hi[j] - cols.lo[j]))
                            for iy in rows.lo[i]..<rows.hi[i] {
                                for ix in cols.lo[j]..<cols.hi[j] { dst[iy * W + ix] += v }
                            }
                            o += 1
                        }
                    }
                }
            }
        }
        return [dx]
    }
}

/// Nearest-neighbour upsampling by integer factors (PyTorch's `Upsample(scale_factor=s,
/// mode="nearest")`, Keras's `UpSampling2D`): `y[c, i, j] = x[c, ⌊i/sh⌋, ⌊j/sw⌋]`, output
/// `[C, H·sh, W·sw]`. Backward sums each `sh × sw` block of `∂L/∂y` onto its source pixel.
public final class UpSampling2D: ConfigurableLayer {
    public static let typeName = "UpSampling2D"
    public static let configKeys: [String]? = ["scale_factor", "mode"]
    public let scale: (h: Int, w: Int)

    public init(scale: (Int, Int)) throws {
        guard scale.0 > 0, scale.1 > 0 else {
            throw BorderlineError(.invalidConfiguration, "scale_factor must be positive integers, found [\(scale.0), \(scale.1)]")
        }
        self.scale = (scale.0, scale.1)
    }

    public convenience init(config: JSONValue) throws {
        let c = ConfigReader(config)
        let mode = try c.string("mode", default: "nearest")
        guard mode == "nearest" else {
            throw BorderlineError(.invalidConfiguration, "config key 'mode' must be \"nearest\" (the only interpolation supported), found \"\(mode)\"")
        }
        try self.init(scale: try c.positivePair("scale_factor"))
    }

    public var config: JSONValue { ["scale_factor": .init([scale.h, scale.w]), "mode": "nearest"] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.image(inputShapes)
        return [s.c, s.h * scale.h, s.w * scale.w]
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        precondition(x.rank == 4, "UpSampling2D: input \(x.shape) is not [batch, C, H, W]")
        let H = x.shape[2], W = x.shape[3], sh = scale.h, sw = scale.w, OW = W * sw
        let planes = x.batchSize * x.shape[1]
        let y = Tensor(shape: [x.batchSize, x.shape[1], H * sh, OW]) { out in
            x.withUnsafeBufferPointer { xp in
                for plane in 0..<planes {
                    let src = xp.baseAddress! + plane * H * W, dst = out.baseAddress! + plane * H * sh * OW
                    for iy in 0..<H {
                        let row = dst + iy * sh * OW
                        for ix in 0..<W {
                            let v = src[iy * W + ix]
                            for k in 0..<sw { row[ix * sw + k] = v }
                        }
                        for r in 1..<max(sh, 1) { (row + r * OW).update(from: row, count: OW) }
                    }
                }
            }
        }
        return (y, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let x = record.inputs[0]
        let H = x.shape[2], W = x.shape[3], sh = scale.h, sw = scale.w, OW = W * sw
        let planes = x.batchSize * x.shape[1]
        let dx = Tensor(shape: x.shape) { out in
            gradOutput.withUnsafeBufferPointer { gp in
                for plane in 0..<planes {
                    let src = gp.baseAddress! + plane * H * sh * OW, dst = out.baseAddress! + plane * H * W
                    for iy in 0..<H {
                        for ix in 0..<W {
                            var sum: Float = 0
                            for r in 0..<sh {
                                let row = src + (iy * sh + r) * OW + ix * sw
                                for k in 0..<sw { sum += row[k] }
                            }
                            dst[iy * W + ix] = sum
                        }
                    }
                }
            }
        }
        return [dx]
    }
}
