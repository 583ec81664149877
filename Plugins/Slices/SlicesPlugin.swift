import BorderlineCore
import Foundation

/// The in-tree "slices" plugin: decision regions on 2-D planes through three inputs
/// (papers/001, Świrszcz et al., "Visualizations of decision regions in the presence of
/// adversarial examples"): the exact feasible polygon, class maps with a legend, third-point
/// strategies, local and global views, church-window plots, probability profiles along the
/// anchor segments, and the agreement of two models on the same slice. See docs/slices.md.
public final class SlicesPlugin: BorderlinePlugin {
    public init() {}
    public let name = "slices"
    public let version = "0.1.0"
    public let summary = "Decision-region slices: planes through three inputs, exact feasible polygon, church windows, probability profiles, model-to-model agreement."
    public let probers: [any BoundaryProber] = [SliceProber()]
}

/// Per class pair `(s, t)`: an adversarial slice through (a test image x of s, its adversarial,
/// a third point), its local view, a slice through three test images (two of s, one of t),
/// church-window pair around x, profiles, and (optionally) a second model on the same slices. The
/// boundary set has one row per slice: the bisected crossing on the segment `x1 → x2`.
public final class SliceProber: BoundaryProber {
    public init() {}
    public let name = "slice"
    public let summary = "Slices through (x, adversarial, third point) and (three test images of s and t), church windows, profiles, second-model agreement."
    public let needsGradients = true
    public static let thirdPoints = ["grey", "random-image", "perturbation", "adversarial-seed", "other-attack", "second-model-adversarial", "stored"]
    public var options: [PluginOption] {
        [
            .integer("grid", default: 512, in: 8...2048, help: "pixels per side of every slice (Definition 1 rectangle)"),
            .integer("window-grid", default: 256, in: 8...2048, help: "pixels per side of the local view and the church windows"),
            .integer("batch-size", default: 4096, in: 1...65_536, help: "feasible points per classifier call"),
            .boolean("shade", default: true, help: "lighten each pixel by how uncertain the top class is"),
            .integer("image", default: 0, in: 0...100_000, help: "x1 is the image-th correctly classified image of class s (x3 of the three-image slice the next one)"),
            .choice("third-point", SliceProber.thirdPoints, default: "grey",
                    help: "third point of the adversarial slice: grey centre, uniform random image, random perturbation of x1, the attack with another seed, another attack, the attack against the second model, or a point an earlier plugin of the run stored for the pair"),
            .number("perturbation-norm", default: 5, in: 1e-6...1000, help: "third-point=perturbation: L2 norm of the random (Gaussian) perturbation of x1"),
            .string("stored-from", default: "", help: "third-point=stored: producer 'plugin/prober' of the boundary set to take the point from (default: any earlier set of the pair)"),
            .string("stored-array", default: "", help: "third-point=stored: instead of a boundary set, an array an earlier plugin stored, 'plugin/path' as in results.h5 below the pair (e.g. flip-point/jacobian-flip/points); rows of the input's size"),
            .integer("stored-row", default: 0, in: 0...10_000_000, help: "third-point=stored with stored-array: the row to take"),
            .choice("attack", SliceAttack.Kind.allCases.map(\.rawValue), default: "pgd-linf", help: "core attack giving x2 (untargeted): PGD-L∞, PGD-L2, FGSM, or Carlini–Wagner L2 with the core's defaults"),
            .number("epsilon", default: 0.1, in: 1e-6...100, help: "attack radius ε (L∞ or L2; PGD and FGSM)"),
            .number("step-size", default: 0.01, in: 1e-6...100, help: "PGD step α"),
            .integer("steps", default: 40, in: 1...10_000, help: "PGD steps"),
            .string("second-model", default: "", help: "a second model file (or the shipped name fashion-cnn / fashion-fcn) drawn on the same slices, with the agreement of the two"),
            .number("local-scale", default: 2, in: 0...1_000_000, help: "local view: half-width in multiples of ‖x2 − x1‖ (0: none)"),
            .choice("local-centre", ["x1", "x2", "x3", "midpoint"], default: "x1", help: "local view: the point it is centred on (midpoint: of x1 and x2)"),
            .number("window-scale", default: 3, in: 1e-6...1_000_000, help: "church windows: half-width in multiples of ‖x2 − x1‖"),
            .boolean("church-window", default: true, help: "draw the church-window pair (adversarial × random, random × random)"),
            .choice("church-domain", ["project", "exact"], default: "project", help: "church windows: evaluate every pixel at its point clamped to [0,1]^D (project; a test image has many pixels at 0 or 1, so almost any random direction leaves the box at once) or only the feasible pixels (exact, grey elsewhere)"),
            .boolean("image-slice", default: true, help: "draw the slice through three test images of s and t"),
            .integer("profile-points", default: 201, in: 2...100_000, help: "points per segment in the probability profiles"),
        ]
    }

