import XCTest
@testable import BorderlineCore

/// The lane kernels (``LanePlan``) against the layer-by-layer path on models that exercise every
/// fused pattern: pool then ReLU and ReLU then pool, leaky ReLU, padding, stride, a 3 × 3 pool,
/// channels-last flatten, sigmoid and tanh heads, batches that do not fill a lane block — on every
/// instruction set the CPU has. Logits within 1e-5, gradients within 1e-4 relative.
final class LanePlanTests: XCTestCase {
    override func tearDown() {
        LaneKernels.plansEnabled = true
        LaneKernels.select(nil)
        ComputePolicy.reset()
    }

    static func variants() throws -> [(String, Model)] {
        var g = RandomGenerator(seed: 21)
        let a = try Model.sequential(inputShape: [2, 17, 15], [
            ("c1", Conv2D(inChannels: 2, outChannels: 7, kernelSize: (3, 2), stride: (1, 2), padding: Padding2D(top: 1, bottom: 2, left: 0, right: 1), generator: &g)),
            ("r1", ReLU()),
            ("p1", try MaxPool2D(kernelSize: (2, 2))),
            ("c2", Conv2D(inChannels: 7, outChannels: 13, kernelSize: (3, 3), padding: Padding2D(1, 1), generator: &g)),
            ("l2", LeakyReLU(negativeSlope: 0.1)),
            ("c3", Conv2D(inChannels: 13, outChannels: 5, kernelSize: (2, 2), stride: (2, 1), generator: &g)),
            ("p3", try MaxPool2D(kernelSize: (1, 3))),
            ("f", Flatten(order: .channelsLast)),
            ("d1", Dense(inFeatures: 5 * 2 * 2, outFeatures: 9, generator: &g)), ("t1", Tanh()),
            ("d2", Dense(inFeatures: 9, outFeatures: 4, generator: &g)), ("s2", Sigmoid()),
            ("d3", Dense(inFeatures: 4, outFeatures: 3, generator: &g)),
        ], embedding: "s2")
        let b = try Model.sequential(inputShape: [1, 12, 12], [
            ("c1", Conv2D(inChannels: 1, outChannels: 16, kernelSize: (5, 5), generator: &g)),
            ("p1", try MaxPool2D(kernelSize: (3, 3))), ("r1", ReLU()), ("f", Flatten()),
            ("d1", Dense(inFeatures: 16 * 2 * 2, outFeatures: 6, generator: &g)),
        ])
        return [("fashion-cnn", try Model.fashionCNN(seed: 3)), ("mixed", a), ("wide", b)]
    }

    func maxError(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        maxError(a, b) / max(b.scalars.map(abs).max() ?? 0, 1e-12)
    }

    func testEveryVariantCompilesToAPlan() throws {
        for (name, model) in try Self.variants() { XCTAssertNotNil(model.lanePlan, name) }
        XCTAssertNil(try Model.fashionFCN(seed: 1).lanePlan, "dense-only models run through sgemm layer by layer")
        var g = RandomGenerator(seed: 1)
        for (groups, dilation) in [(2, 1), (1, 2)] {
            let m = try Model.sequential(inputShape: [2, 9, 9], [
                ("c", Conv2D(inChannels: 2, outChannels: 4, kernelSize: (3, 3), dilation: (dilation, dilation), groups: groups, generator: &g)),
                ("f", Flatten()), ("d", Dense(inFeatures: 4 * (9 - 2 * dilation) * (9 - 2 * dilation), outFeatures: 3, generator: &g)),
            ])
            XCTAssertNil(m.lanePlan, "groups \(groups), dilation \(dilation): the general path")
            XCTAssertEqual(m.forward(g.uniform(shape: [3, 2, 9, 9], low: 0, high: 1)).shape, [3, 3])
        }
    }

