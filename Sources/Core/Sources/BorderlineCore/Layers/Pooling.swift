/// The hyper-parameters shared by the two windowed pooling layers.
struct PoolWindow {
    let kernel: (h: Int, w: Int)
    let stride: (h: Int, w: Int)
    let padding: Padding2D

    /// Reads `kernel_size`, `stride` (default: the kernel) and `padding`, each pad at most half
    /// the kernel (PyTorch's rule, which guarantees every window overlaps the input).
    init(config: JSONValue) throws {
        let c = ConfigReader(config)
        let k = try c.positivePair("kernel_size")
        self.init(kernel: k, stride: try c.positivePair("stride", default: [k.0, k.1]), padding: try Padding2D.read(c))
        try validate()
    }

    init(kernel: (Int, Int), stride: (Int, Int), padding: Padding2D) {
        self.kernel = (kernel.0, kernel.1)
        self.stride = (stride.0, stride.1)
        self.padding = padding
    }

    func validate() throws {
        guard kernel.h > 0, kernel.w > 0, stride.h > 0, stride.w > 0 else {
            throw BorderlineError(.invalidConfiguration, "kernel_size and stride must be positive")
        }
        guard max(padding.top, padding.bottom) <= kernel.h / 2, max(padding.left, padding.right) <= kernel.w / 2 else {
            throw BorderlineError(.invalidConfiguration,
                "padding \(padding.json) must be at most half the kernel size [\(kernel.h), \(kernel.w)]")
        }
    }

    var config: JSONValue {
        ["kernel_size": .init([kernel.h, kernel.w]), "stride": .init([stride.h, stride.w]), "padding": padding.json]
    }

    func geometry(channels: Int, height: Int, width: Int) -> ConvGeometry {
        ConvGeometry(channels: channels, height: height, width: width, kernelH: kernel.h, kernelW: kernel.w,
                     strideH: stride.h, strideW: stride.w,
                     padTop: padding.top, padBottom: padding.bottom, padLeft: padding.left, padRight: padding.right)
    }

    func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try ShapeCheck.image(inputShapes)
        let g = geometry(channels: s.c, height: s.h, width: s.w)
        try ShapeCheck.window(g, input: (s.h, s.w))
        return [s.c, g.outH, g.outW]
    }

    /// The input range `lo[o]..<hi[o]` that window `o` covers along one axis, clipped to the
    /// input (never empty, since each pad is at most half the kernel). Precomputed once per call
    /// so the kernels below are plain integer loops.
    static func bounds(count: Int, size: Int, kernel: Int, stride: Int, pad: Int) -> (lo: [Int], hi: [Int]) {
        let start = (0..<count).map { $0 * stride - pad }
        return (start.map { max(0, $0) }, start.map { min(size, $0 + kernel) })
    }

    /// Row and column bounds of every window of `g`.
    static func windows(_ g: ConvGeometry) -> (rows: (lo: [Int], hi: [Int]), cols: (lo: [Int], hi: [Int])) {
        (bounds(count: g.outH, size: g.height, kernel: g.kernelH, stride: g.strideH, pad: g.padTop),
         bounds(count: g.outW, size: g.width, kernel: g.kernelW, stride: g.strideW, pad: g.padLeft))
    }
}

/// What max pooling remembers for its backward pass: for every output element, the index
/// (within its `H × W` input plane) of the input element that won.
public final class MaxPoolIndices {
    public let indices: [Int32]
    init(_ indices: [Int32]) { self.indices = indices }
}

/// 2-D max pooling (PyTorch's `MaxPool2d`, floor rounding): `y[n, c, oy, ox]` is the largest
/// `x[n, c, iy, ix]` in window `(oy, ox)`; padding never wins (it acts as −∞).
///
/// Backward routes each `∂L/∂y` to the arg-max saved by the forward pass (first maximum in
/// row-major order on ties, like PyTorch; NaN counts as the maximum, so it propagates).
public final class MaxPool2D: ConfigurableLayer {
    public static let typeName = "MaxPool2D"
    public static let configKeys: [String]? = ["kernel_size", "stride", "padding"]
    let window: PoolWindow
    public var kernelSize: (h: Int, w: Int) { window.kernel }
    public var stride: (h: Int, w: Int) { window.stride }
    public var padding: Padding2D { window.padding }