    private var secondCache: (path: String, classifier: ModelClassifier)?

    /// The second model, loaded once per run (nil when none is asked for).
    func secondModel(_ spec: String, like f: any Classifier) throws -> ModelClassifier? {
        guard !spec.isEmpty else { return nil }
        let path = try ModelPaths.resolve(spec)
        if let secondCache, secondCache.path == path { return secondCache.classifier }
        let c = ModelClassifier(try Model.load(contentsOf: path))
        guard c.inputShape == f.inputShape, c.classCount == f.classCount else {
            throw BorderlineError(.dataMismatch, "slices: the second model \(path) takes \(c.inputShape) and gives \(c.classCount) classes; the run's classifier takes \(f.inputShape) and gives \(f.classCount)")
        }
        secondCache = (path, c)
        return c
    }

    public func probe(_ pair: ClassPair, context: RunContext) throws -> BoundarySet {
        let o = context.options, f = context.classifier, s = pair.source, t = pair.target
        let shape = f.inputShape, d = Tensor.count(of: shape), k = f.classCount
        let store = context.store
        let names = (0..<k).map { f.className($0) }
        let imageNumber = try o.int("image")
        let ofS = context.indices(ofClass: s), ofT = context.indices(ofClass: t)
        guard ofS.count > imageNumber + 1, ofT.count > imageNumber else {
            throw BorderlineError(.dataMismatch, "slices: image=\(imageNumber) needs at least \(imageNumber + 2) correctly classified images of \(f.className(s)) and \(imageNumber + 1) of \(f.className(t)); the data has \(ofS.count) and \(ofT.count)")
        }
        func image(_ i: Int) -> [Float] { Array(context.data.images.scalars[(i * d)..<((i + 1) * d)]) }
        let i1 = ofS[imageNumber]
        let x1 = image(i1)
        let second = try secondModel(try o.string("second-model"), like: f)
        let gridSide = try o.int("grid"), windowSide = try o.int("window-grid")
        let shade = try o.bool("shade")
        let maker = SliceMaker(rows: gridSide, columns: gridSide, batchSize: try o.int("batch-size"), checkStop: context.checkInterrupted) { name, done, total in
            context.progress.update(completed: done, detail: "\(name): \(done)/\(total) feasible points")
        }
        var windowMaker = maker
        windowMaker.rows = windowSide; windowMaker.columns = windowSide
        var random = context.randomGenerator(for: pair)
        let attackSeed = context.seed ^ StableHash.fnv1a("\(context.owner)#\(pair.key)#attack")

        // x2: the adversarial of x1.
        let attack = SliceAttack(kind: SliceAttack.Kind(rawValue: try o.string("attack")) ?? .pgdLinf, epsilon: try o.float("epsilon"),
                                 stepSize: try o.float("step-size"), steps: try o.int("steps"))
        let model = try context.gradients()
        let x1Tensor = Tensor(shape: [1] + shape, scalars: x1)
        let adversarial = try attack.run(model, inputs: x1Tensor, labels: [s], seed: attackSeed)
        let x2 = adversarial.adversarials.scalars
        let advClass = adversarial.predictions[0]
        let advDistance = Double(zip(x1, x2).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot())
        try store.addNumber(advDistance, name: "adversarial/l2_distance", pair: pair)
        try store.addNumber(advClass == s ? 0 : 1, name: "adversarial/succeeded", pair: pair)
        try store.addIntegers([advClass], name: "adversarial/predicted_class", pair: pair)

        // x3: the third point.
        let strategy = try o.string("third-point")
        let third = try thirdPoint(strategy, x1: x1, x1Index: i1, pair: pair, attack: attack, seed: attackSeed, second: second,
                                   context: context, random: &random)
        let x3 = third.point

        var slices: [(slice: ComputedSlice, anchors: [[Float]], caption: String)] = []
        var rows: [(a: [Float], b: [Float], from: Int, to: Int)] = []
        context.progress.begin("slices of \(f.className(s)) → \(f.className(t))", total: 0)

        // Slice A: (x, adversarial, third point), global and local views.
        let labelsA = ["x1", "x2", "x3"]
        let sliceA = try maker.slice("adversarial", anchors: zip(labelsA, [x1, x2, x3]).map { ($0, $1) }, sampleShape: shape, classifier: f)
        let captionA = "x1 = run image #\(i1) (\(f.className(s))), x2 = its \(attack.kind.rawValue) adversarial (\(attack.kind == .cwL2 ? "" : "ε = \(attack.epsilon), ")predicted \(f.className(advClass)), ‖x2 − x1‖ = \(String(format: "%.3f", advDistance))), x3 = \(third.description)"
        slices.append((sliceA, [x1, x2, x3], captionA))
        rows.append((x1, x2, s, advClass))
        let localScale = try o.double("local-scale")
        var localPanel: PNGImage?
        var localWindow: SliceRectangle?
        let localCentre = try o.string("local-centre")
        if localScale > 0 {
            let half = localScale * advDistance
            let m = sliceA.markers, anchor = m[["x1": 0, "x2": 1, "x3": 2][localCentre] ?? 0]
            let centre = localCentre == "midpoint" ? ((m[0].a + m[1].a) / 2, (m[0].b + m[1].b) / 2) : (anchor.a, anchor.b)
            let window = SliceRectangle.window(centre: centre, halfWidth: half)
            let local = try windowMaker.evaluate("adversarial-local", plane: sliceA.plane, markers: sliceA.markers, classifier: f, window: window)
            try record(local, anchors: nil, store: store, pair: pair)
            localPanel = try SlicePictures.classMap(local.decision, grid: local.grid, classNames: names, markers: local.markers,
                                                    title: "local: half-width \(String(format: "%.3g", half)) around \(localCentre)", shade: shade)
            localWindow = window
        }
        let globalA = try SlicePictures.classMap(sliceA.decision, grid: sliceA.grid, classNames: names, markers: sliceA.markers,
                                                 title: "global slice (Definition 1)", shade: shade, frames: localWindow.map { [$0] } ?? [])
        store.addPicture(ResultPicture(name: "adversarial-slice", caption: "Global vs local view of the slice through " + captionA +
            ". Grey: outside [0,1]^D. " + (localPanel == nil ? "" : "Right: the same plane around \(localCentre) at \(localScale) × ‖x2 − x1‖ (the black frame on the left)."),
            image: try SlicePictures.sideBySide([globalA] + (localPanel.map { [$0] } ?? []))), pair: pair)

        // Slice B: three test images of two classes.
        if try o.bool("image-slice") {
            let i2 = ofT[imageNumber], i3 = ofS[imageNumber + 1]
            let sliceB = try maker.slice("images", anchors: [("x1", x1), ("x2", image(i2)), ("x3", image(i3))], sampleShape: shape, classifier: f)
            let captionB = "x1 = run image #\(i1) (\(f.className(s))), x2 = run image #\(i2) (\(f.className(t))), x3 = run image #\(i3) (\(f.className(s)))"
            slices.append((sliceB, [x1, image(i2), image(i3)], captionB))
            rows.append((x1, image(i2), s, t))
            store.addPicture(ResultPicture(name: "image-slice", caption: "Slice through three test images: " + captionB + ".",
                image: try SlicePictures.classMap(sliceB.decision, grid: sliceB.grid, classNames: names, markers: sliceB.markers,
                                                  title: "three test images", shade: shade)), pair: pair)
        }

        // Anchors as images, arrays, profiles, second model.
        var agreementRows: [[String]] = []
        for (slice, anchors, caption) in slices {
            try record(slice, anchors: anchors, store: store, pair: pair)
            if ImageGrid.canDraw(shape) {
                var g = try ImageGrid(sampleShape: shape, rows: 1, columns: 3, scale: 3)
                for (j, a) in anchors.enumerated() { g.set(row: 0, column: j, sample: a[...]) }
                store.addPicture(ResultPicture(name: "\(slice.name)-anchors", caption: "Anchors x1, x2, x3 of the \(slice.name) slice: \(caption).", image: try g.render()), pair: pair)
            }
            let profiles = try maker.profiles(slice, classifier: f, count: try o.int("profile-points"))
            try store.addArray(Tensor.concatenate(batches: profiles.map { $0.probabilities.reshaped([1] + $0.probabilities.shape) }),
                               name: "\(slice.name)/profiles", pair: pair)
            store.addPicture(ResultPicture(name: "\(slice.name)-profiles", caption: "Probability of every class along the segments x1 → x2, x2 → x3, x3 → x1 of the \(slice.name) slice (\(try o.int("profile-points")) points each).",
                image: try SlicePictures.profiles(profiles, classNames: names)), pair: pair)
            if let second {
                let other = try maker.evaluate(slice.name, plane: slice.plane, markers: slice.markers, classifier: second,
                                               window: slice.grid.rectangle)
                try store.addIntegers(other.decision.classes, shape: [other.grid.rows, other.grid.columns], name: "\(slice.name)/second_model_classes", pair: pair)
                let agreement = slice.decision.agreement(with: other.decision)
                let iou = slice.decision.intersectionOverUnion(with: other.decision, classCount: k)
                try store.addNumber(agreement, name: "\(slice.name)/second_model_agreement", pair: pair)
                try store.addArray(Tensor(shape: [k], scalars: iou.map(Float.init)), name: "\(slice.name)/second_model_class_iou", pair: pair)
                let validIoU = iou.filter { !$0.isNaN }
                try store.addNumber(validIoU.isEmpty ? .nan : validIoU.reduce(0, +) / Double(validIoU.count), name: "\(slice.name)/second_model_mean_class_iou", pair: pair)
                let mine = try SlicePictures.classMap(slice.decision, grid: slice.grid, classNames: names, markers: slice.markers, title: "run's model", shade: shade)
                let theirs = try SlicePictures.classMap(other.decision, grid: other.grid, classNames: names, markers: other.markers,
                                                        title: "second model: \(URL(fileURLWithPath: secondCache?.path ?? "").lastPathComponent)", shade: shade)
                store.addPicture(ResultPicture(name: "\(slice.name)-two-models", caption: "The \(slice.name) slice (\(caption)) through the run's model and the second model; the two agree on \(String(format: "%.1f", agreement * 100)) % of the feasible pixels.",
                    image: try SlicePictures.sideBySide([mine, theirs])), pair: pair)
                agreementRows.append([slice.name, String(format: "%.4f", agreement), String(format: "%.4f", validIoU.isEmpty ? .nan : validIoU.reduce(0, +) / Double(validIoU.count))])
            }
        }
        if !agreementRows.isEmpty {
            store.addTable(ResultTable(title: "Run's model vs second model on the same slices", columns: ["slice", "agreement (share of feasible pixels with the same class)", "mean per-class IoU"], rows: agreementRows), pair: pair)
        }

        // Church windows: adversarial × random and random × random around x1.
        if try o.bool("church-window") {
            let half = try o.double("window-scale") * advDistance
            guard half > 0 else {
                throw BorderlineError(.invalidArgument, "slices: the adversarial x2 equals x1 (the attack did not move), so the church window has no scale")
            }
            let r1 = (0..<d).map { _ in random.nextNormal() }, r2 = (0..<d).map { _ in random.nextNormal() }
            let advDirection = zip(x2, x1).map { $0 - $1 }
            let adversarialPlane = try SlicePlane(origin: x1, first: advDirection, second: r1, sampleShape: shape)
            let randomPlane = try SlicePlane(origin: x1, first: r1, second: r2, sampleShape: shape)
            let window = SliceRectangle.window(centre: (0, 0), halfWidth: half)
            let x2Marker = SliceMarker(label: "x2", a: adversarialPlane.coordinates(of: x2).a, b: adversarialPlane.coordinates(of: x2).b)
            let project = try o.string("church-domain") == "project"
            let churchA = try windowMaker.evaluate("church-adversarial", plane: adversarialPlane, markers: [SliceMarker(label: "x1", a: 0, b: 0), x2Marker],
                                                   classifier: f, window: window, projectOntoBox: project)
            let churchR = try windowMaker.evaluate("church-random", plane: randomPlane, markers: [SliceMarker(label: "x1", a: 0, b: 0)],
                                                   classifier: f, window: window, projectOntoBox: project)
            try record(churchA, anchors: nil, store: store, pair: pair)
            try record(churchR, anchors: nil, store: store, pair: pair)
            store.addPicture(ResultPicture(name: "church-window", caption: "Church-window plots around x1 = run image #\(i1) (\(f.className(s))), half-width \(String(format: "%.3g", half)) (\(try o.double("window-scale")) × ‖x2 − x1‖): left, horizontal axis the adversarial direction x2 − x1 and vertical axis a random orthogonal direction; right, two random directions. " + (project ? "Every pixel is evaluated at its point clamped to [0,1]^D (feasible without clamping: \(churchA.mask.filter { $0 }.count) and \(churchR.mask.filter { $0 }.count) of \(churchA.grid.pixelCount) pixels)." : "Grey: outside [0,1]^D."),
                image: try SlicePictures.sideBySide([
                    try SlicePictures.classMap(churchA.decision, grid: churchA.grid, classNames: names, markers: churchA.markers, title: "adversarial × random", shade: shade),
                    try SlicePictures.classMap(churchR.decision, grid: churchR.grid, classNames: names, markers: churchR.markers, title: "random × random", shade: shade),
                ])), pair: pair)
        }
        context.progress.end(summary: "\(slices.count) slice(s) of \(f.className(s)) → \(f.className(t))")

        // The boundary set: the crossing on x1 → x2 of every slice whose x1 and x2 differ in class.
        return try boundarySet(rows, pair: pair, classifier: f, shape: shape, startIndex: i1, context: context)
    }

