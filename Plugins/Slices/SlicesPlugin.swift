import BorderlineCore
import Foundation

/// The in-tree "slices" plugin: decision regions on 2-D planes through three inputs
/// (papers/001, Świrszcz et al., "Visualizations of decision regions in the presence of
/// adversarial examples"): the exact feasible polygon, class maps with a legend, third-point
/// strategies, local and global views, church-window plots, probability profiles along the
/// anchor segments, and the agreement of two models on the same slice. See docs/slices.md.
public final class SlicesPlugin: BorderlinePlugin {
    public static let manifest = PluginManifest(
        name: "slices", version: "0.2.0",
        summary: "Decision-region slices: planes through three inputs, exact feasible polygon, church windows, probability profiles, model-to-model agreement.")
    public init() {}
    public let probers: [any BoundaryProber] = [SliceProber()]
}

/// Per class pair `(s, t)`: an adversarial slice through (a test image x of s, its adversarial,
/// a third point), its local view, a slice through three test images (two of s, one of t),
/// church-window pair around x, profiles, and (optionally) a second model on the same slices. The
/// boundary set has one row per slice: the bisected crossing on the segment `x1 → x2`.
///
/// It reads the boundary sets of the run's other probers (`third-point=stored`), so the host runs
/// it after them whatever the order of `--plugin`.
public final class SliceProber: BoundaryProber {
    public init() {}
    /// `β` of the boundary set's bisection: the largest `|p_s − p_t|` of a successful row.
    public static let boundaryTolerance: Float = 1e-3
    public let name = "slice"
    public let summary = "Slices through (x, adversarial, third point) and (three test images of s and t), church windows, profiles, second-model agreement."
    public let needsGradients = true
    public let readsBoundarySets = true

    /// The third point of the adversarial slice (Section 2.4 of the paper).
    public enum ThirdPoint: String, CaseIterable, OptionValue {
        case grey, randomImage = "random-image", perturbation, adversarialSeed = "adversarial-seed", otherAttack = "other-attack"
        case secondModelAdversarial = "second-model-adversarial", stored
    }
    /// Which rows of another prober's boundary set `third-point=stored` reads.
    public enum StoredField: String, CaseIterable, OptionValue {
        case points, startPoints = "start-points", endPoints = "end-points"
    }
    public enum LocalCentre: String, CaseIterable, OptionValue { case x1, x2, x3, midpoint }
    public enum ChurchDomain: String, CaseIterable, OptionValue { case project, exact }

    public struct Options: PluginOptions {
        @Option(help: "pixels per side of every slice (Definition 1 rectangle)", in: 8...2048)
        public var grid = 512
        @Option(help: "pixels per side of the local view and the church windows", in: 8...2048)
        public var windowGrid = 256
        @Option(help: "feasible points per classifier call", in: 1...65_536)
        public var batchSize = 4096
        @Option(help: "lighten each pixel by how uncertain the top class is")
        public var shade = true
        @Option(help: "x1 is the image-th correctly classified image of class s (x3 of the three-image slice the next one)", in: 0...100_000)
        public var image = 0
        @Option(help: "third point of the adversarial slice: grey centre, uniform random image, random perturbation of x1, the attack with another seed, another attack, the attack against the second model, or a point of another prober's boundary set for the pair (stored-from, stored-field, stored-row)")
        public var thirdPoint: ThirdPoint = .grey
        @Option(help: "third-point=perturbation: L2 norm of the random (Gaussian) perturbation of x1", in: 1e-6...1000)
        public var perturbationNorm: Float = 5
        @Option(help: "third-point=stored: producer 'plugin/prober' of the boundary set to take the point from (default: the first set of the pair the run made, in plugin-name order)")
        public var storedFrom = ""
        @Option(help: "third-point=stored: which points of that set: its boundary points, start points or end points")
        public var storedField: StoredField = .points
        @Option(help: "third-point=stored: the row of the set to take (−1: the successful row that started from x1, else the first successful row)", in: -1...10_000_000)
        public var storedRow = -1
        @Option(help: "core attack giving x2 (untargeted): PGD-L∞, PGD-L2, FGSM, or Carlini–Wagner L2 with the core's defaults")
        public var attack: SliceAttack.Kind = .pgdLinf
        @Option(help: "attack radius ε (L∞ or L2; PGD and FGSM)", in: 1e-6...100)
        public var epsilon: Float = 0.1
        @Option(help: "PGD step α", in: 1e-6...100)
        public var stepSize: Float = 0.01
        @Option(help: "PGD steps", in: 1...10_000)
        public var steps = 40
        @Option(help: "a second model file (or the shipped name fashion-cnn / fashion-fcn) drawn on the same slices, with the agreement of the two")
        public var secondModel = ""
        @Option(help: "local view: half-width in multiples of ‖x2 − x1‖ (0: none)", in: 0...1_000_000)
        public var localScale: Double = 2
        @Option(help: "local view: the point it is centred on (midpoint: of x1 and x2)")
        public var localCentre: LocalCentre = .x1
        @Option(help: "church windows: half-width in multiples of ‖x2 − x1‖", in: 1e-6...1_000_000)
        public var windowScale: Double = 3
        @Option(help: "draw the church-window pair (adversarial × random, random × random)")
        public var churchWindow = true
        @Option(help: "church windows: evaluate every pixel at its point clamped to the model's input box (project; a test image has many pixels at the box's bounds, so almost any random direction leaves the box at once) or only the feasible pixels (exact, grey elsewhere)")
        public var churchDomain: ChurchDomain = .project
        @Option(help: "draw the slice through three test images of s and t")
        public var imageSlice = true
        @Option(help: "points per segment in the probability profiles", in: 2...100_000)
        public var profilePoints = 201
        @Option(help: "draw slices for the first this many class pairs of the run only, in the run's pair order (0: every pair); the other pairs get an empty boundary set", in: 0...100_000)
        public var maxPairs = 0
        public init() {}

