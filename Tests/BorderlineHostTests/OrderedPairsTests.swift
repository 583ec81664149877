import BorderlineCore
import BorderlineHost
import XCTest

final class OrderedPairsTests: XCTestCase {
    func testAllOrderedGivesBothDirectionsOfEveryPair() throws {
        let s = ClassSelection(classNames: Dataset.fashionMNISTClassNames)
        let all = try s.pairs(["all-ordered"], classes: [])
        XCTAssertEqual(all.count, 90)
        XCTAssertEqual(Set(all).count, 90)
        XCTAssertTrue(all.allSatisfy { $0.source != $0.target })
        XCTAssertEqual(try s.pairs(["all-ordered"], classes: ["Pullover", "1"]), [ClassPair(1, 2), ClassPair(2, 1)])
        XCTAssertEqual(try s.pairs(["all-ordered"], classes: ["0", "1", "2"]),
                       [ClassPair(0, 1), ClassPair(0, 2), ClassPair(1, 0), ClassPair(1, 2), ClassPair(2, 0), ClassPair(2, 1)])
        XCTAssertThrowsError(try s.pairs(["all-ordered"], classes: ["3"]))
        XCTAssertEqual(try s.pairs(["all"], classes: []).count, 45, "'all' keeps its meaning: unordered pairs")
    }
}
