import XCTest
@testable import BorderlineCore

/// Two optimiser steps on θ₀ = (1, −2) with gradients g₁ = (0.5, 0.1), g₂ = (−0.25, 0.3).
private func twoSteps(_ optimizer: any Optimizer) -> [[Float]] {
    let p = Parameter("w", Tensor(shape: [2], scalars: [1, -2]))
    var out: [[Float]] = []
    for g in [[Float(0.5), 0.1], [-0.25, 0.3]] {
        p.gradient = Tensor(shape: [2], scalars: g)
        optimizer.step([p])
        out.append(p.value.scalars)
    }
    return out
}

private func assertSteps(_ got: [[Float]], _ expected: [[Double]], accuracy: Float = 1e-6, _ label: String,
                         file: StaticString = #filePath, line: UInt = #line) {
    for (s, row) in expected.enumerated() {
        for (i, v) in row.enumerated() {
            XCTAssertEqual(got[s][i], Float(v), accuracy: accuracy, "\(label): step \(s + 1), element \(i)", file: file, line: line)
        }
    }
}

final class OptimizerTests: XCTestCase {
    func testAdamFirstTwoStepsByHand() {
        // lr 0.1, β = (0.9, 0.999), ε = 1e-8.
        // Step 1: m = 0.1·g₁, v = 0.001·g₁², m̂ = g₁, v̂ = g₁² → θ₁ = θ₀ − 0.1·sign(g₁) (up to ε):
        //   (0.9, −2.1).
        // Step 2, element 0: m = 0.9·0.05 + 0.1·(−0.25) = 0.02, v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225,
        //   m̂ = 0.02/0.19, √v̂ = √(0.00031225/0.001999) → θ₂ = 0.9 − 0.1·0.1052632/0.3952254 = 0.8733663.
        //   Element 1: m = 0.9·0.01 + 0.1·0.3 = 0.039, v = 0.999·1e-5 + 0.001·0.09 = 0.00009999,
        //   θ₂ = −2.1 − 0.1·(0.039/0.19)/√(0.00009999/0.001999) = −2.1917781.
        assertSteps(twoSteps(Adam(learningRate: 0.1)), [[0.9, -2.1], [0.8733663, -2.1917781]], "Adam")
        // With L2 weight decay 0.1 (added to the gradient), values from torch.optim.Adam.
        assertSteps(twoSteps(Adam(learningRate: 0.1, weightDecay: 0.1)), [[0.9, -1.9], [0.8544414, -1.9100134]], "Adam wd")
    }

    func testAdamBiasCorrectionMakesFirstStepLearningRateSized() {
        let adam = Adam(learningRate: 0.01)
        let p = Parameter("w", Tensor(shape: [3], scalars: [0, 0, 0]))
        p.gradient = Tensor(shape: [3], scalars: [1e-3, -5, 100])
        adam.step([p])
        for (v, s) in zip(p.value.scalars, [Float(-1), 1, -1]) { XCTAssertEqual(v, 0.01 * s, accuracy: 1e-7) }
        XCTAssertEqual(adam.stepCount(of: p), 1)
    }

    func testSGDMomentumVariants() {
        // Plain momentum 0.9: b₁ = g₁, θ₁ = θ₀ − 0.1·g₁; b₂ = 0.9·g₁ + g₂ = (0.2, 0.39), θ₂ = θ₁ − 0.1·b₂.
        assertSteps(twoSteps(SGD(learningRate: 0.1, momentum: 0.9)), [[0.95, -2.01], [0.93, -2.049]], "momentum")
        // Nesterov: d = g + 0.9·b. Step 1: d = 1.9·g₁ → (0.905, −2.019). Step 2: d = g₂ + 0.9·b₂ = (−0.07, 0.651).
        assertSteps(twoSteps(SGD(learningRate: 0.1, momentum: 0.9, nesterov: true)), [[0.905, -2.019], [0.912, -2.0841]], "nesterov")
        // Dampening 0.5 and weight decay 0.1: d = g + 0.1·θ; b₁ = d₁ (no dampening on the first step);
        // b₂ = 0.9·b₁ + 0.5·d₂. Values from torch.optim.SGD.
        assertSteps(twoSteps(SGD(learningRate: 0.1, momentum: 0.9, dampening: 0.5, weightDecay: 0.1)),
                    [[0.94, -1.99], [0.8938, -1.98605]], "dampening + wd")
        // No momentum: θ ← θ − lr·g.
        assertSteps(twoSteps(SGD(learningRate: 0.1)), [[0.95, -2.01], [0.975, -2.04]], "plain")
    }

