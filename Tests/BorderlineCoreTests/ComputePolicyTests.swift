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
        let shipped = ComputePolicy.denseThreading
        defer { ComputePolicy.denseThreading = shipped }
        ComputePolicy.denseThreading = .threadedBLAS
        XCTAssertNil(ComputePolicy.chunks(batch: 70, for: try Model.fashionFCN(seed: 1)), "dense models thread inside OpenBLAS")
        ComputePolicy.denseThreading = .splitBatches
        XCTAssertEqual(ComputePolicy.chunks(batch: 70, for: try Model.fashionFCN(seed: 1))?.count, 2, "or split like the CNN")
        let logits2 = model.forward(x), embedding2 = model.embedding(x)!, vjp2 = model.vjp(x, cotangent: cotangent)
        for (a, b) in [(logits, logits2), (embedding, embedding2), (vjp.output, vjp2.output), (vjp.inputGradient, vjp2.inputGradient)] {
            XCTAssertEqual(a.shape, b.shape)
            let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-6)
        }
    }

    /// A dense model's split forward reads each thread's rows into the first Dense layer in place;
    /// it must equal one pass, and it applies only where the rows reach that layer unpermuted.
    func testDenseSplitReadsRowsInPlaceAndEqualsOnePass() throws {
        let shipped = ComputePolicy.denseThreading
        defer { ComputePolicy.denseThreading = shipped }
        var g = RandomGenerator(seed: 4)
        let fcn = try Model.fashionFCN(seed: 2)
        XCTAssertEqual(fcn.leadingDense?.node, 1, "Flatten, then fc1")
        let x = g.uniform(shape: [101, 1, 28, 28], low: 0, high: 1)
        ComputePolicy.configure(threads: 1)
        let one = fcn.forward(x)
        ComputePolicy.configure(threads: 3)
        ComputePolicy.denseThreading = .splitBatches
        XCTAssertEqual(ComputePolicy.chunks(batch: 101, for: fcn)?.count, 3)
        XCTAssertNil(ComputePolicy.chunks(batch: 101, for: fcn, gradient: true), "a dense vjp runs one pass through threaded BLAS")
        XCTAssertEqual(ComputePolicy.chunks(batch: 101, for: try Model.fashionCNN(seed: 1), gradient: true)?.count, 3)
        let split = fcn.forward(x)
        XCTAssertEqual(split.shape, [101, 10])
        XCTAssertLessThanOrEqual(zip(one.scalars, split.scalars).map { abs($0 - $1) }.max() ?? 1, 1e-6)

        // A channels-last Flatten of a 2-channel sample permutes: not a plain reshape.
        let permuted = try Model.sequential(inputShape: [2, 3, 3], [
            ("f", Flatten(order: .channelsLast)), ("d", Dense(inFeatures: 18, outFeatures: 4, generator: &g)),
        ])
        XCTAssertNil(permuted.leadingDense)
        let y = g.uniform(shape: [80, 2, 3, 3], low: -1, high: 1)
        ComputePolicy.configure(threads: 1)
        let reference = permuted.forward(y)
        ComputePolicy.configure(threads: 2)
        XCTAssertLessThanOrEqual(zip(reference.scalars, permuted.forward(y).scalars).map { abs($0 - $1) }.max() ?? 1, 1e-6)
        // With one channel the same Flatten is a reshape.
        let single = try Model.sequential(inputShape: [1, 3, 3], [
            ("f", Flatten(order: .channelsLast)), ("d", Dense(inFeatures: 9, outFeatures: 4, generator: &g)),
        ])
        XCTAssertEqual(single.leadingDense?.node, 1)
    }

    /// The spinning pool: every part runs once, results in order; a part's own parallel map runs
    /// inline; callers on other threads at the same time fall back to Dispatch and still finish.
    func testParallelMapRunsEveryPartOnceInOrder() {
        for count in [1, 2, 3, 7, 64] {
            XCTAssertEqual(ComputePolicy.parallelMap(Array(0..<count)) { $0 * $0 }, (0..<count).map { $0 * $0 })
        }
        let nested = ComputePolicy.parallelMap([0, 1, 2]) { i in ComputePolicy.parallelMap([10, 20]) { $0 + i }.reduce(0, +) }
        XCTAssertEqual(nested, [30, 32, 34])
        let callers = 4
        var sums = [Int](repeating: 0, count: callers)
        sums.withUnsafeMutableBufferPointer { out in
            let slots = UncheckedSendable(out)
            DispatchQueue.concurrentPerform(iterations: callers) { c in
                var total = 0
                for round in 0..<200 { total += ComputePolicy.parallelMap([1, 2, 3, 4]) { $0 * (c + 1) + round }.reduce(0, +) }
                slots.value[c] = total
            }
        }
        for c in 0..<callers { XCTAssertEqual(sums[c], 200 * 10 * (c + 1) + 4 * (0..<200).reduce(0, +)) }
    }
}
