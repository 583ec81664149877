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
    /// 120 images G(z), z ~ N(0, 1.5² I) seeded, labelled by the classifier; images per class.
    static func decodedData() throws -> (classifier: ModelClassifier, decoder: Model, data: Dataset, counts: [Int]) {
        let classifier = try classifier()
        let decoder = try decoder()
        var r = RandomGenerator(seed: 13)
        let z = r.normal(shape: [120, 2], std: 1.5)
        let images = Evaluation.logits(decoder, images: z).reshaped([120, 1, 2, 2])
        let labels = try classifier.predictions(images)
        let data = try Dataset(name: "tiny", images: images, labels: labels, classNames: ["a", "b", "c"])
        return (classifier, decoder, data, (0..<3).map { c in labels.filter { $0 == c }.count })
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
        XCTAssertEqual(declared.map(\.name), ["start-filter", "method", "step-size", "step-rule", "objective", "prior-weight", "identity-weight", "line-search",
            "max-steps", "target-probability", "path-length", "path-steps", "path-learning-rate", "path-init", "lambda", "identity",
            "smoothness", "off-prior-p", "off-prior-norm", "off-prior", "beta", "max-halvings", "estimator", "estimator-step", "estimator-samples", "inversion-restarts", "inversion-steps",
            "strip-rows", "strip-frames"])
        let defaults = Dictionary(uniqueKeysWithValues: declared.map { ($0.name, $0.defaultValue) })
        XCTAssertEqual(defaults["beta"], .number(5e-4))
        XCTAssertEqual(defaults["max-halvings"], .number(60))
        XCTAssertEqual(defaults["step-rule"], .string("adam"))
        XCTAssertEqual(defaults["estimator"], .string("auto"))
        // The draft's literal losses stay the defaults; off-prior crossings fail by default.
        XCTAssertEqual(defaults["identity-weight"], .number(0))
        XCTAssertEqual(defaults["smoothness"], .number(0))
        XCTAssertEqual(defaults["off-prior"], .string("fail"))
        XCTAssertEqual(defaults["off-prior-norm"], .number(0))
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
        var frames: [[(image: ArraySlice<Float>, fC: Float, step: Int, top: Int)]] = []
        for i in 0..<2 {
            var row: [(image: ArraySlice<Float>, fC: Float, step: Int, top: Int)] = []
            for t in 0..<3 { row.append((image: x.scalars[(i * 16)..<((i + 1) * 16)], fC: Float(t) / 2, step: t, top: t == 2 ? 1 : 0)) }
            frames.append(row)
        }
        let png = try LatentPictures.strip(sources: x, sourceProbability: [0, 0.1], sourceTop: [0, 0], frames: frames,
                                           boundary: [(x.scalars[0..<16], 0.5, 1), nil], imageShape: [1, 4, 4],
                                           classNames: ["Ankle boot", "b"], source: 0, target: 1)
        XCTAssertEqual(png.width, 4 + 5 * (8 + 4))
        XCTAssertFalse(try png.encoded().isEmpty)
        XCTAssertFalse(try LatentPictures.curves([[0, 0.2, 0.6], [0.1, 0.9]], target: "b").encoded().isEmpty)
    }

    // MARK: issue 19 item 2: the latent prior, the identity and smoothness terms, one crossing definition

    func testChiQuantileAndPriorLogLikelihood() {
        // χ_2: P(‖z‖ ≤ r) = 1 − exp(−r²/2), so r = √(−2 log(1 − p)).
        XCTAssertEqual(LatentPrior.chiQuantile(0.999, degrees: 2), (-2 * Foundation.log(0.001)).squareRoot(), accuracy: 1e-6)
        // χ²_16 at 0.999 is 39.252 (tables): the default radius for the shipped VAE's 16 latents.
        XCTAssertEqual(LatentPrior.chiQuantile(0.999, degrees: 16), 39.2524.squareRoot(), accuracy: 1e-3)
        XCTAssertEqual(LatentPrior.chiCDF(4, degrees: 16), 0.5, accuracy: 0.1, "‖z‖ ≈ √16 is typical")
        XCTAssertEqual(LatentPrior.chiQuantile(0.5, degrees: 200), 199.333.squareRoot(), accuracy: 1e-2, "continued-fraction branch")
        XCTAssertEqual(LatentPrior.logLikelihood([0, 0][...]), -Foundation.log(2 * Double.pi), accuracy: 1e-12)
        XCTAssertEqual(LatentPrior.logLikelihood([3, 4][...]), -12.5 - Foundation.log(2 * Double.pi), accuracy: 1e-9)
    }

    func testSmoothnessGradientIsFiniteDifference() {
        var r = RandomGenerator(seed: 21)
        let m = 2, tt = 4, l = 3, mu: Float = 0.7
        let z = r.normal(shape: [m * tt, l]).scalars
        let exact = LatentSearch.smoothnessTerm(z, paths: m, length: tt, latent: l, weight: mu)
        // The loss by its definition, Σ_t ‖z_{t+1} − z_t‖² per path.
        for i in 0..<m {
            var direct: Float = 0
            for t in 0..<(tt - 1) { for j in 0..<l { let e = z[(i * tt + t + 1) * l + j] - z[(i * tt + t) * l + j]; direct += mu * e * e } }
            XCTAssertEqual(exact.loss[i], direct, accuracy: 1e-5)
        }
        let h: Float = 1e-2
        for u in 0..<z.count {
            var a = z, b = z
            a[u] += h; b[u] -= h
            let fa = LatentSearch.smoothnessTerm(a, paths: m, length: tt, latent: l, weight: mu).loss.reduce(0, +)
            let fb = LatentSearch.smoothnessTerm(b, paths: m, length: tt, latent: l, weight: mu).loss.reduce(0, +)
            XCTAssertEqual(exact.gradient[u], (fa - fb) / (2 * h), accuracy: 2e-3, "z[\(u)]")
        }
    }

    /// The draft's literal Option 2 loss has no term on z_1 other than the identity term, so z_1
    /// never leaves G⁻¹(x); the smoothness term links it to z_2 and makes it move.
    func testLiteralPathLossNeverMovesZ1AndSmoothnessDoes() throws {
        let g = try LatentGenerator(decoder: try Tiny.decoder(), encoder: nil)
        let f = try ComposedDifferentiableClassifier(try Tiny.classifier(), g)
        var r = RandomGenerator(seed: 7)
        let z0 = r.normal(shape: [3, 2])
        let images = try g.generate(z0)
        var s = PathSettings()
        s.length = 5; s.steps = 100
        let literal = try LatentSearch.optimizePath(f, generator: g, start: z0, images: images, target: 2, settings: s)
        s.smoothness = 1
        let smooth = try LatentSearch.optimizePath(f, generator: g, start: z0, images: images, target: 2, settings: s)
        var moved: Float = 0
        for i in 0..<3 {
            XCTAssertEqual(Array(literal.trajectories[i].latent(1)), Array(z0.scalars[(2 * i)..<(2 * i + 2)]), "literal loss: z_1 = G⁻¹(x)")
            XCTAssertNotEqual(Array(literal.trajectories[i].latent(5)), Array(z0.scalars[(2 * i)..<(2 * i + 2)]), "z_T moves")
            moved += zip(smooth.trajectories[i].latent(1), z0.scalars[(2 * i)..<(2 * i + 2)]).map { abs($0 - $1) }.reduce(0, +)
        }
        XCTAssertGreaterThan(moved, 1e-3, "with smoothness z_1 follows z_2")
        XCTAssertGreaterThan(smooth.smoothnessLoss.reduce(0, +), 0)
        XCTAssertEqual(literal.smoothnessLoss.reduce(0, +), 0)
    }

    /// With line search the objective log f_C − ρ‖z − z_0‖²/2 rises at every step, so
    /// ρ‖z_t − z_0‖²/2 ≤ −log f_C(z_0): the trajectory stays in a ball around its own start
    /// G⁻¹(x) (not around 0).
    func testIdentityWeightKeepsAscentNearItsStart() throws {
        let g = try LatentGenerator(decoder: try Tiny.decoder(), encoder: nil)
        let f = try ComposedDifferentiableClassifier(try Tiny.classifier(), g)
        var r = RandomGenerator(seed: 9)
        // Starts far from the origin: a pull towards 0 would move them a long way.
        var z0 = r.normal(shape: [6, 2])
        z0.scalars = z0.scalars.map { $0 + 4 }
        let p0 = try f.probabilities(z0)
        let target = 2
        var s = AscentSettings()
        s.rule = .normalized; s.lineSearch = true; s.maxSteps = 300; s.stepSize = 0.2
        s.identityWeight = 2
        func farthest(_ t: [LatentTrajectory]) -> [(distance: Double, bound: Double)] {
            t.enumerated().map { i, traj in
                let bound = (2 * -Foundation.log(Double(p0.scalars[i * 3 + target])) / 2).squareRoot()
                let d = (0..<traj.count).map { step in
                    zip(traj.latent(step), z0.scalars[(2 * i)..<(2 * i + 2)]).map { Double(($0 - $1) * ($0 - $1)) }.reduce(0, +).squareRoot()
                }.max()!
                return (d, bound)
            }
        }
        for (i, r) in farthest(try LatentSearch.ascend(f, start: z0, target: target, settings: s)).enumerated() {
            XCTAssertLessThanOrEqual(r.distance, r.bound + 1e-3, "row \(i)")
        }
        // Without the term the same ascent leaves that ball (so the bound above says something).
        s.identityWeight = 0
        XCTAssertTrue(farthest(try LatentSearch.ascend(f, start: z0, target: target, settings: s)).contains { $0.distance > $0.bound + 1e-3 })
    }

    /// The prober on the tiny models: off-prior crossings by a constructed radius are flagged,
    /// fail (default) or stay successes (flag); the boundary set stays valid; crossed_share,
    /// crossing_step and the bisected segment use one definition (C on top).
    func testProberFlagsOffPriorCrossingsAndUsesOneCrossingDefinition() throws {
        let (classifier, decoder, data, counts) = try Tiny.decodedData()
        let s = counts.indices.max { counts[$0] < counts[$1] }!
        let t = counts.indices.filter { $0 != s }.max { counts[$0] < counts[$1] }!
        let pair = ClassPair(s, t)

        func run(_ values: [String: JSONValue]) throws -> Probe<TrajectoryProber.Output> {
            let record = RunRecord()
            let plugin = PluginRecord(name: "latent", version: "0", summary: "")
            record.add(plugin)
            let environment = try RunEnvironment(classifier: classifier, data: data, pairs: [pair], samplesPerPair: 12, seed: 3, record: record)
            environment.register(TinyProvider(decoder), plugin: "latent", options: NoOptions())
            let prober = TrajectoryProber()
            let options = try XCTUnwrap(try prober.makeOptions(values.merging(["inversion-steps": .number(150), "max-steps": .number(400),
                                                                               "strip-rows": .number(2)]) { a, _ in a }) as? TrajectoryProber.Options)
            return try prober.probe(pair, options: options, context: environment.context(plugin: plugin, component: prober.name, kind: .prober, visibleSets: []))
        }
        let flagged = try run(["off-prior": .string("flag"), "off-prior-norm": .number(1000)])
        let set = flagged.set, out = flagged.output, m = set.count
        let norms = try XCTUnwrap(set.extras["latent_norm"]).scalars
        let ll = try XCTUnwrap(set.extras["prior_log_likelihood"]).scalars
        let zStar = try XCTUnwrap(set.extras["latent_point"]).scalars
        for i in 0..<m {
            let n = (zStar[2 * i] * zStar[2 * i] + zStar[2 * i + 1] * zStar[2 * i + 1]).squareRoot()
            XCTAssertEqual(norms[i], n, accuracy: 1e-4)
            XCTAssertEqual(Double(ll[i]), Double(-n * n / 2) - Foundation.log(2 * Double.pi), accuracy: 1e-3)
        }
        XCTAssertEqual(out.offPriorShare, 0, "nothing is beyond radius 1000")
        let crossings = (0..<m).filter { out.bisectionHalvings[$0] > 0 && set.failureReasons[$0]?.contains("halving cap") != true }
        XCTAssertGreaterThan(crossings.count, 1, "the tiny case crosses")

        // One crossing definition: the first step with C on top, recomputed from the stored latents.
        let composed = try ComposedClassifier(classifier, LatentGenerator(decoder: decoder, encoder: nil))
        let longest = out.trajectoryLatents.shape[1]
        var crossed = 0
        for i in 0..<m {
            let n = out.trajectoryLengths[i]
            let zi = Tensor(shape: [n, 2], scalars: Array(out.trajectoryLatents.scalars[(i * longest * 2)..<((i * longest + n) * 2)]))
            let tops = try composed.probabilities(zi).argmaxRows()
            let first = tops.firstIndex(of: t)
            let expected = tops[0] == t ? -1 : (first ?? -1)
            XCTAssertEqual(out.crossingStep[i], expected, "row \(i): crossing step = first step with C on top")
            if expected >= 0 { crossed += 1 }
            // The bisected segment is the same step: every crossed row (and only those) was bisected.
            XCTAssertEqual(out.bisectionHalvings[i] > 0, expected >= 0, "row \(i)")
        }
        XCTAssertEqual(out.crossedShare, Double(crossed) / Double(m), accuracy: 1e-12)

        // A constructed radius between the crossings' norms: those above it are off the prior.
        let sorted = crossings.map { norms[$0] }.sorted()
        let cut = sorted.count / 2
        let radius = (sorted[cut - 1] + sorted[cut]) / 2
        XCTAssertLessThan(sorted[cut - 1], sorted[cut], "distinct norms around the cut")
        let above = Set(crossings.filter { norms[$0] > radius })
        let failing = try run(["off-prior-norm": .number(Double(radius))])
        let keeping = try run(["off-prior": .string("flag"), "off-prior-norm": .number(Double(radius))])
        XCTAssertEqual(failing.output.offPriorThreshold, Double(radius), accuracy: 1e-6)
        XCTAssertEqual(Set((0..<m).filter { failing.output.offPriorFlag[$0] == 1 }), above)
        XCTAssertEqual(failing.output.offPriorShare, Double(above.count) / Double(crossings.count), accuracy: 1e-12)
        XCTAssertEqual(keeping.output.offPriorFlag, failing.output.offPriorFlag)
        for i in 0..<m {
            if above.contains(i) {
                XCTAssertFalse(failing.set.succeeded[i], "row \(i): off-prior crossing fails by default")
                XCTAssertTrue(failing.set.failureReasons[i]?.contains("off the latent prior") == true)
            } else {
                XCTAssertEqual(failing.set.succeeded[i], keeping.set.succeeded[i], "row \(i)")
            }
            XCTAssertEqual(keeping.set.succeeded[i], set.succeeded[i], "flag keeps the successes")
        }
        XCTAssertEqual(failing.set.successCount, set.successCount - above.filter { set.succeeded[$0] }.count)
        XCTAssertEqual(failing.output.onPriorCrossedShare, Double(crossed - above.count) / Double(m), accuracy: 1e-12)
        // The sets stay valid: every success is a tie of the set's own pair within its β.
        for p in [flagged, failing, keeping] { XCTAssertEqual(p.set.successesOffTheBoundary, []) }
        // Default radius: the χ_2 quantile at 0.999.
        let byP = try run([:])
        XCTAssertEqual(byP.output.offPriorThreshold, LatentPrior.chiQuantile(Double(Float(0.999)), degrees: 2), accuracy: 1e-9)
    }
}

