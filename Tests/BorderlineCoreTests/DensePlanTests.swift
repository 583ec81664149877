import CKernels
import XCTest
@testable import BorderlineCore

/// The fused dense kernel (``DensePlan``, `bk_dense_forward`) against the layer-by-layer path
/// (sgemm, then bias and activation) on every instruction set the CPU has: every activation it
/// fuses, no bias, dropout, widths that do not fill a panel, batches that do not fill a row tile,
/// and batches large enough to split. Logits within 1e-5. Packed weights follow the parameters.
final class DensePlanTests: XCTestCase {
    override func tearDown() {
        LaneKernels.plansEnabled = true
        LaneKernels.select(nil)
        ComputePolicy.reset()
    }

    static func variants() throws -> [(String, Model)] {
        var g = RandomGenerator(seed: 5)
        let mixed = try Model.sequential(inputShape: [3, 7], [
            ("f", Flatten()),
            ("d1", Dense(inFeatures: 21, outFeatures: 37, generator: &g)), ("l1", LeakyReLU(negativeSlope: 0.2)),
            ("drop", Dropout(p: 0.5)),
            ("d2", Dense(inFeatures: 37, outFeatures: 17, bias: false, generator: &g)), ("t2", Tanh()),
            ("d3", Dense(inFeatures: 17, outFeatures: 33, generator: &g)), ("s3", Sigmoid()),
            ("d4", Dense(inFeatures: 33, outFeatures: 1, generator: &g)),
        ])
        let wide = try Model.sequential(inputShape: [70], [
            ("d1", Dense(inFeatures: 70, outFeatures: 129, generator: &g)), ("r1", ReLU()),
            ("d2", Dense(inFeatures: 129, outFeatures: 16, generator: &g)), ("r2", ReLU()),
        ])
        return [("fashion-fcn", try Model.fashionFCN(seed: 2)), ("mixed", mixed), ("wide", wide)]
    }

