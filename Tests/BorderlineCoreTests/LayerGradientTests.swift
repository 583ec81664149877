import XCTest
@testable import BorderlineCore

/// Central-difference check of a layer's backward pass.
///
/// The scalar probed is `L = Σ y ⊙ r` for a fixed random cotangent `r`, so `∂L/∂y = r` and the
/// analytic gradients are exactly what `backward(r)` returns. Each input element and each
/// trainable parameter element is perturbed by ±ε and `(L(+ε) − L(−ε)) / 2ε` is compared with the
/// analytic value as a relative error over the whole gradient, `‖a − n‖ / max(‖a‖, ‖n‖)`.
/// `L` is accumulated in Double, so the float32 forward pass's rounding (~1e-7) only adds about
/// `1e-7·‖y‖/ε` of noise; a wrong formula gives errors of order 1.
struct LayerGradientCheck {
    struct Report {
        /// Relative error per input.
        var inputs: [Double]
        /// Relative error per trainable parameter, by name.
        var parameters: [String: Double]
        var worst: Double { (inputs + Array(parameters.values)).max() ?? 0 }
    }

    static func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        var diff = 0.0, na = 0.0, nb = 0.0
        for i in a.indices {
            diff += (a[i] - b[i]) * (a[i] - b[i])
            na += a[i] * a[i]
            nb += b[i] * b[i]
        }
        return diff.squareRoot() / max(na.squareRoot(), nb.squareRoot(), 1e-9)
    }

    /// Runs the check. `training` selects the forward mode; every forward pass uses a fresh
    /// generator with the same seed, so dropout draws the same mask each time.
    static func run(_ layer: any Layer, inputs: [Tensor], training: Bool = false, eps: Float = 1e-2) -> Report {
        func context() -> ForwardContext { ForwardContext(training: training, generator: RandomGenerator(seed: 42)) }
        let (y, saved) = layer.forward(inputs, context: context())
        var rng = RandomGenerator(seed: 1234)
        let r = rng.normal(shape: y.shape)
        func loss(_ xs: [Tensor]) -> Double {
            let out = layer.forward(xs, context: context()).output
            var s = 0.0
            for i in 0..<out.count { s += Double(out.scalars[i]) * Double(r.scalars[i]) }
            return s
        }
        for p in layer.parameters { p.zeroGradient() }
        let grads = layer.backward(r, record: LayerRecord(inputs: inputs, output: y, saved: saved),
                                   inputGradients: true, parameterGradients: true)
        precondition(grads.count == inputs.count, "backward returned \(grads.count) gradients for \(inputs.count) inputs")

        var report = Report(inputs: [], parameters: [:])
        for (k, x) in inputs.enumerated() {
            precondition(grads[k].shape == x.shape, "input gradient shape \(grads[k].shape) ≠ input shape \(x.shape)")
            var numeric = [Double](repeating: 0, count: x.count)
            for i in 0..<x.count {
                var xs = inputs
                xs[k].scalars[i] = x.scalars[i] + eps
                let plus = loss(xs)
                xs[k].scalars[i] = x.scalars[i] - eps
                let minus = loss(xs)
                numeric[i] = (plus - minus) / (2 * Double(eps))
            }
            report.inputs.append(relativeError(grads[k].scalars.map(Double.init), numeric))
        }
        for p in layer.parameters where p.isTrainable {
            var numeric = [Double](repeating: 0, count: p.value.count)
            for i in 0..<p.value.count {
                let original = p.value.scalars[i]
                p.value.scalars[i] = original + eps
                let plus = loss(inputs)
                p.value.scalars[i] = original - eps
                let minus = loss(inputs)
                p.value.scalars[i] = original
                numeric[i] = (plus - minus) / (2 * Double(eps))
            }
            report.parameters[p.name] = relativeError(p.gradient.scalars.map(Double.init), numeric)
        }
        return report
    }

    /// Runs the check and fails the test if any relative error exceeds `tolerance`.
    @discardableResult
    static func assert(_ layer: any Layer, inputs: [Tensor], training: Bool = false, eps: Float = 1e-2,
                       tolerance: Double = 1e-2, _ label: String = "", file: StaticString = #filePath, line: UInt = #line) -> Report {
        let report = run(layer, inputs: inputs, training: training, eps: eps)
        for (k, e) in report.inputs.enumerated() {
            XCTAssertLessThan(e, tolerance, "\(label) \(layer.typeName): input \(k) gradient relative error", file: file, line: line)
        }
        for (name, e) in report.parameters.sorted(by: { $0.key < $1.key }) {
            XCTAssertLessThan(e, tolerance, "\(label) \(layer.typeName): \(name) gradient relative error", file: file, line: line)
        }
        let trainable = layer.parameters.filter(\.isTrainable).count
        XCTAssertEqual(report.parameters.count, trainable, "every trainable parameter checked", file: file, line: line)
        return report
    }
}

