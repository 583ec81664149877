import XCTest
@testable import BorderlineCore

/// Finite-difference checks (``LayerGradientCheck``) of the input and parameter gradients of the
/// layers beyond the paper's models: activations, normalisations, merges, resampling, input
/// scaling. Their forward passes are checked against PyTorch/Keras in ``LayerGoldenTests``.
final class ExtendedLayerGradientTests: XCTestCase {
    func testSmoothActivations() {
        let x = LayerFixtures.random([3, 2, 3, 4], seed: 100, scale: 2)
        LayerGradientCheck.assert(GELU(), inputs: [x], eps: 1e-3, "erf")
        LayerGradientCheck.assert(GELU(approximate: .tanh), inputs: [x], eps: 1e-3, "tanh")
        LayerGradientCheck.assert(SiLU(), inputs: [x], eps: 1e-3)
        // ELU has a kink at 0 for α ≠ 1: keep inputs away from it.
        LayerGradientCheck.assert(ELU(alpha: 0.7), inputs: [LayerFixtures.distinct([3, 2, 3, 4], seed: 101)], eps: 1e-3)
    }

    func testClipping() throws {
        // Spacing 0.1 keeps every element ≥ 0.025 from 0, 6 and the clip bounds below.
        let wide = LayerFixtures.distinct([2, 3, 4, 5], seed: 102, spacing: 0.1).map { $0 + 3.01 }  // spans about −3 … 9
        LayerGradientCheck.assert(ReLU6(), inputs: [wide], eps: 1e-3)
        let x = LayerFixtures.distinct([2, 3, 4, 5], seed: 103, spacing: 0.05)
        LayerGradientCheck.assert(try Clip(min: -0.51, max: 0.73), inputs: [x], eps: 1e-3, "both bounds")
        LayerGradientCheck.assert(try Clip(min: -0.21), inputs: [x], eps: 1e-3, "lower bound only")
        LayerGradientCheck.assert(try Clip(max: 0.33), inputs: [x], eps: 1e-3, "upper bound only")
    }

    func testPReLUPerChannelAndShared() {
        let perChannel = PReLU(numParameters: 3)
        perChannel.weight.value = Tensor(shape: [3], scalars: [0.1, -0.2, 0.4])
        let report = LayerGradientCheck.assert(perChannel, inputs: [LayerFixtures.distinct([2, 3, 2, 3], seed: 104)], eps: 1e-3, "per channel")
        XCTAssertNotNil(report.parameters["weight"], "the slopes' gradient is checked")
        let shared = PReLU()
        LayerGradientCheck.assert(shared, inputs: [LayerFixtures.distinct([3, 5], seed: 105)], eps: 1e-3, "one slope")
    }

    func testLayerNorm() throws {
        let ln = try LayerNorm(normalizedShape: [3, 4])
        ln.weight!.value = LayerFixtures.random([3, 4], seed: 106).map { 1 + 0.3 * $0 }
        ln.bias!.value = LayerFixtures.random([3, 4], seed: 107)
        let report = LayerGradientCheck.assert(ln, inputs: [LayerFixtures.random([2, 2, 3, 4], seed: 108)], eps: 1e-2, "[3, 4] affine")
        XCTAssertEqual(Set(report.parameters.keys), ["weight", "bias"])
        LayerGradientCheck.assert(try LayerNorm(normalizedShape: [5], elementwiseAffine: false), inputs: [LayerFixtures.random([3, 5], seed: 109)],
                                  eps: 1e-2, "[5] plain")
        let noBias = try LayerNorm(normalizedShape: [4], eps: 1e-3, bias: false)
        noBias.weight!.value = Tensor(shape: [4], scalars: [0.5, 1.5, -1, 2])
        XCTAssertEqual(noBias.parameters.map(\.name), ["weight"])
        LayerGradientCheck.assert(noBias, inputs: [LayerFixtures.random([2, 3, 4], seed: 110)], eps: 1e-2, "no bias")
    }

    func testGroupNorm() throws {
        let gn = try GroupNorm(numGroups: 2, numChannels: 4)
        gn.weight!.value = Tensor(shape: [4], scalars: [0.5, 1.5, -1, 2])
        gn.bias!.value = Tensor(shape: [4], scalars: [0.1, -0.2, 0.3, 0])
        let report = LayerGradientCheck.assert(gn, inputs: [LayerFixtures.random([2, 4, 2, 3], seed: 111)], eps: 1e-2, "2 groups")
        XCTAssertEqual(Set(report.parameters.keys), ["weight", "bias"])
        LayerGradientCheck.assert(try GroupNorm(numGroups: 3, numChannels: 3, affine: false), inputs: [LayerFixtures.random([2, 3, 2, 2], seed: 112)],
                                  eps: 1e-2, "instance-norm-like")
        XCTAssertThrowsError(try GroupNorm(numGroups: 3, numChannels: 4))
    }

