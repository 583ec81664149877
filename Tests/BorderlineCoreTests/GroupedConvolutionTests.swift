import XCTest
@testable import BorderlineCore

/// Grouped, depthwise and dilated convolutions: finite-difference checks of every gradient, and
/// the forward pass against a direct evaluation of PyTorch's `Conv2d` formula.
final class GroupedConvolutionTests: XCTestCase {
    /// `y[n, o, oy, ox] = b[o] + Σ_{c,i,j} W[o, c, i, j] · x[n, g(o)·C_g + c, oy·sh − top + i·dh, ox·sw − left + j·dw]`,
    /// evaluated term by term (no im2col), zero outside the image.
    static func naive(_ conv: Conv2D, _ x: Tensor) -> Tensor {
        let n = x.shape[0], H = x.shape[2], W = x.shape[3]
        let g = conv.geometry(height: H, width: W)
        let O = conv.outChannels, Cg = conv.inChannels / conv.groups, Og = O / conv.groups
        let (kh, kw) = conv.kernelSize
        var y = Tensor(zeros: [n, O, g.outH, g.outW])
        for s in 0..<n {
            for o in 0..<O {
                for oy in 0..<g.outH {
                    for ox in 0..<g.outW {
                        var acc = Double(conv.bias?.value.scalars[o] ?? 0)
                        for c in 0..<Cg {
                            let ic = (o / Og) * Cg + c
                            for i in 0..<kh {
                                for j in 0..<kw {
                                    let iy = oy * conv.stride.h - conv.padding.top + i * conv.dilation.h
                                    let ix = ox * conv.stride.w - conv.padding.left + j * conv.dilation.w
                                    guard iy >= 0, iy < H, ix >= 0, ix < W else { continue }
                                    let w = conv.weight.value.scalars[((o * Cg + c) * kh + i) * kw + j]
                                    acc += Double(w) * Double(x.scalars[((s * conv.inChannels + ic) * H + iy) * W + ix])
                                }
                            }
                        }
                        y.scalars[((s * O + o) * g.outH + oy) * g.outW + ox] = Float(acc)
                    }
                }
            }
        }
        return y
    }

    func assertMatchesNaive(_ conv: Conv2D, _ x: Tensor, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let y = conv(x), reference = GroupedConvolutionTests.naive(conv, x)
        XCTAssertEqual(y.shape, reference.shape, label, file: file, line: line)
        let error = zip(y.scalars, reference.scalars).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(error, 1e-5, "\(label): forward differs from the direct formula by \(error)", file: file, line: line)
    }

    func testGroupedConvolution() {
        var g = RandomGenerator(seed: 70)
        let conv = Conv2D(inChannels: 4, outChannels: 6, kernelSize: (3, 3), padding: Padding2D(1, 1), groups: 2, generator: &g)
        XCTAssertEqual(conv.weight.value.shape, [6, 2, 3, 3])
        let x = LayerFixtures.random([2, 4, 5, 4], seed: 71)
        assertMatchesNaive(conv, x, "groups 2")
        LayerGradientCheck.assert(conv, inputs: [x], "groups 2")
    }