/// Test inputs and comparisons shared by the layer, loss and optimiser tests.
enum LayerFixtures {
    /// Normal samples, seeded.
    static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var g = RandomGenerator(seed: seed)
        return g.normal(shape: shape, std: scale)
    }

    /// A tensor whose elements are pairwise `spacing` apart and at least `spacing / 4` from zero (a
    /// shuffled ramp), so that max pooling's winners and ReLU's signs cannot flip under a
    /// perturbation smaller than `spacing / 4`.
    static func distinct(_ shape: [Int], seed: UInt64, spacing: Float = 0.1) -> Tensor {
        var g = RandomGenerator(seed: seed)
        let n = Tensor.count(of: shape)
        let order = g.permutation(n)
        return Tensor(shape: shape, scalars: order.map { (Float($0) - Float(n / 2) + 0.25) * spacing })
    }

    /// `((i·a + b) mod m − ⌊m/2⌋) / div` for `i = 0..<count`: small values exactly representable in
    /// float32, so PyTorch and Swift start from bit-identical inputs. The expected outputs in the
    /// tests were computed with PyTorch 2.x (float32) on the same patterns.
    static func pattern(_ shape: [Int], _ a: Int, _ b: Int, _ m: Int, _ div: Float) -> Tensor {
        let n = Tensor.count(of: shape)
        return Tensor(shape: shape, scalars: (0..<n).map { Float(($0 * a + b) % m - m / 2) / div })
    }

    /// Fails unless `t` has exactly the expected elements, each within `accuracy`.
    static func assertClose(_ t: Tensor, _ expected: [Float], accuracy: Float = 1e-5, _ message: String = "",
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(t.count, expected.count, "\(message): element count", file: file, line: line)
        guard t.count == expected.count else { return }
        for i in 0..<expected.count where abs(t.scalars[i] - expected[i]) > accuracy {
            XCTFail("\(message): element \(i) is \(t.scalars[i]), expected \(expected[i])", file: file, line: line)
            return
        }
    }
}

final class LayerGradientTests: XCTestCase {
    // MARK: The checker itself

    /// A layer whose backward is deliberately wrong (it forgets the factor 2 of `y = x²`).
    final class WrongSquare: Layer {
        var typeName: String { "WrongSquare" }
        var config: JSONValue { [:] }
        func outputShape(for inputShapes: [[Int]]) throws -> [Int] { inputShapes[0] }
        func forward(_ inputs: [Tensor], context: ForwardContext) -> (output: Tensor, saved: AnyObject?) {
            (inputs[0].map { $0 * $0 }, nil)
        }
        func backward(_ g: Tensor, record: LayerRecord, inputGradients: Bool, parameterGradients: Bool) -> [Tensor] {
            [g * record.inputs[0]]
        }
    }