        public func validate() throws {
            if thirdPoint == .secondModelAdversarial && secondModel.isEmpty {
                throw BorderlineError(.invalidArgument, "slices: third-point=second-model-adversarial needs --set slices.second-model=MODEL")
            }
        }
    }

    /// One slice's arrays (results.h5 `/slices/pair_s_t/slice/<slice>/…`) and numbers
    /// (summary.json `pairs."s-t".slice.<slice>.…`).
    public struct SliceResult: Encodable {
        /// The attack that made x2 (the adversarial slice only): ‖x2 − x1‖₂, 1 when x2 left class
        /// s, and the class predicted at x2.
        public var l2Distance: Double?
        public var succeeded: Int?
        public var predictedClass: [Int]?
        /// `[3, D]`: o, u, v.
        public var basis: Tensor
        /// `[3, D]`: x1, x2, x3 (slices through three anchors).
        public var anchors: Tensor?
        public var anchorCoordinates: Tensor
        public var polygon: Tensor
        /// `[a_min, a_max, b_min, b_max]`.
        public var rectangle: Tensor
        /// `[G, G]` classes, −1 outside the box.
        public var classes: StoredArray
        public var topProbability: Tensor
        public var feasiblePixels: Int
        public var evaluatedPixels: Int
        public var polygonVertices: Int
        public var polygonArea: Double
        public var rectangleWidth: Double
        public var rectangleHeight: Double
        public var classesPresent: Int
        public var evaluationSeconds: Double
        public var pointsPerSecond: Double
        /// `[3, points, K]`: probabilities along x1 → x2, x2 → x3, x3 → x1.
        public var profiles: Tensor?
        public var secondModelClasses: StoredArray?
        public var secondModelAgreement: Double?
        public var secondModelClassIou: [Float]?
        public var secondModelMeanClassIou: Double?
    }

    /// What the prober files per pair beside its boundary set: every slice it drew, the two-model
    /// table and the pictures.
    public struct Output: Encodable {
        /// nil for a pair beyond `max-pairs`, which gets no slices.
        public var adversarial: SliceResult?
        public var adversarialLocal: SliceResult?
        public var images: SliceResult?
        public var churchAdversarial: SliceResult?
        public var churchRandom: SliceResult?
        public var agreement: ResultTable?
        public var pictures: [ResultPicture] = []

        enum CodingKeys: String, CodingKey {
            case adversarial, adversarialLocal = "adversarial-local", images, churchAdversarial = "church-adversarial"
            case churchRandom = "church-random", agreement, pictures
        }

