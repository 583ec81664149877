import BorderlineCore
import Foundation
import XCTest

/// DeepFool (moved into the core from the flip-point plugin) and the score-based Square attack
/// (issue 20 item 6): examples inside the model's input box, every reported success classified
/// differently when classified again on its own, queries counted per row.
final class DeepFoolAndSquareTests: XCTestCase {
    /// Each row of `x` classified alone (a fresh batch of one).
    func alone(_ f: any Classifier, _ x: Tensor) throws -> [Int] {
        try (0..<x.batchSize).map { try f.predictions(x.slice(batch: $0..<($0 + 1)))[0] }
    }

    func testDeepFoolOnTheShippedCNNFlipsAndEverySuccessHasAnotherClass() throws {
        let f = try AttackFixtures.cnn(), g = try AttackFixtures.golden()
        let x = g.x, labels = g.labels
        let clean = try f.predictions(x)
        let r = try DeepFool().attack(f, inputs: x, labels: labels, goal: .untargeted, seed: 0, progress: nil)
        XCTAssertTrue(f.inputBox.contains(r.adversarials), "DeepFool left the input box")
        let again = try alone(f, r.adversarials)
        for row in 0..<x.batchSize {
            XCTAssertEqual(r.succeeded[row], again[row] != labels[row], "row \(row): reported \(r.succeeded[row]), class alone \(again[row])")
            if clean[row] != labels[row] {
                XCTAssertEqual(r.rmsDistortion[row], 0, "a misclassified row is returned unchanged")
            }
        }
        let attacked = (0..<x.batchSize).filter { clean[$0] == labels[$0] }
        XCTAssertGreaterThanOrEqual(attacked.count, 5)
        XCTAssertEqual(attacked.filter { r.succeeded[$0] }.count, attacked.count, "DeepFool (50 iterations) flips every correct golden image")
        // Minimal L2: far below PGD-L2's budget of 2 (RMS 0.071); C&W's mean RMS on this CNN is 0.004–0.006.
        let rms = attacked.map { Double(r.rmsDistortion[$0]) }
        XCTAssertLessThan(rms.reduce(0, +) / Double(rms.count), 0.03)
        XCTAssertGreaterThan(rms.min()!, 0)
        let q = try XCTUnwrap(r.queries)
        for row in attacked { XCTAssertGreaterThanOrEqual(q[row], 1 + 10, "one start forward and ≥ 1 iteration of 9 gradients + 1 forward") }
        // The flip-point plugin's search is the same code: the same points.
        var c = DeepFoolSearch.Configuration()
        c.box = f.inputBox
        let o = try DeepFoolSearch.search(f, x.gather(batch: attacked), configuration: c)
        XCTAssertEqual(o.points, r.adversarials.gather(batch: attacked))
        XCTAssertThrowsError(try DeepFool().attack(f, inputs: x, labels: labels, goal: .targeted(labels.map { ($0 + 1) % 10 }), seed: 0, progress: nil))
        XCTAssertThrowsError(try DeepFool(overshoot: -1).attack(f, inputs: x, labels: labels, goal: .untargeted, seed: 0, progress: nil))
    }

    func testSquareAttackQueriesProbabilitiesOnlyAndStaysInTheBall() throws {
        let f = try AttackFixtures.cnn(), g = try AttackFixtures.golden()
        let x = g.x, labels = g.labels, eps: Float = 0.1
        let attack = SquareAttack(epsilon: eps, iterations: 150)
        // The black-box view: probabilities only.
        let r = try attack.attack(scores: BlackBoxClassifier(f), inputs: x, labels: labels, goal: .untargeted, seed: 3, progress: nil)
        XCTAssertTrue(f.inputBox.contains(r.adversarials))
        let linf = zip(r.adversarials.scalars, x.scalars).map { abs($0 - $1) }.max()!
        XCTAssertLessThanOrEqual(linf, eps + 1e-6)
        XCTAssertGreaterThan(linf, eps / 2, "the stripes start at ±ε")
        let again = try alone(f, r.adversarials)
        for row in 0..<x.batchSize { XCTAssertEqual(r.succeeded[row], again[row] != labels[row], "row \(row)") }
        XCTAssertGreaterThanOrEqual(r.succeeded.filter { $0 }.count, 5, "ε = 0.1 breaks most of this CNN's images (PGD: 100 %)")
        let q = try XCTUnwrap(r.queries)
        for row in 0..<x.batchSize {
            XCTAssertGreaterThanOrEqual(q[row], 1)
            XCTAssertLessThanOrEqual(q[row], 150)
            if !r.succeeded[row] { XCTAssertEqual(q[row], 150, "a row not fooled spends the whole budget") }
        }
        // Seeded: the same seed gives the same examples; the exact classifier gives the same as its black box.
        let s = try attack.attack(f, inputs: x, labels: labels, goal: .untargeted, seed: 3, progress: nil)
        XCTAssertEqual(s.adversarials, r.adversarials)
        XCTAssertEqual(s.queries, r.queries)
        // Targeted: success means the target's class.
        let targets = labels.map { ($0 + 1) % 10 }
        let t = try attack.attack(f, inputs: x, labels: labels, goal: .targeted(targets), seed: 3, progress: nil)
        let tAgain = try alone(f, t.adversarials)
        for row in 0..<x.batchSize { XCTAssertEqual(t.succeeded[row], tAgain[row] == targets[row], "targeted row \(row)") }
        XCTAssertThrowsError(try SquareAttack(epsilon: 0.1, iterations: 0).attack(f, inputs: x, labels: labels, goal: .untargeted, seed: 0, progress: nil))
        XCTAssertThrowsError(try SquareAttack(epsilon: 0.1, pInit: 2).attack(f, inputs: x, labels: labels, goal: .untargeted, seed: 0, progress: nil))
    }

    /// The reference's `p_selection`: halved at 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10,000.
    func testSquareScheduleIsTheReferences() {
        XCTAssertEqual(SquareAttack.fraction(pInit: 0.05, iteration: 0, of: 10_000), 0.05)
        XCTAssertEqual(SquareAttack.fraction(pInit: 0.05, iteration: 10, of: 10_000), 0.05)
        XCTAssertEqual(SquareAttack.fraction(pInit: 0.05, iteration: 11, of: 10_000), 0.025)
        XCTAssertEqual(SquareAttack.fraction(pInit: 0.05, iteration: 600, of: 10_000), 0.05 / 16)
        XCTAssertEqual(SquareAttack.fraction(pInit: 0.05, iteration: 9_999, of: 10_000), 0.05 / 512)
        XCTAssertEqual(SquareAttack.fraction(pInit: 0.8, iteration: 60, of: 1_000), 0.8 / 16, "scaled to the budget: 60 of 1000 is 600 of 10,000")
    }
}
