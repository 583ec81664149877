import Foundation
import XCTest
import BorderlineCore

/// DeepDIG trains an autoencoder *through* a fixed classifier: gradients must flow through the
/// frozen model to its input while its own parameters stay exactly as they were.
final class FrozenTrainingTests: XCTestCase {
    func testAutoencoderTrainsThroughAFrozenClassifier() throws {
        var g = RandomGenerator(seed: 11)
        let classifier = try Model.sequential(inputShape: [6], [
            ("fc1", Dense(inFeatures: 6, outFeatures: 8, generator: &g)), ("relu", ReLU()),
            ("fc2", Dense(inFeatures: 8, outFeatures: 3, generator: &g)),
        ])
        let autoencoder = try Model.sequential(inputShape: [6], [
            ("enc", Dense(inFeatures: 6, outFeatures: 4, generator: &g)), ("enc.relu", ReLU()),
            ("dec", Dense(inFeatures: 4, outFeatures: 6, generator: &g)), ("dec.sigmoid", Sigmoid()),
        ])
        classifier.setFrozen(true)
        XCTAssertTrue(classifier.trainableParameters.isEmpty)
        let frozenBefore = classifier.namedParameters.map { $0.parameter.value }
        let x = g.uniform(shape: [16, 6], low: 0, high: 1)
        // Target: a class the frozen classifier assigns somewhere in the autoencoder's output box
        // [0, 1]^6, other than the one it gives the first reconstructions, so it is reachable.
        let start = classifier.forward(autoencoder.forward(x)).argmaxRows()
        let majority = (0..<3).max { a, b in start.filter { $0 == a }.count < start.filter { $0 == b }.count }!
        let inBox = classifier.forward(g.uniform(shape: [512, 6], low: 0, high: 1)).argmaxRows()
        let targetClass = try XCTUnwrap((0..<3).filter { $0 != majority }.max { a, b in inBox.filter { $0 == a }.count < inBox.filter { $0 == b }.count })
        let target = [Int](repeating: targetClass, count: 16)
        let adam = Adam(learningRate: 0.02)
        func loss() throws -> Float {
            let recon = autoencoder.forward(x)
            return try Loss.meanSquaredError(recon, targets: x).value
                + 3 * Loss.softmaxCrossEntropy(logits: classifier.forward(recon), labels: target).value
        }
        let initial = try loss()
        func meanTargetProbability() -> Float {
            let z = classifier.forward(autoencoder.forward(x))
            var total: Float = 0
            for row in 0..<16 {
                let logits = Array(z.scalars[(row * 3)..<(row * 3 + 3)])
                let m = logits.max()!
                let e = logits.map { Foundation.exp($0 - m) }
                total += e[targetClass] / e.reduce(0, +)
            }
            return total / 16
        }
        let initialTarget = meanTargetProbability()
        for _ in 0..<300 {
            autoencoder.zeroGradients()
            let aeTrace = autoencoder.trace(x)
            let clsTrace = classifier.trace(aeTrace.output)
            let ce = try Loss.softmaxCrossEntropy(logits: clsTrace.output, labels: target)
            let mse = try Loss.meanSquaredError(aeTrace.output, targets: x)
            let throughClassifier = try XCTUnwrap(classifier.backward(clsTrace, outputGradient: 3 * ce.gradient))
            autoencoder.backward(aeTrace, outputGradient: mse.gradient + throughClassifier, inputGradient: false)
            adam.step(autoencoder.trainableParameters)
        }
        XCTAssertLessThan(try loss(), initial * 0.9, "training through the frozen classifier lowers the joint loss")
        XCTAssertGreaterThan(meanTargetProbability(), initialTarget + 0.05, "reconstructions move towards the target class")
        XCTAssertEqual(classifier.namedParameters.map { $0.parameter.value }, frozenBefore, "frozen weights never change")
        XCTAssertTrue(classifier.namedParameters.allSatisfy { $0.parameter.gradient.scalars.allSatisfy { $0 == 0 } },
                      "a frozen model accumulates no parameter gradients")
        classifier.setFrozen(false)
        XCTAssertEqual(classifier.trainableParameters.count, 4)
    }
}