        /// The result of the slice named `name`.
        subscript(slice name: String) -> SliceResult? {
            get {
                switch name {
                case "adversarial": return adversarial
                case "adversarial-local": return adversarialLocal
                case "images": return images
                case "church-adversarial": return churchAdversarial
                case "church-random": return churchRandom
                default: return nil
                }
            }
            set {
                switch name {
                case "adversarial": adversarial = newValue
                case "adversarial-local": adversarialLocal = newValue
                case "images": images = newValue
                case "church-adversarial": churchAdversarial = newValue
                case "church-random": churchRandom = newValue
                default: break
                }
            }
        }
    }

    /// The second model, loaded once per run by the host (nil when none is asked for), with the
    /// file it came from.
    func secondModel(_ spec: String, like f: any Classifier, context: RunContext) throws -> (classifier: ModelClassifier, path: String)? {
        guard !spec.isEmpty else { return nil }
        let path = try context.modelPath(spec)
        let c = try context.loadClassifier(spec)
        guard c.inputShape == f.inputShape, c.classCount == f.classCount else {
            throw BorderlineError(.dataMismatch, "slices: the second model \(path) takes \(c.inputShape) and gives \(c.classCount) classes; the run's classifier takes \(f.inputShape) and gives \(f.classCount)")
        }
        return (c, path)
    }