/// The prober's output read back from saved results (a resumed or merged run), and the run-wide
/// `summary` analysis over it.
final class LatentSummaryTests: XCTestCase {
    /// Every stored member of `a` and `b` (by `Mirror`) is the same: numbers by their shortest
    /// decimal (so NaN equals NaN and every bit counts), tensors by shape and scalars, pictures by
    /// name, caption, key flag and pixels. Returns how many members were compared.
    @discardableResult
    func assertSame<T>(_ a: T, _ b: T, _ what: String, file: StaticString = #filePath, line: UInt = #line) -> Int {
        let left = Mirror(reflecting: a).children, right = Mirror(reflecting: b).children
        XCTAssertEqual(left.count, right.count, what, file: file, line: line)
        func text(_ v: Any) -> String {
            switch v {
            case let t as Tensor: return "\(t.shape) \(t.scalars)"
            case let t as Tensor?: return t.map { "\($0.shape) \($0.scalars)" } ?? "nil"
            case let p as ResultPicture?:
                return p.map { "\($0.name) \($0.caption) \($0.isKey) \($0.image.width)×\($0.image.height)×\($0.image.channels) \($0.image.pixels)" } ?? "nil"
            case let h as [ResultHighlight]: return h.map { "\($0.label) \($0.value) \($0.unit) \($0.detail)" }.joined(separator: " | ")
            default: return "\(v)"
            }
        }
        for (l, r) in zip(left, right) {
            XCTAssertEqual(l.label, r.label, file: file, line: line)
            XCTAssertEqual(text(l.value), text(r.value), "\(what): \(l.label ?? "?")", file: file, line: line)
        }
        return left.count
    }

