import BorderlineCore
import BorderlineHost
import Foundation
import XCTest

/// Every successful row of every boundary set a run writes is a tie of the set's own pair:
/// `|p_s − p_t| ≤ β` with the β the prober declares (results.h5 `gap_tolerance`). Issue 19 item 1:
/// slices filed the untargeted adversarial's crossing (x1 of s → x2 of a third class) as a
/// success of s:t.
final class BoundarySetTieTests: XCTestCase {
    func testBoundarySetFlagsSuccessesOffTheBoundary() throws {
        let x = Tensor(zeros: [2, 1, 2, 2])
        var set = try BoundarySet(pair: ClassPair(0, 1), points: x, startPoints: x, startIndices: [0, 1],
                                  probabilities: Tensor(shape: [2, 3], scalars: [0.4995, 0.5, 0.0005, 0.9, 0.05, 0.05]),
                                  succeeded: [true, true], failureReasons: [nil, nil], iterations: [1, 1], gapTolerance: 0.01)
        XCTAssertEqual(set.successesOffTheBoundary, [1])
        set.succeeded[1] = false
        XCTAssertEqual(set.successesOffTheBoundary, [])
        set.gapTolerance = nil
        set.succeeded[1] = true
        XCTAssertEqual(set.successesOffTheBoundary, [], "no claim, nothing to check")
        XCTAssertThrowsError(try BoundarySet(pair: ClassPair(0, 1), points: x, startPoints: x, startIndices: [0, 1],
                                             probabilities: Tensor(zeros: [2, 3]), succeeded: [true, true], failureReasons: [nil, nil],
                                             iterations: [1, 1], gapTolerance: 0))
    }

    /// The reproduction: slices' adversarial x2 of T-shirt/top is a Shirt, so its row is a
    /// failure of T-shirt/top:Trouser (not a success with |p_s − p_t| ≈ 0.5); every successful row of
    /// every set in the file meets its own β, read back from results.h5 independently of the host.
    func testEverySuccessfulRowIsATieOfItsPair() throws {
        _ = try TestSupport.fashionMNISTOrSkip()
        let out = try TestSupport.temporaryFolder(self) + "/run"
        let r = try TestSupport.borderline(["run", "--quiet", "--model", TestSupport.model, "--no-defaults", "--plugin", "slices", "--plugin", "bisection",
                                            "--pairs", "T-shirt/top:Trouser,Sneaker:Ankle boot", "--samples", "10", "--images-per-class", "40",
                                            "--set", "slices.grid=32", "--set", "slices.window-grid=16", "--set", "slices.profile-points=5",
                                            "--set", "slices.church-window=false", "--out", out] + TestSupport.inTreePluginArguments())
        XCTAssertEqual(r.status, 0, r.stderr)
        let file = try HDF5File.open(out + "/results.h5")
        defer { try? file.close() }
        let root = try file.root()
        var checked = 0, sets = 0
        func walk(_ g: HDF5Group, _ path: String) throws {
            if g.hasAttribute("gap_tolerance"), g.contains("succeeded") {
                sets += 1
                let beta = Float(try g.doubleArrayAttribute("gap_tolerance")[0])
                let p = try g.readTensor("probabilities"), ok = try g.dataset("succeeded").readUInt8s()
                let name = path.split(separator: "/").first { $0.hasPrefix("pair_") }.map(String.init) ?? ""
                let classes = name.dropFirst(5).split(separator: "_").compactMap { Int($0) }
                XCTAssertEqual(classes.count, 2, path)
                let k = p.shape[1]
                for i in ok.indices where ok[i] == 1 {
                    let gap = abs(p.scalars[i * k + classes[0]] - p.scalars[i * k + classes[1]])
                    XCTAssertLessThanOrEqual(gap, beta * 1.001 + 1e-6, "\(path) row \(i)")
                    checked += 1
                }
            }
            for member in try g.memberNames() where g.kind(of: member) == .group {
                try walk(try g.group(member), path + "/" + member)
            }
        }
        try walk(root, "")
        XCTAssertGreaterThanOrEqual(sets, 4, "bisection and slices sets of both pairs carry their β")
        XCTAssertGreaterThan(checked, 10)

        let slice = try root.group("slices/pair_0_1/slice")
        let ok = try slice.dataset("succeeded").readUInt8s()
        let predicted = try root.readInt64s("slices/pair_0_1/slice/adversarial/predicted_class").values
        XCTAssertEqual(ok.count, 2, "the adversarial row and the three-image row")
        if predicted[0] != 1 {
            XCTAssertEqual(ok[0], 0, "x2 is not a Trouser, so the adversarial row is no point of T-shirt/top:Trouser")
            let reasons = try slice.stringArrayAttribute("failure_reasons")
            XCTAssertTrue(reasons.contains { $0.contains("not Trouser") }, "\(reasons)")
        }
    }
}
