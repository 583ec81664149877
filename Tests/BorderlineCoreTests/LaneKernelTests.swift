import Foundation
import XCTest
@testable import BorderlineCore

/// The element-wise lane kernels against double-precision references, on every instruction set
/// the CPU has (the vector code and the scalar tails both run: counts are not lane multiples).
final class LaneKernelTests: XCTestCase {
    override func tearDown() { LaneKernels.select(nil) }

    /// AVX-512's blocking runs on any AVX2 machine (16 lanes) and is never the automatic choice.
    func testEmulatedAVX512BlockingIsSelectableButNotAutomatic() {
        let automatic = LaneKernels.select(nil)
        if ProcessInfo.processInfo.environment["BORDERLINE_SIMD"] == nil { XCTAssertNotEqual(automatic, .avx512Emulated) }
        guard automatic == .avx2 || automatic == .avx512 else { return }
        XCTAssertEqual(LaneKernels.select(.avx512Emulated), .avx512Emulated)
        XCTAssertEqual(LaneKernels.lanes, 16)
        XCTAssertEqual(LaneKernels.select(.avx2), .avx2)
        XCTAssertEqual(LaneKernels.lanes, 8)
    }

    func testSigmoidWithinThreeUlpOfTheExactValueEverywhere() {
        // A dense sweep of the vector path's range, the fallback beyond |x| = 87, and the specials.
        var xs: [Float] = stride(from: -90.0 as Float, through: 90, by: 0.0137).map { $0 }
        xs += [0, -0, 1e-30, -1e-30, 87, -87, 87.01, -87.01, 100, -100, -103, -110, .infinity, -.infinity]
        for set in LaneKernels.InstructionSet.allCases where LaneKernels.select(set) == set {
            var y = xs
            y.withUnsafeMutableBufferPointer { LaneKernels.applySigmoid($0.baseAddress!, count: $0.count) }
            for (x, got) in zip(xs, y) {
                let exact = x >= 0 ? 1 / (1 + Foundation.exp(-Double(x))) : Foundation.exp(Double(x)) / (1 + Foundation.exp(Double(x)))
                let want = Float(exact)
                let ulp = max(want.ulp, Float.leastNonzeroMagnitude)
                XCTAssertLessThanOrEqual(abs(got - want), 3 * ulp, "\(set.name): σ(\(x)) = \(got), exact \(want)")
            }
            var nan: [Float] = [Float](repeating: 0.5, count: 19)
            nan[3] = .nan
            nan.withUnsafeMutableBufferPointer { LaneKernels.applySigmoid($0.baseAddress!, count: $0.count) }
            XCTAssertTrue(nan[3].isNaN, "\(set.name): σ(NaN) stays NaN")
            XCTAssertEqual(nan[4], Float(1 / (1 + Foundation.exp(-0.5))), accuracy: 1e-7, "\(set.name): the register holding the NaN")
        }
    }
}