    /// Arrays of one slice into results.h5 under `<slice>/…` and its numbers into summary.json.
    func record(_ slice: ComputedSlice, anchors: [[Float]]?, store: RunStore, pair: ClassPair) throws {
        let n = slice.name, g = slice.grid, d = slice.plane.dimension
        try store.addArray(Tensor(shape: [3, d], scalars: slice.plane.origin + slice.plane.u + slice.plane.v), name: "\(n)/basis", pair: pair)
        if let anchors {
            try store.addArray(Tensor(shape: [anchors.count, d], scalars: anchors.flatMap { $0 }), name: "\(n)/anchors", pair: pair)
        }
        try store.addArray(Tensor(shape: [slice.markers.count, 2], scalars: slice.markers.flatMap { [Float($0.a), Float($0.b)] }), name: "\(n)/anchor_coordinates", pair: pair)
        try store.addArray(Tensor(shape: [slice.polygon.vertices.count, 2], scalars: slice.polygon.vertices.flatMap { [Float($0.a), Float($0.b)] }), name: "\(n)/polygon", pair: pair)
        let r = g.rectangle
        try store.addArray(Tensor(shape: [4], scalars: [r.aRange.lowerBound, r.aRange.upperBound, r.bRange.lowerBound, r.bRange.upperBound].map(Float.init)), name: "\(n)/rectangle", pair: pair)
        try store.addIntegers(slice.decision.classes, shape: [g.rows, g.columns], name: "\(n)/classes", pair: pair)
        try store.addArray(Tensor(shape: [g.rows, g.columns], scalars: slice.decision.topProbability), name: "\(n)/top_probability", pair: pair)
        let feasible = slice.mask.filter { $0 }.count, evaluated = slice.decision.evaluatedCount
        try store.addNumber(Double(feasible), name: "\(n)/feasible_pixels", pair: pair)
        try store.addNumber(Double(evaluated), name: "\(n)/evaluated_pixels", pair: pair)
        try store.addNumber(Double(slice.polygon.vertices.count), name: "\(n)/polygon_vertices", pair: pair)
        try store.addNumber(slice.polygon.area, name: "\(n)/polygon_area", pair: pair)
        try store.addNumber(r.width, name: "\(n)/rectangle_width", pair: pair)
        try store.addNumber(r.height, name: "\(n)/rectangle_height", pair: pair)
        try store.addNumber(Double(Set(slice.decision.classes.filter { $0 >= 0 }).count), name: "\(n)/classes_present", pair: pair)
        try store.addNumber(slice.evaluationSeconds, name: "\(n)/evaluation_seconds", pair: pair)
        try store.addNumber(Double(evaluated) / max(1e-9, slice.evaluationSeconds), name: "\(n)/points_per_second", pair: pair)
    }