    func testCheckerCatchesAWrongGradient() {
        let report = LayerGradientCheck.run(WrongSquare(), inputs: [LayerFixtures.random([2, 5], seed: 1)])
        XCTAssertGreaterThan(report.inputs[0], 0.3, "a gradient off by a factor 2 must be flagged")
        // And a wrong parameter gradient: Dense whose weight gradient we corrupt after backward.
        var g = RandomGenerator(seed: 2)
        let dense = Dense(inFeatures: 3, outFeatures: 2, generator: &g)
        let x = LayerFixtures.random([4, 3], seed: 3)
        let good = LayerGradientCheck.run(dense, inputs: [x])
        XCTAssertLessThan(good.worst, 1e-2)
        let transposedGradient = LayerGradientCheck.relativeError(
            dense.weight.gradient.scalars.map(Double.init), dense.weight.gradient.scalars.reversed().map(Double.init))
        XCTAssertGreaterThan(transposedGradient, 1e-2, "the relative error separates distinct gradients")
    }

    // MARK: Dense and convolutions

    func testDense() {
        var g = RandomGenerator(seed: 10)
        LayerGradientCheck.assert(Dense(inFeatures: 4, outFeatures: 3, generator: &g), inputs: [LayerFixtures.random([3, 4], seed: 11)])
        LayerGradientCheck.assert(Dense(inFeatures: 4, outFeatures: 3, bias: false, generator: &g), inputs: [LayerFixtures.random([2, 4], seed: 12)])
    }

    func testConv2DPlain() {
        var g = RandomGenerator(seed: 20)
        let conv = Conv2D(inChannels: 2, outChannels: 3, kernelSize: (3, 3), generator: &g)
        LayerGradientCheck.assert(conv, inputs: [LayerFixtures.random([2, 2, 5, 5], seed: 21)])
    }

    func testConv2DStridedAndPadded() {
        var g = RandomGenerator(seed: 22)
        let conv = Conv2D(inChannels: 2, outChannels: 2, kernelSize: (3, 2), stride: (2, 1), padding: Padding2D(1, 2), generator: &g)
        LayerGradientCheck.assert(conv, inputs: [LayerFixtures.random([2, 2, 5, 4], seed: 23)], "stride (2,1) pad (1,2)")
    }

    func testConv2DAsymmetricPaddingNoBias() {
        var g = RandomGenerator(seed: 24)
        let conv = Conv2D(inChannels: 3, outChannels: 2, kernelSize: (3, 3), stride: (2, 2),
                          padding: Padding2D(top: 0, bottom: 1, left: 2, right: 0), bias: false, generator: &g)
        XCTAssertEqual(try conv.outputShape(for: [[3, 6, 5]]), [2, 3, 3])
        LayerGradientCheck.assert(conv, inputs: [LayerFixtures.random([2, 3, 6, 5], seed: 25)], "asymmetric")
    }

    func testConv2DChunkedBatchMatchesPerSample() {
        // A batch larger than one im2col chunk must give the same output and gradients as
        // running each sample alone (exercises the chunk boundaries and the partial last chunk).
        let saved = Im2Col.chunkBudget
        Im2Col.chunkBudget = 1 // one image per chunk
        defer { Im2Col.chunkBudget = saved }
        var g = RandomGenerator(seed: 26)
        let conv = Conv2D(inChannels: 2, outChannels: 3, kernelSize: (3, 3), padding: Padding2D(1, 1), generator: &g)
        let x = LayerFixtures.random([5, 2, 4, 4], seed: 27)
        let chunked = conv(x)
        Im2Col.chunkBudget = 1 << 20
        let whole = conv(x)
        XCTAssertEqual(chunked.scalars.count, whole.scalars.count)
        for i in 0..<whole.count { XCTAssertEqual(chunked.scalars[i], whole.scalars[i], accuracy: 1e-5) }
        Im2Col.chunkBudget = (2 * 9 + 3) * 16 * 2 // (patch rows + out channels) · plane · 2 images: chunks of 2, 2, 1
        LayerGradientCheck.assert(conv, inputs: [x], "chunked")
    }

