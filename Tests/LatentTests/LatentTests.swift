import BorderlineCore
import Foundation
@testable import LatentKit
import XCTest

/// Tiny models: a decoder G: ℝ² → [1, 2, 2] (Dense + sigmoid) and a classifier f on [1, 2, 2]
/// (Flatten + Dense(4 → 3)), both seeded.
enum Tiny {
    static func decoder(seed: UInt64 = 1) throws -> Model {
        var g = RandomGenerator(seed: seed)
        return try Model.sequential(inputShape: [2], [
            ("dec", Dense(inFeatures: 2, outFeatures: 4, generator: &g)), ("dec.sigmoid", Sigmoid()),
            ("dec.reshape", try Reshape(shape: [1, 2, 2])),
        ])
    }
    static func classifier(seed: UInt64 = 2) throws -> ModelClassifier {
        var g = RandomGenerator(seed: seed)
        let fc = Dense(inFeatures: 4, outFeatures: 3, generator: &g)
        fc.weight.value = fc.weight.value.map { $0 * 8 }
        return ModelClassifier(try Model.sequential(inputShape: [1, 2, 2], [("flatten", Flatten()), ("fc", fc)]), classNames: ["a", "b", "c"])
    }
}

final class LatentTests: XCTestCase {
    func testComposedGradientIsFiniteDifference() throws {
        let g = try LatentGenerator(decoder: try Tiny.decoder(), encoder: nil)
        let f = try ComposedDifferentiableClassifier(try Tiny.classifier(), g)
        var r = RandomGenerator(seed: 5)
        let z = r.normal(shape: [3, 2])
        let v = r.normal(shape: [3, 3])
        for output in [ClassifierOutput.probabilities, .logits] {
            let exact = try f.vjp(z, cotangent: v, of: output).inputGradient
            let h: Float = 1e-2
            for i in 0..<z.count {
                var a = z, b = z
                a.scalars[i] += h; b.scalars[i] -= h
                let fa = output == .logits ? try f.logits(a) : try f.probabilities(a)
                let fb = output == .logits ? try f.logits(b) : try f.probabilities(b)
                let row = i / 2
                var numeric: Float = 0
                for k in 0..<3 { numeric += v.scalars[row * 3 + k] * (fa.scalars[row * 3 + k] - fb.scalars[row * 3 + k]) / (2 * h) }
                XCTAssertEqual(exact.scalars[i], numeric, accuracy: 2e-3 * max(1, abs(numeric)), "\(output) z[\(i)]")
            }
        }
    }

    func testAscentCrossesAndRecordsEveryStep() throws {
        let g = try LatentGenerator(decoder: try Tiny.decoder(), encoder: nil)
        let f = try ComposedDifferentiableClassifier(try Tiny.classifier(), g)
        var r = RandomGenerator(seed: 7)
        let z0 = r.normal(shape: [8, 2])
        let p0 = try f.probabilities(z0)
        // Target: the class that is not on top at most starts.
        let target = (0..<3).min { c1, c2 in (0..<8).filter { p0.argmaxRows()[$0] == c1 }.count < (0..<8).filter { p0.argmaxRows()[$0] == c2 }.count }!
        for rule in AscentSettings.Rule.allCases {
            for lineSearch in [false, true] {
                var s = AscentSettings()
                s.rule = rule; s.lineSearch = lineSearch; s.maxSteps = 400; s.stepSize = rule == .paper ? 2 : 0.1
                let t = try LatentSearch.ascend(f, start: z0, target: target, settings: s)
                XCTAssertEqual(t.count, 8)
                for (i, traj) in t.enumerated() {
                    XCTAssertEqual(Array(traj.latent(0)), Array(z0.scalars[(2 * i)..<(2 * i + 2)]), "z_0 = start")
                    // The recorded probabilities are f(G(z_t)) at the recorded latents.
                    let zt = Tensor(shape: [traj.count, 2], scalars: traj.latents)
                    let p = try f.probabilities(zt)
                    for u in 0..<p.count { XCTAssertEqual(p.scalars[u], traj.probabilities[u], accuracy: 1e-5) }
                    if lineSearch {
                        for step in 1..<traj.count { XCTAssertGreaterThanOrEqual(traj.probability(step, target), traj.probability(step - 1, target)) }
                    }
                }
                let reached = t.filter { $0.probability($0.count - 1, target) > 0.5 }.count
                if !lineSearch { XCTAssertGreaterThan(reached, 0, "\(rule): some trajectory crosses") }
            }
        }
    }

