/// The geometry of a 2-D sliding window over a `[C, H, W]` image: kernel, stride, dilation,
/// per-side padding and the output grid they produce.
///
/// The output grid is `outH = ⌊(H + top + bottom − dh·(kh − 1) − 1) / sh⌋ + 1` (likewise `outW`),
/// PyTorch's floor rounding. Tap `i` of window `(oy, ox)` reads input row `oy·sh − top + i·dh`;
/// positions outside the image are padding.
public struct ConvGeometry: Equatable, Sendable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var padTop: Int
    public var padBottom: Int
    public var padLeft: Int
    public var padRight: Int
    /// Spacing between kernel taps (1: adjacent, PyTorch's `dilation`).
    public var dilationH: Int
    public var dilationW: Int

    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int, strideH: Int, strideW: Int,
                padTop: Int, padBottom: Int, padLeft: Int, padRight: Int, dilationH: Int = 1, dilationW: Int = 1) {
        self.channels = channels
        self.height = height
        self.width = width
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.padTop = padTop
        self.padBottom = padBottom
        self.padLeft = padLeft
        self.padRight = padRight
        self.dilationH = dilationH
        self.dilationW = dilationW
    }

    /// The extent of one window in the input, `dh·(kh − 1) + 1` rows.
    @inlinable public var spanH: Int { dilationH * (kernelH - 1) + 1 }
    /// The extent of one window in the input, `dw·(kw − 1) + 1` columns.
    @inlinable public var spanW: Int { dilationW * (kernelW - 1) + 1 }

    /// Output rows; ≤ 0 when the kernel does not fit the padded input.
    @inlinable public var outH: Int {
        let span = height + padTop + padBottom - spanH
        return span < 0 ? 0 : span / strideH + 1
    }
    /// Output columns; ≤ 0 when the kernel does not fit the padded input.
    @inlinable public var outW: Int {
        let span = width + padLeft + padRight - spanW
        return span < 0 ? 0 : span / strideW + 1
    }
    /// Rows of the patch matrix: `C · kh · kw`.
    @inlinable public var patchSize: Int { channels * kernelH * kernelW }
    /// Output positions per channel: `outH · outW`.
    @inlinable public var outPlane: Int { outH * outW }
    /// Elements of one input image: `C · H · W`.
    @inlinable public var imageSize: Int { channels * height * width }

    /// The output indices `lo..<hi` whose window tap at `offset` (tap index · dilation) lands inside
    /// `0..<size`, i.e. `0 ≤ o·stride − pad + offset < size`.
    @inlinable static func validRange(offset: Int, pad: Int, stride: Int, size: Int, count: Int) -> (lo: Int, hi: Int) {
        let first = pad - offset                       // smallest o·stride allowed
        let lo = first <= 0 ? 0 : (first + stride - 1) / stride
        let last = size - 1 + pad - offset             // largest o·stride allowed
        let hi = last < 0 ? 0 : min(count, last / stride + 1)
        return (min(lo, hi), hi)
    }
}