    public func probe(_ pair: ClassPair, options o: Options, context: RunContext) throws -> Probe<Output> {
        // max-pairs: by the pair's place in the whole run, so a shard or a resumed run skips the same pairs.
        if o.maxPairs > 0, let place = context.pairs.firstIndex(of: pair), place >= o.maxPairs {
            let drawn = context.pairs.prefix(o.maxPairs).map(\.description).joined(separator: ", ")
            context.note("max-pairs = \(o.maxPairs): slices drawn for the first \(o.maxPairs) of the run's \(context.pairs.count) pairs only (\(drawn)).")
            let shape = context.classifier.inputShape
            return Probe(try BoundarySet(pair: pair, points: Tensor(shape: [0] + shape, scalars: []), startPoints: Tensor(shape: [0] + shape, scalars: []),
                                         startIndices: [], probabilities: Tensor(shape: [0, context.classifier.classCount], scalars: []),
                                         succeeded: [], failureReasons: [], iterations: []),
                         output: Output(adversarial: nil))
        }
        let f = context.classifier, s = pair.source, t = pair.target
        let shape = f.inputShape, d = Tensor.count(of: shape), k = f.classCount
        let names = (0..<k).map { f.className($0) }
        let imageNumber = o.image
        let ofS = context.indices(ofClass: s), ofT = context.indices(ofClass: t)
        guard ofS.count > imageNumber + 1, ofT.count > imageNumber else {
            throw PairDeclined("slices: image=\(imageNumber) needs at least \(imageNumber + 2) correctly classified images of \(f.className(s)) and \(imageNumber + 1) of \(f.className(t)); the data has \(ofS.count) and \(ofT.count)")
        }
        func image(_ i: Int) -> [Float] { Array(context.data.images.scalars[(i * d)..<((i + 1) * d)]) }
        let i1 = ofS[imageNumber]
        let x1 = image(i1)
        let second = try secondModel(o.secondModel, like: f, context: context)
        let shade = o.shade
        let maker = SliceMaker(rows: o.grid, columns: o.grid, batchSize: o.batchSize, box: f.inputBox, checkStop: context.checkInterrupted) { name, done, total in
            context.progress.update(completed: done, detail: "\(name): \(done)/\(total) feasible points")
        }
        var windowMaker = maker
        windowMaker.rows = o.windowGrid; windowMaker.columns = o.windowGrid
        var random = context.randomGenerator(for: pair)
        let attackSeed = context.seed ^ StableHash.fnv1a("\(context.owner)#\(pair.key)#attack")

        // x2: the adversarial of x1.
        let attack = SliceAttack(kind: o.attack, epsilon: o.epsilon, stepSize: o.stepSize, steps: o.steps)
        let model = try context.gradients()
        let x1Tensor = Tensor(shape: [1] + shape, scalars: x1)
        let adversarial = try attack.run(model, inputs: x1Tensor, labels: [s], seed: attackSeed)
        let x2 = adversarial.adversarials.scalars
        let advClass = adversarial.predictions[0]
        let advDistance = Double(zip(x1, x2).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot())

        // x3: the third point.
        let third = try thirdPoint(o.thirdPoint, options: o, x1: x1, x1Index: i1, pair: pair, attack: attack, seed: attackSeed,
                                   second: second?.classifier, context: context, random: &random)
        let x3 = third.point

        var slices: [(slice: ComputedSlice, anchors: [[Float]], caption: String)] = []
        var rows: [(a: [Float], b: [Float], from: Int, to: Int)] = []
        var pictures: [ResultPicture] = []
        context.progress.begin("slices of \(f.className(s)) → \(f.className(t))", total: 0)

        // Slice A: (x, adversarial, third point), global and local views.
        let labelsA = ["x1", "x2", "x3"]
        let sliceA = try maker.slice("adversarial", anchors: zip(labelsA, [x1, x2, x3]).map { ($0, $1) }, sampleShape: shape, classifier: f)
        let captionA = "x1 = run image #\(i1) (\(f.className(s))), x2 = its \(attack.kind.rawValue) adversarial (\(attack.kind == .cwL2 ? "" : "ε = \(attack.epsilon), ")predicted \(f.className(advClass)), ‖x2 − x1‖ = \(String(format: "%.3f", advDistance))), x3 = \(third.description)"
        slices.append((sliceA, [x1, x2, x3], captionA))
        rows.append((x1, x2, s, advClass))
        var output = Output(adversarial: record(sliceA, anchors: [x1, x2, x3]))
        output.adversarial?.l2Distance = advDistance
        output.adversarial?.succeeded = advClass == s ? 0 : 1
        output.adversarial?.predictedClass = [advClass]
        let localScale = o.localScale
        var localPanel: PNGImage?
        var localWindow: SliceRectangle?
        let localCentre = o.localCentre.rawValue
        if localScale > 0 {
            let half = localScale * advDistance
            let m = sliceA.markers, anchor = m[["x1": 0, "x2": 1, "x3": 2][localCentre] ?? 0]
            let centre = localCentre == "midpoint" ? ((m[0].a + m[1].a) / 2, (m[0].b + m[1].b) / 2) : (anchor.a, anchor.b)
            let window = SliceRectangle.window(centre: centre, halfWidth: half)
            let local = try windowMaker.evaluate("adversarial-local", plane: sliceA.plane, markers: sliceA.markers, classifier: f, window: window)
            output.adversarialLocal = record(local, anchors: nil)
            localPanel = try SlicePictures.classMap(local.decision, grid: local.grid, classNames: names, markers: local.markers,
                                                    title: "local: half-width \(String(format: "%.3g", half)) around \(localCentre)", shade: shade)
            localWindow = window
        }
        let globalA = try SlicePictures.classMap(sliceA.decision, grid: sliceA.grid, classNames: names, markers: sliceA.markers,
                                                 title: "global slice (Definition 1)", shade: shade, frames: localWindow.map { [$0] } ?? [])
        pictures.append(ResultPicture(name: "adversarial-slice", caption: "Global vs local view of the slice through " + captionA +
            ". Grey: outside the input box \(f.inputBox). " + (localPanel == nil ? "" : "Right: the same plane around \(localCentre) at \(localScale) × ‖x2 − x1‖ (the black frame on the left)."),
            image: try SlicePictures.sideBySide([globalA] + (localPanel.map { [$0] } ?? [])), key: true))

        // Slice B: three test images of two classes.
        if o.imageSlice {
            let i2 = ofT[imageNumber], i3 = ofS[imageNumber + 1]
            let sliceB = try maker.slice("images", anchors: [("x1", x1), ("x2", image(i2)), ("x3", image(i3))], sampleShape: shape, classifier: f)
            let captionB = "x1 = run image #\(i1) (\(f.className(s))), x2 = run image #\(i2) (\(f.className(t))), x3 = run image #\(i3) (\(f.className(s)))"
            slices.append((sliceB, [x1, image(i2), image(i3)], captionB))
            rows.append((x1, image(i2), s, t))
            output.images = record(sliceB, anchors: [x1, image(i2), image(i3)])
            pictures.append(ResultPicture(name: "image-slice", caption: "Slice through three test images: " + captionB + ".",
                image: try SlicePictures.classMap(sliceB.decision, grid: sliceB.grid, classNames: names, markers: sliceB.markers,
                                                  title: "three test images", shade: shade)))
        }

        // Anchors as images, profiles, second model.
        var agreementRows: [[String]] = []
        for (slice, anchors, caption) in slices {
            guard var result = output[slice: slice.name] else { continue }
            if ImageGrid.canDraw(shape) {
                var g = try ImageGrid(sampleShape: shape, rows: 1, columns: 3, scale: 3)
                for (j, a) in anchors.enumerated() { g.set(row: 0, column: j, sample: a[...]) }
                pictures.append(ResultPicture(name: "\(slice.name)-anchors", caption: "Anchors x1, x2, x3 of the \(slice.name) slice: \(caption).", image: try g.render()))
            }
            let profiles = try maker.profiles(slice, classifier: f, count: o.profilePoints)
            result.profiles = Tensor.concatenate(batches: profiles.map { $0.probabilities.reshaped([1] + $0.probabilities.shape) })
            pictures.append(ResultPicture(name: "\(slice.name)-profiles", caption: "Probability of every class along the segments x1 → x2, x2 → x3, x3 → x1 of the \(slice.name) slice (\(o.profilePoints) points each).",
                image: try SlicePictures.profiles(profiles, classNames: names)))
            if let second {
                let other = try maker.evaluate(slice.name, plane: slice.plane, markers: slice.markers, classifier: second.classifier,
                                               window: slice.grid.rectangle)
                result.secondModelClasses = .int64(values: other.decision.classes.map(Int64.init), shape: [other.grid.rows, other.grid.columns])
                let agreement = slice.decision.agreement(with: other.decision)
                let iou = slice.decision.intersectionOverUnion(with: other.decision, classCount: k)
                result.secondModelAgreement = agreement
                result.secondModelClassIou = iou.map(Float.init)
                let validIoU = iou.filter { !$0.isNaN }
                result.secondModelMeanClassIou = validIoU.isEmpty ? .nan : validIoU.reduce(0, +) / Double(validIoU.count)
                let mine = try SlicePictures.classMap(slice.decision, grid: slice.grid, classNames: names, markers: slice.markers, title: "run's model", shade: shade)
                let theirs = try SlicePictures.classMap(other.decision, grid: other.grid, classNames: names, markers: other.markers,
                                                        title: "second model: \(URL(fileURLWithPath: second.path).lastPathComponent)", shade: shade)
                pictures.append(ResultPicture(name: "\(slice.name)-two-models", caption: "The \(slice.name) slice (\(caption)) through the run's model and the second model; the two agree on \(String(format: "%.1f", agreement * 100)) % of the feasible pixels.",
                    image: try SlicePictures.sideBySide([mine, theirs])))
                agreementRows.append([slice.name, String(format: "%.4f", agreement), String(format: "%.4f", validIoU.isEmpty ? .nan : validIoU.reduce(0, +) / Double(validIoU.count))])
            }
            output[slice: slice.name] = result
        }
        if !agreementRows.isEmpty {
            output.agreement = ResultTable(title: "Run's model vs second model on the same slices", columns: ["slice", "agreement (share of feasible pixels with the same class)", "mean per-class IoU"], rows: agreementRows)
        }

        // Church windows: adversarial × random and random × random around x1.
        if o.churchWindow {
            let half = o.windowScale * advDistance
            guard half > 0 else {
                throw BorderlineError(.invalidArgument, "slices: the adversarial x2 equals x1 (the attack did not move), so the church window has no scale")
            }
            let r1 = (0..<d).map { _ in random.nextNormal() }, r2 = (0..<d).map { _ in random.nextNormal() }
            let advDirection = zip(x2, x1).map { $0 - $1 }
            let adversarialPlane = try SlicePlane(origin: x1, first: advDirection, second: r1, sampleShape: shape)
            let randomPlane = try SlicePlane(origin: x1, first: r1, second: r2, sampleShape: shape)
            let window = SliceRectangle.window(centre: (0, 0), halfWidth: half)
            let x2Marker = SliceMarker(label: "x2", a: adversarialPlane.coordinates(of: x2).a, b: adversarialPlane.coordinates(of: x2).b)
            let project = o.churchDomain == .project
            let churchA = try windowMaker.evaluate("church-adversarial", plane: adversarialPlane, markers: [SliceMarker(label: "x1", a: 0, b: 0), x2Marker],
                                                   classifier: f, window: window, projectOntoBox: project)
            let churchR = try windowMaker.evaluate("church-random", plane: randomPlane, markers: [SliceMarker(label: "x1", a: 0, b: 0)],
                                                   classifier: f, window: window, projectOntoBox: project)
            output.churchAdversarial = record(churchA, anchors: nil)
            output.churchRandom = record(churchR, anchors: nil)
            pictures.append(ResultPicture(name: "church-window", caption: "Church-window plots around x1 = run image #\(i1) (\(f.className(s))), half-width \(String(format: "%.3g", half)) (\(o.windowScale) × ‖x2 − x1‖): left, horizontal axis the adversarial direction x2 − x1 and vertical axis a random orthogonal direction; right, two random directions. " + (project ? "Every pixel is evaluated at its point clamped to the input box (feasible without clamping: \(churchA.mask.filter { $0 }.count) and \(churchR.mask.filter { $0 }.count) of \(churchA.grid.pixelCount) pixels)." : "Grey: outside the input box."),
                image: try SlicePictures.sideBySide([
                    try SlicePictures.classMap(churchA.decision, grid: churchA.grid, classNames: names, markers: churchA.markers, title: "adversarial × random", shade: shade),
                    try SlicePictures.classMap(churchR.decision, grid: churchR.grid, classNames: names, markers: churchR.markers, title: "random × random", shade: shade),
                ])))
        }
        context.progress.end(summary: "\(slices.count) slice(s) of \(f.className(s)) → \(f.className(t))")
        output.pictures = pictures

        // The boundary set: the crossing on x1 → x2 of every slice whose x1 and x2 differ in class.
        return Probe(try boundarySet(rows, pair: pair, classifier: f, shape: shape, startIndex: i1, context: context), output: output)
    }

