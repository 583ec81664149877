import BorderlineCore
import Foundation
import XCTest

/// Carlini–Wagner L2 against the PyTorch golden (same hyper-parameters, 4 × 100 iterations) and
/// OPTMARGIN against its definition.
final class OptimisationAttackTests: XCTestCase {
    func goldenCW(_ g: AttackFixtures.Golden) throws -> CarliniWagnerL2 {
        CarliniWagnerL2(confidence: try g.parameter("cw_confidence"), initialConstant: try g.parameter("cw_initial_constant"),
                        binarySearchSteps: Int(try g.parameter("cw_binary_search_steps")),
                        iterations: Int(try g.parameter("cw_iterations")), learningRate: try g.parameter("cw_learning_rate"))
    }

    /// Same rows succeed as in PyTorch, with per-row RMS distortion within 20 % + 0.002 of
    /// PyTorch's. Four hundred Adam steps of a non-smooth loss (max, ReLU) in float32 in a
    /// different summation order do not follow the same trajectory bit for bit, so the
    /// comparison is on the outcome, not on the pixels.
    func checkCW(_ goal: String, targeted: Bool) throws {
        let g = try AttackFixtures.golden(), f = try AttackFixtures.cnn()
        let result = try goldenCW(g).attack(f, inputs: g.x, labels: g.labels, goal: targeted ? .targeted(g.targets) : .untargeted,
                                            seed: 0, progress: nil)
        let torchFound = try g.root.readInt64s("cw_\(goal)_found").values.map { $0 != 0 }
        let torchRMS = AttackResult.rmsDistances(g.x, try g.tensor("cw_\(goal)"))
        XCTAssertEqual(result.succeeded, torchFound, "cw \(goal): success flags differ from PyTorch's")
        for r in 0..<g.x.batchSize where torchFound[r] && result.succeeded[r] {
            XCTAssertEqual(result.rmsDistortion[r], torchRMS[r], accuracy: 0.2 * torchRMS[r] + 0.002, "cw \(goal) row \(r)")
        }
        XCTAssertTrue(result.adversarials.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        for r in 0..<g.x.batchSize where !result.succeeded[r] {
            XCTAssertEqual(result.rmsDistortion[r], 0, "cw \(goal) row \(r): a failed row must be the unchanged input")
        }
    }

    func testCarliniWagnerUntargetedMatchesPyTorch() throws { try checkCW("untargeted", targeted: false) }
    func testCarliniWagnerTargetedMatchesPyTorch() throws { try checkCW("targeted", targeted: true) }

    /// With few iterations C&W still fools every row with a small distortion (well below
    /// FGSM's RMS 0.1 at ε = 0.1), and its success flags agree with the predictions.
    func testCarliniWagnerSucceedsWithSmallDistortion() throws {
        let g = try AttackFixtures.golden(), f = try AttackFixtures.cnn()
        let r = try CarliniWagnerL2(initialConstant: 0.2, binarySearchSteps: 3, iterations: 100, learningRate: 0.2)
            .attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 0, progress: nil)
        XCTAssertEqual(r.successRate, 1)
        XCTAssertLessThan(r.meanRMSDistortion, 0.05)
        XCTAssertEqual(r.succeeded, zip(r.predictions, g.labels).map { $0 != $1 })
    }