    /// The prober on the tiny models from the largest class to both others (no encoder: the
    /// off-manifold members stay nil, so some are set by hand to cover Tensor? and Double?).
    func probes() throws -> [(pair: ClassPair, output: TrajectoryProber.Output)] {
        let (classifier, decoder, data, counts) = try Tiny.decodedData()
        let s = counts.indices.max { counts[$0] < counts[$1] }!
        // Most images are of one class s: both pairs start there.
        let pairs = counts.indices.filter { $0 != s }.map { ClassPair(s, $0) }
        let record = RunRecord()
        let plugin = PluginRecord(name: "latent", version: "0", summary: "")
        record.add(plugin)
        let environment = try RunEnvironment(classifier: classifier, data: data, pairs: pairs, samplesPerPair: 8, seed: 3, record: record)
        environment.register(TinyProvider(decoder), plugin: "latent", options: NoOptions())
        let prober = TrajectoryProber()
        // A small radius, so that some crossings are off the prior.
        let options = try XCTUnwrap(try prober.makeOptions(["inversion-steps": .number(100), "max-steps": .number(300), "strip-rows": .number(2),
                                                            "off-prior-norm": .number(1.5)]) as? TrajectoryProber.Options)
        return try pairs.map { pair in
            (pair, try prober.probe(pair, options: options, context: environment.context(plugin: plugin, component: prober.name, kind: .prober, visibleSets: [])).output)
        }
    }

