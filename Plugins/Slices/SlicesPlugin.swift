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
        @Option(help: "a second model file (or the shipped name fashion-cnn / fashion-fcn) drawn on the same slices, with the agreement of the two (the first of `models`)")
        public var secondModel = ""
        @Option(help: "more models drawn on the same slices: a comma list of model files or shipped names (e.g. fashion-cnn-pgd,Models/fashion-fcn.h5), with agreement and per-class IoU for every pair of models, the run's model included")
        public var models = ""
        @Option(help: "write every slice plane of the run (per pair and slice: origin, basis, anchors, rectangle, grid) to this HDF5 plane file")
        public var planeOut = ""
        @Option(help: "slice exactly the planes of this plane file (made with plane-out) instead of making them: no attack, no image choice; the same pixels on this run's model")
        public var planeIn = ""
        @Option(help: "a panel of adversarial slices through the same x1 and x2, one column per third point: a comma list of third-point values (e.g. grey,random-image,perturbation,other-attack); empty: no panel")
        public var thirdPoints = ""
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
            let panel = try thirdPointList()
            if (thirdPoint == .secondModelAdversarial || panel.contains(.secondModelAdversarial)) && extraModelSpecs.isEmpty {
                throw BorderlineError(.invalidArgument, "slices: third-point=second-model-adversarial needs --set slices.second-model=MODEL (or slices.models)")
            }
            if !planeIn.isEmpty {
                guard FileManager.default.fileExists(atPath: planeIn) else {
                    throw BorderlineError(.fileNotFound, "slices.plane-in: no such file; expected a plane file written by --set slices.plane-out=PATH", file: planeIn)
                }
                if !planeOut.isEmpty, URL(fileURLWithPath: planeOut).standardizedFileURL == URL(fileURLWithPath: planeIn).standardizedFileURL {
                    throw BorderlineError(.invalidArgument, "slices: plane-out and plane-in name the same file \(planeIn); write the planes elsewhere")
                }
            }
        }

        /// `third-points` parsed, in order.
        /// - Throws: `.invalidArgument` naming a value that is not a third point.
        public func thirdPointList() throws -> [ThirdPoint] {
            try thirdPoints.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { name in
                guard let t = ThirdPoint(rawValue: name) else {
                    throw BorderlineError(.invalidArgument, "slices.third-points: '\(name)' is not a third point; expected a comma list of \(ThirdPoint.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return t
            }
        }

        /// `second-model` and then `models`, without repeats.
        public var extraModelSpecs: [String] {
            var out: [String] = []
            for m in [secondModel] + models.split(separator: ",").map(String.init) {
                let t = m.trimmingCharacters(in: .whitespaces)
                if !t.isEmpty && !out.contains(t) { out.append(t) }
            }
            return out
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
        /// Several models on the same pixels (`models`, `second-model`): the models' names (the run's
        /// model first), `[M, G, G]` classes, `[M, M]` agreement and `[M, M, K]` per-class IoU
        /// (NaN where neither model predicts the class), and per pair of models its key numbers.
        public var modelNames: [String]?
        public var modelClasses: StoredArray?
        public var modelAgreement: Tensor?
        public var modelClassIou: Tensor?
        public var modelPairs: [String: ModelPairNumbers]?
        /// Connected components (8-connectivity over feasible pixels) per class, and their total.
        public var componentsPerClass: [Int]?
        public var components: Int?
        /// Degrees between the plane and the run model's adversarial direction x2 − x1 at the
        /// slice's x1, and its margin gradient there: `arccos(‖P d‖/‖d‖)`.
        public var adversarialDirectionAngle: Double?
        public var marginGradientAngle: Double?
    }

    /// Agreement and mean per-class IoU of two models on one slice.
    public struct ModelPairNumbers: Encodable {
        public var agreement: Double
        public var meanClassIou: Double
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
        /// The third-point panel's slices, by strategy (`third-points`).
        public var thirdPoints: [String: SliceResult]?
        public var agreement: ResultTable?
        /// Per slice and pair of models: agreement, mean and per-class IoU.
        public var modelIou: ResultTable?
        public var componentTable: ResultTable?
        public var angleTable: ResultTable?
        public var pictures: [ResultPicture] = []

        enum CodingKeys: String, CodingKey {
            case adversarial, adversarialLocal = "adversarial-local", images, churchAdversarial = "church-adversarial"
            case churchRandom = "church-random", thirdPoints = "third-points", agreement, modelIou = "model-iou"
            case componentTable = "components", angleTable = "angles", pictures
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
                default:
                    guard name.hasPrefix(Self.thirdPointPrefix) else { return nil }
                    return thirdPoints?[String(name.dropFirst(Self.thirdPointPrefix.count))]
                }
            }
            set {
                switch name {
                case "adversarial": adversarial = newValue
                case "adversarial-local": adversarialLocal = newValue
                case "images": images = newValue
                case "church-adversarial": churchAdversarial = newValue
                case "church-random": churchRandom = newValue
                default:
                    guard name.hasPrefix(Self.thirdPointPrefix) else { return }
                    var d = thirdPoints ?? [:]
                    d[String(name.dropFirst(Self.thirdPointPrefix.count))] = newValue
                    thirdPoints = d
                }
            }
        }

        /// Slices of the third-point panel are named `third-point-<strategy>`.
        static let thirdPointPrefix = "third-point-"
    }

    /// An extra model drawn on the same slices, with the file it came from and its label (the
    /// file's name without `.h5`).
    struct ExtraModel {
        var classifier: ModelClassifier
        var path: String
        var label: String
    }

    /// The second model and `models`, each loaded once per run by the host.
    func extraModels(_ o: Options, like f: any Classifier, context: RunContext) throws -> [ExtraModel] {
        var out: [ExtraModel] = []
        for spec in o.extraModelSpecs {
            let path = try context.modelPath(spec)
            let c = try context.loadClassifier(spec)
            guard c.inputShape == f.inputShape, c.classCount == f.classCount else {
                throw BorderlineError(.dataMismatch, "slices: the model \(path) takes \(c.inputShape) and gives \(c.classCount) classes; the run's classifier takes \(f.inputShape) and gives \(f.classCount)")
            }
            var label = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            if out.contains(where: { $0.label == label }) || label == Self.runModelLabel { label += "#\(out.count + 1)" }
            out.append(ExtraModel(classifier: c, path: path, label: label))
        }
        return out
    }

    static let runModelLabel = "run's model"

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
        let extras = try extraModels(o, like: f, context: context)
        let shade = o.shade
        let maker = SliceMaker(rows: o.grid, columns: o.grid, batchSize: o.batchSize, box: f.inputBox, checkStop: context.checkInterrupted) { name, done, total in
            context.progress.update(completed: done, detail: "\(name): \(done)/\(total) feasible points")
        }
        var windowMaker = maker
        windowMaker.rows = o.windowGrid; windowMaker.columns = o.windowGrid
        var random = context.randomGenerator(for: pair)
        let attackSeed = context.seed ^ StableHash.fnv1a("\(context.owner)#\(pair.key)#attack")
        let attack = SliceAttack(kind: o.attack, epsilon: o.epsilon, stepSize: o.stepSize, steps: o.steps)
        if !o.planeIn.isEmpty {
            return try probeFixedPlanes(pair, options: o, context: context, extras: extras, maker: maker, attack: attack, seed: attackSeed)
        }
        let imageNumber = o.image
        let ofS = context.indices(ofClass: s), ofT = context.indices(ofClass: t)
        guard ofS.count > imageNumber + 1, ofT.count > imageNumber else {
            throw PairDeclined("slices: image=\(imageNumber) needs at least \(imageNumber + 2) correctly classified images of \(f.className(s)) and \(imageNumber + 1) of \(f.className(t)); the data has \(ofS.count) and \(ofT.count)")
        }
        func image(_ i: Int) -> [Float] { Array(context.data.images.scalars[(i * d)..<((i + 1) * d)]) }
        let i1 = ofS[imageNumber]
        let x1 = image(i1)

        // x2: the adversarial of x1.
        let model = try context.gradients()
        let x1Tensor = Tensor(shape: [1] + shape, scalars: x1)
        let adversarial = try attack.run(model, inputs: x1Tensor, labels: [s], seed: attackSeed)
        let x2 = adversarial.adversarials.scalars
        let advClass = adversarial.predictions[0]
        let advDistance = Double(zip(x1, x2).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot())

        // x3: the third point.
        let third = try thirdPoint(o.thirdPoint, options: o, x1: x1, x1Index: i1, pair: pair, attack: attack, seed: attackSeed,
                                   second: extras.first?.classifier, context: context, random: &random)
        let x3 = third.point

        var slices: [(slice: ComputedSlice, anchors: [[Float]], caption: String)] = []
        /// Every slice drawn, in order, for the components, angles, model comparison and plane file.
        var drawn: [(slice: ComputedSlice, anchors: [[Float]]?, project: Bool)] = []
        var rows: [(a: [Float], b: [Float], from: Int, to: Int)] = []
        var pictures: [ResultPicture] = []
        context.progress.begin("slices of \(f.className(s)) → \(f.className(t))", total: 0)

        // Slice A: (x, adversarial, third point), global and local views.
        let labelsA = ["x1", "x2", "x3"]
        let sliceA = try maker.slice("adversarial", anchors: zip(labelsA, [x1, x2, x3]).map { ($0, $1) }, sampleShape: shape, classifier: f)
        let captionA = "x1 = run image #\(i1) (\(f.className(s))), x2 = its \(attack.kind.rawValue) adversarial (\(attack.kind == .cwL2 ? "" : "ε = \(attack.epsilon), ")predicted \(f.className(advClass)), ‖x2 − x1‖ = \(String(format: "%.3f", advDistance))), x3 = \(third.description)"
        slices.append((sliceA, [x1, x2, x3], captionA))
        drawn.append((sliceA, [x1, x2, x3], false))
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
            drawn.append((local, nil, false))
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
            drawn.append((sliceB, [x1, image(i2), image(i3)], false))
            pictures.append(ResultPicture(name: "image-slice", caption: "Slice through three test images: " + captionB + ".",
                image: try SlicePictures.classMap(sliceB.decision, grid: sliceB.grid, classNames: names, markers: sliceB.markers,
                                                  title: "three test images", shade: shade)))
        }

        // Anchors as images, profiles.
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
            output[slice: slice.name] = result
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
            drawn.append((churchA, nil, project))
            drawn.append((churchR, nil, project))
            pictures.append(ResultPicture(name: "church-window", caption: "Church-window plots around x1 = run image #\(i1) (\(f.className(s))), half-width \(String(format: "%.3g", half)) (\(o.windowScale) × ‖x2 − x1‖): left, horizontal axis the adversarial direction x2 − x1 and vertical axis a random orthogonal direction; right, two random directions. " + (project ? "Every pixel is evaluated at its point clamped to the input box (feasible without clamping: \(churchA.mask.filter { $0 }.count) and \(churchR.mask.filter { $0 }.count) of \(churchA.grid.pixelCount) pixels)." : "Grey: outside the input box."),
                image: try SlicePictures.sideBySide([
                    try SlicePictures.classMap(churchA.decision, grid: churchA.grid, classNames: names, markers: churchA.markers, title: "adversarial × random", shade: shade),
                    try SlicePictures.classMap(churchR.decision, grid: churchR.grid, classNames: names, markers: churchR.markers, title: "random × random", shade: shade),
                ])))
        }

        // The third-point panel (paper Figs. 2–3): the same x1, x2 with one x3 per strategy.
        let panel = try o.thirdPointList()
        if !panel.isEmpty {
            var panelRandom = context.randomGenerator(for: pair, stream: "third-points")
            var maps: [(decision: SliceDecision, grid: SliceGrid, markers: [SliceMarker], title: String)] = []
            var descriptions: [String] = []
            for strategy in panel {
                let p3 = try thirdPoint(strategy, options: o, x1: x1, x1Index: i1, pair: pair, attack: attack, seed: attackSeed,
                                        second: extras.first?.classifier, context: context, random: &panelRandom)
                let name = Output.thirdPointPrefix + strategy.rawValue
                let slice = try maker.slice(name, anchors: zip(labelsA, [x1, x2, p3.point]).map { ($0, $1) }, sampleShape: shape, classifier: f)
                output[slice: name] = record(slice, anchors: [x1, x2, p3.point])
                drawn.append((slice, [x1, x2, p3.point], false))
                maps.append((slice.decision, slice.grid, slice.markers, "x3: \(strategy.rawValue)"))
                descriptions.append("\(strategy.rawValue): \(p3.description)")
            }
            pictures.append(ResultPicture(name: "third-points", caption: "Slices through the same x1 = run image #\(i1) (\(f.className(s))) and x2 = its \(attack.kind.rawValue) adversarial, one column per third point x3 (paper Figs. 2–3): " + descriptions.joined(separator: "; ") + ". Grey: outside the input box.",
                image: try SlicePictures.panels(maps, classNames: names, shade: shade)))
        }
        context.progress.end(summary: "\(drawn.count) slice(s) of \(f.className(s)) → \(f.className(t))")
        try finish(&output, drawn: drawn, pictures: &pictures, x1: x1, x2: x2, source: s, pair: pair, extras: extras, maker: maker,
                   options: o, context: context)
        output.pictures = pictures

        // The boundary set: the crossing on x1 → x2 of every slice whose x1 and x2 differ in class.
        return Probe(try boundarySet(rows, pair: pair, classifier: f, shape: shape, startIndex: i1, context: context), output: output)
    }

    /// The slices compared across models: the Definition 1 slices and the local view (not the
    /// church windows or the third-point panel).
    static let comparedSlices: Set<String> = ["adversarial", "adversarial-local", "images"]

    /// What every slice gets after it is drawn: its connected components, the angles of the run
    /// model's adversarial direction and margin gradient at x1 to its plane, the other models on
    /// its pixels (`comparedSlices`), and the plane file (`plane-out`).
    func finish(_ output: inout Output, drawn: [(slice: ComputedSlice, anchors: [[Float]]?, project: Bool)], pictures: inout [ResultPicture],
                x1: [Float], x2: [Float], source: Int, pair: ClassPair, extras: [ExtraModel], maker: SliceMaker, options o: Options,
                context: RunContext) throws {
        let f = context.classifier, k = f.classCount, shape = f.inputShape
        let names = (0..<k).map { f.className($0) }
        // Directions: x2 − x1, and the gradient of the margin Z_s − Z_r at x1 (r: the runner-up there).
        let advDirection = zip(x2, x1).map { $0 - $1 }
        let model = try context.gradients()
        let x1Tensor = Tensor(shape: [1] + shape, scalars: x1)
        let z = try model.logits(x1Tensor).scalars
        let runnerUp = (0..<k).filter { $0 != source }.max { z[$0] < z[$1] } ?? source
        let gradient = try model.marginGradient(x1Tensor, from: [runnerUp], to: [source]).inputGradient.scalars
        var componentRows: [[String]] = [], angleRows: [[String]] = [], iouRows: [[String]] = [], agreementRows: [[String]] = []
        for (slice, _, _) in drawn {
            guard var result = output[slice: slice.name] else { continue }
            let components = slice.decision.componentsPerClass(rows: slice.grid.rows, columns: slice.grid.columns, classCount: k)
            result.componentsPerClass = components
            result.components = components.reduce(0, +)
            componentRows.append([slice.name] + components.map(String.init) + [String(components.reduce(0, +))])
            result.adversarialDirectionAngle = slice.plane.angle(to: advDirection)
            result.marginGradientAngle = slice.plane.angle(to: gradient)
            angleRows.append([slice.name, Self.format(result.adversarialDirectionAngle!, "%.2f"), Self.format(result.marginGradientAngle!, "%.2f")])
            if !extras.isEmpty, Self.comparedSlices.contains(slice.name) {
                var m = maker
                m.rows = slice.grid.rows; m.columns = slice.grid.columns
                var decisions = [slice.decision]
                for e in extras {
                    decisions.append(try m.evaluate(slice.name, plane: slice.plane, markers: slice.markers, classifier: e.classifier,
                                                    window: slice.grid.rectangle).decision)
                }
                let labels = [Self.runModelLabel] + extras.map(\.label)
                let c = Self.compare(decisions, classCount: k)
                result.modelNames = labels
                result.modelClasses = .int64(values: decisions.flatMap { $0.classes.map(Int64.init) }, shape: [decisions.count, slice.grid.rows, slice.grid.columns])
                result.modelAgreement = Tensor(shape: [decisions.count, decisions.count], scalars: c.agreement.flatMap { $0.map(Float.init) })
                result.modelClassIou = Tensor(shape: [decisions.count, decisions.count, k], scalars: c.iou.flatMap { $0.flatMap { $0.map(Float.init) } })
                var pairs: [String: ModelPairNumbers] = [:]
                for i in 0..<decisions.count {
                    for j in (i + 1)..<decisions.count {
                        let mean = Self.meanIgnoringNaN(c.iou[i][j])
                        pairs["\(labels[i]) vs \(labels[j])"] = ModelPairNumbers(agreement: c.agreement[i][j], meanClassIou: mean)
                        iouRows.append([slice.name, "\(labels[i]) vs \(labels[j])", Self.format(c.agreement[i][j], "%.4f"), Self.format(mean, "%.4f")]
                                       + c.iou[i][j].map { Self.format($0, "%.3f") })
                    }
                }
                result.modelPairs = pairs
                // Back-compatible second-model fields: the run's model against the first extra model.
                result.secondModelClasses = .int64(values: decisions[1].classes.map(Int64.init), shape: [slice.grid.rows, slice.grid.columns])
                result.secondModelAgreement = c.agreement[0][1]
                result.secondModelClassIou = c.iou[0][1].map(Float.init)
                result.secondModelMeanClassIou = Self.meanIgnoringNaN(c.iou[0][1])
                agreementRows.append([slice.name, Self.format(c.agreement[0][1], "%.4f"), Self.format(Self.meanIgnoringNaN(c.iou[0][1]), "%.4f")])
                let maps = zip(decisions, labels).map { (decision: $0, grid: slice.grid, markers: slice.markers, title: $1) }
                let summary = (1..<decisions.count).map { "\(labels[0]) vs \(labels[$0]) \(String(format: "%.1f", c.agreement[0][$0] * 100)) %" }.joined(separator: ", ")
                pictures.append(ResultPicture(name: "\(slice.name)-models", caption: "The \(slice.name) slice on the same pixels through \(labels.joined(separator: ", ")) (\(extras.map(\.path).joined(separator: ", "))); agreement on the feasible pixels: \(summary).",
                    image: try SlicePictures.panels(maps, classNames: names, shade: o.shade)))
            }
            output[slice: slice.name] = result
        }
        output.componentTable = ResultTable(title: "Connected components per class (8-connectivity over feasible pixels)", columns: ["slice"] + names + ["total"], rows: componentRows)
        output.angleTable = ResultTable(title: "Angle (degrees) between each slice's plane and the run model's adversarial direction x2 − x1 and margin gradient at x1", columns: ["slice", "x2 − x1", "margin gradient at x1"], rows: angleRows)
        if !agreementRows.isEmpty {
            output.agreement = ResultTable(title: "Run's model vs second model on the same slices", columns: ["slice", "agreement (share of feasible pixels with the same class)", "mean per-class IoU"], rows: agreementRows)
            output.modelIou = ResultTable(title: "Every pair of models on the same slices: agreement and per-class IoU", columns: ["slice", "models", "agreement", "mean IoU"] + names, rows: iouRows)
        }
        if !o.planeOut.isEmpty {
            let planes = drawn.map { StoredSlicePlane($0.slice, anchors: $0.anchors, projectOntoBox: $0.project) }
            // Created (replacing an older file) by the first pair of this run, added to by the others.
            let first = try context.cached("plane-out-created:\(o.planeOut)") { PlaneOutFlag() }
            PlaneOutFlag.lock.lock()
            defer { PlaneOutFlag.lock.unlock() }
            try SlicePlaneFile.write(planes, pair: pair, sampleShape: shape, to: o.planeOut, create: !first.created)
            first.created = true
        }
    }

    /// `plane-in`: the planes of the file for `pair`, evaluated on the run's model on exactly the
    /// stored pixels (no attack and no image choice for the planes). The angles use the run
    /// model's own adversarial of the stored x1 (the attack runs for that only).
    func probeFixedPlanes(_ pair: ClassPair, options o: Options, context: RunContext, extras: [ExtraModel], maker: SliceMaker,
                          attack: SliceAttack, seed: UInt64) throws -> Probe<Output> {
        let f = context.classifier, shape = f.inputShape, k = f.classCount, d = Tensor.count(of: shape)
        let names = (0..<k).map { f.className($0) }
        let stored = try SlicePlaneFile.read(o.planeIn, pair: pair, sampleShape: shape)
        guard let first = stored.first else {
            throw BorderlineError(.missingEntry, "has no slices for pair \(pair.source):\(pair.target)", file: o.planeIn)
        }
        context.note("plane-in: \(stored.count) plane(s) of pair \(pair) read from \(o.planeIn) (\(stored.map(\.name).joined(separator: ", "))); no attack or image choice made them.")
        context.progress.begin("fixed planes of \(f.className(pair.source)) → \(f.className(pair.target))", total: 0)
        let x1 = first.anchors?.first ?? first.plane.origin
        // The data row holding x1, when the run's data has it (else −1).
        let images = context.data.images.scalars
        let x1Index = (0..<context.data.count).first { i in images[(i * d)..<((i + 1) * d)].elementsEqual(x1) } ?? -1
        var output = Output(adversarial: nil)
        var drawn: [(slice: ComputedSlice, anchors: [[Float]]?, project: Bool)] = []
        var pictures: [ResultPicture] = []
        var rows: [(a: [Float], b: [Float], from: Int, to: Int)] = []
        for plane in stored {
            var m = maker
            m.rows = plane.rows; m.columns = plane.columns
            let slice = try m.evaluate(plane.name, plane: plane.plane, markers: plane.markers, classifier: f, window: plane.rectangle,
                                       projectOntoBox: plane.projectOntoBox)
            var result = record(slice, anchors: plane.anchors)
            if let anchors = plane.anchors, anchors.count == 3, slice.markers.count == 3 {
                let profiles = try m.profiles(slice, classifier: f, count: o.profilePoints)
                result.profiles = Tensor.concatenate(batches: profiles.map { $0.probabilities.reshaped([1] + $0.probabilities.shape) })
                if plane.name == "adversarial" || plane.name == "images" {
                    let p = try f.predictions(Tensor(shape: [2] + shape, scalars: anchors[0] + anchors[1]))
                    rows.append((anchors[0], anchors[1], p[0], p[1]))
                }
            }
            output[slice: plane.name] = result
            drawn.append((slice, plane.anchors, plane.projectOntoBox))
            pictures.append(ResultPicture(name: "\(plane.name)-fixed-plane", caption: "The \(plane.name) plane of pair \(pair) read from \(o.planeIn), \(plane.rows) × \(plane.columns) pixels, through the run's model" + (plane.projectOntoBox ? " (every pixel at its point clamped to the input box)." : ". Grey: outside the input box."),
                image: try SlicePictures.classMap(slice.decision, grid: slice.grid, classNames: names, markers: slice.markers,
                                                  title: "fixed plane: \(plane.name)", shade: o.shade), key: plane.name == "adversarial"))
        }
        // The run model's own adversarial of x1, for the angles only.
        let source = try f.predictions(Tensor(shape: [1] + shape, scalars: x1))[0]
        let own = try attack.run(try context.gradients(), inputs: Tensor(shape: [1] + shape, scalars: x1), labels: [source], seed: seed)
        context.note("plane-in: the run model's own \(attack.kind.rawValue) adversarial of the stored x1 (classified \(f.className(source))) is classified \(f.className(own.predictions[0])), ‖x2 − x1‖ = \(String(format: "%.3f", zip(own.adversarials.scalars, x1).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot())); the angles are to its direction.")
        context.progress.end(summary: "\(drawn.count) fixed plane(s)")
        try finish(&output, drawn: drawn, pictures: &pictures, x1: x1, x2: own.adversarials.scalars, source: source, pair: pair, extras: extras,
                   maker: maker, options: o, context: context)
        output.pictures = pictures
        return Probe(try boundarySet(rows, pair: pair, classifier: f, shape: shape, startIndex: x1Index, context: context), output: output)
    }

    static func format(_ x: Double, _ f: String) -> String { x.isNaN ? "–" : String(format: f, x) }
    static func meanIgnoringNaN(_ x: [Double]) -> Double {
        let v = x.filter { !$0.isNaN }
        return v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
    }

    /// Agreement `[M][M]` and per-class IoU `[M][M][K]` of every pair of decisions on one grid.
    static func compare(_ decisions: [SliceDecision], classCount k: Int) -> (agreement: [[Double]], iou: [[[Double]]]) {
        let m = decisions.count
        var agreement = [[Double]](repeating: [Double](repeating: 1, count: m), count: m)
        var iou = [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: .nan, count: k), count: m), count: m)
        for i in 0..<m {
            for j in 0..<m {
                agreement[i][j] = decisions[i].agreement(with: decisions[j])
                iou[i][j] = decisions[i].intersectionOverUnion(with: decisions[j], classCount: k)
            }
        }
        return (agreement, iou)
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

/// Whether this run has created the `plane-out` file yet (the first pair replaces an old file, the
/// others add to it); one per run and path, through ``RunContext/cached(_:_:)``.
final class PlaneOutFlag: @unchecked Sendable {
    var created = false
    static let lock = NSLock()
}