    /// Max pooling; `stride` defaults to the kernel size.
    public init(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: Padding2D = .zero) throws {
        window = PoolWindow(kernel: kernelSize, stride: stride ?? kernelSize, padding: padding)
        try window.validate()
    }

    public init(config: JSONValue) throws { window = try PoolWindow(config: config) }

    public var config: JSONValue { window.config }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try window.outputShape(for: inputShapes) }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        HeapTuning.apply() // large activations: reuse heap memory instead of page-faulting (see HeapTuning)
        let x = inputs[0]
        precondition(x.rank == 4, "MaxPool2D: input \(x.shape) is not [batch, C, H, W]")
        let g = window.geometry(channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        let planes = x.batchSize * g.channels, inPlane = g.height * g.width, outH = g.outH, outW = g.outW
        let H = g.height, W = g.width, sh = g.strideH, sw = g.strideW, kh = g.kernelH, kw = g.kernelW
        let count = planes * outH * outW
        // Output columns whose whole window lies inside the input columns: there the kernel
        // runs 8 columns at a time in SIMD lanes; the (padded) edges use the scalar scan.
        let colRanges = (0..<kw).map { ConvGeometry.validRange(offset: $0, pad: g.padLeft, stride: sw, size: W, count: outW) }
        let interiorLo = colRanges.map(\.lo).max() ?? 0, interiorHi = max(interiorLo, colRanges.map(\.hi).min() ?? 0)
        let laneOffsets = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &* Int32(sw)
        var indices = [Int32](unsafeUninitializedCapacity: count) { _, n in n = count }
        let y = Tensor(shape: [x.batchSize, g.channels, outH, outW]) { out in
            guard count > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                indices.withUnsafeMutableBufferPointer { ip in
                    for plane in 0..<planes {
                        let src = xp.baseAddress! + plane * inPlane
                        for oy in 0..<outH {
                            let best = out.baseAddress! + (plane * outH + oy) * outW
                            let arg = ip.baseAddress! + (plane * outH + oy) * outW
                            let y0 = oy * sh - g.padTop
                            let rows = max(0, y0)..<min(H, y0 + kh)
                            func scalar(_ ox: Int) {
                                let x0 = ox * sw - g.padLeft
                                let cols = max(0, x0)..<min(W, x0 + kw)
                                (best[ox], arg[ox]) = MaxPool2D.scan(src, width: W, rows: rows, cols: cols)
                            }
                            var ox = 0
                            while ox < min(interiorLo, outW) { scalar(ox); ox += 1 }
                            while ox < interiorHi {
                                // 8 output columns in SIMD lanes. A chunk that would run past the
                                // interior is moved back to end at its edge (recomputing a few
                                // columns, identically) unless the interior is narrower than 8;
                                // then the surplus lanes are computed and dropped.
                                if ox + 8 > interiorHi && interiorHi - 8 >= interiorLo { ox = interiorHi - 8 }
                                let lanes = min(8, interiorHi - ox)
                                var b = SIMD8<Float>(repeating: -.infinity)
                                var a = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: rows.lowerBound * W + ox * sw - g.padLeft)) &+ laneOffsets
                                // Window taps in row-major order (PyTorch's scan order).
                                for iy in rows {
                                    for j in 0..<kw {
                                        let k = iy * W + ox * sw - g.padLeft + j
                                        let v = MaxPool2D.load8(src, k, stride: sw, limit: inPlane)
                                        // A strictly larger value or a NaN wins (never both, hence XOR).
                                        let better = (v .> b) .^ (v .!= v)
                                        b.replace(with: v, where: better)
                                        a.replace(with: SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: k)) &+ laneOffsets, where: better)
                                    }
                                }
                                if lanes == 8 {
                                    UnsafeMutableRawPointer(best + ox).storeBytes(of: b, as: SIMD8<Float>.self)
                                    UnsafeMutableRawPointer(arg + ox).storeBytes(of: a, as: SIMD8<Int32>.self)
                                } else {
                                    for l in 0..<lanes { best[ox + l] = b[l]; arg[ox + l] = a[l] }
                                }
                                ox += lanes
                            }
                            while ox < outW { scalar(ox); ox += 1 }
                        }
                    }
                }
            }
        }
        return (y, MaxPoolIndices(indices))
    }

    /// The maximum of one clipped window and its index in the plane, scanning row-major and
    /// letting a strictly larger value or a NaN win (PyTorch's rule). `-∞` with the first
    /// index if nothing beats it.
    @inline(__always)
    static func scan(_ src: UnsafePointer<Float>, width W: Int, rows: Range<Int>, cols: Range<Int>) -> (Float, Int32) {
        var bestValue = -Float.infinity, best = rows.lowerBound * W + cols.lowerBound
        for iy in rows {
            for ix in cols {
                let v = src[iy * W + ix]
                if v > bestValue || v.isNaN { bestValue = v; best = iy * W + ix }
            }
        }
        return (bestValue, Int32(truncatingIfNeeded: best))
    }

    /// `src[k + l·stride]` for lanes `l = 0…7`, reading nothing at or beyond `limit` (lanes that
    /// would are filled with the last element; callers drop such lanes). Contiguous and
    /// stride-2 reads are single vector loads (stride 2 loads 16 floats and keeps the even ones).
    @inline(__always)
    static func load8(_ src: UnsafePointer<Float>, _ k: Int, stride: Int, limit: Int) -> SIMD8<Float> {
        if stride == 1 && k + 8 <= limit { return UnsafeRawPointer(src + k).loadUnaligned(as: SIMD8<Float>.self) }
        if stride == 2 && k + 16 <= limit { return UnsafeRawPointer(src + k).loadUnaligned(as: SIMD16<Float>.self).evenHalf }
        var v = SIMD8<Float>()
        for l in 0..<8 { v[l] = src[min(k + l * stride, limit - 1)] }
        return v
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        guard let saved = record.saved as? MaxPoolIndices else { preconditionFailure("MaxPool2D: backward without forward indices") }
        let x = record.inputs[0]
        let inPlane = x.shape[2] * x.shape[3], outPlane = gradOutput.sampleCount / max(1, x.shape[1])
        let planes = x.batchSize * x.shape[1]
        var dx = Tensor(zeros: x.shape)
        guard planes > 0 else { return [dx] }
        gradOutput.withUnsafeBufferPointer { gp in
            saved.indices.withUnsafeBufferPointer { ip in
                dx.withUnsafeMutableBufferPointer { dp in
                    for plane in 0..<planes {
                        let dst = dp.baseAddress! + plane * inPlane
                        for k in (plane * outPlane)..<((plane + 1) * outPlane) { dst[Int(ip[k])] += gp[k] }
                    }
                }
            }
        }
        return [dx]
    }
}