/// Patch-matrix (im2col) packing and its adjoint (col2im), the data movement that turns
/// convolutions into sgemm calls.
///
/// For one image `x ∈ ℝ^{C×H×W}` the patch matrix is `X ∈ ℝ^{(C·kh·kw) × (outH·outW)}` with
/// `X[(c·kh + i)·kw + j, oy·outW + ox] = x[c, oy·sh − top + i·dh, ox·sw − left + j·dw]` (0 in the
/// padding). Rows are channel-major, so the rows of a channel group are one contiguous block
/// (grouped convolutions multiply each block by its group's weights).
/// A convolution is then `Y = W · X` with `W ∈ ℝ^{out×(C·kh·kw)}`. `rowStride` lets the
/// columns of several images sit side by side in one matrix (`rowStride = batch · outPlane`),
/// so a whole batch goes through one large sgemm instead of many small ones.
public enum Im2Col {
    /// Writes the patch matrix of `image` into `columns` (every entry of the `patchSize × outPlane`
    /// block is written, padding as 0).
    public static func pack(_ image: UnsafePointer<Float>, _ g: ConvGeometry,
                            into columns: UnsafeMutablePointer<Float>, rowStride: Int) {
        let outH = g.outH, outW = g.outW
        let H = g.height, W = g.width, sw = g.strideW
        let dh = g.dilationH, dw = g.dilationW
        for c in 0..<g.channels {
            for i in 0..<g.kernelH {
                let rows = ConvGeometry.validRange(offset: i * dh, pad: g.padTop, stride: g.strideH, size: H, count: outH)
                for j in 0..<g.kernelW {
                    let cols = ConvGeometry.validRange(offset: j * dw, pad: g.padLeft, stride: sw, size: W, count: outW)
                    let dst = columns + ((c * g.kernelH + i) * g.kernelW + j) * rowStride
                    // Rows of the output grid whose tap falls in the top/bottom padding are all zero.
                    // (Plain loops rather than memcpy/memset: the segments are a few dozen floats,
                    // where a library call costs more than the copy.)
                    for k in 0..<(rows.lo * outW) { dst[k] = 0 }
                    for k in (rows.hi * outW)..<(outH * outW) { dst[k] = 0 }
                    guard rows.lo < rows.hi else { continue }
                    for oy in rows.lo..<rows.hi {
                        let out = dst + oy * outW
                        // Index of the tap for output column 0 (may be negative: only used in range).
                        let base = (c * H + oy * g.strideH - g.padTop + i * dh) * W - g.padLeft + j * dw
                        for ox in 0..<cols.lo { out[ox] = 0 }
                        if sw == 1 {
                            let src = image + (base + cols.lo), o = out + cols.lo
                            for k in 0..<(cols.hi - cols.lo) { o[k] = src[k] }
                        } else {
                            var ox = cols.lo
                            while ox < cols.hi { out[ox] = image[base + ox * sw]; ox += 1 }
                        }
                        for ox in cols.hi..<outW { out[ox] = 0 }
                    }
                }
            }
        }
    }

    /// Adds the patch matrix `columns` back onto `image` (col2im, the adjoint of ``pack``):
    /// `x[c, oy·sh − top + i·dh, ox·sw − left + j·dw] += X[(c·kh + i)·kw + j, oy·outW + ox]` for
    /// every tap inside the image. Entries in the padding are dropped.
    public static func accumulate(_ columns: UnsafePointer<Float>, rowStride: Int, _ g: ConvGeometry,
                                  into image: UnsafeMutablePointer<Float>) {
        let outW = g.outW, outH = g.outH
        let H = g.height, W = g.width, sw = g.strideW
        let dh = g.dilationH, dw = g.dilationW
        for c in 0..<g.channels {
            for i in 0..<g.kernelH {
                let rows = ConvGeometry.validRange(offset: i * dh, pad: g.padTop, stride: g.strideH, size: H, count: outH)
                guard rows.lo < rows.hi else { continue }
                for j in 0..<g.kernelW {
                    let cols = ConvGeometry.validRange(offset: j * dw, pad: g.padLeft, stride: sw, size: W, count: outW)
                    guard cols.lo < cols.hi else { continue }
                    let src = columns + ((c * g.kernelH + i) * g.kernelW + j) * rowStride
                    for oy in rows.lo..<rows.hi {
                        let row = src + oy * outW
                        let base = (c * H + oy * g.strideH - g.padTop + i * dh) * W - g.padLeft + j * dw
                        if sw == 1 {
                            let dst = image + (base + cols.lo)
                            let s = row + cols.lo
                            for k in 0..<(cols.hi - cols.lo) { dst[k] += s[k] }
                        } else {
                            var ox = cols.lo
                            while ox < cols.hi { image[base + ox * sw] += row[ox]; ox += 1 }
                        }
                    }
                }
            }
        }
    }

    /// Reorders a batch `[n, C, P]` into channel-major `[C, n·P]`, the layout in which a batch of
    /// feature maps is one matrix operand of sgemm.
    public static func toChannelMajor(_ src: UnsafePointer<Float>, batch n: Int, channels: Int, plane: Int,
                                      into dst: UnsafeMutablePointer<Float>) {
        let ld = n * plane
        for s in 0..<n {
            for c in 0..<channels {
                (dst + c * ld + s * plane).update(from: src + (s * channels + c) * plane, count: plane)
            }
        }
    }

