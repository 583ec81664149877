import BorderlineCore
import Foundation
import XCTest

/// FGSM and PGD against PyTorch (tools/make_attack_goldens.py: the shipped CNN rebuilt in torch,
/// the first 8 test images), their invariants, and bad input.
final class GradientAttackTests: XCTestCase {
    /// `∇ₓ s·CE(Z(x), c)` through the public API: one VJP with cotangent `s (softmax(Z) − e_c)`.
    func crossEntropyGradient(_ f: ModelClassifier, _ x: Tensor, _ classes: [Int], sign: Float) throws -> Tensor {
        var v = try f.logits(x).softmaxRows()
        for (r, c) in classes.enumerated() { v.scalars[r * 10 + c] -= 1 }
        return try f.vjp(x, cotangent: sign * v, of: .logits).inputGradient
    }

    /// Float32 forward/backward passes in a different order than PyTorch's agree to ~1e-6
    /// relative, so a gradient element whose magnitude is below `1e-5 · max|g|` may take either
    /// sign (or be an exact 0 on one side). FGSM moves those elements by ±ε or 0; everything else
    /// must agree to 1e-6 (the clamp and one multiply-add in float32).
    func checkFGSM(_ goal: String, targeted: Bool) throws {
        let g = try AttackFixtures.golden(), f = try AttackFixtures.cnn()
        let eps = try g.parameter("fgsm_epsilon")
        let expected = try g.tensor("fgsm_\(goal)"), torchGradient = try g.tensor("gradient_\(goal)")
        let ours = try crossEntropyGradient(f, g.x, targeted ? g.targets : g.labels, sign: targeted ? -1 : 1)
        let scale = torchGradient.scalars.map(abs).max()!
        XCTAssertLessThan(AttackFixtures.maxError(ours, torchGradient), 1e-4 * scale, "\(goal): loss gradient differs from PyTorch's")
        let result = try FastGradientSignMethod(epsilon: eps).attack(
            f, inputs: g.x, labels: g.labels, goal: targeted ? .targeted(g.targets) : .untargeted, seed: 0, progress: nil)
        var ambiguous = 0
        for i in 0..<expected.count where abs(result.adversarials.scalars[i] - expected.scalars[i]) > 1e-6 {
            XCTAssertLessThan(abs(torchGradient.scalars[i]), 1e-5 * scale, "\(goal): element \(i) differs where the gradient is clearly signed")
            ambiguous += 1
        }
        XCTAssertLessThan(ambiguous, expected.count / 100, "\(goal): too many near-zero-gradient elements differ")
        XCTAssertEqual(result.predictions, try f.predictions(expected), "\(goal): predictions differ from PyTorch's adversarials'")
    }

    func testFGSMUntargetedMatchesPyTorch() throws { try checkFGSM("untargeted", targeted: false) }
    func testFGSMTargetedMatchesPyTorch() throws { try checkFGSM("targeted", targeted: true) }

    /// PGD without random start is deterministic. An L∞ step moves by ±α per element, so an
    /// ambiguous-sign element (see ``checkFGSM``) can differ by up to 2α after a step and feed
    /// back into later steps; at most 1 % of elements may differ by more than 1e-4, and the
    /// predicted classes must agree. The L2 step is continuous in the gradient: all elements
    /// within 1e-4.
    func checkPGD(_ norm: AttackNorm, _ goal: String, targeted: Bool) throws {
        let g = try AttackFixtures.golden(), f = try AttackFixtures.cnn()
        let key = norm == .linf ? "pgd_linf" : "pgd_l2"
        let attack = ProjectedGradientDescent(norm: norm, epsilon: try g.parameter("\(key)_eps"),
                                              stepSize: try g.parameter("\(key)_alpha"),
                                              steps: Int(try g.parameter("\(key)_steps")), randomStart: false)
        let result = try attack.attack(f, inputs: g.x, labels: g.labels, goal: targeted ? .targeted(g.targets) : .untargeted,
                                       seed: 0, progress: nil)
        let expected = try g.tensor("\(key)_\(goal)")
        let differing = zip(result.adversarials.scalars, expected.scalars).filter { abs($0 - $1) > 1e-4 }.count
        switch norm {
        case .linf: XCTAssertLessThan(differing, expected.count / 100, "\(key) \(goal): \(differing) elements differ")
        case .l2: XCTAssertLessThan(AttackFixtures.maxError(result.adversarials, expected), 1e-4, "\(key) \(goal)")
        }
        XCTAssertEqual(result.predictions, try f.predictions(expected), "\(key) \(goal): predictions differ from PyTorch's")
    }