/// 2-D average pooling (PyTorch's `AvgPool2d`, floor rounding):
/// `y[n, c, oy, ox] = (1 / d) Σ_window x` with
/// - `count_include_pad = true` (PyTorch's default): `d = kh·kw`, padding counting as zeros;
/// - `count_include_pad = false` (Keras's `padding="same"`, ONNX's default): `d` = the number of
///   window positions inside the image, so padding is excluded from the average.
///
/// Backward spreads each `∂L/∂y / d` over the in-image part of its window.
public final class AvgPool2D: ConfigurableLayer {
    public static let typeName = "AvgPool2D"
    public static let configKeys: [String]? = ["kernel_size", "stride", "padding", "count_include_pad"]
    let window: PoolWindow
    public var kernelSize: (h: Int, w: Int) { window.kernel }
    public var stride: (h: Int, w: Int) { window.stride }
    public var padding: Padding2D { window.padding }
    /// Whether padded positions count in the divisor (see the type's documentation).
    public let countIncludePad: Bool

    /// Average pooling; `stride` defaults to the kernel size.
    public init(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: Padding2D = .zero, countIncludePad: Bool = true) throws {
        window = PoolWindow(kernel: kernelSize, stride: stride ?? kernelSize, padding: padding)
        self.countIncludePad = countIncludePad
        try window.validate()
    }

    public init(config: JSONValue) throws {
        window = try PoolWindow(config: config)
        countIncludePad = try ConfigReader(config).bool("count_include_pad", default: true)
    }

    public var config: JSONValue {
        var c = window.config
        if case .object(var o) = c { o["count_include_pad"] = .bool(countIncludePad); c = .object(o) }
        return c
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try window.outputShape(for: inputShapes) }

