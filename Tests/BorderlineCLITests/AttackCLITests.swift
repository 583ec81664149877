import BorderlineCore
import Foundation
import BorderlineTestSupport
import XCTest

/// `borderline attack` end to end: the summary, the adversarials file read back by `evaluate`,
/// and bad options.
final class AttackCLITests: XCTestCase {
    func value(_ label: String, in stdout: String) -> Double? {
        guard let line = stdout.split(separator: "\n").first(where: { $0.hasPrefix(label) }) else { return nil }
        return line.dropFirst(label.count).split(separator: " ").first.flatMap { Double($0) }
    }

    func testPGDWritesADataSetThatEvaluateReads() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("adv.h5").path
        let r = try CLI.run(["attack", "--attack", "pgd-linf", "--count", "16", "--steps", "10", "--seed", "1", "-o", out, "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        let success = try XCTUnwrap(value("success rate", in: r.stdout), r.stdout)
        let distortion = try XCTUnwrap(value("mean RMS distortion", in: r.stdout), r.stdout)
        XCTAssertGreaterThan(success, 80, r.stdout)
        XCTAssertGreaterThan(distortion, 0)
        XCTAssertLessThanOrEqual(distortion, 0.1 + 1e-6, "RMS ≤ L∞ radius")
        // y holds the true labels, so evaluate's accuracy on the file is 100 − success rate.
        let e = try CLI.run(["evaluate", "--data", out])
        XCTAssertEqual(e.status, 0, e.stderr)
        let accuracy = try XCTUnwrap(e.stdout.split(separator: "\n").first { $0.lowercased().contains("accuracy") }, e.stdout)
        XCTAssertTrue(accuracy.contains(String(format: "%.2f", 100 - success)), "\(accuracy) vs success \(success)")
    }

    func testOptMarginRunsAndBadOptionsFail() throws {
        let r = try CLI.run(["attack", "--attack", "optmargin", "--count", "2", "--steps", "30", "--binary-search-steps", "1", "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotNil(value("success rate", in: r.stdout), r.stdout)
        for bad in [["--attack", "fgsm", "--epsilon", "-1"], ["--attack", "cw-l2", "--epsilon", "0.1"],
                    ["--attack", "pgd-l2", "--count", "0"], ["--attack", "nope"]] {
            let b = try CLI.run(["attack"] + bad + ["--quiet"])
            XCTAssertEqual(b.status, 2, "\(bad): \(b.stderr)")
            XCTAssertFalse(b.stderr.isEmpty)
        }
    }

    /// The robust-accuracy columns of a curve CSV.
    func robustAccuracies(_ path: String) throws -> [Double] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "epsilon,robust_accuracy,success_rate,mean_rms_distortion,seconds")
        return lines.dropFirst().map { Double($0.split(separator: ",", omittingEmptySubsequences: false)[1])! }
    }

    /// `--epsilons`: at ε = 0 the robust accuracy is the clean accuracy (PGD does not move), PGD
    /// with restarts and best iterate gives a non-increasing curve, C&W's curve (read off one run)
    /// too; the data comes as CSV, JSON and HDF5, the chart as a PNG.
    func testSweepGivesACurveAsTableDataAndChart() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("pgd.csv").path, png = dir.appendingPathComponent("pgd.png").path
        let r = try CLI.run(["attack", "--attack", "pgd-linf", "--epsilons", "0.03,0,0.01,0.1", "--count", "24", "--steps", "8",
                             "--restarts", "2", "--best-iterate", "--curve-data", csv, "--curve-chart", png, "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        let clean = try XCTUnwrap(value("clean accuracy", in: r.stdout), r.stdout)
        XCTAssertTrue(r.stdout.contains("robust accuracy"), r.stdout)
        let pgd = try robustAccuracies(csv)
        XCTAssertEqual(pgd.count, 4, "sorted, one line per budget")
        XCTAssertEqual(100 * pgd[0], clean, accuracy: 0.005, "the printed clean accuracy has two decimals")
        for i in 1..<pgd.count { XCTAssertLessThanOrEqual(pgd[i], pgd[i - 1], "robust accuracy rose from ε #\(i - 1) to #\(i): \(pgd)") }
        XCTAssertLessThan(pgd[3], pgd[0], "PGD at ε = 0.1 breaks some images")
        let header = try Data(contentsOf: URL(fileURLWithPath: png)).prefix(8)
        XCTAssertEqual(Array(header), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "not a PNG")

        let json = dir.appendingPathComponent("fgsm.json").path
        let f = try CLI.run(["attack", "--attack", "fgsm", "--epsilons", "0,0.1", "--count", "24", "--curve-data", json, "--quiet"])
        XCTAssertEqual(f.status, 0, f.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let fgsm = try XCTUnwrap(object["robust_accuracy"] as? [Double])
        XCTAssertEqual(fgsm[0], try XCTUnwrap(object["clean_accuracy"] as? Double), accuracy: 1e-12)
        XCTAssertEqual(object["attack"] as? String, "fgsm")

        let h5 = dir.appendingPathComponent("cw.h5").path
        let c = try CLI.run(["attack", "--attack", "cw-l2", "--epsilons", "0,0.2,0.5,1,3", "--count", "6", "--steps", "60",
                             "--binary-search-steps", "3", "--initial-constant", "0.1", "--curve-data", h5, "--quiet"])
        XCTAssertEqual(c.status, 0, c.stderr)
        let file = try HDF5File.open(h5)
        let cw = try file.root().dataset("robust_accuracy").readDoubles()
        XCTAssertEqual(100 * cw[0], try XCTUnwrap(value("clean accuracy", in: c.stdout)), accuracy: 1e-6)
        for i in 1..<cw.count { XCTAssertLessThanOrEqual(cw[i], cw[i - 1], "C&W curve not monotone: \(cw)") }
    }

    func testSweepAndAttackOptionsAreChecked() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (bad, phrase) in [(["--attack", "fgsm", "--epsilons", "0,abc"], "'abc' is not a finite number"),
                              (["--attack", "fgsm", "--epsilons", "0,0.1", "--epsilon", "0.1"], "exclude each other"),
                              (["--attack", "fgsm", "--epsilons", "0", "--curve-data", dir.appendingPathComponent("c.txt").path], ".csv, .json or .h5"),
                              (["--attack", "fgsm", "--curve-chart", dir.appendingPathComponent("c.png").path], "need --epsilons"),
                              (["--attack", "fgsm", "--restarts", "2"], "PGD options"),
                              (["--attack", "pgd-linf", "--restarts", "0"], "--restarts must be ≥ 1"),
                              (["--attack", "optmargin", "--confidence", "1"], "0 by definition"),
                              (["--attack", "fgsm", "--initial-constant", "1"], "C&W/OPTMARGIN options"),
                              (["--attack", "fgsm", "--gradient-estimator", "zoo"], "is not one of: nes, finite-differences"),
                              (["--attack", "fgsm", "--estimator-samples", "5"], "need --gradient-estimator")] {
            let b = try CLI.run(["attack"] + bad + ["--count", "2", "--quiet"])
            if b.stderr.contains("fashion-mnist") && b.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(b.stderr)") }
            XCTAssertEqual(b.status, 2, "\(bad): \(b.stderr)")
            XCTAssertTrue(b.stderr.contains(phrase), "\(bad): expected '\(phrase)' in \(b.stderr)")
        }
    }

    /// A black-box attack: probabilities only, NES gradient estimates; the queries are counted
    /// (each estimate costs 2m + 1 per image) and the attack still breaks some images.
    func testBlackBoxPGDCountsItsQueries() throws {
        let r = try CLI.run(["attack", "--attack", "pgd-linf", "--gradient-estimator", "nes", "--estimator-samples", "10",
                             "--steps", "4", "--count", "8", "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("black box, nes gradients"), r.stdout)
        let queries = try XCTUnwrap(value("queries", in: r.stdout), r.stdout)
        XCTAssertGreaterThanOrEqual(queries, Double(4 * 8 * (2 * 10 + 1)), r.stdout)
        XCTAssertGreaterThan(try XCTUnwrap(value("success rate", in: r.stdout)), 0, r.stdout)
    }

    /// `--attack deepfool` (the core's DeepFool, the flip-point plugin's search): the examples it
    /// writes lie in the model's box, every success is classified differently from its label by
    /// the model loaded here, and the summary gives mean L2 distortion and queries.
    func testDeepFoolRunsAndEverySuccessHasAnotherClass() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("df.h5").path
        let r = try CLI.run(["attack", "--attack", "deepfool", "--count", "12", "--only-correct", "--overshoot", "0.02", "--steps", "50",
                             "-o", out, "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(value("success rate", in: r.stdout), r.stdout), 90, r.stdout)
        let l2 = try XCTUnwrap(value("mean L2 distortion", in: r.stdout), r.stdout)
        XCTAssertGreaterThan(l2, 0)
        XCTAssertLessThan(l2, 2, "DeepFool's minimal L2 is far below PGD-L2's budget")
        XCTAssertNotNil(value("queries", in: r.stdout), r.stdout)
        let file = try HDF5File.open(out)
        let root = try file.root()
        let x = try root.readTensor("x"), y = try root.readInt64s("y").values.map { Int($0) }
        let succeeded = try root.readInt64s("succeeded").values
        let model = ModelClassifier(try Model.load(contentsOf: CLI.repository.appendingPathComponent("Models/fashion-cnn.h5").path))
        XCTAssertTrue(model.inputBox.contains(x.reshaped([x.batchSize] + model.inputShape)))
        let predicted = try model.predictions(x.reshaped([x.batchSize] + model.inputShape))
        XCTAssertEqual(succeeded.count, 12)
        for i in 0..<12 { XCTAssertEqual(succeeded[i] == 1, predicted[i] != y[i], "image \(i)") }
    }

    /// `--attack square-linf`: probabilities only, queries per image reported, successes found.
    func testSquareAttackIsABlackBoxWithQueryCounts() throws {
        let r = try CLI.run(["attack", "--attack", "square-linf", "--count", "8", "--steps", "100", "--quiet"])
        if r.stderr.contains("fashion-mnist") && r.status != 0 { throw XCTSkip("Fashion-MNIST not installed: \(r.stderr)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("black box, probabilities only"), r.stdout)
        let queries = try XCTUnwrap(value("queries", in: r.stdout), r.stdout)
        XCTAssertGreaterThanOrEqual(queries, 8, r.stdout)
        XCTAssertLessThanOrEqual(queries, 8 * 100, r.stdout)
        XCTAssertGreaterThan(try XCTUnwrap(value("success rate", in: r.stdout)), 0, r.stdout)
        for (bad, phrase) in [(["--attack", "deepfool", "--epsilon", "0.1"], "no --epsilon"),
                              (["--attack", "deepfool", "--targeted"], "untargeted"),
                              (["--attack", "fgsm", "--overshoot", "0.1"], "DeepFool option"),
                              (["--attack", "pgd-linf", "--p-init", "0.1"], "Square attack option"),
                              (["--attack", "square-linf", "--gradient-estimator", "nes"], "probabilities only already")] {
            let b = try CLI.run(["attack"] + bad + ["--count", "2", "--quiet"])
            XCTAssertEqual(b.status, 2, "\(bad): \(b.stderr)")
            XCTAssertTrue(b.stderr.contains(phrase), "\(bad): expected '\(phrase)' in \(b.stderr)")
        }
    }
}