    /// One row per slice: bisection on `x1 → x2` between their classes (the core's batched
    /// bisection); rows with one class on both ends fail with that reason.
    func boundarySet(_ rows: [(a: [Float], b: [Float], from: Int, to: Int)], pair: ClassPair, classifier f: any Classifier, shape: [Int],
                     startIndex: Int, context: RunContext) throws -> BoundarySet {
        let m = rows.count, k = f.classCount
        let starts = Tensor(shape: [m] + shape, scalars: rows.flatMap(\.a))
        let ends = Tensor(shape: [m] + shape, scalars: rows.flatMap(\.b))
        var points = starts.scalars, probabilities = [Float](repeating: 0, count: m * k)
        var succeeded = [Bool](repeating: false, count: m), reasons = [String?](repeating: "x1 and x2 are in the same class", count: m)
        var steps = [Int](repeating: 0, count: m)
        let queriesBefore = context.environment.counter.count
        let crossing = (0..<m).filter { rows[$0].from != rows[$0].to }
        let startP = try f.probabilities(starts)
        for r in 0..<m { for c in 0..<k { probabilities[r * k + c] = startP.scalars[r * k + c] } }
        if !crossing.isEmpty {
            let outcome = try BoundaryBisection.bisect(f, from: starts.gather(batch: crossing), to: ends.gather(batch: crossing),
                                                       sources: crossing.map { rows[$0].from }, targets: crossing.map { rows[$0].to },
                                                       configuration: .init(tolerance: 1e-3, maxSteps: 40), checkStop: context.checkInterrupted)
            let d = starts.sampleCount
            for (j, r) in crossing.enumerated() {
                for q in 0..<d { points[r * d + q] = outcome.points.scalars[j * d + q] }
                for c in 0..<k { probabilities[r * k + c] = outcome.probabilities.scalars[j * k + c] }
                succeeded[r] = outcome.succeeded[j]
                reasons[r] = outcome.failureReasons[j]
                steps[r] = outcome.steps[j]
            }
        }
        return try BoundarySet(pair: pair, points: Tensor(shape: [m] + shape, scalars: points), startPoints: starts, endPoints: ends,
                               startIndices: [Int](repeating: startIndex, count: m), endIndices: [Int](repeating: -1, count: m),
                               probabilities: Tensor(shape: [m, k], scalars: probabilities), succeeded: succeeded, failureReasons: reasons,
                               iterations: steps, queries: context.environment.counter.count - queriesBefore)
    }

