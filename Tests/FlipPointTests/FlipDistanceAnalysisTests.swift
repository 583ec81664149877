import BorderlineCore
@testable import FlipPointKit
import XCTest

/// The run-wide analysis on a linear two-class model, where every distance is known: the
/// boundary `w·x + b = 0` lies at `|w·x + b| / ‖w‖` from `x`, the top-1 gradient is its normal, and
/// the softmax entropy falls as the distance grows.
final class FlipDistanceAnalysisTests: XCTestCase {
    let w: [Float] = [0.6, -0.8, 0.3]
    let b: Float = 0.1

    /// Runs both probers with `starts=all-images`, no clipping (plus `settings`), as the host
    /// would, files their sets and outputs in the run record, and runs the analysis on them with
    /// `options`. `dataSetIndices`: the run's rows as a subset of a larger data set.
    func analyse(_ x: Tensor, model: TwoClassModel, settings: [String: JSONValue] = [:], options: FlipDistanceAnalysis.Options = .init(),
                 dataSetIndices: [Int]? = nil) throws -> (FlipDistanceAnalysis.Output, RunEnvironment) {
        let labels = try model.predictions(x)
        let data = try Dataset(name: "t", images: x, labels: labels, classNames: model.classNames)
        let pairs = [ClassPair(0, 1), ClassPair(1, 0)]
        let env = try RunEnvironment(classifier: model, data: data, pairs: pairs, samplesPerPair: 4, seed: 2, dataSetIndices: dataSetIndices)
        let record = PluginRecord(name: "flip-point", version: "0", summary: "")
        env.record.add(record)
        let plugin = FlipPointPlugin()
        for prober in plugin.probers {
            var values: [String: JSONValue] = ["starts": .string("all-images"), "clip": .bool(false)]
            let names = Set(try prober.declaredOptions().map(\.option.name))
            for (key, value) in settings where names.contains(key) { values[key] = value }
            let options = try prober.makeOptions(values)
            for pair in pairs {
                var (set, output) = try prober.probe(pair, erasedOptions: options,
                                                     context: env.context(plugin: record, component: prober.name, kind: .prober, visibleSets: []))
                set.producer = "\(record.name)/\(prober.name)"
                env.record.add(set)
                env.record.add(OutputRecord(plugin: record.name, component: prober.name, kind: .prober, componentType: ObjectIdentifier(type(of: prober)),
                                            pair: pair, set: set, value: output, tree: try ResultEncoder.encode(output)))
            }
        }
        let analysis = FlipDistanceAnalysis()
        let output = try analysis.analyse(options: options, context: env.context(plugin: record, component: analysis.name, kind: .analysis,
                                                                                       visibleSets: env.record.boundarySets))
        return (output, env)
    }

    func testAnalysisOfALinearModelMatchesTheAnalyticDistances() throws {
        let model = TwoClassModel(w: w, b: b)
        var g = RandomGenerator(seed: 9)
        let n = 40
        let x = g.uniform(shape: [n, 1, 1, 3], low: 0, high: 1)
        let (out, env) = try analyse(x, model: model)
        let norm = w.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let truth = (0..<n).map { Double(abs(model.u(x, $0)) / norm) }

        XCTAssertEqual(out.jacobianImages, n, "each image once, over both pairs")
        XCTAssertEqual(out.jacobianResolved, n)
        XCTAssertEqual(out.jacobianNeverFlipped, 0)
        XCTAssertNil(out.jacobianNeverFlippedIndices)
        XCTAssertEqual(out.jacobianFlipPointsSameClassAsStart, 0)
        XCTAssertEqual(out.jacobianImageIndices, Array(0..<n))
        XCTAssertEqual(try XCTUnwrap(out.jacobianMedianL2), Stats.median(truth), accuracy: 2e-3)
        XCTAssertEqual(try XCTUnwrap(out.jacobianMeanL2), Stats.mean(truth), accuracy: 2e-3)
        for (i, d) in try XCTUnwrap(out.jacobianL2).enumerated() { XCTAssertEqual(Double(d), truth[i], accuracy: 1e-3 + 1e-3 * truth[i]) }
        // Two classes: every flip goes to the other class.
        let counts = try XCTUnwrap(out.flipClassCounts)
        let predicted = env.predictions
        XCTAssertEqual(counts, [[0, predicted.filter { $0 == 0 }.count], [predicted.filter { $0 == 1 }.count, 0]])
        // Entropy falls with the distance to the boundary (exactly monotone for this model).
        XCTAssertLessThan(try XCTUnwrap(out.entropyDistanceSpearman), -0.99)
        // DeepFool: one step of 1.02 · (|u| + 1e-4)/‖w‖, so the ratio is just above 1.02.
        XCTAssertEqual(out.ratioImages, n)
        XCTAssertEqual(try XCTUnwrap(out.deepfoolOverJacobianL2Median), 1.02, accuracy: 0.02)
        XCTAssertEqual(out.deepfoolShorterFraction, 0, "the overshoot makes every DeepFool point farther")
        XCTAssertEqual(try XCTUnwrap(out.naturalDeepfoolMedianL2), 1.02 * Stats.median(truth), accuracy: 5e-3)
        // Section 6 sets (4 of 40 images each); the extraction check needs 28×28 images.
        XCTAssertEqual(out.sampleLowestDistance10pct.map { Set($0) }, Set((0..<n).sorted { truth[$0] < truth[$1] }.prefix(4)))
        XCTAssertEqual(out.sampleRandom10pct?.count, 4)
        XCTAssertNil(out.studentAgreementRandom10pct)
        // The data's pixel statistics and the random inputs (as many as flipped images).
        let mean = x.scalars.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        XCTAssertEqual(try XCTUnwrap(out.dataPixelMean), mean, accuracy: 1e-9)
        XCTAssertEqual((out.uniformL2?.count ?? 0) + (out.uniformNeverFlipped ?? 0), n)
        XCTAssertEqual((out.gaussianL2?.count ?? 0) + (out.gaussianNeverFlipped ?? 0), n)
        XCTAssertNotNil(out.uniformDeepfoolMedianL2, "DeepFool's second opinion when its prober ran")
        XCTAssertNotNil(out.distanceHistograms)
        // Keys as before the typed outputs.
        let tree = try ResultEncoder.encode(out)
        for key in ["jacobian_median_linf", "deepfool_over_jacobian_l2_p10", "sample_lowest_distance_10pct", "entropy_log_distance_pearson",
                    "flip_class_counts", "uniform_deepfool_not_flipped", "natural_median_l2"] {
            XCTAssertNotNil(tree[key], key)
        }
        if case .array(let counts)? = tree["flip_class_counts"] { XCTAssertEqual(counts.shape, [2, 2]) } else { XCTFail("flip_class_counts is not an array") }
    }