    func testConvTranspose2DWithOutputPadding() {
        var g = RandomGenerator(seed: 30)
        let deconv = ConvTranspose2D(inChannels: 2, outChannels: 3, kernelSize: (3, 3), stride: (2, 2),
                                     padding: Padding2D(1, 1), outputPadding: (1, 1), generator: &g)
        XCTAssertEqual(try deconv.outputShape(for: [[2, 3, 3]]), [3, 6, 6])
        LayerGradientCheck.assert(deconv, inputs: [LayerFixtures.random([2, 2, 3, 3], seed: 31)], "stride 2 output_padding 1")
    }

    func testConvTranspose2DRectangularAsymmetricNoBias() {
        var g = RandomGenerator(seed: 32)
        let deconv = ConvTranspose2D(inChannels: 3, outChannels: 2, kernelSize: (2, 3), stride: (1, 2),
                                     padding: Padding2D(top: 1, bottom: 0, left: 0, right: 1), outputPadding: (0, 1),
                                     bias: false, generator: &g)
        XCTAssertEqual(try deconv.outputShape(for: [[3, 3, 2]]), [2, 3, 5])
        LayerGradientCheck.assert(deconv, inputs: [LayerFixtures.random([2, 3, 3, 2], seed: 33)], "rectangular")
    }

    // MARK: Pooling

