import XCTest
import BorderlineCore
final class SmokeTests: XCTestCase {
    func testDense() throws {
        var g = RandomGenerator(seed: 1)
        let d = Dense(inFeatures: 3, outFeatures: 2, generator: &g)
        XCTAssertEqual(d(Tensor(zeros: [4, 3])).shape, [4, 2])
    }
}
