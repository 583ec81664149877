/// The direct kernels of a depthwise convolution (`groups = in_channels`, one input channel per
/// group, `m = out / in` output channels per input channel):
/// `y[n, o, oy, ox] = b[o] + Σ_{i,j} W[o, 0, i, j] · x[n, ⌊o/m⌋, oy·sh − top + i·dh, ox·sw − left + j·dw]`.
///
/// Each tap is one multiply-add over a row segment of the output plane, so the 9× (for 3×3)
/// patch matrix of im2col is never built; per-group sgemm would multiply a `1 × 9` matrix by it,
/// which is dominated by the packing. Backward uses the same taps: `∂L/∂x` scatters `W·g`,
/// `∂L/∂W[o, 0, i, j] += Σ g · x` over the tap's valid positions, `∂L/∂b[o] += Σ g`.
extension Conv2D {
    /// Whether the direct depthwise kernels apply (one input channel per group).
    var isDepthwise: Bool { groups > 1 && groups == inChannels }

    /// The output rows and columns whose tap `(i, j)` lands inside the image, and the offset of
    /// the tap for output `(0, 0)` in the input plane (may be negative; only used in range).
    private func tapRanges(_ g: ConvGeometry, _ i: Int, _ j: Int) -> (rows: (lo: Int, hi: Int), cols: (lo: Int, hi: Int), base: Int) {
        let rows = ConvGeometry.validRange(offset: i * g.dilationH, pad: g.padTop, stride: g.strideH, size: g.height, count: g.outH)
        let cols = ConvGeometry.validRange(offset: j * g.dilationW, pad: g.padLeft, stride: g.strideW, size: g.width, count: g.outW)
        return (rows, cols, (i * g.dilationH - g.padTop) * g.width + j * g.dilationW - g.padLeft)
    }

    func depthwiseForward(_ x: Tensor) -> Tensor {
        let n = x.batchSize, C = inChannels, O = outChannels, m = O / C
        let g = geometry(height: x.shape[2], width: x.shape[3])
        let OH = g.outH, OW = g.outW, P = OH * OW, H = g.height, W = g.width, sh = g.strideH, sw = g.strideW
        let kh = kernelSize.h, kw = kernelSize.w
        let biasValues = bias?.value.scalars ?? [Float](repeating: 0, count: O)
        return Tensor(shape: [n, O, OH, OW]) { out in
            guard n > 0, P > 0 else { return }
            x.withUnsafeBufferPointer { xp in
                weight.value.withUnsafeBufferPointer { wp in
                    for s in 0..<n {
                        for o in 0..<O {
                            let dst = out.baseAddress! + (s * O + o) * P
                            let src = xp.baseAddress! + (s * C + o / m) * H * W
                            dst.update(repeating: biasValues[o], count: P)
                            for i in 0..<kh {
                                for j in 0..<kw {
                                    let t = tapRanges(g, i, j)
                                    guard t.rows.lo < t.rows.hi, t.cols.lo < t.cols.hi else { continue }
                                    let w = wp[(o * kh + i) * kw + j]
                                    for oy in t.rows.lo..<t.rows.hi {
                                        let row = dst + oy * OW, line = src + (oy * sh * W + t.base)
                                        if sw == 1 {
                                            for ox in t.cols.lo..<t.cols.hi { row[ox] += w * line[ox] }
                                        } else {
                                            for ox in t.cols.lo..<t.cols.hi { row[ox] += w * line[ox * sw] }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func depthwiseBackward(_ gradOutput: Tensor, x: Tensor, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
        let n = x.batchSize, C = inChannels, O = outChannels, m = O / C
        let g = geometry(height: x.shape[2], width: x.shape[3])
        let OH = g.outH, OW = g.outW, P = OH * OW, H = g.height, W = g.width, sh = g.strideH, sw = g.strideW
        let kh = kernelSize.h, kw = kernelSize.w
        var dx = Tensor(zeros: inputGradients ? x.shape : [0])
        guard n > 0, P > 0 else { return inputGradients ? [dx] : [] }
        gradOutput.withUnsafeBufferPointer { gp in
            x.withUnsafeBufferPointer { xp in
                if parameterGradients {
                    weight.gradient.withUnsafeMutableBufferPointer { gw in
                        for o in 0..<O {
                            for i in 0..<kh {
                                for j in 0..<kw {
                                    let t = tapRanges(g, i, j)
                                    guard t.rows.lo < t.rows.hi, t.cols.lo < t.cols.hi else { continue }
                                    var acc: Float = 0
                                    for s in 0..<n {
                                        let grad = gp.baseAddress! + (s * O + o) * P, src = xp.baseAddress! + (s * C + o / m) * H * W
                                        for oy in t.rows.lo..<t.rows.hi {
                                            let row = grad + oy * OW, line = src + (oy * sh * W + t.base)
                                            for ox in t.cols.lo..<t.cols.hi { acc += row[ox] * line[ox * sw] }
                                        }
                                    }
                                    gw[(o * kh + i) * kw + j] += acc
                                }
                            }
                        }
                    }
                    bias?.gradient.withUnsafeMutableBufferPointer { gb in
                        for s in 0..<n {
                            for o in 0..<O { gb[o] += VectorKernels.sum(gp.baseAddress! + (s * O + o) * P, count: P) }
                        }
                    }
                }
                guard inputGradients else { return }
                weight.value.withUnsafeBufferPointer { wp in
                    dx.withUnsafeMutableBufferPointer { dp in
                        for s in 0..<n {
                            for o in 0..<O {
                                let grad = gp.baseAddress! + (s * O + o) * P, dst = dp.baseAddress! + (s * C + o / m) * H * W
                                for i in 0..<kh {
                                    for j in 0..<kw {
                                        let t = tapRanges(g, i, j)
                                        guard t.rows.lo < t.rows.hi, t.cols.lo < t.cols.hi else { continue }
                                        let w = wp[(o * kh + i) * kw + j]
                                        for oy in t.rows.lo..<t.rows.hi {
                                            let row = grad + oy * OW, line = dst + (oy * sh * W + t.base)
                                            if sw == 1 {
                                                for ox in t.cols.lo..<t.cols.hi { line[ox] += w * row[ox] }
                                            } else {
                                                for ox in t.cols.lo..<t.cols.hi { line[ox * sw] += w * row[ox] }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return inputGradients ? [dx] : []
    }
}
