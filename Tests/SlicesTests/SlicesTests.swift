import BorderlineCore
import Foundation
@testable import SlicesKit
import XCTest

/// A small seeded classifier on `[1, 6, 6]` inputs (Flatten + Dense(36 → 4) + ReLU + Dense(4 → 3)).
enum TinySlices {
    static let shape = [1, 6, 6]
    static func classifier(seed: UInt64 = 3) throws -> ModelClassifier {
        var g = RandomGenerator(seed: seed)
        let fc1 = Dense(inFeatures: 36, outFeatures: 8, generator: &g)
        fc1.weight.value = fc1.weight.value.map { $0 * 6 }
        let fc2 = Dense(inFeatures: 8, outFeatures: 3, generator: &g)
        return ModelClassifier(try Model.sequential(inputShape: shape, [("flatten", Flatten()), ("fc1", fc1), ("relu", ReLU()), ("fc2", fc2)]),
                               classNames: ["a", "b", "c"])
    }
    static func uniform(_ d: Int, _ r: inout RandomGenerator) -> [Float] { (0..<d).map { _ in r.nextUniform() } }
}

final class SlicesTests: XCTestCase {
    func testGramSchmidtBasisIsOrthonormalAndReproducesTheAnchors() throws {
        var r = RandomGenerator(seed: 1)
        let d = 50
        let x1 = TinySlices.uniform(d, &r), x2 = TinySlices.uniform(d, &r), x3 = TinySlices.uniform(d, &r)
        let plane = try SlicePlane(through: x1, x2, x3, sampleShape: [d])
        func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
        XCTAssertEqual(dot(plane.u, plane.u), 1, accuracy: 1e-6)
        XCTAssertEqual(dot(plane.v, plane.v), 1, accuracy: 1e-6)
        XCTAssertEqual(dot(plane.u, plane.v), 0, accuracy: 1e-6)
        let c1 = plane.coordinates(of: x1), c2 = plane.coordinates(of: x2), c3 = plane.coordinates(of: x3)
        XCTAssertEqual(c1.a, 0, accuracy: 1e-9); XCTAssertEqual(c1.b, 0, accuracy: 1e-9)
        XCTAssertEqual(c2.a, sqrt(zip(x2, x1).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }), accuracy: 1e-5)
        XCTAssertEqual(c2.b, 0, accuracy: 1e-5)
        XCTAssertGreaterThan(c3.b, 0)
        // The anchors are points of the plane: rebuilding them from their coordinates gives them back,
        // both in double precision and through the batched sgemm.
        let batch = plane.points(coordinates: [c1, c2, c3])
        for (i, x) in [x1, x2, x3].enumerated() {
            let p = plane.point(a: [c1, c2, c3][i].a, b: [c1, c2, c3][i].b)
            for j in 0..<d {
                XCTAssertEqual(p[j], x[j], accuracy: 1e-5)
                XCTAssertEqual(batch.scalars[i * d + j], x[j], accuracy: 1e-5)
            }
        }
    }

    /// The bar: on random planes every grid point the polygon calls feasible lies in [0,1]^D,
    /// every other one violates it, and the polygon agrees with the paper's flood fill over the
    /// per-point check.
    func testPolygonIsExactOnRandomPlanes() throws {
        var r = RandomGenerator(seed: 2)
        var floodDisagreements = 0, pixels = 0
        for trial in 0..<12 {
            let d = trial < 6 ? 20 : 784
            let x1 = TinySlices.uniform(d, &r)
            // Anchors: random images, the grey centre, a small and a large perturbation of x1.
            let x2: [Float] = trial % 3 == 0 ? (0..<d).map { min(1, max(0, x1[$0] + 0.05 * r.nextNormal())) } : TinySlices.uniform(d, &r)
            let x3: [Float] = trial % 2 == 0 ? [Float](repeating: 0.5, count: d) : TinySlices.uniform(d, &r)
            let plane = try SlicePlane(through: x1, x2, x3, sampleShape: [d])
            let polygon = FeasiblePolygon(plane: plane)
            XCTAssertFalse(polygon.isEmpty)
            // Every vertex is in the box (to rounding) and on at least one face.
            for vtx in polygon.vertices {
                let x = plane.point(a: vtx.a, b: vtx.b).map(Double.init)
                let worst = x.map { max(-$0, $0 - 1) }.max()!
                XCTAssertLessThan(worst, 1e-5)
                XCTAssertGreaterThan(worst, -1e-5, "a vertex must lie on a face of the box")
            }
            let rectangle = try XCTUnwrap(polygon.boundingBox)
            // Slightly larger than the Definition 1 rectangle so the grid's border pixels are outside.
            let grown = SliceRectangle(aRange: (rectangle.aRange.lowerBound - 0.05 * rectangle.width)...(rectangle.aRange.upperBound + 0.05 * rectangle.width),
                                       bRange: (rectangle.bRange.lowerBound - 0.05 * rectangle.height)...(rectangle.bRange.upperBound + 0.05 * rectangle.height))
            let grid = try SliceGrid(plane: plane, rectangle: grown, rows: 48, columns: 56)
            let mask = grid.feasibleMask(polygon)
            let violation = grid.boxViolation()
            for p in 0..<grid.pixelCount {
                if mask[p] {
                    XCTAssertLessThanOrEqual(violation[p], 1e-9, "trial \(trial) pixel \(p): inside the polygon but outside the box")
                } else {
                    XCTAssertGreaterThan(violation[p], -1e-9, "trial \(trial) pixel \(p): outside the polygon but inside the box")
                }
            }
            XCTAssertTrue(mask.contains(true))
            XCTAssertTrue(mask.contains(false))
            // Seed: the pixel deepest inside the box (a point known to be feasible, as in the paper).
            let deepest = violation.indices.min { violation[$0] < violation[$1] }!
            let seed = (row: deepest / grid.columns, column: deepest % grid.columns)
            let flood = SliceGrid.floodFill(rows: grid.rows, columns: grid.columns, seed: seed) { violation[$0] <= 0 }
            floodDisagreements += zip(flood, mask).filter { $0 != $1 }.count
            pixels += grid.pixelCount
        }
        print("flood fill vs polygon: \(floodDisagreements) of \(pixels) pixels differ")
        // (A rasterised convex region could in principle lose a pixel touching the rest only at a
        // corner; on these planes none does.)
        XCTAssertEqual(floodDisagreements, 0, "flood fill vs polygon: \(floodDisagreements) of \(pixels) pixels differ")
    }

    func testRectangleIsTheSmallestHoldingThePolygon() throws {
        var r = RandomGenerator(seed: 3)
        let d = 30
        let plane = try SlicePlane(through: TinySlices.uniform(d, &r), TinySlices.uniform(d, &r), [Float](repeating: 0.5, count: d), sampleShape: [d])
        let polygon = FeasiblePolygon(plane: plane)
        let box = try XCTUnwrap(polygon.boundingBox)
        // Each side of the rectangle touches a vertex.
        XCTAssertEqual(polygon.vertices.map(\.a).min()!, box.aRange.lowerBound)
        XCTAssertEqual(polygon.vertices.map(\.a).max()!, box.aRange.upperBound)
        XCTAssertEqual(polygon.vertices.map(\.b).min()!, box.bRange.lowerBound)
        XCTAssertEqual(polygon.vertices.map(\.b).max()!, box.bRange.upperBound)
        // A square in 2-D through (0,0), (1,0), (0,1) is the unit square itself.
        let square = try SlicePlane(through: [0, 0], [1, 0], [0, 1], sampleShape: [2])
        let unit = try XCTUnwrap(FeasiblePolygon(plane: square).boundingBox)
        XCTAssertEqual(unit.aRange.lowerBound, 0, accuracy: 1e-12); XCTAssertEqual(unit.aRange.upperBound, 1, accuracy: 1e-12)
        XCTAssertEqual(unit.bRange.lowerBound, 0, accuracy: 1e-12); XCTAssertEqual(unit.bRange.upperBound, 1, accuracy: 1e-12)
        XCTAssertEqual(FeasiblePolygon(plane: square).area, 1, accuracy: 1e-12)
        // The plane x + y + z = 1.5 cuts the unit cube in the regular hexagon through six edge
        // midpoints, side √2/2.
        let hexPlane = try SlicePlane(origin: [0.5, 0.5, 0.5], first: [1, -1, 0], second: [1, 1, -2], sampleShape: [3])
        let hexagon = FeasiblePolygon(plane: hexPlane)
        XCTAssertEqual(hexagon.vertices.count, 6)
        // The regular hexagon with side √2/2 has area (3√3/2)·(1/2) = 3√3/4.
        XCTAssertEqual(hexagon.area, 3 * 3.0.squareRoot() / 4, accuracy: 1e-6)  // u, v are stored as Float
    }

    func testBadPlanesThrowClearErrors() throws {
        XCTAssertThrowsError(try SlicePlane(through: [0.1, 0.2], [0.1, 0.2], [0.5, 0.5], sampleShape: [2])) { e in
            XCTAssertEqual((e as? BorderlineError)?.kind, .invalidArgument)
        }
        XCTAssertThrowsError(try SlicePlane(through: [0, 0, 0], [1, 1, 1], [2, 2, 2], sampleShape: [3])) { e in
            XCTAssertTrue("\(e)".contains("third point"))
        }
        // A plane that misses the box: every point has x0 = 5.
        let far = try SlicePlane(origin: [5, 0, 0], first: [0, 1, 0], second: [0, 0, 1], sampleShape: [3])
        XCTAssertTrue(FeasiblePolygon(plane: far).isEmpty)
        let f = try TinySlices.classifier()
        let outside = try SlicePlane(origin: [Float](repeating: 3, count: 36), first: [1] + [Float](repeating: 0, count: 35),
                                     second: [0, 1] + [Float](repeating: 0, count: 34), sampleShape: TinySlices.shape)
        XCTAssertThrowsError(try SliceMaker(rows: 8, columns: 8).evaluate("far", plane: outside, markers: [], classifier: f)) { e in
            XCTAssertTrue("\(e)".contains("does not meet the box"), "\(e)")
        }
    }

    /// Batched evaluation gives the classifier's class at each feasible pixel, whatever the batch size.
    func testBatchedDecisionEqualsPointwiseClassifier() throws {
        let f = try TinySlices.classifier()
        var r = RandomGenerator(seed: 4)
        let anchors = (0..<3).map { _ in TinySlices.uniform(36, &r) }
        let a = try SliceMaker(rows: 20, columns: 24, batchSize: 7).slice("s", anchors: [("x1", anchors[0]), ("x2", anchors[1]), ("x3", anchors[2])],
                                                                          sampleShape: TinySlices.shape, classifier: f)
        let b = try SliceMaker(rows: 20, columns: 24, batchSize: 4096).slice("s", anchors: [("x1", anchors[0]), ("x2", anchors[1]), ("x3", anchors[2])],
                                                                             sampleShape: TinySlices.shape, classifier: f)
        XCTAssertEqual(a.decision.classes, b.decision.classes)
        var checked = 0
        for p in 0..<a.grid.pixelCount where a.mask[p] {
            let x = a.plane.point(a: a.grid.a(column: p % a.grid.columns), b: a.grid.b(row: p / a.grid.columns))
            let probabilities = try f.probabilities(Tensor(shape: [1] + TinySlices.shape, scalars: x))
            let best = probabilities.argmaxRows()[0]
            // Pixels within float rounding of a tie may differ; none is expected here.
            XCTAssertEqual(a.decision.classes[p], best, "pixel \(p)")
            XCTAssertEqual(a.decision.topProbability[p], probabilities.scalars[best], accuracy: 1e-5)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 50)
        XCTAssertTrue(a.decision.classes.contains(-1))
        XCTAssertEqual(a.decision.agreement(with: b.decision), 1)
        // Anchors sit at their plane coordinates and the profiles start at x1's probabilities.
        let profiles = try SliceMaker().profiles(a, classifier: f, count: 11)
        XCTAssertEqual(profiles.count, 3)
        let p1 = try f.probabilities(Tensor(shape: [1] + TinySlices.shape, scalars: anchors[0]))
        for c in 0..<3 {
            XCTAssertEqual(profiles[0].probabilities.scalars[c], p1.scalars[c], accuracy: 1e-5)
            XCTAssertEqual(profiles[2].probabilities.scalars[10 * 3 + c], p1.scalars[c], accuracy: 1e-5)
        }
    }

    func testAgreementAndIoU() {
        let a = SliceDecision(classes: [0, 0, 1, 1, -1, 2], topProbability: [Float](repeating: 1, count: 6))
        let b = SliceDecision(classes: [0, 1, 1, 1, 0, -1], topProbability: [Float](repeating: 1, count: 6))
        XCTAssertEqual(a.agreement(with: b), 3.0 / 4.0)
        let iou = a.intersectionOverUnion(with: b, classCount: 4)
        XCTAssertEqual(iou[0], 1.0 / 2.0)
        XCTAssertEqual(iou[1], 2.0 / 3.0)
        XCTAssertTrue(iou[2].isNaN && iou[3].isNaN)
    }

    func testAttacksStayInTheBallAndTheBox() throws {
        let f = try TinySlices.classifier()
        var r = RandomGenerator(seed: 5)
        let x = Tensor(shape: [4] + TinySlices.shape, scalars: (0..<(4 * 36)).map { _ in r.nextUniform() })
        let labels = try f.predictions(x)
        XCTAssertEqual(SliceAttack(kind: .cwL2, epsilon: 1, stepSize: 1, steps: 1).attack.name, "cw-l2")
        for kind in [SliceAttack.Kind.pgdLinf, .pgdL2, .fgsm] {
            XCTAssertEqual(SliceAttack(kind: kind, epsilon: 0.2, stepSize: 0.05, steps: 20).attack.name, kind.rawValue)
            let attack = SliceAttack(kind: kind, epsilon: 0.2, stepSize: 0.05, steps: 20)
            let result = try attack.run(f, inputs: x, labels: labels, seed: 9)
            for row in 0..<4 {
                var l2: Float = 0, linf: Float = 0
                for j in 0..<36 {
                    let v = result.adversarials.scalars[row * 36 + j]
                    XCTAssertTrue((0...1).contains(v))
                    let e = v - x.scalars[row * 36 + j]
                    l2 += e * e; linf = max(linf, abs(e))
                }
                if kind == .pgdL2 { XCTAssertLessThanOrEqual(l2.squareRoot(), 0.2 + 1e-4) } else { XCTAssertLessThanOrEqual(linf, 0.2 + 1e-6) }
            }
            // The loss rises: the true class's probability drops on average.
            let before = try f.probabilities(x), after = try f.probabilities(result.adversarials)
            var drop: Float = 0
            for row in 0..<4 { drop += before.scalars[row * 3 + labels[row]] - after.scalars[row * 3 + labels[row]] }
            XCTAssertGreaterThan(drop, 0, "\(kind)")
        }
    }

    /// The prober end to end on the tiny model: arrays, pictures and a boundary set per pair.
    func testProberStoresSlicesArraysAndPictures() throws {
        let f = try TinySlices.classifier()
        var r = RandomGenerator(seed: 6)
        let x = Tensor(shape: [300] + TinySlices.shape, scalars: (0..<(300 * 36)).map { _ in r.nextUniform() })
        let predicted = try f.predictions(x)
        let data = try Dataset(name: "tiny", images: x, labels: predicted, classNames: ["a", "b", "c"])
        let counts = (0..<3).map { c in predicted.filter { $0 == c }.count }
        let pair = try XCTUnwrap([ClassPair(0, 1), ClassPair(1, 2), ClassPair(0, 2)]
            .first { counts[$0.source] >= 2 && counts[$0.target] >= 1 })
        let environment = try RunEnvironment(classifier: f, data: data, pairs: [pair], samplesPerPair: 1, seed: 1)
        let prober = SliceProber()
        let record = PluginRecord(name: "slices", version: "0", summary: "")
        environment.record.add(record)
        var options = SliceProber.Options()
        options.grid = 16; options.windowGrid = 12; options.profilePoints = 5; options.epsilon = 0.5
        let context = environment.context(plugin: record, component: prober.name, kind: .prober, visibleSets: [])
        let probe = try prober.probe(pair, options: options, context: context)
        XCTAssertEqual(probe.set.count, 2)
        XCTAssertEqual(probe.set.queries, 0, "the host counts the queries")
        let tree = try ResultEncoder.encode(probe.output)
        var arrays: [String: StoredArray] = [:]
        var pictures = Set<String>()
        for leaf in tree.leaves() {
            if case .array(let a) = leaf.value { arrays[leaf.path.joined(separator: "/")] = a }
            if case .picture(let p) = leaf.value { pictures.insert(p.name) }
        }
        for name in ["adversarial/classes", "adversarial/polygon", "adversarial/basis", "adversarial/anchors", "images/classes",
                     "adversarial-local/classes", "church-adversarial/classes", "church-random/classes", "adversarial/profiles",
                     "adversarial/predicted_class"] {
            XCTAssertNotNil(arrays[name], "missing \(name) in \(arrays.keys.sorted())")
        }
        XCTAssertTrue(pictures.isSuperset(of: ["adversarial-slice", "image-slice", "church-window", "adversarial-profiles", "images-profiles"]), "\(pictures)")
        // Class grids are int64 [G, G], as results.h5 has always stored them.
        guard case .int64(let classes, let shape)? = arrays["adversarial/classes"] else { return XCTFail("classes are not int64") }
        XCTAssertEqual(shape, [16, 16])
        XCTAssertEqual(classes.count, 256)
        XCTAssertTrue(classes.allSatisfy { (-1...2).contains($0) })
        XCTAssertEqual(tree.number("adversarial", "feasible_pixels"), probe.output.adversarial.map { Double($0.feasiblePixels) })
        XCTAssertNotNil(tree.number("adversarial-local", "polygon_area"))
        XCTAssertEqual(arrays["church-random/anchors"] == nil, true, "windows have no anchors")
    }

    /// Third points from other probers' boundary sets, by producer, field and row; every miss is an
    /// error naming what the run has.
    func testThirdPointsFromOtherProbers() throws {
        let f = try TinySlices.classifier()
        var r = RandomGenerator(seed: 7)
        let x = Tensor(shape: [40] + TinySlices.shape, scalars: (0..<(40 * 36)).map { _ in r.nextUniform() })
        let data = try Dataset(name: "tiny", images: x, labels: try f.predictions(x), classNames: ["a", "b", "c"])
        let pair = ClassPair(0, 1)
        let environment = try RunEnvironment(classifier: f, data: data, pairs: [pair], samplesPerPair: 1, seed: 1)
        let prober = SliceProber()
        let record = PluginRecord(name: "slices", version: "0", summary: "")
        environment.record.add(record)
        func context(_ sets: [BoundarySet]) -> RunContext {
            environment.context(plugin: record, component: prober.name, kind: .prober, visibleSets: sets)
        }
        func options(_ change: (inout SliceProber.Options) -> Void) -> SliceProber.Options {
            var o = SliceProber.Options()
            change(&o)
            return o
        }
        let attack = SliceAttack(kind: .fgsm, epsilon: 0.1, stepSize: 0.1, steps: 1)
        var random = RandomGenerator(seed: 1)
        let x1 = Array(x.scalars[0..<36])
        func third(_ o: SliceProber.Options, _ sets: [BoundarySet], x1Index: Int = 0) throws -> (point: [Float], description: String) {
            try prober.thirdPoint(o.thirdPoint, options: o, x1: x1, x1Index: x1Index, pair: pair, attack: attack, seed: 1, second: nil,
                                  context: context(sets), random: &random)
        }
        let stored = options { $0.thirdPoint = .stored }
        // No set for the pair: a clear error.
        XCTAssertThrowsError(try third(stored, [])) { e in
            XCTAssertTrue("\(e)".contains("third-point=stored") && "\(e)".contains("none"), "\(e)")
        }
        // Another prober's set: by default the successful row that started from x1.
        let points = Tensor(shape: [2] + TinySlices.shape, scalars: (0..<72).map { Float($0) / 100 })
        let ends = Tensor(shape: [2] + TinySlices.shape, scalars: (0..<72).map { 1 - Float($0) / 100 })
        var walker = try BoundarySet(pair: pair, points: points, startPoints: points, startIndices: [5, 0],
            probabilities: Tensor(zeros: [2, 3]), succeeded: [true, true], failureReasons: [nil, nil], iterations: [0, 0],
            producer: "other/walker")
        let fromSet = try third(options { $0.thirdPoint = .stored; $0.storedFrom = "other/walker" }, [walker])
        XCTAssertEqual(fromSet.point, Array(points.scalars[36..<72]))
        XCTAssertTrue(fromSet.description.contains("other/walker"))
        // A producer that made no set for the pair is an error that names those that did; no fallback.
        XCTAssertThrowsError(try third(options { $0.thirdPoint = .stored; $0.storedFrom = "other/nope" }, [walker])) { e in
            XCTAssertTrue("\(e)".contains("other/nope") && "\(e)".contains("other/walker"), "\(e)")
        }
        // No row started from x1: the first successful row, and a note says so.
        XCTAssertEqual(try third(stored, [walker], x1Index: 9).point, Array(points.scalars[0..<36]))
        XCTAssertTrue(record.notes.contains { $0.text.contains("no successful row") }, "\(record.notes.map(\.text))")
        // An explicit row of the start or end points; a missing field or row is an error.
        XCTAssertThrowsError(try third(options { $0.thirdPoint = .stored; $0.storedField = .endPoints }, [walker])) { e in
            XCTAssertTrue("\(e)".contains("no end points"), "\(e)")
        }
        walker.endPoints = ends
        XCTAssertEqual(try third(options { $0.thirdPoint = .stored; $0.storedField = .endPoints; $0.storedRow = 0 }, [walker]).point,
                       Array(ends.scalars[0..<36]))
        XCTAssertEqual(try third(options { $0.thirdPoint = .stored; $0.storedField = .startPoints; $0.storedRow = 1 }, [walker]).point,
                       Array(points.scalars[36..<72]))
        XCTAssertThrowsError(try third(options { $0.thirdPoint = .stored; $0.storedRow = 2 }, [walker])) { e in
            XCTAssertTrue("\(e)".contains("stored-row 2"), "\(e)")
        }
        // No successful attempt: the automatic row refuses instead of taking a failed one.
        walker.succeeded = [false, false]
        walker.failureReasons = ["no", "no"]
        XCTAssertThrowsError(try third(stored, [walker])) { e in
            XCTAssertTrue("\(e)".contains("no attempt"), "\(e)")
        }
        // The grey centre and a perturbation of the asked norm (before clipping).
        XCTAssertEqual(try third(SliceProber.Options(), []).point, [Float](repeating: 0.5, count: 36))
        let perturbed = try third(options { $0.thirdPoint = .perturbation; $0.perturbationNorm = 0.01 }, []).point
        let distance = zip(perturbed, x1).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        XCTAssertLessThanOrEqual(distance, 0.01 + 1e-6)
        XCTAssertGreaterThan(distance, 0)
        // A third point that needs the second model, without one: refused before the run starts.
        XCTAssertThrowsError(try prober.makeOptions(["third-point": .string("second-model-adversarial")])) { e in
            XCTAssertTrue("\(e)".contains("second-model"), "\(e)")
        }
        XCTAssertTrue(prober.readsBoundarySets)
    }

    /// The class map paints each feasible pixel in its class's palette colour, the rest grey, and
    /// marks anchors.
    func testClassMapColours() throws {
        let plane = try SlicePlane(through: [0, 0], [1, 0], [0, 1], sampleShape: [2])
        let grid = try SliceGrid(plane: plane, rectangle: SliceRectangle(aRange: 0...1, bRange: 0...1), rows: 4, columns: 4)
        var classes = [Int](repeating: 1, count: 16)
        classes[0] = -1; classes[5] = 3
        let decision = SliceDecision(classes: classes, topProbability: [Float](repeating: 1, count: 16))
        let image = try SlicePictures.classMap(decision, grid: grid, classNames: ["a", "b", "c", "d"], markers: [SliceMarker(label: "x1", a: 0.875, b: 0.125)],
                                               title: "t", shade: false, minimumSide: 8)
        // Map origin (8, 24), 2 × 2 image pixels per grid pixel.
        func colour(row: Int, column: Int) -> [UInt8] {
            let o = ((24 + row * 2) * image.width + 8 + column * 2) * 3
            return Array(image.pixels[o..<(o + 3)])
        }
        XCTAssertEqual(colour(row: 0, column: 0), Palette.missing)
        XCTAssertEqual(colour(row: 1, column: 1), Palette.colour(3))
        XCTAssertEqual(colour(row: 0, column: 2), Palette.colour(1))
        // The marker at the centre of pixel (3, 3) is a white dot.
        let o = ((24 + 7) * image.width + 8 + 7) * 3
        XCTAssertEqual(Array(image.pixels[o..<(o + 3)]), [255, 255, 255])
        // Shading lightens uncertain pixels and keeps certain ones.
        XCTAssertEqual(SlicePictures.colour(2, probability: 1, classes: 4, shade: true), Palette.colour(2))
        XCTAssertGreaterThan(SlicePictures.colour(2, probability: 0.25, classes: 4, shade: true)[0], Palette.colour(2)[0])
    }
}