    /// `1 / d` for every output position (row-major over the output plane).
    private func scales(_ g: ConvGeometry, _ rows: (lo: [Int], hi: [Int]), _ cols: (lo: [Int], hi: [Int])) -> [Float] {
        // With floor rounding every window lies inside the padded input, so the full divisor is the
        // kernel area, which is what count_include_pad=True divides by.
        let full = 1 / Float(g.kernelH * g.kernelW)
        var s = [Float](repeating: full, count: g.outH * g.outW)
        guard !countIncludePad else { return s }
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                s[oy * g.outW + ox] = 1 / Float((rows.hi[oy] - rows.lo[oy]) * (cols.hi[ox] - cols.lo[ox]))
            }
        }
        return s
    }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        HeapTuning.apply() // large activations: reuse heap memory instead of page-faulting (see HeapTuning)
        let x = inputs[0]
        precondition(x.rank == 4, "AvgPool2D: input \(x.shape) is not [batch, C, H, W]")
        let g = window.geometry(channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        let planes = x.batchSize * g.channels, inPlane = g.height * g.width, outH = g.outH, outW = g.outW, W = g.width
        let (rows, cols) = PoolWindow.windows(g)
        let scale = scales(g, rows, cols)
        let y = Tensor(shape: [x.batchSize, g.channels, outH, outW]) { out in
            guard planes * outH * outW > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                var o = 0
                for plane in 0..<planes {
                    let src = xp.baseAddress! + plane * inPlane
                    for oy in 0..<outH {
                        for ox in 0..<outW {
                            var sum: Float = 0
                            for iy in rows.lo[oy]..<rows.hi[oy] {
                                for ix in cols.lo[ox]..<cols.hi[ox] { sum += src[iy * W + ix] }
                            }
                            out[o] = sum * scale[oy * outW + ox]
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
        let g = window.geometry(channels: x.shape[1], height: x.shape[2], width: x.shape[3])
        let planes = x.batchSize * g.channels, inPlane = g.height * g.width, outH = g.outH, outW = g.outW, W = g.width
        let (rows, cols) = PoolWindow.windows(g)
        let scale = scales(g, rows, cols)
        var dx = Tensor(zeros: x.shape)
        guard planes * outH * outW > 0 else { return [dx] }
        gradOutput.withUnsafeBufferPointer { gp in
            dx.withUnsafeMutableBufferPointer { dp in
                var o = 0
                for plane in 0..<planes {
                    let dst = dp.baseAddress! + plane * inPlane
                    for oy in 0..<outH {
                        for ox in 0..<outW {
                            let v = gp[o] * scale[oy * outW + ox]
                            for iy in rows.lo[oy]..<rows.hi[oy] {
                                for ix in cols.lo[ox]..<cols.hi[ox] { dst[iy * W + ix] += v }
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

/// Global average pooling, `[C, H, W] → [C]`: `y[n, c] = (1 / (H·W)) Σ_{h,w} x[n, c, h, w]`.
/// Backward: `∂L/∂x[n, c, h, w] = ∂L/∂y[n, c] / (H·W)`.
public final class GlobalAvgPool2D: ConfigurableLayer {
    public static let typeName = "GlobalAvgPool2D"
    public static let configKeys: [String]? = []
    public init() {}
    public init(config: JSONValue) throws {}
    public var config: JSONValue { [:] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { [try ShapeCheck.image(inputShapes).c] }

    public func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
        let x = inputs[0]
        precondition(x.rank == 4, "GlobalAvgPool2D: input \(x.shape) is not [batch, C, H, W]")
        let planes = x.batchSize * x.shape[1], plane = x.shape[2] * x.shape[3]
        let scale = 1 / Float(plane)
        let y = Tensor(shape: [x.batchSize, x.shape[1]]) { out in
            x.withUnsafeBufferPointer { xp in
                for k in 0..<planes {
                    let src = xp.baseAddress! + k * plane
                    out[k] = VectorKernels.sum(src, count: plane) * scale
                }
            }
        }
        return (y, nil)
    }

    public func backward(_ gradOutput: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        guard inputGradients else { return [] }
        let x = record.inputs[0]
        let planes = x.batchSize * x.shape[1], plane = x.shape[2] * x.shape[3]
        let scale = 1 / Float(plane)
        let dx = Tensor(shape: x.shape) { out in
            gradOutput.withUnsafeBufferPointer { gp in
                for k in 0..<planes {
                    (out.baseAddress! + k * plane).update(repeating: gp[k] * scale, count: plane)
                }
            }
        }
        return [dx]
    }
}