    /// Item 7: the extraction check (the paper's Tables 1–2) has the full-set and flip-point rows
    /// beside the distance subsets (and uniform random inputs): 200 images of 784 values on a
    /// linear model, students trained one epoch.
    func testExtractionCheckHasFullSetAndFlipPointRows() throws {
        var g = RandomGenerator(seed: 12)
        let w = (0..<784).map { _ in g.nextNormal() }
        let model = TwoClassModel(w: w, b: -0.5 * w.reduce(0, +))
        let n = 200
        let x = g.uniform(shape: [n, 1, 1, 784], low: 0, high: 1)
        var options = FlipDistanceAnalysis.Options()
        options.extractionEpochs = 1
        let (out, env) = try analyse(x, model: model, options: options)
        let flipped = try XCTUnwrap(out.jacobianL2).count
        XCTAssertGreaterThanOrEqual(flipped, 200, "every image flips on a linear model")
        let table = try XCTUnwrap(out.extractionCheck)
        XCTAssertEqual(table.columns, ["training set", "images", "agreement", "scored on"])
        let names = table.rows.map { $0[0] }
        XCTAssertEqual(names.count, 7, "\(names)")
        XCTAssertTrue(names[0].hasPrefix("full set"), "\(names)")
        XCTAssertEqual(Array(names[1...4]), ["uniform over distance", "lowest distance 10pct", "highest distance 10pct", "random 10pct"])
        XCTAssertTrue(names[5].hasPrefix("flip points"), "\(names)")
        XCTAssertTrue(names[6].hasPrefix("uniform random inputs"), "\(names)")
        // Sizes: the full set is every run image but the random 10 %; one flip point per flipped image.
        XCTAssertEqual(out.extractionCheckImages, [n - 20, 20, 20, 20, 20, flipped, 20])
        XCTAssertEqual(table.rows.map { Int($0[1])! }, out.extractionCheckImages)
        for a in [out.studentAgreementFullSet, out.studentAgreementFlipPoints, out.studentAgreementUniformRandomInputs,
                  out.studentAgreementRandom10pct] {
            let v = try XCTUnwrap(a)
            XCTAssertTrue((0...1).contains(v), "\(v)")
        }
        XCTAssertEqual(String(format: "%.4f", try XCTUnwrap(out.studentAgreementFlipPoints)), table.rows[5][2])
        let tree = try ResultEncoder.encode(out)
        for key in ["student_agreement_full_set", "student_agreement_flip_points", "student_agreement_uniform_random_inputs", "extraction_check_images"] {
            XCTAssertNotNil(tree[key], key)
        }
        _ = env
    }

    func testNoJacobianOutputsGiveAnEmptyOutput() throws {
        let model = TwoClassModel(w: w, b: b)
        let data = try Dataset(name: "t", images: Tensor(zeros: [2, 1, 1, 3]), labels: [1, 1], classNames: model.classNames)
        let env = try RunEnvironment(classifier: model, data: data, pairs: [ClassPair(0, 1)], samplesPerPair: 2, seed: 0)
        let out = try FlipDistanceAnalysis().analyse(options: .init(), context: env.context(
            plugin: PluginRecord(name: "flip-point", version: "0", summary: ""), component: "flip-distances", kind: .analysis, visibleSets: []))
        guard case .group(let members) = try ResultEncoder.encode(out) else { return XCTFail("not a group") }
        XCTAssertTrue(members.isEmpty)
    }