    /// The perturbation frame: 19 mutually orthogonal vectors of RMS ε, then a zero vector; a
    /// row's frame depends only on the seed and the row.
    func testOptMarginPerturbationsAreOrthogonalWithRMSEpsilon() throws {
        let attack = OptMargin(epsilonRMS: 0.3)
        let d = 784, c = attack.copies
        let v = try attack.perturbations(rows: 2, dimension: d, seed: 5)
        func vec(_ r: Int, _ i: Int) -> ArraySlice<Float> { v[((r * c + i) * d)..<((r * c + i + 1) * d)] }
        func dot(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        for i in 0..<(c - 1) {
            XCTAssertEqual((dot(vec(0, i), vec(0, i)) / Float(d)).squareRoot(), 0.3, accuracy: 1e-4)
            for j in (i + 1)..<(c - 1) { XCTAssertLessThan(abs(dot(vec(0, i), vec(0, j))), 1e-3 * 0.09 * Float(d)) }
        }
        XCTAssertTrue(vec(0, c - 1).allSatisfy { $0 == 0 })
        XCTAssertNotEqual(Array(vec(0, 0)), Array(vec(1, 0)))
        XCTAssertEqual(try attack.perturbations(rows: 1, dimension: d, seed: 5), Array(v[0..<(c * d)]))
    }

    /// Definition check: every successful OPTMARGIN example is misclassified by all 20 members
    /// of the ensemble f(x′ + v_i), recomputed here from the public perturbations, and lies in
    /// the domain; plain C&W examples of similar budget usually are not (the point of the attack).
    func testOptMarginFoolsAllCopies() throws {
        let g = try AttackFixtures.golden(), f = try AttackFixtures.cnn()
        let n = 2, d = 784
        let x = g.x.slice(batch: 0..<n), labels = Array(g.labels.prefix(n))
        let attack = OptMargin(carliniWagner: CarliniWagnerL2(initialConstant: 0.2, binarySearchSteps: 2, iterations: 50, learningRate: 0.2))
        let r = try attack.attack(f, inputs: x, labels: labels, goal: .untargeted, seed: 3, progress: nil)
        XCTAssertGreaterThanOrEqual(r.successRate, 0.5)
        XCTAssertTrue(r.adversarials.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        let v = try attack.perturbations(rows: n, dimension: d, seed: 3)
        let copies = attack.copies
        let ensemble = Tensor(shape: [n * copies, 1, 28, 28]) { out in
            for row in 0..<n { for c in 0..<copies { for i in 0..<d {
                out[(row * copies + c) * d + i] = r.adversarials.scalars[row * d + i] + v[(row * copies + c) * d + i]
            } } }
        }
        let predictions = try f.predictions(ensemble)
        for row in 0..<n where r.succeeded[row] {
            let members = predictions[(row * copies)..<((row + 1) * copies)]
            XCTAssertTrue(members.allSatisfy { $0 != labels[row] }, "row \(row): ensemble predictions \(Array(members)) include the label \(labels[row])")
        }
        for row in 0..<n where !r.succeeded[row] { XCTAssertEqual(r.rmsDistortion[row], 0) }
    }

    /// OPTMARGIN with PyTorch's perturbation frame (numpy QR, stored in the golden) and the same
    /// optimisation (2 × 50 iterations, 20 copies): same success flags, RMS distortion within
    /// 20 % + 0.002 (the same non-bitwise-trajectory argument as C&W's).
    func testOptMarginMatchesPyTorch() throws {
        let g = try AttackFixtures.golden(), f = try AttackFixtures.cnn()
        let rows = Int(try g.parameter("optmargin_rows")), copies = Int(try g.parameter("optmargin_copies"))
        let attack = OptMargin(epsilonRMS: try g.parameter("optmargin_epsilon_rms"), copies: copies,
                               carliniWagner: CarliniWagnerL2(initialConstant: 0.2, binarySearchSteps: Int(try g.parameter("optmargin_binary_search_steps")),
                                                              iterations: Int(try g.parameter("optmargin_iterations")), learningRate: 0.2))   // the golden's (tools/make_attack_goldens.py)
        let x = g.x.slice(batch: 0..<rows), labels = Array(g.labels.prefix(rows))
        let r = try attack.attack(f, inputs: x, labels: labels, goal: .untargeted,
                                  perturbations: try g.tensor("optmargin_perturbations").scalars, progress: nil)
        let torchFound = try g.root.readInt64s("optmargin_untargeted_found").values.map { $0 != 0 }
        let torchRMS = AttackResult.rmsDistances(x, try g.tensor("optmargin_untargeted"))
        XCTAssertEqual(r.succeeded, torchFound)
        for row in 0..<rows where torchFound[row] && r.succeeded[row] {
            XCTAssertEqual(r.rmsDistortion[row], torchRMS[row], accuracy: 0.2 * torchRMS[row] + 0.002, "row \(row)")
        }
    }

    func testBadArgumentsThrow() throws {
        let g = try AttackFixtures.golden(), f = try AttackFixtures.cnn()
        for attack in [CarliniWagnerL2(initialConstant: 0), CarliniWagnerL2(iterations: 0), CarliniWagnerL2(confidence: -1)] as [any AdversarialAttack] {
            XCTAssertThrowsError(try attack.attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 0, progress: nil)) {
                XCTAssertEqual(($0 as? BorderlineError)?.kind, .invalidArgument)
            }
        }
        XCTAssertThrowsError(try OptMargin(epsilonRMS: -1).attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 0, progress: nil))
        XCTAssertThrowsError(try OptMargin(copies: 0).attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 0, progress: nil))
        XCTAssertThrowsError(try OptMargin().attack(f, inputs: g.x, labels: [1], goal: .untargeted, seed: 0, progress: nil)) {
            XCTAssertEqual(($0 as? BorderlineError)?.kind, .invalidArgument)
        }
    }
}