    /// The third point of the adversarial slice (Section 2.4), with a description for captions.
    func thirdPoint(_ strategy: String, x1: [Float], x1Index: Int, pair: ClassPair, attack: SliceAttack, seed: UInt64,
                    second: ModelClassifier?, context: RunContext, random: inout RandomGenerator) throws -> (point: [Float], description: String) {
        let o = context.options, d = x1.count, shape = context.classifier.inputShape
        let x1Tensor = Tensor(shape: [1] + shape, scalars: x1)
        switch strategy {
        case "grey":
            return ([Float](repeating: 0.5, count: d), "the grey centre of the box (all 0.5)")
        case "random-image":
            return ((0..<d).map { _ in random.nextUniform() }, "a uniformly random image")
        case "perturbation":
            let norm = try o.float("perturbation-norm")
            var z = (0..<d).map { _ in random.nextNormal() }
            let n = max(1e-12, z.reduce(0) { $0 + $1 * $1 }.squareRoot())
            for j in 0..<d { z[j] = min(1, max(0, x1[j] + z[j] * norm / n)) }
            return (z, "x1 plus a Gaussian perturbation of L2 norm \(norm), clipped to the box")
        case "adversarial-seed":
            let r = try attack.run(try context.gradients(), inputs: x1Tensor, labels: [pair.source], seed: seed &+ 0x9E37_79B9_7F4A_7C15)
            return (r.adversarials.scalars, "the same attack with another seed (predicted \(context.classifier.className(r.predictions[0])))")
        case "other-attack":
            var other = attack
            other.kind = attack.kind == .fgsm ? .pgdLinf : .fgsm
            let r = try other.run(try context.gradients(), inputs: x1Tensor, labels: [pair.source], seed: seed)
            return (r.adversarials.scalars, "the \(other.kind.rawValue) adversarial of x1 (predicted \(context.classifier.className(r.predictions[0])))")
        case "second-model-adversarial":
            guard let second else {
                throw BorderlineError(.invalidArgument, "slices: third-point=second-model-adversarial needs --set slices.second-model=MODEL")
            }
            let r = try attack.run(second, inputs: x1Tensor, labels: [pair.source], seed: seed)
            return (r.adversarials.scalars, "the same attack against the second model (which predicts \(context.classifier.className(r.predictions[0])) there)")
        case "stored":
            let arrayName = try o.string("stored-array")
            if !arrayName.isEmpty {
                return try storedArrayRow(arrayName, row: try o.int("stored-row"), pair: pair, dimension: d, context: context)
            }
            let wanted = try o.string("stored-from")
            let sets = context.boundarySets.filter { $0.pair == pair && (wanted.isEmpty || $0.producer == wanted) && $0.count > 0 }
            guard let set = sets.first else {
                let producers = Set(context.boundarySets.map(\.producer)).sorted()
                throw BorderlineError(.invalidArgument, "slices: third-point=stored found no boundary set of pair \(pair)\(wanted.isEmpty ? "" : " from \(wanted)") made before slices (sets so far: \(producers.isEmpty ? "none" : producers.joined(separator: ", "))); enable that plugin and list it before slices in --plugin")
            }
            let ok = set.successfulIndices
            let row = ok.first { set.startIndices[$0] == x1Index } ?? ok.first ?? 0
            let p = set.points.sampleCount
            return (Array(set.points.scalars[(row * p)..<((row + 1) * p)]), "boundary point \(row) of \(set.producer) (started from image #\(set.startIndices[row]))")
        default:
            throw BorderlineError(.invalidArgument, "slices: unknown third-point strategy '\(strategy)' (known: \(SliceProber.thirdPoints.joined(separator: ", ")))")
        }
    }
}

