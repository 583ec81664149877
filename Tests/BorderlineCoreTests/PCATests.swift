import BorderlineCore
import XCTest

final class PCATests: XCTestCase {
    /// Rows c + R·(±3, ±2, ±1) for all 8 sign patterns: mean c, sample covariance R·diag(9, 4, 1)·Rᵀ·8/7,
    /// so the axes are R's columns (up to sign) with variances 72/7, 32/7, 8/7.
    func testRecoversAKnownDecomposition() throws {
        let a = Float(0.6), b = Float(0.8)
        // Orthonormal R (rotation about z, then a swap): columns u1, u2, u3.
        let u1: [Float] = [a, b, 0], u2: [Float] = [0, 0, 1], u3: [Float] = [b, -a, 0]
        let centre: [Float] = [1, -2, 5]
        var rows: [Float] = []
        for sx in [-1, 1] as [Float] { for sy in [-1, 1] as [Float] { for sz in [-1, 1] as [Float] {
            for i in 0..<3 { rows.append(centre[i] + 3 * sx * u1[i] + 2 * sy * u2[i] + 1 * sz * u3[i]) }
        } } }
        let x = Tensor(shape: [8, 3], scalars: rows)
        let pca = try PCA.fit(x, components: 3)
        for i in 0..<3 { XCTAssertEqual(pca.mean[i], centre[i], accuracy: 1e-5) }
        XCTAssertEqual(pca.variances[0], 72 / 7, accuracy: 1e-4)
        XCTAssertEqual(pca.variances[1], 32 / 7, accuracy: 1e-4)
        XCTAssertEqual(pca.variances[2], 8 / 7, accuracy: 1e-4)
        for (k, u) in [u1, u2, u3].enumerated() {
            let axis = Array(pca.axes[(3 * k)..<(3 * k + 3)])
            let dot = zip(axis, u).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(abs(dot), 1, accuracy: 1e-5, "axis \(k) is ±u\(k + 1)")
            XCTAssertGreaterThan(axis.max(by: { abs($0) < abs($1) })!, 0, "sign convention: largest entry positive")
        }
        // Projections: the first row (−,−,−) projects to (∓3, ∓2) depending on the axis signs.
        let two = try PCA.fit(x, components: 2)
        let p = try two.transform(x)
        XCTAssertEqual(p.shape, [8, 2])
        XCTAssertEqual(abs(p.scalars[0]), 3, accuracy: 1e-4)
        XCTAssertEqual(abs(p.scalars[1]), 2, accuracy: 1e-4)
        XCTAssertThrowsError(try PCA.fit(Tensor(shape: [1, 3], scalars: [1, 2, 3]), components: 1))
        XCTAssertThrowsError(try PCA.fit(x, components: 4))
        XCTAssertThrowsError(try two.transform(Tensor(shape: [1, 2], scalars: [1, 2])))
        XCTAssertThrowsError(try PCA.fit(Tensor(shape: [2, 1], scalars: [1, .nan]), components: 1))
    }
}
