import BorderlineCore
@testable import FlipPointKit
import XCTest

/// The run-wide analysis on a linear two-class model, where every distance is known: the
/// boundary `w·x + b = 0` lies at `|w·x + b| / ‖w‖` from `x`, the top-1 gradient is its normal, and
/// the softmax entropy falls as the distance grows.
final class FlipDistanceAnalysisTests: XCTestCase {
    let w: [Float] = [0.6, -0.8, 0.3]
    let b: Float = 0.1

    /// Runs both probers with `starts=all-images`, no clipping, as the host would, files their sets
    /// and outputs in the run record, and runs the analysis on them.
    func analyse(_ x: Tensor, model: TwoClassModel) throws -> (FlipDistanceAnalysis.Output, RunEnvironment) {
        let labels = try model.predictions(x)
        let data = try Dataset(name: "t", images: x, labels: labels, classNames: model.classNames)
        let pairs = [ClassPair(0, 1), ClassPair(1, 0)]
        let env = try RunEnvironment(classifier: model, data: data, pairs: pairs, samplesPerPair: 4, seed: 2)
        let record = PluginRecord(name: "flip-point", version: "0", summary: "")
        env.record.add(record)
        let plugin = FlipPointPlugin()
        for prober in plugin.probers {
            let options = try prober.makeOptions(["starts": .string("all-images"), "clip": .bool(false)])
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
        let output = try analysis.analyse(options: NoOptions(), context: env.context(plugin: record, component: analysis.name, kind: .analysis,
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

    func testNoJacobianOutputsGiveAnEmptyOutput() throws {
        let model = TwoClassModel(w: w, b: b)
        let data = try Dataset(name: "t", images: Tensor(zeros: [2, 1, 1, 3]), labels: [1, 1], classNames: model.classNames)
        let env = try RunEnvironment(classifier: model, data: data, pairs: [ClassPair(0, 1)], samplesPerPair: 2, seed: 0)
        let out = try FlipDistanceAnalysis().analyse(options: NoOptions(), context: env.context(
            plugin: PluginRecord(name: "flip-point", version: "0", summary: ""), component: "flip-distances", kind: .analysis, visibleSets: []))
        guard case .group(let members) = try ResultEncoder.encode(out) else { return XCTFail("not a group") }
        XCTAssertTrue(members.isEmpty)
    }
}
