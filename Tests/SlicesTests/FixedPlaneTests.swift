import BorderlineCore
import Foundation
@testable import SlicesKit
import XCTest

/// Issue 19 items 4–5: several models on one plane, plane files, the third-point panel,
/// connected components and the adversarial direction's angle to the plane.
final class FixedPlaneTests: XCTestCase {
    /// The tiny model's run: 300 random images labelled by the model, one pair with enough images.
    struct Run {
        var environment: RunEnvironment
        var record: PluginRecord
        var pair: ClassPair
        func context(_ prober: SliceProber) -> RunContext {
            environment.context(plugin: record, component: prober.name, kind: .prober, visibleSets: [])
        }
    }

    func makeRun(classifier f: ModelClassifier, seed: UInt64 = 6, pair fixed: ClassPair? = nil) throws -> Run {
        var r = RandomGenerator(seed: seed)
        let x = Tensor(shape: [300] + TinySlices.shape, scalars: (0..<(300 * 36)).map { _ in r.nextUniform() })
        let predicted = try f.predictions(x)
        let data = try Dataset(name: "tiny", images: x, labels: predicted, classNames: ["a", "b", "c"])
        let counts = (0..<3).map { c in predicted.filter { $0 == c }.count }
        let pair = try fixed ?? XCTUnwrap([ClassPair(0, 1), ClassPair(1, 2), ClassPair(0, 2)].first { counts[$0.source] >= 2 && counts[$0.target] >= 1 })
        let environment = try RunEnvironment(classifier: f, data: data, pairs: [pair], samplesPerPair: 1, seed: 1)
        let record = PluginRecord(name: "slices", version: "0", summary: "")
        environment.record.add(record)
        return Run(environment: environment, record: record, pair: pair)
    }

    func smallOptions() -> SliceProber.Options {
        var o = SliceProber.Options()
        o.grid = 16; o.windowGrid = 12; o.profilePoints = 5; o.epsilon = 0.5
        return o
    }

    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("slices-fixed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func testComponentsPerClassUseEightConnectivity() {
        // 4 × 4: class 0 on a diagonal (one component with 8-neighbours, four with 4-neighbours),
        // class 1 in two blocks separated by class 2 and the outside (−1).
        let classes = [0, 1, 2, 1,
                       2, 0, 2, 1,
                       1, 2, 0, -1,
                       1, 2, -1, 0]
        let d = SliceDecision(classes: classes, topProbability: [Float](repeating: 1, count: 16))
        XCTAssertEqual(d.componentsPerClass(rows: 4, columns: 4, classCount: 4), [1, 3, 1, 0])
        // Class 1: {(0,1)}, {(0,3),(1,3)}, {(2,0),(3,0)}; class 2: (0,2),(1,0),(1,2),(2,1),(3,1) joined
        // through sides and corners.
    }

    func testAngleBetweenADirectionAndThePlane() throws {
        let plane = try SlicePlane(origin: [0.5, 0.5, 0.5], first: [1, 0, 0], second: [0, 1, 0], sampleShape: [3])
        XCTAssertEqual(plane.angle(to: [2, -3, 0]), 0, accuracy: 1e-6)
        XCTAssertEqual(plane.angle(to: [0, 0, -4]), 90, accuracy: 1e-6)
        XCTAssertEqual(plane.angle(to: [1, 0, 1]), 45, accuracy: 1e-6)
        XCTAssertEqual(plane.angle(to: [0, 1, 3.0.squareRoot()].map(Float.init)), 60, accuracy: 1e-4)
        XCTAssertTrue(plane.angle(to: [0, 0, 0]).isNaN)
    }