    func testOutputRoundTripsThroughTheSavedResults() throws {
        var output = try XCTUnwrap(try probes().first).output
        output.startImagesExamined = 9
        output.startFilterRejectedShare = 1.0 / 3
        output.straightPathReconstructionMse = Tensor(shape: [2, 11], scalars: (0..<22).map { Float($0) / 7 })
        output.latentPathMaxReconstructionMseMean = 0.1 + 0.2
        output.pathSmoothnessLossMean = .nan
        output.latentNormMax = .nan
        output.fTargetCurves = ResultPicture(name: "curves", caption: "c", image: try PNGImage(width: 2, height: 1, channels: 1, pixels: [0, 255]), key: true)
        let back = try ResultDecoder.decode(TrajectoryProber.Output.self, from: try ResultEncoder.encode(output))
        let compared = assertSame(output, back, "decoded output")
        XCTAssertGreaterThanOrEqual(compared, 50, "every member (50 when written)")
        XCTAssertEqual(back.straightPathReconstructionMse, output.straightPathReconstructionMse)
        XCTAssertNil(back.latentPathReconstructionMse)
        XCTAssertEqual(back.fTargetCurves?.image, output.fTargetCurves?.image)
        XCTAssertTrue(back.pathSmoothnessLossMean?.isNaN == true)
        XCTAssertEqual(back.offPriorFlag, output.offPriorFlag)
        XCTAssertEqual(back.trajectoryLatents, output.trajectoryLatents)
        // The host's own path: a saved output decodes, nothing is reported unreadable.
        let saved = SavedOutput(tree: try ResultEncoder.encode(output))
        assertSame(output, try saved.value(as: TrajectoryProber.Output.self), "SavedOutput")
    }