    func testPGDLinfUntargetedMatchesPyTorch() throws { try checkPGD(.linf, "untargeted", targeted: false) }
    func testPGDLinfTargetedMatchesPyTorch() throws { try checkPGD(.linf, "targeted", targeted: true) }
    func testPGDL2UntargetedMatchesPyTorch() throws { try checkPGD(.l2, "untargeted", targeted: false) }
    func testPGDL2TargetedMatchesPyTorch() throws { try checkPGD(.l2, "targeted", targeted: true) }

    /// ‖x′ − x‖ ≤ ε in the attack's norm, inside [0, 1], flags consistent with predictions, the
    /// same seed reproduces the result and another seed changes the random start.
    func testInvariantsWithRandomStart() throws {
        let g = try AttackFixtures.golden(), f = try AttackFixtures.cnn()
        let d = g.x.sampleCount
        for (attack, eps) in [(ProjectedGradientDescent(norm: .linf, epsilon: 0.05, stepSize: 0.01, steps: 3), Float(0.05)),
                              (ProjectedGradientDescent(norm: .l2, epsilon: 1.0, stepSize: 0.25, steps: 3), Float(1.0))] {
            for goal in [AttackGoal.untargeted, .targeted(g.targets)] {
                let r = try attack.attack(f, inputs: g.x, labels: g.labels, goal: goal, seed: 7, progress: nil)
                XCTAssertEqual(r.adversarials.shape, g.x.shape)
                XCTAssertTrue(r.adversarials.scalars.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(attack.name): outside the domain")
                for row in 0..<g.x.batchSize {
                    let delta = (0..<d).map { r.adversarials.scalars[row * d + $0] - g.x.scalars[row * d + $0] }
                    let size = attack.norm == .linf ? delta.map(abs).max()! : delta.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    XCTAssertLessThanOrEqual(size, eps * (1 + 1e-5), "\(attack.name) row \(row)")
                    XCTAssertEqual(r.rmsDistortion[row], (delta.reduce(0) { $0 + $1 * $1 } / Float(d)).squareRoot(), accuracy: 1e-6)
                }
                XCTAssertEqual(r.predictions, try f.predictions(r.adversarials))
                switch goal {
                case .untargeted: XCTAssertEqual(r.succeeded, zip(r.predictions, g.labels).map { $0 != $1 })
                case .targeted(let t): XCTAssertEqual(r.succeeded, zip(r.predictions, t).map { $0 == $1 })
                }
                let again = try attack.attack(f, inputs: g.x, labels: g.labels, goal: goal, seed: 7, progress: nil)
                XCTAssertEqual(again.adversarials, r.adversarials, "\(attack.name): same seed, different result")
            }
            let zeroSteps = ProjectedGradientDescent(norm: attack.norm, epsilon: eps, stepSize: 0, steps: 0)
            let a = try zeroSteps.attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 1, progress: nil)
            let b = try zeroSteps.attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 2, progress: nil)
            XCTAssertNotEqual(a.adversarials, b.adversarials, "\(attack.name): the random start ignores the seed")
            XCTAssertGreaterThan(a.rmsDistortion.min()!, 0)
        }
    }

    /// Untargeted PGD-L∞ at ε = 0.1 (a visible but common budget on Fashion-MNIST) fools this
    /// CNN on most of the 8 images, and at least as many as FGSM at the same ε (it starts with
    /// FGSM-like steps and keeps the loss increasing); RMS distortion ≤ ε.
    func testStrongerAttackSucceedsMoreOften() throws {
        let g = try AttackFixtures.golden(), f = try AttackFixtures.cnn()
        let pgd = try ProjectedGradientDescent(norm: .linf, epsilon: 0.1, stepSize: 0.02, steps: 10, randomStart: false)
            .attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 0, progress: nil)
        let fgsm = try FastGradientSignMethod(epsilon: 0.1).attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 0, progress: nil)
        XCTAssertGreaterThan(pgd.successRate, 0.5)
        XCTAssertGreaterThanOrEqual(pgd.successRate, fgsm.successRate)
        XCTAssertLessThanOrEqual(pgd.meanRMSDistortion, 0.1)
    }

    func testBadInputThrows() throws {
        let g = try AttackFixtures.golden(), f = try AttackFixtures.cnn()
        func expect(_ kind: BorderlineError.Kind, _ what: String, _ body: () throws -> AttackResult) {
            XCTAssertThrowsError(try body(), what) { XCTAssertEqual(($0 as? BorderlineError)?.kind, kind, "\(what): \($0)") }
        }
        let fgsm = FastGradientSignMethod(epsilon: 0.1)
        expect(.invalidArgument, "label count") { try fgsm.attack(f, inputs: g.x, labels: [0, 1], goal: .untargeted, seed: 0, progress: nil) }
        expect(.invalidArgument, "label range") { try fgsm.attack(f, inputs: g.x, labels: g.labels.map { _ in 10 }, goal: .untargeted, seed: 0, progress: nil) }
        expect(.invalidArgument, "target count") { try fgsm.attack(f, inputs: g.x, labels: g.labels, goal: .targeted([1]), seed: 0, progress: nil) }
        expect(.invalidArgument, "target range") { try fgsm.attack(f, inputs: g.x, labels: g.labels, goal: .targeted(g.labels.map { _ in -1 }), seed: 0, progress: nil) }
        expect(.invalidArgument, "negative epsilon") { try FastGradientSignMethod(epsilon: -0.1).attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 0, progress: nil) }
        expect(.invalidArgument, "NaN epsilon") { try ProjectedGradientDescent(norm: .l2, epsilon: .nan, stepSize: 0.1, steps: 1).attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 0, progress: nil) }
        expect(.invalidArgument, "negative steps") { try ProjectedGradientDescent(norm: .linf, epsilon: 0.1, stepSize: 0.1, steps: -1).attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 0, progress: nil) }
        expect(.invalidArgument, "empty domain") { try FastGradientSignMethod(epsilon: 0.1, domain: 1...1).attack(f, inputs: g.x, labels: g.labels, goal: .untargeted, seed: 0, progress: nil) }
        expect(.shapeMismatch, "input shape") { try fgsm.attack(f, inputs: g.x.reshaped([8, 784]), labels: g.labels, goal: .untargeted, seed: 0, progress: nil) }
        var bad = g.x
        bad.scalars[3] = .nan
        expect(.nonFiniteValues, "NaN input") { try fgsm.attack(f, inputs: bad, labels: g.labels, goal: .untargeted, seed: 0, progress: nil) }
    }

    /// ``ModelClassifier``'s one-pass `vjp(_:cotangentFromLogits:)` equals the protocol's
    /// two-pass default (logits, then a VJP with the cotangent computed from them), across
    /// chunk boundaries (batch size 3 on 8 rows).
    func testOnePassVJPMatchesTwoPassDefault() throws {
        let g = try AttackFixtures.golden()
        let model = try Model.load(contentsOf: AttackFixtures.repository.appendingPathComponent("Models/fashion-cnn.h5").path)
        let chunked = ModelClassifier(model, batchSize: 3)
        final class TwoPass: DifferentiableClassifier {
            let base: ModelClassifier
            init(_ base: ModelClassifier) { self.base = base }
            var inputShape: [Int] { base.inputShape }
            var classNames: [String] { base.classNames }
            func probabilities(_ x: Tensor) throws -> Tensor { try base.probabilities(x) }
            func logits(_ x: Tensor) throws -> Tensor { try base.logits(x) }
            func vjp(_ x: Tensor, cotangent: Tensor, of output: ClassifierOutput) throws -> VectorJacobianProduct {
                try base.vjp(x, cotangent: cotangent, of: output)
            }
        }
        let cotangent: (Tensor, Range<Int>) -> Tensor = { z, rows in
            var v = z.softmaxRows()
            for (i, r) in rows.enumerated() { v.scalars[i * 10 + g.labels[r]] -= 1 }
            return v
        }
        let one = try chunked.vjp(g.x, cotangentFromLogits: cotangent)
        let two = try TwoPass(chunked).vjp(g.x, cotangentFromLogits: cotangent)
        // The two paths run different kernels (the lane plan's fused vjp and its forward), so they
        // agree to float rounding relative to the values' size, not bit for bit.
        let logitScale = max(1, one.output.scalars.map(abs).max() ?? 1), gradientScale = max(1e-6, one.inputGradient.scalars.map(abs).max() ?? 1)
        XCTAssertLessThan(AttackFixtures.maxError(one.output, two.output) / logitScale, 2e-6)
        XCTAssertLessThan(AttackFixtures.maxError(one.inputGradient, two.inputGradient) / gradientScale, 1e-5)
    }
}