    /// One slice's arrays and numbers.
    func record(_ slice: ComputedSlice, anchors: [[Float]]?) -> SliceResult {
        let g = slice.grid, d = slice.plane.dimension
        let r = g.rectangle
        let feasible = slice.mask.filter { $0 }.count, evaluated = slice.decision.evaluatedCount
        return SliceResult(
            basis: Tensor(shape: [3, d], scalars: slice.plane.origin + slice.plane.u + slice.plane.v),
            anchors: anchors.map { Tensor(shape: [$0.count, d], scalars: $0.flatMap { $0 }) },
            anchorCoordinates: Tensor(shape: [slice.markers.count, 2], scalars: slice.markers.flatMap { [Float($0.a), Float($0.b)] }),
            polygon: Tensor(shape: [slice.polygon.vertices.count, 2], scalars: slice.polygon.vertices.flatMap { [Float($0.a), Float($0.b)] }),
            rectangle: Tensor(shape: [4], scalars: [r.aRange.lowerBound, r.aRange.upperBound, r.bRange.lowerBound, r.bRange.upperBound].map(Float.init)),
            classes: .int64(values: slice.decision.classes.map(Int64.init), shape: [g.rows, g.columns]),
            topProbability: Tensor(shape: [g.rows, g.columns], scalars: slice.decision.topProbability),
            feasiblePixels: feasible, evaluatedPixels: evaluated, polygonVertices: slice.polygon.vertices.count,
            polygonArea: slice.polygon.area, rectangleWidth: r.width, rectangleHeight: r.height,
            classesPresent: Set(slice.decision.classes.filter { $0 >= 0 }).count,
            evaluationSeconds: slice.evaluationSeconds,
            pointsPerSecond: Double(evaluated) / max(1e-9, slice.evaluationSeconds))
    }

