import XCTest
@testable import BorderlineCore

/// Splitting a batch across threads must not change what a model computes.
final class ComputePolicyTests: XCTestCase {
    override func tearDown() { ComputePolicy.reset() }

    func testParallelInferenceEqualsOnePass() throws {
        let model = try Model.fashionCNN(seed: 5)
        var g = RandomGenerator(seed: 9)
        let x = g.uniform(shape: [70, 1, 28, 28], low: 0, high: 1)
        let cotangent: (Tensor) -> Tensor = { out in out.map { $0 > 0 ? 1 : -0.5 } }
        ComputePolicy.configure(threads: 1)
        let logits = model.forward(x), embedding = model.embedding(x)!, vjp = model.vjp(x, cotangent: cotangent)
        ComputePolicy.configure(threads: 3)
        XCTAssertEqual(ComputePolicy.chunks(batch: 70, for: model)?.count, 2, "70 rows at ≥ 32 per thread make two chunks")
        XCTAssertEqual(ComputePolicy.chunks(batch: 70, for: model)?.last?.upperBound, 70)
        XCTAssertNil(ComputePolicy.chunks(batch: 70, for: try Model.fashionFCN(seed: 1)), "dense models thread inside OpenBLAS instead")
        let logits2 = model.forward(x), embedding2 = model.embedding(x)!, vjp2 = model.vjp(x, cotangent: cotangent)
        for (a, b) in [(logits, logits2), (embedding, embedding2), (vjp.output, vjp2.output), (vjp.inputGradient, vjp2.inputGradient)] {
            XCTAssertEqual(a.shape, b.shape)
            let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-6)
        }
    }
}