    func maxError(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    func testWhichModelsCompile() throws {
        for (name, model) in try Self.variants() {
            let plan = try XCTUnwrap(model.densePlan, name)
            XCTAssertEqual(plan.endNode, model.outputNode, name)
        }
        XCTAssertEqual(try Model.fashionFCN(seed: 1).densePlan?.steps.map(\.act), [1, 1, 0])
        XCTAssertNil(try Model.fashionCNN(seed: 1).densePlan, "convolutional models have lane plans")
        var g = RandomGenerator(seed: 1)
        let softmax = try Model.sequential(inputShape: [4], [("d", Dense(inFeatures: 4, outFeatures: 3, generator: &g)), ("s", Softmax())])
        XCTAssertNil(softmax.densePlan, "a layer the kernel does not fuse: layer by layer")
        let twoActivations = try Model.sequential(inputShape: [4], [("d", Dense(inFeatures: 4, outFeatures: 3, generator: &g)), ("r", ReLU()), ("t", Tanh())])
        XCTAssertNil(twoActivations.densePlan, "one activation per step")
    }

    func testPlanMatchesLayerByLayer() throws {
        for set in LaneKernels.InstructionSet.allCases {
            guard LaneKernels.select(set) == set else { continue }
            for (name, model) in try Self.variants() {
                for n in [1, 5, 7, 37, 130] {
                    var g = RandomGenerator(seed: UInt64(n))
                    let x = g.uniform(shape: [n] + model.inputShape, low: -1, high: 1)
                    let cotangent: (Tensor) -> Tensor = { out in out.map { $0 > 0.1 ? 1 : -0.5 } }
                    LaneKernels.plansEnabled = true
                    XCTAssertNotNil(model.densePlan)
                    let fused = model.forward(x), vjp = model.vjp(x, cotangent: cotangent)
                    LaneKernels.plansEnabled = false
                    let layered = model.forward(x), vjp0 = model.vjp(x, cotangent: cotangent)
                    let what = "\(name), \(set.name), batch \(n)"
                    XCTAssertLessThanOrEqual(maxError(fused, layered), 1e-5, what)
                    XCTAssertLessThanOrEqual(maxError(vjp.output, vjp0.output), 1e-5, "\(what): vjp output")
                    let scale = max(1e-12, vjp0.inputGradient.scalars.map(abs).max()!)
                    XCTAssertLessThanOrEqual(maxError(vjp.inputGradient, vjp0.inputGradient) / scale, 1e-5, "\(what): input gradient")
                }
            }
        }
    }

    func testThreadSplitEqualsOnePass() throws {
        let model = try Model.fashionFCN(seed: 4)
        var g = RandomGenerator(seed: 9)
        let x = g.uniform(shape: [203, 1, 28, 28], low: 0, high: 1)
        let one = model.forward(x)
        ComputePolicy.configure(threads: 2)
        XCTAssertEqual(ComputePolicy.rowChunks(batch: 203)?.count, 2)
        XCTAssertEqual(model.forward(x), one, "rows are independent: a split changes nothing")
        ComputePolicy.reset()
        let cotangent: (Tensor) -> Tensor = { out in out.map { $0 > 0 ? 1 : -0.5 } }
        let vjp = model.vjp(x, cotangent: cotangent)
        ComputePolicy.configure(threads: 2)
        let split = model.vjp(x, cotangent: cotangent)
        XCTAssertEqual(split.output, vjp.output)
        XCTAssertEqual(split.inputGradient, vjp.inputGradient, "a split vjp equals one pass")
        XCTAssertEqual(model.vjp(x.slice(batch: 0..<0), cotangent: cotangent).inputGradient.shape, [0, 1, 28, 28])
        XCTAssertEqual(model.forward(x.slice(batch: 0..<0)).shape, [0, 10])
    }

    /// A weight written in place, a weight replaced, an optimiser step and a change of instruction
    /// set each make the next forward repack: the plan never serves stale weights.
    func testPackedWeightsFollowTheParameters() throws {
        let model = try Model.fashionFCN(seed: 6)
        var g = RandomGenerator(seed: 3)
        let x = g.uniform(shape: [9, 1, 28, 28], low: 0, high: 1)
        func check(_ what: String) {
            LaneKernels.plansEnabled = true
            let fused = model.forward(x)
            LaneKernels.plansEnabled = false
            let layered = model.forward(x)
            LaneKernels.plansEnabled = true
            // Relative: lr 0.1 on the raw logits' gradient makes logits in the hundreds.
            XCTAssertLessThanOrEqual(maxError(fused, layered) / max(1, layered.scalars.map(abs).max()!), 1e-6, what)
        }
        check("fresh")
        let fc1 = model.namedParameters.first { $0.name == "fc1.weight" }!.parameter
        let v0 = fc1.version
        fc1.value.withUnsafeMutableBufferPointer { $0[0] += 5; $0[784 * 7 + 3] = -4 }
        XCTAssertGreaterThan(fc1.version, v0, "an in-place write counts as a change")
        check("after an in-place write")
        let fc3b = model.namedParameters.first { $0.name == "fc3.bias" }!.parameter
        fc3b.value = Tensor(repeating: 0.25, shape: [10])
        check("after a new bias")
        let logits = model.forward(x)
        let adam = Adam(learningRate: 0.1)
        model.zeroGradients()
        _ = model.backpropagate(x, context: ForwardContext(training: true), parameterGradients: true, inputGradient: false) { $0 }
        adam.step(model.trainableParameters)
        XCTAssertNotEqual(model.forward(x), logits, "an Adam step changes the logits")
        check("after an Adam step")
        for set in LaneKernels.InstructionSet.allCases where LaneKernels.select(set) == set { check("on \(set.name)") }
    }

    /// The kernel by itself against a plain loop in Double, on shapes with every kind of remainder: rows
    /// short of a tile, a zero-padded panel, 1–4 dot columns (`O` = 33, 36, 19, 65, 50), `K` short of a register.
    func testKernelAgainstAPlainLoop() {
        for set in LaneKernels.InstructionSet.allCases {
            guard LaneKernels.select(set) == set else { continue }
            for (n, K, O, act) in [(1, 1, 1, Int32(0)), (13, 9, 47, 1), (6, 40, 16, 2), (8, 3, 33, 3), (17, 5, 8, 4), (3, 64, 65, 0),
                                    (5, 13, 36, 1), (7, 21, 19, 2), (9, 784, 50, 1)] {
                var g = RandomGenerator(seed: UInt64(n * 100 + O))
                let x = g.uniform(shape: [n, K + 2], low: -1, high: 1).scalars   // ldx = K + 2: rows read with a stride
                let w = g.uniform(shape: [O, K], low: -1, high: 1).scalars
                let b = g.uniform(shape: [O], low: -1, high: 1).scalars
                let packed = [Float](unsafeUninitializedCapacity: Int(bk_dense_pack(w, Int32(O), Int32(K), b, nil))) { buf, count in
                    count = Int(bk_dense_pack(w, Int32(O), Int32(K), b, buf.baseAddress))
                }
                var y = [Float](repeating: .nan, count: n * (O + 1))                   // ldy = O + 1: the gap stays NaN
                bk_dense_forward(x, n, Int32(K), K + 2, packed, Int32(O), act, 0.3, &y, O + 1)
                for r in 0..<n {
                    for o in 0..<O {
                        var z = Double(b[o])
                        for k in 0..<K { z += Double(x[r * (K + 2) + k]) * Double(w[o * K + k]) }
                        switch act {
                        case 1: z = max(z, 0)
                        case 2: z = z < 0 ? 0.3 * z : z
                        case 3: z = 1 / (1 + exp(-z))
                        case 4: z = tanh(z)
                        default: break
                        }
                        XCTAssertEqual(Double(y[r * (O + 1) + o]), z, accuracy: 1e-6 * Double(K + 10), "\(set.name) n \(n) K \(K) O \(O) act \(act) at \(r), \(o)")
                    }
                    XCTAssertTrue(y[r * (O + 1) + O].isNaN, "\(set.name): wrote past column \(O)")
                }
            }
        }
    }

    /// A training pass through the plan is the layer-by-layer pass bit for bit: the output, the
    /// input gradient and the accumulated parameter gradients (two passes, so accumulation is
    /// checked too), for every activation the plan fuses.
    func testTrainingPassIsBitForBitTheLayerByLayerOne() throws {
        struct Thrown: Error {}
        for (name, model) in try Self.variants() {
            for n in [1, 37] {
                var g = RandomGenerator(seed: UInt64(n + 40))
                let x = g.uniform(shape: [n] + model.inputShape, low: -1, high: 1)
                let cotangent: (Tensor) -> Tensor = { out in out.map { $0 > 0.1 ? 1 : -0.25 } }
                func passes() -> (Tensor, Tensor?, [Tensor]) {
                    model.zeroGradients()
                    var last: (output: Tensor, inputGradient: Tensor?)? = nil
                    for _ in 0..<2 { last = model.backpropagate(x, parameterGradients: true, inputGradient: true, outputGradient: cotangent) }
                    return (last!.output, last!.inputGradient, model.namedParameters.map(\.parameter.gradient))
                }
                LaneKernels.plansEnabled = true
                XCTAssertNotNil(model.densePlan)
                let (y, dx, grads) = passes()
                LaneKernels.plansEnabled = false
                let (y0, dx0, grads0) = passes()
                LaneKernels.plansEnabled = true
                XCTAssertEqual(y, y0, "\(name), batch \(n): output")
                XCTAssertEqual(dx, dx0, "\(name), batch \(n): input gradient")
                XCTAssertEqual(dx?.shape, x.shape)
                for (k, (a, b)) in zip(grads, grads0).enumerated() {
                    XCTAssertEqual(a, b, "\(name), batch \(n): gradient of \(model.namedParameters[k].name)")
                }
                XCTAssertThrowsError(try model.backpropagate(x, parameterGradients: true, inputGradient: false) { _ in throw Thrown() })
                XCTAssertEqual(model.backpropagate(x, parameterGradients: false, inputGradient: false, outputGradient: cotangent).output, y,
                               "\(name): the plan works after a throwing gradient")
            }
        }
    }
}