    func testSummaryCountsEveryTrajectoryAndIsTheSameFromSavedOutputsInAnyOrder() throws {
        let live = try probes()
        let names: (Int) -> String = { ["a", "b", "c"][$0] }
        let summary = try LatentSummary.summarise(live, className: names)

        // Counted by hand from the per-trajectory arrays.
        let m = live.reduce(0) { $0 + $1.output.trajectories }
        let crossed = live.reduce(0) { $0 + $1.output.crossingStep.filter { $0 >= 0 }.count }
        let off = live.reduce(0) { $0 + $1.output.offPriorFlag.reduce(0, +) }
        let onPrior = live.reduce(0) { t, p in t + zip(p.output.crossingStep, p.output.offPriorFlag).filter { $0 >= 0 && $1 == 0 }.count }
        let ties = live.reduce(0) { $0 + Int(($1.output.crossingPointShare * Double($1.output.trajectories)).rounded()) }
        XCTAssertEqual(summary.pairs, 2)
        XCTAssertEqual(summary.trajectories, m)
        XCTAssertEqual(summary.crossed, crossed)
        XCTAssertGreaterThan(crossed, 0, "the tiny case crosses")
        XCTAssertGreaterThan(off, 0, "radius 1.5: some crossings are off the prior")
        XCTAssertEqual(summary.crossedShare, Double(crossed) / Double(m))
        XCTAssertEqual(summary.onPriorCrossed, onPrior)
        XCTAssertEqual(summary.onPriorCrossed, crossed - off, "every off-prior crossing is a crossed trajectory")
        XCTAssertEqual(summary.crossings, ties)
        XCTAssertEqual(summary.offPriorShare, Double(off) / Double(ties))
        XCTAssertEqual(summary.offPriorThreshold, 1.5, accuracy: 1e-6)
        let norms = live.filter { $0.output.crossingPointShare > 0 }
        let weighted = norms.reduce(0.0) { $0 + $1.output.latentNormMean * $1.output.crossingPointShare * Double($1.output.trajectories) } / Double(ties)
        XCTAssertEqual(summary.latentNormMean, weighted, accuracy: 1e-9)
        XCTAssertEqual(summary.latentNormMax, norms.map(\.output.latentNormMax).max())
        XCTAssertGreaterThan(summary.latentNormMax, 1.5, "an off-prior crossing is beyond the radius")
        let lowest = try XCTUnwrap(live.min { a, b in
            let x = Double(zip(a.output.crossingStep, a.output.offPriorFlag).filter { $0 >= 0 && $1 == 0 }.count) / Double(a.output.trajectories)
            let y = Double(zip(b.output.crossingStep, b.output.offPriorFlag).filter { $0 >= 0 && $1 == 0 }.count) / Double(b.output.trajectories)
            return x < y || (x == y && a.pair < b.pair)
        })
        XCTAssertEqual(summary.lowestOnPriorPair, lowest.pair.key)
        XCTAssertEqual(summary.highlights.map(\.label), ["trajectories that cross the boundary", "crossed on the prior",
                                                          "off-prior share of the crossings", "mean ‖z*‖ at the crossings"])
        XCTAssertEqual(summary.highlights[0].value, summary.crossedShare)
        XCTAssertEqual(summary.highlights[1].value, summary.onPriorCrossedShare)
        XCTAssertTrue(summary.highlights[1].detail.contains("lowest: \(names(lowest.pair.source)) → \(names(lowest.pair.target))"), summary.highlights[1].detail)

        // From saved results (as a merged or resumed run reads them), in the other order: the same to the last bit.
        let saved = try live.reversed().map { ($0.pair, try ResultDecoder.decode(TrajectoryProber.Output.self, from: try ResultEncoder.encode($0.output))) }
        assertSame(summary, try LatentSummary.summarise(saved, className: names), "summary from saved outputs")

        // Through the run context with SavedOutput records, as the host gives them to the analysis.
        let classifier = try Tiny.classifier()
        let data = try Dataset(name: "tiny", images: Tensor(shape: [1, 1, 2, 2], scalars: [0, 0, 0, 0]), labels: [0], classNames: ["a", "b", "c"])
        let environment = try RunEnvironment(classifier: classifier, data: data, pairs: live.map(\.pair), samplesPerPair: 8, seed: 3)
        let plugin = PluginRecord(name: "latent", version: "0", summary: "")
        environment.record.add(plugin)
        for (pair, output) in live.reversed() {
            let point = Tensor(shape: [1, 1, 2, 2], scalars: [0, 0, 0, 0])
            var set = try BoundarySet(pair: pair, points: point, startPoints: point, startIndices: [0], probabilities: Tensor(shape: [1, 3], scalars: [0.5, 0.5, 0]),
                                      succeeded: [false], failureReasons: ["x"], iterations: [0])
            set.producer = "latent/trajectory"
            let tree = try ResultEncoder.encode(output)
            environment.record.add(set)
            environment.record.add(OutputRecord(plugin: "latent", component: "trajectory", kind: .prober, componentType: ObjectIdentifier(TrajectoryProber.self),
                                                pair: pair, set: set, value: SavedOutput(tree: tree), tree: tree))
        }
        let analysis = LatentSummary()
        let fromContext = try analysis.analyse(options: NoOptions(), context: environment.context(plugin: plugin, component: analysis.name, kind: .analysis,
                                                                                                   visibleSets: environment.record.boundarySets))
        XCTAssertEqual(environment.unreadableOutputs, [])
        assertSame(summary, fromContext, "summary through the run context")
    }
}

/// The tiny decoder as the run's `latent/vae` generator (no encoder: G⁻¹ by optimisation).
final class TinyProvider: GeneratorProvider {
    let decoder: Model
    init(_ decoder: Model) { self.decoder = decoder }
    let name = "vae"
    let summary = "tiny"
    func makeGenerator(options: NoOptions, context: RunContext) throws -> any Generator {
        try LatentGenerator(decoder: decoder, encoder: nil)
    }
}