    /// One row per slice: bisection on `x1 → x2` between `s` and `t` (the core's batched
    /// bisection, `β` = ``boundaryTolerance``). A row succeeds only when x1 is of class `s`, x2 of
    /// class `t` and the bisection meets `|p_s − p_t| < β` with `s` or `t` on top; a row whose x2 is
    /// in `s` or in a third class fails with that reason.
    func boundarySet(_ rows: [(a: [Float], b: [Float], from: Int, to: Int)], pair: ClassPair, classifier f: any Classifier, shape: [Int],
                     startIndex: Int, context: RunContext) throws -> BoundarySet {
        let m = rows.count, k = f.classCount
        let starts = Tensor(shape: [m] + shape, scalars: rows.flatMap(\.a))
        let ends = Tensor(shape: [m] + shape, scalars: rows.flatMap(\.b))
        var points = starts.scalars, probabilities = [Float](repeating: 0, count: m * k)
        var succeeded = [Bool](repeating: false, count: m), steps = [Int](repeating: 0, count: m)
        // Only a segment from class s to class t crosses the pair's boundary; an untargeted
        // adversarial that lands in a third class c crosses the s:c boundary, which is not a point
        // of this pair's set (it used to be filed here as a success).
        var reasons: [String?] = rows.map { row in
            if row.from == row.to { return "x1 and x2 are in the same class" }
            if row.from != pair.source || row.to != pair.target {
                return "x2 is classified \(f.className(row.to)), not \(f.className(pair.target)): x1 → x2 crosses the \(f.className(row.from)):\(f.className(row.to)) boundary, not the pair's"
            }
            return nil
        }
        let crossing = (0..<m).filter { reasons[$0] == nil }
        let startP = try f.probabilities(starts)
        for r in 0..<m { for c in 0..<k { probabilities[r * k + c] = startP.scalars[r * k + c] } }
        if !crossing.isEmpty {
            let outcome = try BoundaryBisection.bisect(f, from: starts.gather(batch: crossing), to: ends.gather(batch: crossing),
                                                       sources: crossing.map { rows[$0].from }, targets: crossing.map { rows[$0].to },
                                                       configuration: .init(tolerance: Self.boundaryTolerance, maxSteps: 40), checkStop: context.checkInterrupted)
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
                               iterations: steps, gapTolerance: Self.boundaryTolerance)
    }