    func testOptimizersSkipNonTrainableParameters() {
        for optimizer in [SGD(learningRate: 0.1, momentum: 0.9), Adam(learningRate: 0.1)] as [any Optimizer] {
            let bn = BatchNorm(numFeatures: 2)
            for p in bn.parameters { p.gradient = Tensor(repeating: 1, shape: p.value.shape) }
            optimizer.step(bn.parameters)
            XCTAssertEqual(bn.runningMean.value.scalars, [0, 0], "running_mean untouched")
            XCTAssertEqual(bn.runningVar.value.scalars, [1, 1], "running_var untouched")
            XCTAssertNotEqual(bn.weight.value.scalars, [1, 1], "weight updated")
        }
    }

    func testStateIsPerParameter() {
        // Two parameters with different gradient histories keep separate moments, and stepping
        // a subset leaves the others' state alone.
        let adam = Adam(learningRate: 0.1)
        let a = Parameter("a", Tensor(shape: [1], scalars: [1])), b = Parameter("b", Tensor(shape: [1], scalars: [1]))
        a.gradient = Tensor(shape: [1], scalars: [0.5])
        b.gradient = Tensor(shape: [1], scalars: [0.5])
        adam.step([a, b])
        a.gradient = Tensor(shape: [1], scalars: [-0.25])
        adam.step([a])
        XCTAssertEqual(adam.stepCount(of: a), 2)
        XCTAssertEqual(adam.stepCount(of: b), 1)
        XCTAssertEqual(a.value.scalars[0], 0.8733663, accuracy: 1e-6, "a followed the two-step history")
        XCTAssertEqual(b.value.scalars[0], 0.9, accuracy: 1e-6)
        b.gradient = Tensor(shape: [1], scalars: [-0.25])
        adam.step([b])
        XCTAssertEqual(b.value.scalars[0], 0.8733663, accuracy: 1e-6, "b's second step uses its own t = 2")

        let sgd = SGD(learningRate: 0.1, momentum: 0.9)
        let c = Parameter("c", Tensor(shape: [1], scalars: [0])), d = Parameter("d", Tensor(shape: [1], scalars: [0]))
        c.gradient = Tensor(shape: [1], scalars: [1])
        sgd.step([c])
        d.gradient = Tensor(shape: [1], scalars: [1])
        sgd.step([c, d])
        XCTAssertEqual(c.value.scalars[0], -0.1 - 0.19, accuracy: 1e-6, "c: buffer 1, then 1.9")
        XCTAssertEqual(d.value.scalars[0], -0.1, accuracy: 1e-6, "d: fresh buffer")
    }

    func testStepLR() {
        let sgd = SGD(learningRate: 0.5)
        let schedule = StepLR(optimizer: sgd, stepSize: 2, gamma: 0.1)
        var rates: [Float] = [sgd.learningRate]
        for _ in 0..<5 {
            schedule.step()
            rates.append(sgd.learningRate)
        }
        let expected: [Float] = [0.5, 0.5, 0.05, 0.05, 0.005, 0.005]
        for (r, e) in zip(rates, expected) { XCTAssertEqual(r, e, accuracy: 1e-9) }
        XCTAssertEqual(schedule.stepCount, 5)
    }

    func testTrainingReducesLossOnATinyProblem() throws {
        // End to end: Adam on the CNN with a fixed batch must drive the loss down.
        let model = try Model.fashionCNN(seed: 11)
        let x = LayerFixtures.random([8, 1, 28, 28], seed: 12)
        let labels = [0, 1, 2, 3, 4, 5, 6, 7]
        let adam = Adam(learningRate: 0.01)
        var losses: [Float] = []
        for _ in 0..<15 {
            model.zeroGradients()
            let trace = model.trace(x, context: ForwardContext(training: true))
            let (loss, grad) = try Loss.softmaxCrossEntropy(logits: trace.output, labels: labels)
            losses.append(loss)
            model.backward(trace, outputGradient: grad, inputGradient: false)
            adam.step(model.trainableParameters)
        }
        XCTAssertLessThan(losses.last!, 0.5 * losses.first!, "losses: \(losses)")
    }
}