    func testDepthwiseConvolutionWithMultiplier() {
        var g = RandomGenerator(seed: 72)
        let conv = Conv2D(inChannels: 3, outChannels: 6, kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1),
                          groups: 3, generator: &g)
        XCTAssertEqual(conv.weight.value.shape, [6, 1, 3, 3])
        XCTAssertEqual(try conv.outputShape(for: [[3, 5, 6]]), [6, 3, 3])
        let x = LayerFixtures.random([2, 3, 5, 6], seed: 73)
        assertMatchesNaive(conv, x, "depthwise ×2")
        LayerGradientCheck.assert(conv, inputs: [x], "depthwise ×2")
    }

    /// The direct depthwise kernels (no im2col) on every geometry feature at once.
    func testDepthwiseDirectKernelsMatchTheFormula() {
        var g = RandomGenerator(seed: 80)
        let conv = Conv2D(inChannels: 3, outChannels: 6, kernelSize: (3, 2), stride: (2, 3),
                          padding: Padding2D(top: 2, bottom: 0, left: 1, right: 2), dilation: (2, 2), groups: 3, generator: &g)
        XCTAssertTrue(conv.isDepthwise)
        let x = LayerFixtures.random([2, 3, 7, 8], seed: 81)
        assertMatchesNaive(conv, x, "depthwise strided dilated asymmetric")
        LayerGradientCheck.assert(conv, inputs: [x], "depthwise strided dilated asymmetric")
        let plain = Conv2D(inChannels: 2, outChannels: 2, kernelSize: (3, 3), padding: Padding2D(1, 1), groups: 2, bias: false, generator: &g)
        assertMatchesNaive(plain, LayerFixtures.random([1, 2, 4, 5], seed: 82), "depthwise, no bias")
        LayerGradientCheck.assert(plain, inputs: [LayerFixtures.random([1, 2, 4, 5], seed: 82)], "depthwise, no bias")
    }

    func testDilatedConvolution() {
        var g = RandomGenerator(seed: 74)
        let conv = Conv2D(inChannels: 2, outChannels: 3, kernelSize: (3, 3), padding: Padding2D(2, 2), dilation: (2, 2), generator: &g)
        XCTAssertEqual(try conv.outputShape(for: [[2, 5, 6]]), [3, 5, 6], "dilation 2 with padding 2 keeps the size")
        let x = LayerFixtures.random([2, 2, 5, 6], seed: 75)
        assertMatchesNaive(conv, x, "dilation 2")
        LayerGradientCheck.assert(conv, inputs: [x], "dilation 2")
    }

    func testDilatedGroupedStridedAsymmetricNoBias() {
        var g = RandomGenerator(seed: 76)
        let conv = Conv2D(inChannels: 4, outChannels: 4, kernelSize: (2, 3), stride: (1, 2),
                          padding: Padding2D(top: 0, bottom: 1, left: 2, right: 1), dilation: (1, 2), groups: 2, bias: false,
                          generator: &g)
        // outH = 5 + 1 − 2 + 1 = 5; outW = ⌊(6 + 3 − 5) / 2⌋ + 1 = 3.
        XCTAssertEqual(try conv.outputShape(for: [[4, 5, 6]]), [4, 5, 3])
        let x = LayerFixtures.random([3, 4, 5, 6], seed: 77)
        assertMatchesNaive(conv, x, "mixed")
        LayerGradientCheck.assert(conv, inputs: [x], "mixed")
    }

    func testGroupedChunkedBatchMatchesWholeBatch() {
        let saved = Im2Col.chunkBudget
        defer { Im2Col.chunkBudget = saved }
        var g = RandomGenerator(seed: 78)
        let conv = Conv2D(inChannels: 4, outChannels: 4, kernelSize: (3, 3), padding: Padding2D(1, 1), dilation: (2, 1),
                          groups: 4, generator: &g)
        let x = LayerFixtures.random([5, 4, 4, 4], seed: 79)
        Im2Col.chunkBudget = 1
        let chunked = conv(x)
        Im2Col.chunkBudget = 1 << 20
        XCTAssertEqual(chunked, conv(x), "one image per chunk gives the same result as the whole batch")
        Im2Col.chunkBudget = (4 * 9 + 4) * 8 * 2 // chunks of 2, 2, 1 (plane 4×2 after dilation)
        LayerGradientCheck.assert(conv, inputs: [x], "chunked depthwise dilated")
    }

    func testConfigurationReadsGroupsAndDilation() throws {
        let layer = try LayerRegistry.make(typeName: "Conv2D", config: [
            "in_channels": 4, "out_channels": 8, "kernel_size": [3, 3], "groups": 4, "dilation": [2, 3],
        ], layerName: "dw")
        let conv = try XCTUnwrap(layer as? Conv2D)
        XCTAssertEqual(conv.groups, 4)
        XCTAssertEqual(conv.dilation.h, 2)
        XCTAssertEqual(conv.dilation.w, 3)
        XCTAssertEqual(conv.weight.value.shape, [8, 1, 3, 3])
        let back = try XCTUnwrap(try LayerRegistry.make(typeName: "Conv2D", config: conv.config, layerName: "dw") as? Conv2D)
        XCTAssertEqual(back.config, conv.config)
        XCTAssertThrowsError(try LayerRegistry.make(typeName: "Conv2D", config: [
            "in_channels": 4, "out_channels": 6, "kernel_size": [3, 3], "groups": 4,
        ], layerName: "bad")) { error in
            let e = error as? BorderlineError
            XCTAssertEqual(e?.kind, .invalidConfiguration)
            XCTAssertTrue(e?.message.contains("groups") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try LayerRegistry.make(typeName: "Conv2D", config: [
            "in_channels": 4, "out_channels": 4, "kernel_size": [3, 3], "dilation": [0, 1],
        ], layerName: "bad"))
    }
}