    /// The third point of the adversarial slice (Section 2.4), with a description for captions.
    func thirdPoint(_ strategy: ThirdPoint, options o: Options, x1: [Float], x1Index: Int, pair: ClassPair, attack: SliceAttack, seed: UInt64,
                    second: ModelClassifier?, context: RunContext, random: inout RandomGenerator) throws -> (point: [Float], description: String) {
        let d = x1.count, shape = context.classifier.inputShape, box = context.classifier.inputBox
        let x1Tensor = Tensor(shape: [1] + shape, scalars: x1)
        switch strategy {
        case .grey:
            let (lower, upper) = box.elementBounds(sampleShape: shape)
            return (zip(lower, upper).map { Float(($0 + $1) / 2) }, "the grey centre of the input box \(box)")
        case .randomImage:
            return (box.uniformSamples(1, inputShape: shape, generator: &random).scalars, "a uniformly random image in the input box")
        case .perturbation:
            let norm = o.perturbationNorm
            let z = (0..<d).map { _ in random.nextNormal() }
            let n = max(1e-12, z.reduce(0) { $0 + $1 * $1 }.squareRoot())
            let moved = Tensor(shape: [1] + shape, scalars: (0..<d).map { x1[$0] + z[$0] * norm / n })
            return (box.clamped(moved).scalars, "x1 plus a Gaussian perturbation of L2 norm \(norm), clipped to the input box")
        case .adversarialSeed:
            let r = try attack.run(try context.gradients(), inputs: x1Tensor, labels: [pair.source], seed: seed &+ 0x9E37_79B9_7F4A_7C15)
            return (r.adversarials.scalars, "the same attack with another seed (predicted \(context.classifier.className(r.predictions[0])))")
        case .otherAttack:
            var other = attack
            other.kind = attack.kind == .fgsm ? .pgdLinf : .fgsm
            let r = try other.run(try context.gradients(), inputs: x1Tensor, labels: [pair.source], seed: seed)
            return (r.adversarials.scalars, "the \(other.kind.rawValue) adversarial of x1 (predicted \(context.classifier.className(r.predictions[0])))")
        case .secondModelAdversarial:
            guard let second else {
                throw BorderlineError(.invalidArgument, "slices: third-point=second-model-adversarial needs --set slices.second-model=MODEL")
            }
            let r = try attack.run(second, inputs: x1Tensor, labels: [pair.source], seed: seed)
            return (r.adversarials.scalars, "the same attack against the second model (which predicts \(context.classifier.className(r.predictions[0])) there)")
        case .stored:
            return try storedPoint(options: o, x1Index: x1Index, pair: pair, dimension: d, context: context)
        }
    }
}