    func testPlanMatchesLayerByLayer() throws {
        for set in LaneKernels.InstructionSet.allCases {
            guard LaneKernels.select(set) == set else { continue }
            for (name, model) in try Self.variants() {
                for n in [1, 17, 37] {
                    var g = RandomGenerator(seed: UInt64(n))
                    let x = g.uniform(shape: [n] + model.inputShape, low: -1, high: 1)
                    let what = "\(name), \(set.name), batch \(n)"
                    LaneKernels.plansEnabled = true
                    XCTAssertNotNil(model.lanePlan, what)
                    let cotangent: (Tensor) -> Tensor = { out in out.map { $0 > 0 ? 1 : -0.5 } }
                    LaneKernels.plansEnabled = true
                    let logits = model.forward(x), embedding = model.embedding(x), vjp = model.vjp(x, cotangent: cotangent)
                    model.zeroGradients()
                    let bp = model.backpropagate(x, context: ForwardContext(training: true), parameterGradients: true, inputGradient: true) { cotangent($0) }
                    let grads = model.namedParameters.map { $0.parameter.gradient }
                    LaneKernels.plansEnabled = false
                    let logits0 = model.forward(x), embedding0 = model.embedding(x), vjp0 = model.vjp(x, cotangent: cotangent)
                    model.zeroGradients()
                    let bp0 = model.backpropagate(x, context: ForwardContext(training: true), parameterGradients: true, inputGradient: true) { cotangent($0) }
                    let grads0 = model.namedParameters.map { $0.parameter.gradient }
                    XCTAssertLessThanOrEqual(maxError(logits, logits0), 1e-5, "\(what): logits")
                    if let e = embedding, let e0 = embedding0 { XCTAssertLessThanOrEqual(maxError(e, e0), 1e-5, "\(what): embedding") }
                    XCTAssertEqual(embedding == nil, embedding0 == nil)
                    XCTAssertLessThanOrEqual(relativeError(vjp.inputGradient, vjp0.inputGradient), 1e-4, "\(what): vjp")
                    XCTAssertLessThanOrEqual(maxError(bp.output, bp0.output), 1e-5, "\(what): training output")
                    XCTAssertLessThanOrEqual(relativeError(bp.inputGradient!, bp0.inputGradient!), 1e-4, "\(what): training input gradient")
                    for (k, (a, b)) in zip(grads, grads0).enumerated() {
                        XCTAssertLessThanOrEqual(relativeError(a, b), 1e-4, "\(what): gradient of \(model.namedParameters[k].name)")
                    }
                }
            }
        }
    }

    /// Training through the plan (`ClassifierTraining` → `backpropagate`) takes the same Adam steps
    /// as training layer by layer, and learns.
    func testTrainingThroughThePlanMatchesLayerByLayer() throws {
        var g = RandomGenerator(seed: 11)
        let images = g.uniform(shape: [96, 1, 28, 28], low: 0, high: 1)
        // Class = which half of the image is brighter.
        let labels = (0..<96).map { n in
            images.scalars[(n * 784)..<(n * 784 + 392)].reduce(0, +) > images.scalars[(n * 784 + 392)..<((n + 1) * 784)].reduce(0, +) ? 1 : 0
        }
        let data = try Dataset(name: "halves", images: images, labels: labels, classNames: (0..<10).map(String.init))
        var configuration = TrainingConfiguration()
        configuration.epochs = 2
        configuration.batchSize = 32
        configuration.learningRate = 0.003
        var trained: [[Float]] = [], losses: [[Float]] = []
        for enabled in [true, false] {
            LaneKernels.plansEnabled = enabled
            let model = try Model.fashionCNN(seed: 9)
            XCTAssertEqual(model.lanePlan != nil, enabled)
            let history = try ClassifierTraining.train(model, on: data, configuration: configuration)
            losses.append(history.map(\.trainLoss))
            trained.append(model.namedParameters.flatMap { $0.parameter.value.scalars })
        }
        XCTAssertLessThan(losses[0][1], losses[0][0], "the loss falls")
        for (a, b) in zip(losses[0], losses[1]) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        let worst = zip(trained[0], trained[1]).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-4, "6 Adam steps through the plan and layer by layer end at the same weights")
    }

    func testThreadSplitEqualsOnePass() throws {
        let model = try Model.fashionCNN(seed: 4)
        var g = RandomGenerator(seed: 2)
        let x = g.uniform(shape: [90, 1, 28, 28], low: 0, high: 1)
        ComputePolicy.configure(threads: 1)
        let a = model.forward(x), va = model.vjp(x) { $0 }
        ComputePolicy.configure(threads: 2)
        let b = model.forward(x), vb = model.vjp(x) { $0 }
        XCTAssertLessThan(maxError(a, b), 1e-6, "rows are independent (sgemm may block a different N differently)")
        XCTAssertLessThan(relativeError(va.inputGradient, vb.inputGradient), 1e-6)
    }
}
