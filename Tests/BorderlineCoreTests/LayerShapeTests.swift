import XCTest
@testable import BorderlineCore

final class LayerShapeTests: XCTestCase {
    // MARK: Output shapes and shape errors

    func testOutputShapes() throws {
        var g = RandomGenerator(seed: 1)
        XCTAssertEqual(try Conv2D(inChannels: 1, outChannels: 10, kernelSize: (3, 3), generator: &g).outputShape(for: [[1, 28, 28]]), [10, 26, 26])
        XCTAssertEqual(try Conv2D(inChannels: 3, outChannels: 4, kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1), generator: &g)
            .outputShape(for: [[3, 7, 8]]), [4, 4, 4])
        // TensorFlow "same", stride 2 on 16×16: pad 0 before, 1 after.
        XCTAssertEqual(try Conv2D(inChannels: 8, outChannels: 16, kernelSize: (3, 3), stride: (2, 2),
                                  padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1), generator: &g)
            .outputShape(for: [[8, 16, 16]]), [16, 8, 8])
        XCTAssertEqual(try ConvTranspose2D(inChannels: 4, outChannels: 3, kernelSize: (4, 4), stride: (2, 2), padding: Padding2D(1, 1), generator: &g)
            .outputShape(for: [[4, 7, 7]]), [3, 14, 14])
        XCTAssertEqual(try MaxPool2D(kernelSize: (2, 2)).outputShape(for: [[10, 11, 11]]), [10, 5, 5], "floor rounding")
        XCTAssertEqual(try AvgPool2D(kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1)).outputShape(for: [[2, 5, 6]]), [2, 3, 3])
        XCTAssertEqual(try GlobalAvgPool2D().outputShape(for: [[16, 4, 4]]), [16])
        XCTAssertEqual(try BatchNorm(numFeatures: 8).outputShape(for: [[8, 4, 4]]), [8, 4, 4])
        XCTAssertEqual(try BatchNorm(numFeatures: 8).outputShape(for: [[8]]), [8])
        XCTAssertEqual(try Flatten().outputShape(for: [[10, 5, 5]]), [250])
        XCTAssertEqual(try Reshape(shape: [4, 7, 7]).outputShape(for: [[196]]), [4, 7, 7])
        XCTAssertEqual(try Reshape(shape: [-1, 7]).outputShape(for: [[196]]), [28, 7])
        XCTAssertEqual(try Add().outputShape(for: [[3, 4], [3, 4], [3, 4]]), [3, 4])
        XCTAssertEqual(try Softmax().outputShape(for: [[10]]), [10])
        XCTAssertEqual(try Dropout(p: 0.5).outputShape(for: [[7]]), [7])
    }

    private func assertShapeError(_ body: @autoclosure () throws -> [Int], _ fragment: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? BorderlineError else { return XCTFail("not a BorderlineError: \(error)", file: file, line: line) }
            XCTAssertEqual(e.kind, .shapeMismatch, file: file, line: line)
            XCTAssertTrue(e.message.contains(fragment), "message '\(e.message)' should mention '\(fragment)'", file: file, line: line)
        }
    }

    func testShapeErrors() throws {
        var g = RandomGenerator(seed: 2)
        let conv = Conv2D(inChannels: 3, outChannels: 4, kernelSize: (5, 5), generator: &g)
        assertShapeError(try conv.outputShape(for: [[1, 28, 28]]), "[3, H, W]")
        assertShapeError(try conv.outputShape(for: [[3, 4, 9]]), "does not fit")
        assertShapeError(try conv.outputShape(for: [[3, 28]]), "[3, H, W]")
        assertShapeError(try ConvTranspose2D(inChannels: 2, outChannels: 1, kernelSize: (1, 1), padding: Padding2D(1, 1), generator: &g)
            .outputShape(for: [[2, 1, 1]]), "empty output")
        assertShapeError(try MaxPool2D(kernelSize: (3, 3)).outputShape(for: [[1, 2, 2]]), "does not fit")
        assertShapeError(try GlobalAvgPool2D().outputShape(for: [[16]]), "[C, H, W]")
        assertShapeError(try BatchNorm(numFeatures: 4).outputShape(for: [[3, 2, 2]]), "[4]")
        assertShapeError(try Add().outputShape(for: [[3], [4]]), "one shape")
        assertShapeError(try Add().outputShape(for: [[3]]), "two or more")
        assertShapeError(try Softmax().outputShape(for: [[2, 5]]), "flat")
        assertShapeError(try Reshape(shape: [5, -1]).outputShape(for: [[12]]), "cannot reshape")
        assertShapeError(try ReLU().outputShape(for: [[3], [3]]), "one input")
    }

    // MARK: Configurations

    func testConfigRoundTripThroughRegistry() throws {
        var g = RandomGenerator(seed: 3)
        let layers: [any Layer] = [
            Conv2D(inChannels: 2, outChannels: 3, kernelSize: (3, 2), stride: (2, 1), padding: Padding2D(top: 0, bottom: 1, left: 1, right: 0),
                   bias: false, generator: &g),
            ConvTranspose2D(inChannels: 2, outChannels: 1, kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1),
                            outputPadding: (1, 1), generator: &g),
            try MaxPool2D(kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1)),
            try AvgPool2D(kernelSize: (2, 2)),
            GlobalAvgPool2D(),
            BatchNorm(numFeatures: 5, eps: 1e-3, momentum: 0.01),
            ReLU(), LeakyReLU(negativeSlope: 0.2), Sigmoid(), Tanh(), Softmax(),
            Flatten(order: .channelsLast), try Reshape(shape: [4, -1]), try Dropout(p: 0.25), Add(),
        ]
        XCTAssertEqual(Set(layers.map(\.typeName)).count, layers.count)
        for layer in layers {
            let rebuilt = try LayerRegistry.make(typeName: layer.typeName, config: layer.config, layerName: "x")
            XCTAssertEqual(rebuilt.config, layer.config, layer.typeName)
            XCTAssertEqual(rebuilt.parameters.map(\.name), layer.parameters.map(\.name), layer.typeName)
            XCTAssertEqual(rebuilt.parameters.map(\.value.shape), layer.parameters.map(\.value.shape), layer.typeName)
        }
        XCTAssertTrue(LayerRegistry.typeNames.contains("ConvTranspose2D"))
    }

    func testConfigDefaultsAndParameterShapes() throws {
        let conv = try LayerRegistry.make(typeName: "Conv2D", config: ["in_channels": 1, "out_channels": 10, "kernel_size": [3, 3]], layerName: "conv1")
        XCTAssertEqual(conv.config["stride"], JSONValue([1, 1]))
        XCTAssertEqual(conv.config["padding"], JSONValue([0, 0]))
        XCTAssertEqual(conv.parameters.map(\.value.shape), [[10, 1, 3, 3], [10]])
        let deconv = try LayerRegistry.make(typeName: "ConvTranspose2D",
                                            config: ["in_channels": 4, "out_channels": 3, "kernel_size": 4, "bias": false], layerName: "d")
        XCTAssertEqual(deconv.parameters.map(\.value.shape), [[4, 3, 4, 4]], "weight is [in, out, kh, kw]")
        let pool = try LayerRegistry.make(typeName: "MaxPool2D", config: ["kernel_size": [2, 2]], layerName: "p")
        XCTAssertEqual(pool.config["stride"], JSONValue([2, 2]), "stride defaults to the kernel")
        let bn = try LayerRegistry.make(typeName: "BatchNorm", config: ["num_features": 3], layerName: "bn")
        XCTAssertEqual(bn.parameters.map(\.name), ["weight", "bias", "running_mean", "running_var"])
        XCTAssertEqual(bn.config["eps"], 1e-5, "written back exactly, not as a float32 rounding")
        XCTAssertEqual(bn.config["momentum"], 0.1)
        let lrelu = try LayerRegistry.make(typeName: "LeakyReLU", config: ["negative_slope": 0.2], layerName: "l")
        XCTAssertEqual(lrelu.config.serialized(), #"{"negative_slope":0.2}"#)
        XCTAssertEqual(try LayerRegistry.make(typeName: "Flatten", config: .null, layerName: "f").config["order"], "channels_first")
        XCTAssertEqual((try LayerRegistry.make(typeName: "LeakyReLU", config: [:], layerName: "l") as? LeakyReLU)?.negativeSlope, 0.01)
        XCTAssertEqual((try LayerRegistry.make(typeName: "Dropout", config: [:], layerName: "d") as? Dropout)?.p, 0.5)
    }

    func testInvalidConfigurations() {
        let bad: [(String, JSONValue)] = [
            ("Conv2D", ["in_channels": 1, "out_channels": 2]),
            ("Conv2D", ["in_channels": 1, "out_channels": 2, "kernel_size": [3, 0]]),
            ("Conv2D", ["in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": [1, 2, 3]]),
            ("Conv2D", ["in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": [-1, 0]]),
            ("ConvTranspose2D", ["in_channels": 1, "out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 2]),
            ("MaxPool2D", ["kernel_size": 2, "padding": 2]),
            ("AvgPool2D", ["kernel_size": [2, 2], "stride": 0]),
            ("BatchNorm", ["num_features": 0]),
            ("Flatten", ["order": "nhwc"]),
            ("Reshape", ["shape": [-1, -1]]),
            ("Dropout", ["p": 1.5]),
        ]
        for (type, config) in bad {
            XCTAssertThrowsError(try LayerRegistry.make(typeName: type, config: config, layerName: "bad"), "\(type) \(config)") { error in
                XCTAssertEqual((error as? BorderlineError)?.kind, .invalidConfiguration, "\(type) \(config)")
                XCTAssertTrue((error as? BorderlineError)?.message.contains("layer 'bad'") ?? false)
            }
        }
    }

    // MARK: Initialisation

    func testDefaultInitialisationBounds() {
        var g = RandomGenerator(seed: 4)
        let conv = Conv2D(inChannels: 10, outChannels: 10, kernelSize: (3, 3), generator: &g)
        let bound = 1 / Float(90).squareRoot()
        XCTAssertLessThanOrEqual(conv.weight.value.scalars.map(abs).max()!, bound)
        XCTAssertGreaterThan(conv.weight.value.scalars.map(abs).max()!, 0.9 * bound, "uses the whole range")
        XCTAssertLessThanOrEqual(conv.bias!.value.scalars.map(abs).max()!, bound)
        // Transposed convolution: PyTorch's fan_in comes from weight dimension 1 (= out channels).
        let deconv = ConvTranspose2D(inChannels: 16, outChannels: 1, kernelSize: (2, 2), generator: &g)
        XCTAssertGreaterThan(deconv.weight.value.scalars.map(abs).max()!, 0.4, "bound 1/√(1·2·2) = 0.5, not 1/√64")
        XCTAssertLessThanOrEqual(deconv.weight.value.scalars.map(abs).max()!, 0.5)
        let bn = BatchNorm(numFeatures: 3)
        XCTAssertEqual(bn.weight.value.scalars, [1, 1, 1])
        XCTAssertEqual(bn.bias.value.scalars, [0, 0, 0])
        XCTAssertEqual(bn.runningVar.value.scalars, [1, 1, 1])
        // Seeded: the same seed gives the same weights.
        var g1 = RandomGenerator(seed: 9), g2 = RandomGenerator(seed: 9)
        XCTAssertEqual(Conv2D(inChannels: 2, outChannels: 2, kernelSize: (3, 3), generator: &g1).weight.value,
                       Conv2D(inChannels: 2, outChannels: 2, kernelSize: (3, 3), generator: &g2).weight.value)
    }

    // MARK: Builders

    func testFashionBuilders() throws {
        let cnn = try Model.fashionCNN(seed: 1)
        XCTAssertEqual(cnn.parameterCount, 14_070)
        XCTAssertEqual(cnn.nodes.map(\.name), ["conv1", "pool1", "relu1", "conv2", "pool2", "relu2", "flatten", "fc1", "relu3", "fc2"])
        XCTAssertEqual(cnn.inputShape, [1, 28, 28])
        XCTAssertEqual(cnn.outputShape, [10])
        XCTAssertEqual(cnn.embeddingNode.map { cnn.nodes[$0].name }, "relu3")
        XCTAssertEqual(cnn.classNames.count, 10)
        XCTAssertEqual(cnn.namedParameters.map(\.name),
                       ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])

        let fcn = try Model.fashionFCN(seed: 1, classNames: [])
        XCTAssertEqual(fcn.parameterCount, 42_310)
        XCTAssertEqual(fcn.nodes.map(\.name), ["flatten", "fc1", "relu1", "fc2", "relu2", "fc3"])
        XCTAssertEqual(fcn.embeddingNode.map { fcn.nodes[$0].name }, "relu2")
        XCTAssertEqual(fcn.classNames, [])

        let x = LayerFixtures.random([3, 1, 28, 28], seed: 5)
        XCTAssertEqual(cnn(x).shape, [3, 10])
        XCTAssertEqual(cnn.embedding(x)?.shape, [3, 50])
        XCTAssertEqual(fcn(x).shape, [3, 10])
        XCTAssertEqual(try Model.fashionCNN(seed: 1).namedParameters.map(\.parameter.value), cnn.namedParameters.map(\.parameter.value))
        XCTAssertNotEqual(try Model.fashionCNN(seed: 2).namedParameters[0].parameter.value, cnn.namedParameters[0].parameter.value)

        // K outputs: fc1 and fc2 drawn as for K = 10, fc3 is 50 → K; the default stays 10.
        let three = try Model.fashionFCN(seed: 1, classCount: 3, classNames: ["a", "b", "c"])
        XCTAssertEqual(three.outputShape, [3])
        XCTAssertEqual(three.parameterCount, 42_310 - 7 * 51)
        XCTAssertEqual(three(x).shape, [3, 3])
        XCTAssertEqual(three.namedParameters.prefix(4).map(\.parameter.value), fcn.namedParameters.prefix(4).map(\.parameter.value))
        XCTAssertEqual(try Model.fashionFCN(seed: 1).outputShape, [10])
        XCTAssertThrowsError(try Model.fashionFCN(seed: 1, classCount: 0, classNames: []))
        XCTAssertThrowsError(try Model.fashionFCN(seed: 1, classCount: 3), "10 default names for 3 outputs")
    }

    // MARK: Forward values against PyTorch

    func testConv2DMatchesPyTorchAsymmetricPadding() {
        // F.conv2d(F.pad(x, (2, 1, 1, 0)), w, b, stride=(2, 1))
        var g = RandomGenerator(seed: 0)
        let conv = Conv2D(inChannels: 2, outChannels: 3, kernelSize: (3, 2), stride: (2, 1),
                          padding: Padding2D(top: 1, bottom: 0, left: 2, right: 1), generator: &g)
        conv.weight.value = LayerFixtures.pattern([3, 2, 3, 2], 5, 1, 11, 8)
        conv.bias!.value = Tensor(shape: [3], scalars: [0.5, -0.25, 0.125])
        let y = conv(LayerFixtures.pattern([1, 2, 5, 4], 7, 3, 13, 4))
        XCTAssertEqual(y.shape, [1, 3, 2, 6])
        LayerFixtures.assertClose(y, [0.5, 1.59375, -0.65625, 1.9375, -0.34375, -0.78125, 0.5, 0.8125, 0.625, 0.5625, 0.09375, 2.3125,
                        -0.25, -1.34375, 2.375, -1.625, 0.875, -0.75, -0.25, -0.0625, -1.625, 0.625, 0.4375, -0.5625,
                        0.125, 1.65625, -2.0625, 2.8125, -1.25, 0.40625, 0.125, 0.53125, 0.6875, -1.625, 0.53125, 0.78125], "conv")
    }

    func testConvTranspose2DMatchesPyTorch() {
        // F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1)
        var g = RandomGenerator(seed: 0)
        let deconv = ConvTranspose2D(inChannels: 2, outChannels: 2, kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1),
                                     outputPadding: (1, 1), generator: &g)
        deconv.weight.value = LayerFixtures.pattern([2, 2, 3, 3], 5, 1, 11, 8)
        deconv.bias!.value = Tensor(shape: [2], scalars: [0.5, -0.25])
        let y = deconv(LayerFixtures.pattern([1, 2, 2, 3], 7, 3, 13, 4))
        XCTAssertEqual(y.shape, [1, 2, 4, 6])
        LayerFixtures.assertClose(y, [0.03125, 0.21875, 1.875, 0.25, 0.0625, 0.59375, 0.375, 1.34375, 0.40625, -1.0, 0.4375, -0.09375,
                        1.90625, 0.3125, 0.09375, 0.34375, 1.9375, 0.1875, 0.1875, -0.25, 0.5625, 2.09375, 0.125, 0.4375,
                        0.21875, -0.6875, -0.3125, -0.59375, -0.03125, -0.1875, -0.46875, 0.46875, -0.375, 0.3125, -0.28125, -1.15625,
                        -0.5625, -0.40625, -0.28125, -0.3125, -0.8125, -0.5, -0.5625, 0.75, -0.15625, 0.75, -0.5625, 1.125], "deconv")
    }

    func testPoolingMatchesPyTorch() throws {
        let x = LayerFixtures.pattern([1, 1, 5, 5], 7, 3, 13, 4)
        // F.max_pool2d(x, 3, 2, 1) and F.avg_pool2d(x, 3, 2, 1, count_include_pad=True)
        LayerFixtures.assertClose(try MaxPool2D(kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1))(x),
                    [1.5, 1.25, 1.25, 1.5, 1.5, 1.5, 1.25, 1.5, 1.5], "max")
        LayerFixtures.assertClose(try AvgPool2D(kernelSize: (3, 3), stride: (2, 2), padding: Padding2D(1, 1))(x),
                    [0.19444445, 0.055555556, 0.0, 0.19444445, 0.027777778, 0.083333336, -0.055555556, 0.22222222, 0.11111111], "avg")
        LayerFixtures.assertClose(GlobalAvgPool2D()(x), [x.sum() / 25], "global")
    }

    /// The textbook definition of max pooling (PyTorch's scan: row-major, a strictly larger value
    /// or a NaN wins, the first in-image position if nothing does).
    private func naiveMaxPool(_ x: Tensor, kernel: (Int, Int), stride: (Int, Int), padding: Padding2D) -> (values: [Float], indices: [Int32]) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + padding.top + padding.bottom - kernel.0) / stride.0 + 1
        let ow = (w + padding.left + padding.right - kernel.1) / stride.1 + 1
        var values: [Float] = [], indices: [Int32] = []
        for plane in 0..<(n * c) {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let y0 = oy * stride.0 - padding.top, x0 = ox * stride.1 - padding.left
                    var best = -Float.infinity, arg = max(0, y0) * w + max(0, x0)
                    for iy in max(0, y0)..<min(h, y0 + kernel.0) {
                        for ix in max(0, x0)..<min(w, x0 + kernel.1) {
                            let v = x.scalars[plane * h * w + iy * w + ix]
                            if v > best || v.isNaN { best = v; arg = iy * w + ix }
                        }
                    }
                    values.append(best)
                    indices.append(Int32(arg))
                }
            }
        }
        return (values, indices)
    }

    func testMaxPoolMatchesNaiveReference() throws {
        // Geometries that exercise the vectorised interior (full 8-lane chunks, the chunk moved
        // back to end at the interior edge, narrower-than-8 interiors, strides 1, 2 and 3) and
        // the scalar padded edges. Values are coarse, so ties are frequent; some are NaN.
        let cases: [((Int, Int), (Int, Int), Padding2D, [Int])] = [
            ((2, 2), (2, 2), .zero, [2, 3, 26, 26]),
            ((2, 2), (2, 2), .zero, [1, 2, 11, 11]),
            ((3, 3), (1, 1), Padding2D(1, 1), [1, 2, 7, 21]),
            ((3, 2), (3, 2), Padding2D(top: 1, bottom: 0, left: 0, right: 1), [2, 1, 10, 37]),
            ((2, 3), (1, 3), Padding2D(0, 1), [1, 1, 5, 40]),
        ]
        var g = RandomGenerator(seed: 77)
        for (kernel, stride, padding, shape) in cases {
            var x = Tensor(shape: shape, scalars: (0..<Tensor.count(of: shape)).map { _ in Float(Int(g.nextUniform() * 7)) - 3 })
            for _ in 0..<3 { x.scalars[Int(g.next() % UInt64(x.count))] = .nan }
            let pool = try MaxPool2D(kernelSize: kernel, stride: stride, padding: padding)
            let (y, saved) = pool.forward([x], context: ForwardContext(training: false))
            let expected = naiveMaxPool(x, kernel: kernel, stride: stride, padding: padding)
            XCTAssertEqual(y.shape, [shape[0], shape[1]] + (try pool.outputShape(for: [Array(shape.dropFirst())])).dropFirst())
            XCTAssertEqual((saved as? MaxPoolIndices)?.indices, expected.indices, "\(kernel) \(stride) \(padding) \(shape)")
            XCTAssertEqual(y.scalars.map { $0.isNaN ? 999 : $0 }, expected.values.map { $0.isNaN ? 999 : $0 }, "\(kernel) \(stride) \(shape)")
        }
    }

    func testMaxPoolSavesFirstArgmaxAsInt32() throws {
        let pool = try MaxPool2D(kernelSize: (2, 2))
        let x = Tensor(shape: [1, 1, 2, 4], scalars: [1, 3, 5, 5,
                                                      3, 2, 5, 0])
        let (y, saved) = pool.forward([x], context: ForwardContext(training: false))
        XCTAssertEqual(y.scalars, [3, 5])
        XCTAssertEqual((saved as? MaxPoolIndices)?.indices, [1, 2], "ties go to the first maximum in row-major order")
        let dx = pool.backward(Tensor(shape: [1, 1, 1, 2], scalars: [10, 20]), record: LayerRecord(inputs: [x], output: y, saved: saved),
                               inputGradients: true, parameterGradients: false)[0]
        XCTAssertEqual(dx.scalars, [0, 10, 20, 0, 0, 0, 0, 0])
    }

    func testBatchNormMatchesPyTorch() {
        let bn = BatchNorm(numFeatures: 2, eps: 1e-5, momentum: 0.1)
        bn.weight.value = Tensor(shape: [2], scalars: [1.5, 0.5])
        bn.bias.value = Tensor(shape: [2], scalars: [0.25, -1])
        bn.runningMean.value = Tensor(shape: [2], scalars: [0.1, -0.2])
        bn.runningVar.value = Tensor(shape: [2], scalars: [2, 0.5])
        let x = LayerFixtures.pattern([3, 2, 2, 2], 7, 3, 13, 4)
        let train = bn.forward([x], context: ForwardContext(training: true)).output
        LayerFixtures.assertClose(train, [-1.2721671, 1.6337882, -0.85703063, 2.0489247, -1.0548818, -0.13286713, -0.92316544, -1.7134638,
                            0.38837883, -2.1024401, 0.8035153, -1.6873037, -0.52801627, -1.3183146, -0.39629990, -1.1865982,
                            2.0489247, -0.44189414, 2.4640613, -0.026757665, -1.7134638, -0.79144907, -1.5817474, -0.6597327], "train")
        // Running statistics: momentum 0.1, unbiased batch variance.
        LayerFixtures.assertClose(bn.runningMean.value, [0.10666666, -0.19458333], "running_mean")
        LayerFixtures.assertClose(bn.runningVar.value, [1.8890151, 0.5482481], "running_var")
        let runningAfterTraining = [bn.runningMean.value, bn.runningVar.value]
        let eval = bn(x)
        LayerFixtures.assertClose(eval, [-0.6849411, 1.224958, -0.41209835, 1.4978008, -1.0374212, 0.14430133, -0.8686037, -1.8815087,
                           0.40642983, -1.2306266, 0.6792726, -0.9577838, -0.3621512, -1.3750563, -0.19333369, -1.2062387,
                           1.4978008, -0.13925563, 1.7706435, 0.1335871, -1.8815087, -0.6997862, -1.7126912, -0.53096867], "eval")
        XCTAssertEqual([bn.runningMean.value, bn.runningVar.value], runningAfterTraining, "inference leaves running stats alone")
    }

    func testFlattenChannelsLastOrder() {
        // A [C=2, H=1, W=3] sample: channels_last reads it as [H, W, C].
        let x = Tensor(shape: [1, 2, 1, 3], scalars: [1, 2, 3, 10, 20, 30])
        XCTAssertEqual(Flatten()(x).scalars, [1, 2, 3, 10, 20, 30])
        XCTAssertEqual(Flatten(order: .channelsLast)(x).scalars, [1, 10, 2, 20, 3, 30])
        XCTAssertEqual(Flatten(order: .channelsLast)(x).shape, [1, 6])
    }

    func testActivationValues() {
        let x = Tensor(shape: [1, 4], scalars: [-2, -0.5, 0, 3])
        XCTAssertEqual(ReLU()(x).scalars, [0, 0, 0, 3])
        XCTAssertEqual(LeakyReLU(negativeSlope: 0.1)(x).scalars, [-0.2, -0.05, 0, 3])
        LayerFixtures.assertClose(Sigmoid()(x), [0.11920292, 0.37754067, 0.5, 0.95257413], "sigmoid")
        LayerFixtures.assertClose(Sigmoid()(Tensor(shape: [1, 2], scalars: [-100, 100])), [0, 1], "sigmoid saturates without NaN")
        LayerFixtures.assertClose(Tanh()(x), [-0.9640276, -0.46211716, 0, 0.9950548], "tanh")
        LayerFixtures.assertClose(Softmax()(Tensor(shape: [2, 3], scalars: [1, 2, 3, 1000, 1000, 1000])),
                    [0.09003057, 0.24472847, 0.66524096, 1 / 3, 1 / 3, 1 / 3], "softmax is shift-safe")
        XCTAssertTrue(ReLU()(Tensor(shape: [1, 1], scalars: [.nan])).scalars[0].isNaN, "ReLU propagates NaN like PyTorch")
    }

    func testDropoutBehaviour() throws {
        let x = Tensor(repeating: 1, shape: [4, 1000])
        let d = try Dropout(p: 0.25)
        XCTAssertEqual(d(x), x, "identity at inference")
        let y = d.forward([x], context: ForwardContext(training: true, generator: RandomGenerator(seed: 5))).output
        let kept = y.scalars.filter { $0 != 0 }
        XCTAssertTrue(kept.allSatisfy { abs($0 - 4 / 3) < 1e-6 }, "survivors scaled by 1/(1−p)")
        XCTAssertEqual(Double(kept.count) / 4000, 0.75, accuracy: 0.03)
        let again = d.forward([x], context: ForwardContext(training: true, generator: RandomGenerator(seed: 5))).output
        XCTAssertEqual(again, y, "the mask is reproducible from the seed")
        let all = try Dropout(p: 1).forward([x], context: ForwardContext(training: true)).output
        XCTAssertTrue(all.scalars.allSatisfy { $0 == 0 })
    }

    func testAddSumsInputs() {
        let a = Tensor(shape: [1, 2], scalars: [1, 2]), b = Tensor(shape: [1, 2], scalars: [10, 20]), c = Tensor(shape: [1, 2], scalars: [100, 200])
        XCTAssertEqual(Add().forward([a, b, c], context: ForwardContext(training: false)).output.scalars, [111, 222])
    }

    func testEmptyBatch() {
        var g = RandomGenerator(seed: 6)
        let conv = Conv2D(inChannels: 1, outChannels: 2, kernelSize: (3, 3), generator: &g)
        XCTAssertEqual(conv(Tensor(zeros: [0, 1, 5, 5])).shape, [0, 2, 3, 3])
        XCTAssertEqual(BatchNorm(numFeatures: 2)(Tensor(zeros: [0, 2])).shape, [0, 2])
    }
}