    /// plane-out then plane-in on the same model gives the same pixels, bit for bit, for every
    /// slice (third-point panel included); a second model's comparison is symmetric with IoU 1 on
    /// its diagonal; the angles of x2 − x1 are 0 on slices that contain it.
    func testPlaneFileRoundTripGivesIdenticalClasses() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = try TinySlices.classifier()
        let otherPath = dir.appendingPathComponent("other.h5").path
        try TinySlices.classifier(seed: 11).model.save(to: otherPath)
        let prober = SliceProber()
        let run = try makeRun(classifier: f)
        var o = smallOptions()
        o.planeOut = dir.appendingPathComponent("planes.h5").path
        o.thirdPoints = "grey,random-image"
        o.models = otherPath
        try o.validate()
        let first = try prober.probe(run.pair, options: o, context: run.context(prober))
        let names = ["adversarial", "adversarial-local", "images", "church-adversarial", "church-random", "third-point-grey", "third-point-random-image"]
        for n in names { XCTAssertNotNil(first.output[slice: n], n) }
        XCTAssertTrue(first.output.pictures.contains { $0.name == "third-points" })
        XCTAssertTrue(first.output.pictures.contains { $0.name == "adversarial-models" })
        // Angles: the slices through x1 and x2 (and the church window along x2 − x1) contain it.
        for n in ["adversarial", "adversarial-local", "church-adversarial", "third-point-grey", "third-point-random-image"] {
            XCTAssertEqual(try XCTUnwrap(first.output[slice: n]?.adversarialDirectionAngle), 0, accuracy: 0.5, n)
        }
        let imagesAngle = try XCTUnwrap(first.output[slice: "images"]?.adversarialDirectionAngle)
        XCTAssertGreaterThan(imagesAngle, 1)
        XCTAssertLessThanOrEqual(imagesAngle, 90)
        XCTAssertNotNil(first.output[slice: "images"]?.marginGradientAngle)
        // Components: at least one per class present.
        let adversarial = try XCTUnwrap(first.output.adversarial)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(adversarial.components), adversarial.classesPresent)
        // Two models: [2, 2] agreement with 1 on the diagonal and symmetric, IoU 1 on the diagonal.
        let agreement = try XCTUnwrap(adversarial.modelAgreement)
        XCTAssertEqual(agreement.shape, [2, 2])
        XCTAssertEqual(agreement.scalars[0], 1); XCTAssertEqual(agreement.scalars[3], 1)
        XCTAssertEqual(agreement.scalars[1], agreement.scalars[2])
        XCTAssertEqual(Double(agreement.scalars[1]), try XCTUnwrap(adversarial.secondModelAgreement), accuracy: 1e-6)
        let iou = try XCTUnwrap(adversarial.modelClassIou)
        XCTAssertEqual(iou.shape, [2, 2, 3])
        for c in 0..<3 where !iou.scalars[c].isNaN { XCTAssertEqual(iou.scalars[c], 1) }
        XCTAssertEqual(adversarial.modelNames, ["run's model", "other"])
        XCTAssertNotNil(adversarial.modelPairs?["run's model vs other"])
        XCTAssertNotNil(first.output.modelIou)

        // The file holds every slice of the pair, in order.
        let stored = try SlicePlaneFile.read(o.planeOut, pair: run.pair, sampleShape: TinySlices.shape)
        XCTAssertEqual(stored.map(\.name), names)

        // plane-in on a fresh run of the same model: the same classes at every pixel of every slice.
        let again = try makeRun(classifier: f)
        var o2 = smallOptions()
        o2.planeIn = o.planeOut
        o2.grid = 8; o2.windowGrid = 8  // ignored: the stored grids are used
        try o2.validate()
        let second = try prober.probe(again.pair, options: o2, context: again.context(prober))
        for n in names {
            let a = try XCTUnwrap(first.output[slice: n]), b = try XCTUnwrap(second.output[slice: n], n)
            guard case .int64(let ca, let sa) = a.classes, case .int64(let cb, let sb) = b.classes else { return XCTFail("classes are not int64") }
            XCTAssertEqual(sa, sb, n)
            XCTAssertEqual(ca, cb, n)
            XCTAssertEqual(a.topProbability.scalars, b.topProbability.scalars, n)
            XCTAssertEqual(a.basis.scalars, b.basis.scalars, n)
        }
        // The boundary set has the same rows (adversarial and three-image slices).
        XCTAssertEqual(second.set.count, first.set.count)
        XCTAssertEqual(second.set.startPoints.scalars, first.set.startPoints.scalars)
        XCTAssertTrue(again.record.notes.contains { $0.text.contains("plane-in") }, "\(again.record.notes.map(\.text))")

        // A plane file on another model: the same pixels are feasible, the classes are that model's.
        // (plane-in makes no image choice, so the pair need not have images of this model's classes.)
        let otherRun = try makeRun(classifier: try TinySlices.classifier(seed: 11), pair: run.pair)
        do {
            let third = try prober.probe(otherRun.pair, options: o2, context: otherRun.context(prober))
            let a = try XCTUnwrap(first.output.adversarial), b = try XCTUnwrap(third.output.adversarial)
            XCTAssertEqual(a.feasiblePixels, b.feasiblePixels)
            guard case .int64(let cb, _) = b.classes, case .int64(let other, _)? = a.modelClasses else { return XCTFail() }
            // The second model's classes on the first run equal its own run on the loaded plane.
            XCTAssertEqual(Array(other[cb.count...]), cb)
        }
    }

    /// Every way a plane file can fail to fit names the file and what was expected.
    func testPlaneFileErrorsNameTheFileAndWhatWasExpected() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prober = SliceProber()
        // A missing file: refused before the run starts.
        var o = smallOptions()
        o.planeIn = dir.appendingPathComponent("nope.h5").path
        XCTAssertThrowsError(try o.validate()) { e in
            XCTAssertTrue("\(e)".contains("nope.h5") && "\(e)".contains("plane-out"), "\(e)")
        }
        // plane-in and plane-out the same file.
        let path = dir.appendingPathComponent("planes.h5").path
        let plane = try SlicePlane(through: [Float](repeating: 0.2, count: 36), [Float](repeating: 0.6, count: 36),
                                   (0..<36).map { Float($0) / 36 }, sampleShape: TinySlices.shape)
        let s = StoredSlicePlane(name: "adversarial", plane: plane, rectangle: SliceRectangle(aRange: -1...1, bRange: -1...1), rows: 4, columns: 4,
                                 markers: [SliceMarker(label: "x1", a: 0, b: 0)], anchors: nil, projectOntoBox: false)
        try SlicePlaneFile.write([s], pair: ClassPair(2, 0), sampleShape: TinySlices.shape, to: path, create: true)
        o.planeIn = path; o.planeOut = path
        XCTAssertThrowsError(try o.validate()) { e in XCTAssertTrue("\(e)".contains("same file"), "\(e)") }
        o.planeOut = ""
        // Wrong input shape.
        XCTAssertThrowsError(try SlicePlaneFile.read(path, pair: ClassPair(2, 0), sampleShape: [1, 7, 7])) { e in
            XCTAssertTrue("\(e)".contains(path) && "\(e)".contains("[1, 6, 6]") && "\(e)".contains("[1, 7, 7]"), "\(e)")
        }
        // A pair not in the file, through the prober: the error lists the pairs the file has.
        let run = try makeRun(classifier: try TinySlices.classifier())
        XCTAssertNotEqual(run.pair, ClassPair(2, 0))
        XCTAssertThrowsError(try prober.probe(run.pair, options: o, context: run.context(prober))) { e in
            XCTAssertTrue("\(e)".contains(path) && "\(e)".contains("no planes for pair \(run.pair.source):\(run.pair.target)") && "\(e)".contains("2:0"), "\(e)")
        }
        // The stored pair is read back exactly.
        let back = try SlicePlaneFile.read(path, pair: ClassPair(2, 0), sampleShape: TinySlices.shape)
        XCTAssertEqual(back.count, 1)
        XCTAssertEqual(back[0].plane.u, plane.u); XCTAssertEqual(back[0].plane.v, plane.v)
        XCTAssertEqual(back[0].rectangle, s.rectangle)
        // Not a plane file (a model file).
        let model = dir.appendingPathComponent("model.h5").path
        try TinySlices.classifier().model.save(to: model)
        XCTAssertThrowsError(try SlicePlaneFile.read(model, pair: ClassPair(0, 1), sampleShape: TinySlices.shape)) { e in
            XCTAssertTrue("\(e)".contains("model.h5") && "\(e)".contains("not a slices plane file"), "\(e)")
        }
        // A bad third-points list.
        var bad = smallOptions()
        bad.thirdPoints = "grey,purple"
        XCTAssertThrowsError(try bad.validate()) { e in XCTAssertTrue("\(e)".contains("purple"), "\(e)") }
        // third-point=stored without any boundary set refuses (no fallback), also in the panel.
        var stored = smallOptions()
        stored.thirdPoints = "grey,stored"
        XCTAssertThrowsError(try prober.probe(run.pair, options: stored, context: run.context(prober))) { e in
            XCTAssertTrue("\(e)".contains("third-point=stored"), "\(e)")
        }
    }
}