    func testTopTwoBisectionReachesTheTie() throws {
        let f = try ComposedClassifier(try Tiny.classifier(), try LatentGenerator(decoder: try Tiny.decoder(), encoder: nil))
        // Segments from a point of one class to a point of another along a line in latent space.
        var a: [Float] = [], b: [Float] = []
        var targets: [Int] = []
        var r = RandomGenerator(seed: 11)
        while targets.count < 5 {
            let p = r.normal(shape: [2, 2], std: 3)
            let cls = try f.probabilities(p).argmaxRows()
            if cls[0] != cls[1] { a += p.scalars[0..<2]; b += p.scalars[2..<4]; targets.append(cls[1]) }
        }
        for (i, t) in targets.enumerated() {
            let out = try LatentSearch.bisectTopTwo(f, from: Tensor(shape: [1, 2], scalars: Array(a[(2 * i)..<(2 * i + 2)])),
                                                    to: Tensor(shape: [1, 2], scalars: Array(b[(2 * i)..<(2 * i + 2)])), target: t,
                                                    tolerance: 1e-3, maxHalvings: 60)
            XCTAssertTrue(out.converged[0])
            let p = out.probabilities.scalars
            XCTAssertLessThan(abs(p[t] - p[out.partner[0]]), 1e-3)
            XCTAssertEqual(p.enumerated().filter { $0.offset != t && $0.offset != out.partner[0] }.map(\.element).max()! < p[t], true, "tie is top-two")
        }
    }

    func testInversionByOptimisationRecoversTheImage() throws {
        let g = try LatentGenerator(decoder: try Tiny.decoder(), encoder: nil)
        var r = RandomGenerator(seed: 3)
        let zTrue = r.normal(shape: [4, 2])
        let x = try g.generate(zTrue)
        var settings = LatentInversion.Settings()
        settings.steps = 400; settings.restarts = 3; settings.learningRate = 0.05
        var rr = RandomGenerator(seed: 4)
        let (_, errors) = try LatentInversion.invert(g, images: x, settings: settings, random: &rr)
        XCTAssertEqual(errors.count, 4)
        for e in errors { XCTAssertLessThan(e, 1e-4) }
    }

    func testVAEEncoderIsReadAsMeanAndBadShapesThrow() throws {
        let (enc, dec) = try Model.denseVAE(inputShape: [1, 2, 2], hidden: [3], latent: 2, seed: 0)
        let g = try LatentGenerator(decoder: dec, encoder: enc)
        XCTAssertTrue(g.canEncode)
        let x = Tensor(repeating: 0.5, shape: [2, 1, 2, 2])
        let full = enc.forward(x).reshaped([2, 4])
        let z = try g.encode(x)
        XCTAssertEqual(z.shape, [2, 2])
        XCTAssertEqual(z.scalars, [full.scalars[0], full.scalars[1], full.scalars[4], full.scalars[5]])
        var rg = RandomGenerator(seed: 0)
        let wrong = try Model.sequential(inputShape: [1, 2, 2], [("flatten", Flatten()), ("d", Dense(inFeatures: 4, outFeatures: 3, generator: &rg))])
        XCTAssertThrowsError(try LatentGenerator(decoder: dec, encoder: wrong))
        XCTAssertThrowsError(try g.generate(Tensor(zeros: [1, 3])))
        XCTAssertThrowsError(try LatentGenerator.load(decoder: "/nonexistent/decoder.h5", encoder: "", resolve: { $0 }))
        // A classifier whose input does not match the generator's output.
        var rc = RandomGenerator(seed: 1)
        let other = ModelClassifier(try Model.sequential(inputShape: [5], [("d", Dense(inFeatures: 5, outFeatures: 2, generator: &rc))]))
        XCTAssertThrowsError(try ComposedClassifier(other, g))
    }

    /// The shipped VAE is asked for by name through the host's resolver (RunContext.modelPath), and
    /// a name it cannot resolve gives an error that says how to point at a generator.
    func testShippedGeneratorIsResolvedByTheHost() throws {
        var asked: [String] = []
        XCTAssertThrowsError(try LatentGenerator.load(decoder: "", encoder: "", resolve: { name in
            asked.append(name)
            throw BorderlineError(.fileNotFound, "no model file '\(name)'")
        })) { e in
            XCTAssertEqual((e as? BorderlineError)?.kind, .fileNotFound)
            XCTAssertTrue("\(e)".contains("fashion-vae-decoder") && "\(e)".contains("latent.decoder=PATH"), "\(e)")
        }
        XCTAssertEqual(asked, ["fashion-vae-decoder"])
        // A user's file goes through the resolver too, and the encoder only when asked for.
        asked = []
        XCTAssertThrowsError(try LatentGenerator.load(decoder: "/nonexistent/d.h5", encoder: "none", resolve: { asked.append($0); return $0 }))
        XCTAssertEqual(asked, ["/nonexistent/d.h5"])
    }

