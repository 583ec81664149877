import XCTest
@testable import BorderlineCore

final class LossTests: XCTestCase {
    func testCrossEntropyByHand() throws {
        // Row 0: logits (0, 0), label 0 → log 2, gradient (½ − 1, ½)/N.
        // Row 1: logits (1, 2) shifted by 1000 (tests the log-sum-exp), label 1 → log(e¹ + e²) − 2.
        let logits = Tensor(shape: [2, 2], scalars: [0, 0, 1001, 1002])
        let (value, grad) = try Loss.softmaxCrossEntropy(logits: logits, labels: [0, 1])
        let row1 = Float(Foundation.log(Foundation.exp(1.0) + Foundation.exp(2.0)) - 2)
        XCTAssertEqual(value, (Float(Foundation.log(2.0)) + row1) / 2, accuracy: 1e-6)
        let p1 = Float(1 / (1 + Foundation.exp(1.0)))          // softmax(1, 2)[0]
        XCTAssertEqual(grad.shape, [2, 2])
        let expected: [Float] = [(0.5 - 1) / 2, 0.5 / 2, p1 / 2, (1 - p1 - 1) / 2]
        for i in 0..<4 { XCTAssertEqual(grad.scalars[i], expected[i], accuracy: 1e-6, "gradient \(i)") }
        XCTAssertTrue(value.isFinite)
    }

    func testCrossEntropyMatchesPyTorch() throws {
        // F.cross_entropy(z, [3, 0, 2]) for z = pattern(12; 5, 2, 9, 2) as [3, 4].
        let z = LayerFixtures.pattern([3, 4], 5, 2, 9, 2)
        let (value, grad) = try Loss.softmaxCrossEntropy(logits: z, labels: [3, 0, 2])
        XCTAssertEqual(value, 0.7516589, accuracy: 1e-6)
        LayerFixtures.assertClose(grad, [0.009546517, 0.11630037, 0.015739547, -0.14158642, -0.22248778, 0.015001316,
                           0.18275344, 0.024732988, 0.11084557, 0.015001316, -0.1505799, 0.024732988], accuracy: 1e-7, "ce gradient")
    }

    func testCrossEntropyGradientIsFiniteDifference() throws {
        let z = LayerFixtures.random([4, 5], seed: 1, scale: 3)
        let labels = [4, 0, 2, 2]
        let (_, grad) = try Loss.softmaxCrossEntropy(logits: z, labels: labels)
        for i in 0..<z.count {
            var zp = z, zm = z
            zp.scalars[i] += 1e-2
            zm.scalars[i] -= 1e-2
            let numeric = (try Loss.softmaxCrossEntropy(logits: zp, labels: labels).value
                - Loss.softmaxCrossEntropy(logits: zm, labels: labels).value) / 2e-2
            XCTAssertEqual(grad.scalars[i], numeric, accuracy: 2e-3, "element \(i)")
        }
    }

    func testCrossEntropyRejectsBadLabels() {
        let z = Tensor(zeros: [2, 3])
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: z, labels: [0, 3])) {
            XCTAssertEqual(($0 as? BorderlineError)?.kind, .dataMismatch)
        }
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: z, labels: [0])) {
            XCTAssertEqual(($0 as? BorderlineError)?.kind, .shapeMismatch)
        }
        XCTAssertThrowsError(try Loss.softmaxCrossEntropy(logits: Tensor(zeros: [2, 3, 1]), labels: [0, 1]))
    }

    func testBinaryCrossEntropy() throws {
        // By hand: one element p = 0.25, t = 1 → −log 0.25; gradient (p − t)/(p(1 − p)) = −4.
        let single = try Loss.binaryCrossEntropy(probabilities: Tensor(shape: [1, 1], scalars: [0.25]), targets: Tensor(shape: [1, 1], scalars: [1]))
        XCTAssertEqual(single.value, Float(-Foundation.log(0.25)), accuracy: 1e-6)
        XCTAssertEqual(single.gradient.scalars[0], -4, accuracy: 1e-5)
        // F.binary_cross_entropy on a [2, 3] batch, including p ∈ {0, 1} (log clamped at −100).
        let p = Tensor(shape: [2, 3], scalars: [0.1, 0.5, 0.9, 0, 1, 0.3])
        let t = Tensor(shape: [2, 3], scalars: [0, 1, 1, 0, 1, 0.5])
        let (value, grad) = try Loss.binaryCrossEntropy(probabilities: p, targets: t)
        XCTAssertEqual(value, 0.28069869, accuracy: 1e-6)
        LayerFixtures.assertClose(grad, [0.18518519, -0.33333334, -0.18518519, 0, 0, -0.15873013], accuracy: 1e-6, "bce gradient")
        // A confidently wrong prediction: loss 100 (clamped), not infinity.
        let clamped = try Loss.binaryCrossEntropy(probabilities: Tensor(shape: [2], scalars: [0, 0.7]), targets: Tensor(shape: [2], scalars: [1, 0]))
        XCTAssertEqual(clamped.value, 50.601986, accuracy: 1e-4)
        XCTAssertEqual(clamped.gradient.scalars[0] / -5e11, 1, accuracy: 1e-5, "PyTorch floors p(1−p) at 1e-12")
        XCTAssertEqual(clamped.gradient.scalars[1], 1.6666666, accuracy: 1e-5)
        XCTAssertThrowsError(try Loss.binaryCrossEntropy(probabilities: p, targets: Tensor(zeros: [3, 2])))
    }

    func testMeanSquaredError() throws {
        // ((1−1.5)² + (2−1)² + 0 + (4−6)²)/4 = (0.25 + 1 + 4)/4 = 1.3125; gradient 2(y − t)/4.
        let y = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), t = Tensor(shape: [2, 2], scalars: [1.5, 1, 3, 6])
        let (value, grad) = try Loss.meanSquaredError(y, targets: t)
        XCTAssertEqual(value, 1.3125)
        XCTAssertEqual(grad.scalars, [-0.25, 0.5, 0, -1])
        XCTAssertThrowsError(try Loss.meanSquaredError(y, targets: Tensor(zeros: [4])))
    }
}