    func testConcatenate() {
        let a = LayerFixtures.random([2, 2, 3, 2], seed: 113), b = LayerFixtures.random([2, 1, 3, 2], seed: 114)
        let c = LayerFixtures.random([2, 3, 3, 2], seed: 115)
        let channels = Concatenate()
        XCTAssertEqual(try channels.outputShape(for: [[2, 3, 2], [1, 3, 2], [3, 3, 2]]), [6, 3, 2])
        LayerGradientCheck.assert(channels, inputs: [a, b, c], "channels")
        let y = channels.forward([a, b, c], context: ForwardContext(training: false)).output
        XCTAssertEqual(y.scalars[0..<12], a.scalars[0..<12], "first sample starts with a's channels")
        XCTAssertEqual(y.scalars[12..<18], b.scalars[0..<6])
        let rows = Concatenate(axis: -2)
        XCTAssertEqual(try rows.outputShape(for: [[2, 3, 2], [2, 1, 2]]), [2, 4, 2])
        LayerGradientCheck.assert(rows, inputs: [a, LayerFixtures.random([2, 2, 1, 2], seed: 116)], "rows (axis −2)")
        XCTAssertThrowsError(try channels.outputShape(for: [[2, 3, 2], [2, 2, 2]]), "other dimensions must agree")
        XCTAssertThrowsError(try Concatenate(axis: 3).outputShape(for: [[2, 3, 2], [2, 3, 2]]), "axis outside the rank")
    }

    func testMultiplyBroadcasting() throws {
        let features = LayerFixtures.random([2, 3, 2, 4], seed: 117), gate = LayerFixtures.random([2, 3, 1, 1], seed: 118)
        let m = Multiply()
        XCTAssertEqual(try m.outputShape(for: [[3, 2, 4], [3, 1, 1]]), [3, 2, 4])
        LayerGradientCheck.assert(m, inputs: [features, gate], "SE gate")
        LayerGradientCheck.assert(m, inputs: [gate, features, LayerFixtures.random([2, 1, 2, 1], seed: 119)], "three inputs, mixed broadcasting")
        LayerGradientCheck.assert(m, inputs: [features, LayerFixtures.random([2, 3, 2, 4], seed: 120)], "same shape")
        let y = m.forward([features, gate], context: ForwardContext(training: false)).output
        XCTAssertEqual(y.scalars[9], features.scalars[9] * gate.scalars[1], accuracy: 1e-7, "channel 1 of sample 0 scaled by its gate")
        XCTAssertThrowsError(try m.outputShape(for: [[3, 2, 4], [3, 2]]), "ranks must agree")
        XCTAssertThrowsError(try m.outputShape(for: [[3, 2, 4], [2, 1, 1]]), "3 vs 2 does not broadcast")
    }

    func testAdaptiveAvgPool() throws {
        let x = LayerFixtures.random([2, 2, 4, 5], seed: 121)
        for size in [(3, 2), (1, 1), (7, 8), (4, 5)] {
            LayerGradientCheck.assert(try AdaptiveAvgPool2D(outputSize: size), inputs: [x], "output \(size)")
        }
        // PyTorch's bins for 5 → 3: [0, 2), [1, 4), [3, 5).
        let bins = AdaptiveAvgPool2D.bins(input: 5, output: 3)
        XCTAssertEqual(bins.lo, [0, 1, 3])
        XCTAssertEqual(bins.hi, [2, 4, 5])
    }

    func testUpSampling() throws {
        let up = try UpSampling2D(scale: (2, 3))
        XCTAssertEqual(try up.outputShape(for: [[2, 3, 2]]), [2, 6, 6])
        let x = LayerFixtures.random([2, 2, 3, 2], seed: 122)
        LayerGradientCheck.assert(up, inputs: [x])
        let y = up(x)
        XCTAssertEqual(y.scalars[0..<6], [x.scalars[0], x.scalars[0], x.scalars[0], x.scalars[1], x.scalars[1], x.scalars[1]])
        XCTAssertEqual(y.scalars[6..<12], y.scalars[0..<6], "rows repeat")
    }