extension SliceProber {
    /// Row `row` of the float array `plugin/path` an earlier plugin of the run stored for `pair`
    /// (or without a pair), read from the run record.
    func storedArrayRow(_ name: String, row: Int, pair: ClassPair, dimension d: Int, context: RunContext) throws -> (point: [Float], description: String) {
        let parts = name.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            throw BorderlineError(.invalidArgument, "slices: stored-array '\(name)' must be written plugin/path (e.g. flip-point/jacobian-flip/points)")
        }
        guard let plugin = context.environment.record.plugin(named: parts[0]) else {
            throw BorderlineError(.invalidArgument, "slices: stored-array '\(name)': plugin '\(parts[0])' is not enabled in this run (enabled: \(context.environment.record.plugins.map(\.name).joined(separator: ", ")))")
        }
        let candidates = plugin.arrays.filter { $0.path == parts[1] && ($0.pair == pair || $0.pair == nil) }
        guard let entry = candidates.first(where: { $0.pair == pair }) ?? candidates.first else {
            let known = Set(plugin.arrays.filter { $0.pair == pair || $0.pair == nil }.map(\.path)).sorted()
            throw BorderlineError(.invalidArgument, "slices: stored-array '\(name)': \(parts[0]) stored no array '\(parts[1])' for pair \(pair) before slices ran (its arrays: \(known.isEmpty ? "none" : known.prefix(20).joined(separator: ", "))); list \(parts[0]) before slices in --plugin")
        }
        guard case .float(let t) = entry.value, t.count % d == 0, t.count >= d else {
            throw BorderlineError(.shapeMismatch, "slices: stored-array '\(name)' has shape \(entry.value.shape); it needs float rows of \(d) values")
        }
        let rows = t.count / d
        guard row < rows else {
            throw BorderlineError(.invalidArgument, "slices: stored-row \(row) is past the \(rows) rows of stored-array '\(name)'")
        }
        return (Array(t.scalars[(row * d)..<((row + 1) * d)]), "row \(row) of the array \(name) stored by \(parts[0])")
    }
}

/// Model files by path or shipped name (`fashion-cnn` → `Models/fashion-cnn.h5`).
enum ModelPaths {
    /// `spec` itself when it is a file; else `<spec>.h5` in `$BORDERLINE_MODELS`, in a `Models/`
    /// folder up to six levels above the executable, or in `./Models`.
    static func resolve(_ spec: String) throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: spec) { return spec }
        let file = spec.hasSuffix(".h5") ? spec : spec + ".h5"
        var folders = ProcessInfo.processInfo.environment["BORDERLINE_MODELS"].map { [$0] } ?? []
        var dir = URL(fileURLWithPath: (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<6 { folders.append(dir.appendingPathComponent("Models").path); dir.deleteLastPathComponent() }
        folders.append(fm.currentDirectoryPath + "/Models")
        if let hit = folders.map({ $0 + "/" + file }).first(where: { fm.fileExists(atPath: $0) }) { return hit }
        throw BorderlineError(.fileNotFound, "slices: no model file '\(spec)' (neither a path nor a shipped model in Models/; set BORDERLINE_MODELS)")
    }
}
