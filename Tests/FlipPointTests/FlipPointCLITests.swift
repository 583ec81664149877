import BorderlineCore
import BorderlineTestSupport
import Foundation
import XCTest

/// The plugin loaded and run as a user runs it: the built CLI on the shipped CNN, pair 0:6.
final class FlipPointCLITests: XCTestCase {
    func testRunOnTheShippedCNNFindsFlipPointsOfAnotherClass() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("run").path
        let r = try CLI.run(["run", "--quiet", "--no-defaults", "--plugin", "flip-point", "--pairs", "0:6", "--samples", "4", "--images-per-class", "30",
                                 "--set", "flip-point.dense-check=4", "--set", "flip-point.dense-check-steps=300", "--out", out])
        guard r.status == 0 else {
            if r.stderr.contains("fashion-mnist") { throw XCTSkip("fashion-mnist is not installed") }
            return XCTFail(r.stderr)
        }
        let plugin = try XCTUnwrap((try CLI.summary(out)["plugins"] as? [String: Any])?["flip-point"] as? [String: Any])
        XCTAssertEqual(plugin["status"] as? String, "ok")
        let numbers = try XCTUnwrap((plugin["numbers"] as? [String: Any])?["flip-distances"] as? [String: Any])
        XCTAssertEqual(numbers["jacobian_images"] as? Int, 4)
        XCTAssertEqual(numbers["jacobian_flip_points_same_class_as_start"] as? Int, 0)
        // Issue 20's bar on these 4 images: a 300-point scan of each ray finds no crossing before
        // the reported one, and no crossing on the ray of an image reported as never flipped.
        XCTAssertEqual(numbers["dense_check_images"] as? Int, 4)
        XCTAssertEqual(numbers["dense_check_earlier_crossings"] as? Int, 0)
        XCTAssertEqual(numbers["dense_check_never_flipped_that_cross"] as? Int, 0)
        // Image indices are data-set indices: the run holds 30 images per class (of 1,000), so
        // its rows are not the test set's indices; the analysis's match the sets' start_indices.
        let pair = try XCTUnwrap((plugin["pairs"] as? [String: Any])?["0-6"] as? [String: Any])
        let jacobian = try XCTUnwrap(pair["jacobian-flip"] as? [String: Any])
        XCTAssertEqual(["resolved", "capped", "never_flipped"].compactMap { jacobian[$0] as? Int }.reduce(0, +), 4)
        XCTAssertNotNil((pair["deepfool"] as? [String: Any])?["not_flipped"] as? Int)

        // Flip points are classified differently from their start, lie in [0, 1], and both
        // probers start from the same images.
        let classifier = ModelClassifier(try Model.load(contentsOf: CLI.repository.appendingPathComponent("Models/fashion-cnn.h5").path))
        let file = try HDF5File.open(out + "/results.h5")
        defer { try? file.close() }
        var starts: [[Int64]] = []
        for prober in ["jacobian-flip", "deepfool"] {
            let g = try file.root().group("flip-point").group("pair_0_6").group(prober)
            let points = try g.readTensor("points"), succeeded = try g.readTensor("succeeded").scalars
            let startClass = try g.readInt64s("start_class").values
            XCTAssertEqual(points.batchSize, 4)
            let predicted = try classifier.predictions(points)
            for row in 0..<4 where succeeded[row] == 1 {
                XCTAssertNotEqual(Int64(predicted[row]), startClass[row], "\(prober) row \(row)")
            }
            XCTAssertGreaterThan(succeeded.reduce(0, +), 0, prober)
            XCTAssertGreaterThanOrEqual(points.scalars.min()!, 0)
            XCTAssertLessThanOrEqual(points.scalars.max()!, 1)
            starts.append(try g.readInt64s("start_indices").values)
        }
        XCTAssertEqual(starts[0], starts[1], "both probers start from the same images")
        let analysis = try file.root().group("flip-point").group("all").group("flip-distances")
        let imageIndices = try analysis.readInt64s("jacobian_image_indices").values
        XCTAssertEqual(Set(imageIndices).subtracting(starts[0]), [], "jacobian_image_indices are start_indices (data-set indices)")
        let dataIndices = try file.root().group("data").readInt64s("indices").values
        XCTAssertTrue(imageIndices.allSatisfy { dataIndices.contains($0) })
        XCTAssertGreaterThan(dataIndices.max()!, Int64(dataIndices.count), "the run's rows are a subset, so rows ≠ data-set indices")
    }

    func testBadOptionsExitWithStatus2BeforeTheRun() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (setting, named) in [("flip-point.alpha-schedule=fast", "alpha-schedule"), ("flip-point.clip-low=0", "clip-low"),
                                 ("flip-point.starts=everything", "starts"), ("flip-point.max-steps=0", "max-steps"), ("flip-point.norm=l3", "norm")] {
            let r = try CLI.run(["run", "--quiet", "--no-defaults", "--plugin", "flip-point", "--pairs", "0:6", "--set", setting,
                                 "--out", dir.appendingPathComponent("bad").path])
            XCTAssertEqual(r.status, 2, "\(setting): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(named), "\(setting): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad").path))
        }
    }
}