extension SliceProber {
    /// `third-point=stored`: a row of another prober's boundary set for `pair` (its points, start
    /// points or end points). The producer is `stored-from`, or when that is empty the first set of
    /// the pair in run order; the row is `stored-row`, or when that is −1 the successful row that
    /// started from x1, else the first successful row (said in a note).
    /// - Throws: `.invalidArgument` naming the producers the run has when the producer made no set
    ///   for the pair (or an empty one), the set has no such field, the row is past its end, or (for
    ///   the automatic row) no attempt succeeded.
    func storedPoint(options o: Options, x1Index: Int, pair: ClassPair, dimension d: Int, context: RunContext) throws -> (point: [Float], description: String) {
        let wanted = o.storedFrom
        let producers = Set(context.boundarySets.map(\.producer)).sorted()
        let listed = producers.isEmpty ? "none; enable a plugin whose prober makes them" : producers.joined(separator: ", ")
        let candidates = context.boundarySets.filter { $0.pair == pair && (wanted.isEmpty || $0.producer == wanted) }
        guard let set = candidates.first else {
            throw BorderlineError(.invalidArgument, "slices: third-point=stored: \(wanted.isEmpty ? "no prober" : wanted) made no boundary set for pair \(pair) (producers of boundary sets in this run: \(listed))")
        }
        guard set.count > 0 else {
            throw BorderlineError(.invalidArgument, "slices: third-point=stored: the boundary set of \(set.producer) for pair \(pair) is empty")
        }
        if wanted.isEmpty, Set(candidates.map(\.producer)).count > 1 {
            context.note("third-point=stored, pair \(pair): took the set of \(set.producer), the first of \(Set(candidates.map(\.producer)).sorted().joined(separator: ", ")); set slices.stored-from to choose.")
        }
        let field: Tensor
        switch o.storedField {
        case .points: field = set.points
        case .startPoints: field = set.startPoints
        case .endPoints:
            guard let end = set.endPoints else {
                throw BorderlineError(.invalidArgument, "slices: third-point=stored: the boundary set of \(set.producer) has no end points; use stored-field=points or start-points")
            }
            field = end
        }
        guard field.sampleCount == d else {
            throw BorderlineError(.shapeMismatch, "slices: third-point=stored: the \(o.storedField.rawValue) of \(set.producer) have \(field.sampleCount) values per row; the classifier's input has \(d)")
        }
        let row: Int
        if o.storedRow >= 0 {
            guard o.storedRow < set.count else {
                throw BorderlineError(.invalidArgument, "slices: stored-row \(o.storedRow) is past the \(set.count) rows of the boundary set of \(set.producer) for pair \(pair)")
            }
            row = o.storedRow
        } else {
            let ok = set.successfulIndices
            guard let first = ok.first else {
                throw BorderlineError(.invalidArgument, "slices: third-point=stored: no attempt of \(set.producer) succeeded for pair \(pair); choose a row with stored-row")
            }
            if let fromX1 = ok.first(where: { set.startIndices[$0] == x1Index }) {
                row = fromX1
            } else {
                row = first
                context.note("third-point=stored, pair \(pair): no successful row of \(set.producer) started from x1 (run image #\(x1Index)); took its first successful row, \(first).")
            }
        }
        let field0 = o.storedField == .points ? "boundary point" : (o.storedField == .startPoints ? "start point" : "end point")
        let outcome = set.succeeded[row] ? "" : ", a failed attempt"
        return (Array(field.scalars[(row * d)..<((row + 1) * d)]),
                "\(field0) \(row) of \(set.producer) (started from image #\(set.startIndices[row])\(outcome))")
    }
}