    func testAvgPoolExcludingPadding() throws {
        let x = LayerFixtures.random([2, 2, 5, 4], seed: 123)
        let pool = try AvgPool2D(kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1), countIncludePad: false)
        LayerGradientCheck.assert(pool, inputs: [x], "k3 s2 p1")
        // The corner window covers 2×2 pixels of the image: their plain mean.
        let y = pool(x)
        let corner = (x.scalars[0] + x.scalars[1] + x.scalars[4] + x.scalars[5]) / 4
        XCTAssertEqual(y.scalars[0], corner, accuracy: 1e-6)
        // Keras "same" with a 2×2 window, stride 2, on an odd size pads only at the end.
        let same = try AvgPool2D(kernelSize: (2, 2), stride: (2, 2), padding: Padding2D(top: 0, bottom: 1, left: 0, right: 0),
                                 countIncludePad: false)
        LayerGradientCheck.assert(same, inputs: [x], "asymmetric")
        XCTAssertEqual(same(x).scalars[4], (x.scalars[16] + x.scalars[17]) / 2, accuracy: 1e-6, "last row averages one image row")
    }

    func testInputScaling() throws {
        let x = LayerFixtures.random([2, 3, 2, 2], seed: 124, scale: 50)
        LayerGradientCheck.assert(try Rescaling(scale: [1.0 / 255]), inputs: [x], eps: 0.5, "scalar")
        LayerGradientCheck.assert(try Rescaling(scale: [0.5, 2, -1], offset: [1, 0, -2]), inputs: [x], eps: 0.5, "per channel")
        LayerGradientCheck.assert(try Normalization(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]), inputs: [x], eps: 0.5, "std")
        let keras = try Normalization(mean: [3], variance: [4])
        XCTAssertEqual(keras.divisors, [2])
        LayerGradientCheck.assert(keras, inputs: [x], eps: 0.5, "variance")
        XCTAssertEqual(try Normalization(mean: [0], variance: [0]).divisors, [1e-7], "Keras floors √variance at 1e-7")
        XCTAssertThrowsError(try Normalization(config: ["mean": 0, "std": 1, "variance": 1]), "std and variance are exclusive")
        XCTAssertThrowsError(try Normalization(config: ["mean": [0, 0], "std": [1, 1, 1]]))
        XCTAssertThrowsError(try Rescaling(scale: [1, 2]).outputShape(for: [[3, 2, 2]]), "two scales for three channels")
    }

    /// What a layer writes to the architecture JSON rebuilds the same layer through the registry.
    func testConfigurationsRoundTripThroughTheRegistry() throws {
        let layers: [any Layer] = [
            GELU(approximate: .tanh), SiLU(), ELU(alpha: 0.3), ReLU6(), try Clip(min: -1), try Clip(min: 0, max: 2.5),
            PReLU(numParameters: 3), try LayerNorm(normalizedShape: [3, 4], eps: 1e-6, elementwiseAffine: true, bias: false),
            try GroupNorm(numGroups: 2, numChannels: 4, eps: 1e-3, affine: false), try AdaptiveAvgPool2D(outputSize: (2, 3)),
            try UpSampling2D(scale: (2, 1)), Concatenate(axis: -1), Multiply(), try Rescaling(scale: [0.5, 0.25], offset: [-1]),
            try Normalization(mean: [0.1, 0.2], std: [0.3, 0.4]), try Normalization(mean: [1], variance: [2]),
            try AvgPool2D(kernelSize: (2, 2), padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1), countIncludePad: false),
        ]
        for layer in layers {
            let rebuilt = try LayerRegistry.make(typeName: layer.typeName, config: layer.config, layerName: "x")
            XCTAssertEqual(rebuilt.config, layer.config, layer.typeName)
            XCTAssertEqual(rebuilt.parameters.map(\.name), layer.parameters.map(\.name), layer.typeName)
            XCTAssertEqual(rebuilt.parameters.map(\.value.shape), layer.parameters.map(\.value.shape), layer.typeName)
        }
        // Defaults: what PyTorch's constructors default to.
        let ln = try XCTUnwrap(try LayerRegistry.make(typeName: "LayerNorm", config: ["normalized_shape": 5], layerName: "ln") as? LayerNorm)
        XCTAssertEqual(ln.eps, 1e-5)
        XCTAssertEqual(ln.parameters.map(\.name), ["weight", "bias"])
        XCTAssertEqual((try LayerRegistry.make(typeName: "GELU", config: [:], layerName: "g") as? GELU)?.approximate, GELU.Approximation.none)
        XCTAssertEqual((try LayerRegistry.make(typeName: "PReLU", config: [:], layerName: "p") as? PReLU)?.weight.value.scalars, [0.25])
        XCTAssertEqual((try LayerRegistry.make(typeName: "AvgPool2D", config: ["kernel_size": 2], layerName: "a") as? AvgPool2D)?.countIncludePad, true)
        XCTAssertThrowsError(try LayerRegistry.make(typeName: "GELU", config: ["approximate": "fast"], layerName: "g"))
        XCTAssertThrowsError(try LayerRegistry.make(typeName: "UpSampling2D", config: ["scale_factor": 2, "mode": "bilinear"], layerName: "u"))
        XCTAssertThrowsError(try LayerRegistry.make(typeName: "Clip", config: ["min": 2, "max": 1], layerName: "c"))
    }
}