    /// Reorders channel-major `[C, n·P]` back into a batch `[n, C, P]` (inverse of ``toChannelMajor``).
    public static func fromChannelMajor(_ src: UnsafePointer<Float>, batch n: Int, channels: Int, plane: Int,
                                        into dst: UnsafeMutablePointer<Float>) {
        let ld = n * plane
        for s in 0..<n {
            for c in 0..<channels {
                (dst + (s * channels + c) * plane).update(from: src + c * ld + s * plane, count: plane)
            }
        }
    }

    /// How many images to pack per sgemm so that a `rows × (images · plane)` scratch matrix stays
    /// within `budget` floats: large enough for efficient sgemm, small enough to stay in cache.
    public static func imagesPerChunk(rows: Int, plane: Int, batch: Int, budget: Int = chunkBudget) -> Int {
        max(1, min(batch, budget / max(1, rows * plane)))
    }

    /// Default scratch budget in floats (see ``imagesPerChunk``), 1 MiB. Measured on the
    /// Fashion-MNIST CNN at batch 256 (one core): one image per sgemm (budget 2¹⁴) ran the
    /// forward pass at ~35k images/s, ~20 images per sgemm (2¹⁸) at ~45–55k, the whole batch in
    /// one sgemm (2²²) at ~27k (the patch matrix no longer fits in cache).
    /// A tuning knob for experiments and tests; do not change it while layers are running.
    nonisolated(unsafe) public static var chunkBudget = 1 << 18
}

extension Im2Col {
    /// One chunk of a batch on its way through a convolution's sgemms: images
    /// `start ..< start + count`, whose matrices sit side by side with row stride
    /// `rowStride = count · plane`, and the two parts of the call's scratch block.
    struct Chunk {
        let start: Int
        let count: Int
        /// Columns per image in the patch and channel-major matrices.
        let plane: Int
        /// The patch matrix (`patchRows × rowStride`).
        let columns: UnsafeMutablePointer<Float>
        /// A channel-major operand (`channelRows × rowStride`).
        let channelMajor: UnsafeMutablePointer<Float>

        var rowStride: Int { count * plane }

        /// Packs this chunk's images of `batch` (each `g.imageSize` floats) side by side into
        /// ``columns``.
        @inline(__always)
        func pack(_ batch: UnsafePointer<Float>, _ g: ConvGeometry) {
            let ld = rowStride
            for s in 0..<count {
                Im2Col.pack(batch + (start + s) * g.imageSize, g, into: columns + s * plane, rowStride: ld)
            }
        }

        /// Adds ``columns`` back onto this chunk's images of `batch` (col2im, the adjoint of
        /// ``pack(_:_:)``).
        @inline(__always)
        func accumulate(_ g: ConvGeometry, into batch: UnsafeMutablePointer<Float>) {
            let ld = rowStride
            for s in 0..<count {
                Im2Col.accumulate(columns + s * plane, rowStride: ld, g, into: batch + (start + s) * g.imageSize)
            }
        }
    }

    /// Runs `body` over a batch of `n` images in chunks sized by ``imagesPerChunk(rows:plane:batch:budget:)``
    /// for a scratch matrix of `patchRows + channelRows` rows, with one scratch allocation for the
    /// whole call (none when `n` is 0).
    @inline(__always)
    static func forEachChunk(batch n: Int, patchRows: Int, channelRows: Int, plane: Int, _ body: (Chunk) -> Void) {
        guard n > 0 else { return }
        let chunk = imagesPerChunk(rows: patchRows + channelRows, plane: plane, batch: n)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: (patchRows + channelRows) * chunk * plane)
        defer { scratch.deallocate() }
        let columns = scratch, channelMajor = scratch + patchRows * chunk * plane
        for start in stride(from: 0, to: n, by: chunk) {
            body(Chunk(start: start, count: min(chunk, n - start), plane: plane, columns: columns, channelMajor: channelMajor))
        }
    }
}