    /// The prober's options keep their names (the crossing bisection's tolerance is the shared
    /// `beta`) and defaults; the generator's are the provider's.
    func testOptionsKeepTheirNamesAndDefaults() throws {
        let declared = try TrajectoryProber().declaredOptions().map(\.option)
        XCTAssertEqual(declared.map(\.name), ["start-filter", "method", "step-size", "step-rule", "objective", "prior-weight", "line-search",
            "max-steps", "target-probability", "path-length", "path-steps", "path-learning-rate", "path-init", "lambda", "identity",
            "beta", "max-halvings", "estimator", "estimator-step", "estimator-samples", "inversion-restarts", "inversion-steps",
            "strip-rows", "strip-frames"])
        let defaults = Dictionary(uniqueKeysWithValues: declared.map { ($0.name, $0.defaultValue) })
        XCTAssertEqual(defaults["beta"], .number(5e-4))
        XCTAssertEqual(defaults["max-halvings"], .number(60))
        XCTAssertEqual(defaults["step-rule"], .string("adam"))
        XCTAssertEqual(defaults["estimator"], .string("auto"))
        XCTAssertEqual(try VAEGeneratorProvider().declaredOptions().map(\.option.name), ["decoder", "encoder"])
        let o = try XCTUnwrap(try TrajectoryProber().makeOptions(["estimator": .string("finite-differences"), "beta": .number(1e-3)]) as? TrajectoryProber.Options)
        XCTAssertEqual(o.estimator, .finiteDifferences)
        XCTAssertEqual(o.bisection.beta, 1e-3)
        XCTAssertEqual(o.bisection.maxHalvings, 60)
    }

    func testPathOptimisationLowersTheStepLoss() throws {
        let g = try LatentGenerator(decoder: try Tiny.decoder(), encoder: nil)
        let f = try ComposedDifferentiableClassifier(try Tiny.classifier(), g)
        var r = RandomGenerator(seed: 7)
        let z0 = r.normal(shape: [3, 2])
        let images = try g.generate(z0)
        let target = 2
        for identity in PathSettings.Identity.allCases {
            var s = PathSettings()
            s.length = 5; s.steps = 1; s.identity = identity
            let first = try LatentSearch.optimizePath(f, generator: g, start: z0, images: images, target: target, settings: s)
            s.steps = 150
            let last = try LatentSearch.optimizePath(f, generator: g, start: z0, images: images, target: target, settings: s)
            XCTAssertEqual(last.trajectories[0].count, 6, "z_0 plus T points")
            XCTAssertLessThan(last.stepLoss.reduce(0, +), first.stepLoss.reduce(0, +), "\(identity)")
        }
    }

    func testResampleTakesEvenlySpacedPointsEndingAtTheLast() {
        var t = LatentTrajectory(latentCount: 1, classCount: 2)
        for step in 0...20 { t.append(latent: [Float(step)][...], probabilities: [1, 0][...]) }
        let r = LatentSearch.resample([t], points: 4)
        XCTAssertEqual(r.shape, [4, 1])
        XCTAssertEqual(r.scalars, [5, 10, 15, 20])
    }

    func testPicturesRender() throws {
        var r = RandomGenerator(seed: 1)
        let x = r.uniform(shape: [2, 1, 4, 4], low: 0, high: 1)
        var frames: [[(image: ArraySlice<Float>, fC: Float, step: Int)]] = []
        for i in 0..<2 {
            var row: [(image: ArraySlice<Float>, fC: Float, step: Int)] = []
            for t in 0..<3 { row.append((image: x.scalars[(i * 16)..<((i + 1) * 16)], fC: Float(t) / 2, step: t)) }
            frames.append(row)
        }
        let png = try LatentPictures.strip(sources: x, sourceProbability: [0, 0.1], frames: frames,
                                           boundary: [(x.scalars[0..<16], 0.5), nil], imageShape: [1, 4, 4])
        XCTAssertEqual(png.width, 4 + 5 * (8 + 4))
        XCTAssertFalse(try png.encoded().isEmpty)
        XCTAssertFalse(try LatentPictures.curves([[0, 0.2, 0.6], [0.1, 0.9]], target: "b").encoded().isEmpty)
    }
}