    /// Item 4: every image index the analysis stores is a data-set index (row r of the run is
    /// image 500 + 7r of the full set here), like the boundary sets' `start_indices`.
    func testImageIndicesAreDataSetIndices() throws {
        let model = TwoClassModel(w: w, b: b)
        var g = RandomGenerator(seed: 4)
        let n = 30
        let x = g.uniform(shape: [n, 1, 1, 3], low: 0, high: 1)
        let map = (0..<n).map { 500 + 7 * $0 }
        let (out, _) = try analyse(x, model: model, dataSetIndices: map)
        let (plain, _) = try analyse(x, model: model)
        XCTAssertEqual(out.jacobianImageIndices, try XCTUnwrap(plain.jacobianImageIndices).map { map[$0] })
        for (a, b) in [(out.sampleLowestDistance10pct, plain.sampleLowestDistance10pct), (out.sampleHighestDistance10pct, plain.sampleHighestDistance10pct),
                       (out.sampleUniformOverDistance, plain.sampleUniformOverDistance), (out.sampleRandom10pct, plain.sampleRandom10pct)] {
            XCTAssertEqual(try XCTUnwrap(a), try XCTUnwrap(b).map { map[$0] })
        }
        XCTAssertEqual(out.jacobianL2, plain.jacobianL2, "the mapping changes indices only")
    }

    /// Item 2: `norm=l1` (the paper's distance) drives the statistics. On the linear model the
    /// flip point is x₀ − t·w/‖w‖₂ with t = |u|/‖w‖₂ the L2 distance, so its L1 distance is
    /// t·‖w‖₁/‖w‖₂.
    func testL1NormDrivesTheStatistics() throws {
        let model = TwoClassModel(w: w, b: b)
        var g = RandomGenerator(seed: 9)
        let n = 40
        let x = g.uniform(shape: [n, 1, 1, 3], low: 0, high: 1)
        var options = FlipDistanceAnalysis.Options()
        options.norm = .l1
        let (out, _) = try analyse(x, model: model, options: options)
        let norm2 = w.reduce(0) { $0 + $1 * $1 }.squareRoot(), norm1 = w.reduce(0) { $0 + abs($1) }
        let truth = (0..<n).map { Double(abs(model.u(x, $0)) / norm2 * norm1 / norm2) }
        XCTAssertEqual(out.distanceNorm, "l1")
        for (i, d) in try XCTUnwrap(out.jacobianL1).enumerated() { XCTAssertEqual(Double(d), truth[i], accuracy: 2e-3 + 1e-3 * truth[i]) }
        XCTAssertEqual(try XCTUnwrap(out.naturalMedianL1), Stats.median(truth), accuracy: 2e-3)
        XCTAssertEqual(out.sampleLowestDistance10pct.map { Set($0) }, Set((0..<n).sorted { truth[$0] < truth[$1] }.prefix(4)))
        XCTAssertLessThan(try XCTUnwrap(out.entropyDistanceSpearman), -0.99)
        XCTAssertNotNil(out.uniformMedianL1)
        XCTAssertTrue(try XCTUnwrap(out.distanceByClass).columns.contains("mean L1"))
    }

    /// Item 2: the random-input baselines run with the run's settings, not the defaults. Here
    /// the probers run without clipping, so the uniform inputs' distances are the unclipped
    /// analytic ones |w·x + b|/‖w‖ (with the default clip to [0, 1] many would differ or never flip).
    func testRandomBaselinesUseTheRunsSettings() throws {
        let model = TwoClassModel(w: [3, -4, 1], b: 4)
        var g = RandomGenerator(seed: 11)
        let n = 40
        let x = g.uniform(shape: [n, 1, 1, 3], low: 0, high: 1)
        let (out, _) = try analyse(x, model: model, settings: ["alpha-schedule": .string("paper"), "alpha-start": .number(1e-3)])
        // The analysis's stream: the run's seed (2, see `analyse`) ⊕ a hash of the plugin's name.
        var random = RandomGenerator(seed: 2 ^ StableHash.fnv1a("flip-point"))
        let uniform = InputBox.unit.uniformSamples(n, inputShape: [1, 1, 3], generator: &random)
        let norm = Float(26).squareRoot()
        let truth = (0..<n).map { Double(abs(model.u(uniform, $0)) / norm) }.sorted()
        let got = try XCTUnwrap(out.uniformL2).map(Double.init).sorted()
        XCTAssertEqual(out.uniformNeverFlipped, 0)
        XCTAssertEqual(got.count, n)
        for i in 0..<min(n, got.count) { XCTAssertEqual(got[i], truth[i], accuracy: 1e-3 + 1e-3 * truth[i], "uniform input \(i)") }
        // And with the default clip to [0, 1] the same inputs give other distances.
        var c = JacobianFlipSearch.Configuration()
        c.schedule = .paper
        c.alphaStart = 1e-3
        let clipped = RowDistances.between(uniform, try JacobianFlipSearch.search(model, uniform, configuration: c).points).l2
        XCTAssertGreaterThan(zip(clipped.map(Double.init).sorted(), truth).map { abs($0 - $1) }.max()!, 0.01)
    }
}