    func testMaxPool() throws {
        LayerGradientCheck.assert(try MaxPool2D(kernelSize: (2, 2)), inputs: [LayerFixtures.distinct([2, 2, 5, 4], seed: 40)], "k2")
        LayerGradientCheck.assert(try MaxPool2D(kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1)),
                             inputs: [LayerFixtures.distinct([2, 2, 5, 5], seed: 41)], "k3 s2 p1")
        // Overlapping windows: one input can win several windows, its gradients add up.
        LayerGradientCheck.assert(try MaxPool2D(kernelSize: (2, 3), stride: (1, 1)), inputs: [LayerFixtures.distinct([1, 2, 4, 5], seed: 42)], "overlap")
    }

    func testAvgPool() throws {
        LayerGradientCheck.assert(try AvgPool2D(kernelSize: (2, 2)), inputs: [LayerFixtures.random([2, 2, 5, 4], seed: 43)], "k2")
        LayerGradientCheck.assert(try AvgPool2D(kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1)),
                             inputs: [LayerFixtures.random([2, 2, 5, 5], seed: 44)], "k3 s2 p1")
    }

    func testGlobalAvgPool() {
        LayerGradientCheck.assert(GlobalAvgPool2D(), inputs: [LayerFixtures.random([2, 3, 3, 4], seed: 45)])
    }

    // MARK: Batch norm

    /// A batch norm with non-trivial affine parameters and running statistics.
    private func batchNorm(_ c: Int, seed: UInt64) -> BatchNorm {
        let bn = BatchNorm(numFeatures: c, eps: 1e-3, momentum: 0.2)
        bn.weight.value = LayerFixtures.random([c], seed: seed).map { 1 + 0.5 * $0 }
        bn.bias.value = LayerFixtures.random([c], seed: seed + 1)
        bn.runningMean.value = LayerFixtures.random([c], seed: seed + 2, scale: 0.5)
        bn.runningVar.value = LayerFixtures.random([c], seed: seed + 3).map { 0.5 + $0 * $0 }
        return bn
    }

    func testBatchNormTrainingImages() {
        LayerGradientCheck.assert(batchNorm(3, seed: 50), inputs: [LayerFixtures.random([3, 3, 2, 3], seed: 51)], training: true, "train [C,H,W]")
    }

    func testBatchNormInferenceImages() {
        LayerGradientCheck.assert(batchNorm(3, seed: 52), inputs: [LayerFixtures.random([3, 3, 2, 3], seed: 53)], training: false, "eval [C,H,W]")
    }

    func testBatchNormFeatures() {
        LayerGradientCheck.assert(batchNorm(4, seed: 54), inputs: [LayerFixtures.random([5, 4], seed: 55)], training: true, "train [F]")
        LayerGradientCheck.assert(batchNorm(4, seed: 56), inputs: [LayerFixtures.random([5, 4], seed: 57)], training: false, "eval [F]")
    }

    func testBatchNormRunningStatisticsAreNotTrainable() {
        let bn = BatchNorm(numFeatures: 2)
        XCTAssertEqual(bn.parameters.map(\.name), ["weight", "bias", "running_mean", "running_var"])
        XCTAssertEqual(bn.parameters.map(\.isTrainable), [true, true, false, false])
    }

    // MARK: Activations

    func testActivations() {
        // ReLU/LeakyReLU inputs are kept ≥ 0.05 away from the kink at 0.
        let away = LayerFixtures.distinct([3, 7], seed: 60)
        LayerGradientCheck.assert(ReLU(), inputs: [away])
        LayerGradientCheck.assert(LeakyReLU(negativeSlope: 0.2), inputs: [away])
        LayerGradientCheck.assert(Sigmoid(), inputs: [LayerFixtures.random([3, 7], seed: 61, scale: 2)])
        LayerGradientCheck.assert(Tanh(), inputs: [LayerFixtures.random([3, 7], seed: 62)])
        LayerGradientCheck.assert(Softmax(), inputs: [LayerFixtures.random([3, 6], seed: 63, scale: 2)])
        LayerGradientCheck.assert(ReLU(), inputs: [LayerFixtures.distinct([2, 2, 3, 3], seed: 64)], "image-shaped")
    }

    // MARK: Shape layers, dropout, add

    func testFlattenAndReshape() throws {
        let x = LayerFixtures.random([2, 3, 2, 4], seed: 70)
        LayerGradientCheck.assert(Flatten(), inputs: [x], "channels_first")
        LayerGradientCheck.assert(Flatten(order: .channelsLast), inputs: [x], "channels_last")
        LayerGradientCheck.assert(try Reshape(shape: [4, -1]), inputs: [x])
    }

    func testDropout() throws {
        let x = LayerFixtures.random([4, 10], seed: 71)
        let report = LayerGradientCheck.assert(try Dropout(p: 0.3), inputs: [x], training: true, "training")
        XCTAssertEqual(report.inputs.count, 1)
        LayerGradientCheck.assert(try Dropout(p: 0.3), inputs: [x], training: false, "inference")
    }

    func testAddThreeInputs() {
        LayerGradientCheck.assert(Add(), inputs: [LayerFixtures.random([2, 3], seed: 72), LayerFixtures.random([2, 3], seed: 73), LayerFixtures.random([2, 3], seed: 74)])
    }

    // MARK: A small DAG through Model.backward

    /// A residual block on `[2, 5, 5]`: conv → bn → relu → conv → bn, added to the block input,
    /// then relu → global average pool → dense. The input reaches the add both through the
    /// convolutions and directly, so its gradient is the sum of two paths.
    private func residualModel() throws -> Model {
        var g = RandomGenerator(seed: 80)
        let bn1 = batchNorm(2, seed: 81), bn2 = batchNorm(2, seed: 85)
        let nodes: [Model.Node] = [
            .init(name: "conv1", layer: Conv2D(inChannels: 2, outChannels: 2, kernelSize: (3, 3), padding: Padding2D(1, 1), generator: &g), inputs: [-1]),
            .init(name: "bn1", layer: bn1, inputs: [0]),
            .init(name: "relu1", layer: Tanh(), inputs: [1]),
            .init(name: "conv2", layer: Conv2D(inChannels: 2, outChannels: 2, kernelSize: (3, 3), padding: Padding2D(1, 1), bias: false, generator: &g), inputs: [2]),
            .init(name: "bn2", layer: bn2, inputs: [3]),
            .init(name: "add", layer: Add(), inputs: [4, -1]),
            .init(name: "act", layer: Sigmoid(), inputs: [5]),
            .init(name: "gap", layer: GlobalAvgPool2D(), inputs: [6]),
            .init(name: "fc", layer: Dense(inFeatures: 2, outFeatures: 3, generator: &g), inputs: [7]),
        ]
        return try Model(inputShape: [2, 5, 5], nodes: nodes)
    }

    private func checkModel(training: Bool) throws {
        let model = try residualModel()
        let x = LayerFixtures.random([3, 2, 5, 5], seed: 90)
        let labels = [0, 2, 1]
        func loss(_ input: Tensor) throws -> Double {
            let t = model.trace(input, context: ForwardContext(training: training))
            return Double(try Loss.softmaxCrossEntropy(logits: t.output, labels: labels).value)
        }
        model.zeroGradients()
        let t = model.trace(x, context: ForwardContext(training: training))
        let (_, dLogits) = try Loss.softmaxCrossEntropy(logits: t.output, labels: labels)
        let dx = try XCTUnwrap(model.backward(t, outputGradient: dLogits))

        // Float32 central differences here are limited by the forward pass's rounding, not by
        // truncation: bn1.weight's (small) gradient had relative error 0.013 at eps = 5e-3, 0.011 at
        // 1e-2 and 0.0035 at 2e-2 (with the vectorised sigmoid, within 3 ulp of expf).
        let eps: Float = 2e-2
        var numeric = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            var xp = x, xm = x
            xp.scalars[i] += eps
            xm.scalars[i] -= eps
            numeric[i] = (try loss(xp) - loss(xm)) / (2 * Double(eps))
        }
        XCTAssertLessThan(LayerGradientCheck.relativeError(dx.scalars.map(Double.init), numeric), 1e-2, "input gradient (training: \(training))")

        for (name, p) in model.namedParameters where p.isTrainable {
            if training && name == "conv1.bias" {
                // A bias followed by a training-mode batch norm cannot change the output (the
                // batch mean absorbs it): its true gradient is 0, where a relative error is meaningless.
                XCTAssertLessThan(p.gradient.scalars.map(abs).max()!, 1e-5, "conv1.bias gradient vanishes under batch statistics")
                continue
            }
            var num = [Double](repeating: 0, count: p.value.count)
            for i in 0..<p.value.count {
                let v = p.value.scalars[i]
                p.value.scalars[i] = v + eps
                let plus = try loss(x)
                p.value.scalars[i] = v - eps
                let minus = try loss(x)
                p.value.scalars[i] = v
                num[i] = (plus - minus) / (2 * Double(eps))
            }
            XCTAssertLessThan(LayerGradientCheck.relativeError(p.gradient.scalars.map(Double.init), num), 1e-2,
                              "\(name) gradient (training: \(training))")
        }
    }

    func testResidualBlockThroughModelBackwardInference() throws { try checkModel(training: false) }
    func testResidualBlockThroughModelBackwardTraining() throws { try checkModel(training: true) }

    func testFashionCNNInputGradient() throws {
        // The real CNN, end to end: the vjp's input gradient against finite differences on a
        // few pixels (the full image would be 784 × 2 forward passes per sample).
        let model = try Model.fashionCNN(seed: 3)
        let x = LayerFixtures.random([2, 1, 28, 28], seed: 91)
        let v = LayerFixtures.random([2, 10], seed: 92)
        let (_, g) = model.vjp(x) { _ in v }
        func dot(_ input: Tensor) -> Double {
            let y = model(input)
            return (0..<y.count).reduce(0.0) { $0 + Double(y.scalars[$1]) * Double(v.scalars[$1]) }
        }
        let eps: Float = 1e-3 // small, so that no pooling winner or ReLU sign flips
        var analytic: [Double] = [], numeric: [Double] = []
        for i in stride(from: 30, to: x.count, by: 97) {
            var xp = x, xm = x
            xp.scalars[i] += eps
            xm.scalars[i] -= eps
            analytic.append(Double(g.scalars[i]))
            numeric.append((dot(xp) - dot(xm)) / (2 * Double(eps)))
        }
        XCTAssertGreaterThan(analytic.map(abs).max() ?? 0, 0, "some probed pixel has a non-zero gradient")
        XCTAssertLessThan(LayerGradientCheck.relativeError(analytic, numeric), 2e-2)
    }
}
