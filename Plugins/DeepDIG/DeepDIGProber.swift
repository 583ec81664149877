import BorderlineCore
import Foundation

/// Prober `deepdig` (Karimi, Derr & Tang, DeepDIG, Sections 3 and 5, Algorithm 1), direction s → t:
///
/// - **Component I**: autoencoder A1 (paper Table 2, or a model file's architecture and weights:
///   `autoencoder=PATH`) trained on 80 % of the class-s training images through the frozen
///   classifier with loss rec(x, A1(x)) + α·CE(f(A1(x)), t). Every class-s training image x gives
///   x̂t = A1(x); kept when C(x) = s and C(x̂t) = t.
/// - **Component II**: A2 trained the same way on the kept x̂t that came from A1's training part,
///   target s; x̂s = A2(x̂t); the pair (x̂s, x̂t) is kept when C(x̂s) = s.
/// - **Component III**: batched bisection between x̂s and x̂t (``BoundaryBisection`` with
///   Algorithm 1's rule: a midpoint of neither class fails the pair) until |f_s − f_t| < β; the
///   halvings are capped and pairs that reach the cap fail with that reason.
///
/// The boundary set has one row per pair that entered component III (so its success rate is the
/// paper's "success rate"); start points are x̂s, end points x̂t, `extras["source_image"]` the
/// training image x each pair came from (its row: the output's `train_index`). Components I/II
/// accuracies (share of A1 outputs still classified s, share of A2 outputs classified s) and the
/// collapse diagnostics are the prober's ``Output``.
/// The other direction is the ordered pair (t, s): run `--pairs s:t,t:s`.
final class DeepDIGProber: BoundaryProber {
    let name = "deepdig"
    let summary = "DeepDIG components I–III: autoencoder adversarials s→t and back, then bisection to |f_s − f_t| < β."
    let needsGradients = true

    struct Options: PluginOptions, Sendable {
        @OptionGroup var training: AutoencoderSettings
        @OptionGroup var shared: ProberOptions
        func validate() throws {
            try training.validate()
            try shared.validate()
        }
    }

    /// Components I and II for one direction (summary.json `pairs."s-t".deepdig.…`). Shares are
    /// NaN when their image set is empty; component II's values are absent when component I kept
    /// no adversarial.
    struct Output: Codable {
        var component1OutputSpread: Double
        var component1SaturatedShare: Double
        var component2OutputSpread: Double?
        var component2SaturatedShare: Double?
        var component1Images: Int
        var component1ValidationImages: Int
        var component1AccuracyValidation: Double
        var component1AccuracyTrain: Double
        var component1Kept: Int
        var component2Accuracy: Double?
        var component2AccuracyValidation: Double?
        var component2Kept: Int
        /// Per attempt, the row of the training split its source image x came from.
        var trainIndex: [Int]?
        /// Training image, x̂t, x̂s and borderline point of the first attempts (paper Tables 3–8).
        var grid: ResultPicture?
    }

    func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<Output> {
        let s = pair.source, t = pair.target
        let settings = options.training
        let architecture = try Autoencoders.resolveArchitecture(settings.autoencoder)
        let split = try context.trainingData(options.shared.data.choice)
        let classifier = context.classifier
        var random = context.randomGenerator(for: pair)
        let labelled = split.indices(ofClass: s, correctlyClassified: false)
        guard labelled.count >= 2 else {
            throw PairDeclined("deepdig: fewer than 2 images of class \(s) (\(classifier.className(s))) in \(split.origin)")
        }
        let shuffled = random.permutation(labelled.count).map { labelled[$0] }
        let validationCount = Int((Double(shuffled.count) * settings.validationShare).rounded())
        let trainCount = shuffled.count - validationCount
        let isTrainPart = (0..<shuffled.count).map { $0 < trainCount }
        let images = split.images.gather(batch: shuffled)

        // Component I.
        var g = random.derived(1)
        let a1 = try Autoencoders.make(kind: architecture, imageShape: classifier.inputShape, generator: &g)
        if case .string(let file)? = a1.metadata["autoencoder_file"], case .string(let last)? = a1.metadata["output_layer"], last != Sigmoid.typeName {
            // Once per run, not once per pair.
            _ = try context.cached(["unclamped-autoencoder-note", file]) { () -> Bool in
                context.note("deepdig: the autoencoder model \(file) ends in \(last), not a sigmoid; its outputs are used as they are (not clamped) and may leave the classifier's input box \(classifier.inputBox)")
                return true
            }
        }
        // Data-parallel steps train a replica alongside (its initial weights are overwritten).
        let replica = { () throws -> Model in
            var unused = RandomGenerator(seed: 0)
            return try Autoencoders.make(kind: architecture, imageShape: classifier.inputShape, generator: &unused)
        }
        try Autoencoders.train(a1, images: images.slice(batch: 0..<trainCount), target: t, settings: settings,
                               context: context, random: &g, task: "component I: A1 \(s)→\(t)", progressSpan: 0...0.48,
                               makeReplica: replica)
        let coordinates = BoxCoordinates(box: classifier.inputBox, imageShape: classifier.inputShape)
        let xt = Autoencoders.apply(a1, to: images, coordinates: coordinates)
        let predictedXt = try classifier.predictions(xt)
        let originalPredictions = shuffled.map { split.predictions[$0] }
        func share(_ rows: [Int], _ predicate: (Int) -> Bool) -> Double {
            rows.isEmpty ? .nan : Double(rows.filter(predicate).count) / Double(rows.count)
        }
        let allRows = Array(0..<shuffled.count)
        let trainRows = allRows.filter { isTrainPart[$0] }, validationRows = allRows.filter { !isTrainPart[$0] }
        let c1Validation = share(validationRows) { predictedXt[$0] == s }
        let c1Train = share(trainRows) { predictedXt[$0] == s }
        let kept1 = allRows.filter { originalPredictions[$0] == s && predictedXt[$0] == t }
        let spread1 = Autoencoders.outputDiagnostics(xt)
        var output = Output(
            component1OutputSpread: spread1.spread, component1SaturatedShare: spread1.saturated,
            component1Images: shuffled.count, component1ValidationImages: validationRows.count,
            component1AccuracyValidation: c1Validation, component1AccuracyTrain: c1Train,
            component1Kept: kept1.count, component2Kept: 0)
        guard !kept1.isEmpty else {
            // A finding about the model and the settings, not a malfunction: the direction gets an
            // empty set (success rate undefined) and the run goes on.
            context.note("deepdig \(pair): component I produced no adversarial classified as \(t) from an image classified as \(s) " +
                String(format: "(share of A1 outputs still classified %d: %.4f on the held-out images); ", s, c1Validation) +
                "the direction has no pairs for components II and III, so its success rate is undefined")
            let empty = Tensor(shape: [0] + classifier.inputShape, scalars: [])
            return Probe(try BoundarySet(pair: pair, points: empty, startPoints: empty, endPoints: empty, startIndices: [], endIndices: [],
                                         probabilities: Tensor(shape: [0, classifier.classCount], scalars: []), succeeded: [],
                                         failureReasons: [], iterations: []),
                         output: output)
        }

        // Component II.
        let a2Training = kept1.filter { isTrainPart[$0] }
        let a2 = try Autoencoders.make(kind: architecture, imageShape: classifier.inputShape, generator: &g)
        try Autoencoders.train(a2, images: xt.gather(batch: a2Training.isEmpty ? kept1 : a2Training), target: s,
                               settings: settings, context: context, random: &g, task: "component II: A2 \(t)→\(s)", progressSpan: 0.48...0.96,
                               makeReplica: replica)
        let xtKept = xt.gather(batch: kept1)
        let xs = Autoencoders.apply(a2, to: xtKept, coordinates: coordinates)
        let predictedXs = try classifier.predictions(xs)
        let keptRows = Array(0..<kept1.count)
        let c2All = share(keptRows) { predictedXs[$0] == s }
        let c2Validation = share(keptRows.filter { !isTrainPart[kept1[$0]] }) { predictedXs[$0] == s }
        var kept2 = keptRows.filter { predictedXs[$0] == s }
        let cap = options.shared.maxSamples
        if cap > 0, kept2.count > cap { kept2 = Array(kept2.prefix(cap)) }

        let spread2 = Autoencoders.outputDiagnostics(xs)
        output.component2OutputSpread = spread2.spread
        output.component2SaturatedShare = spread2.saturated
        output.component2Accuracy = c2All
        output.component2AccuracyValidation = c2Validation
        output.component2Kept = kept2.count
        context.note("deepdig \(pair): A1/A2 = \(Autoencoders.describe(a1, kind: architecture)), trained on \(split.origin); component I accuracy (share of A1 outputs classified \(s)) " +
            String(format: "%.4f on the %d held-out images; component II accuracy (share of A2 outputs classified %d) %.4f", c1Validation, validationRows.count, s, c2All))

        // Component III.
        let start = xs.gather(batch: kept2), end = xtKept.gather(batch: kept2)
        let n = kept2.count
        context.progress.begin("component III: bisection of \(n) pairs", total: 1)
        context.progress.update(position: 0.96, detail: "bisecting")
        let outcome = try BoundaryBisection.bisect(
            classifier, from: start, to: end, sources: Array(repeating: s, count: n), targets: Array(repeating: t, count: n),
            configuration: options.shared.algorithm1, checkStop: context.checkInterrupted)
        context.progress.update(position: 1, detail: "bisection done")
        context.progress.end(summary: "component III: \(outcome.succeeded.filter { $0 }.count) of \(n) pairs reached |f_s − f_t| < β")

        let sourceRows = kept2.map { kept1[$0] }
        let sourceImages = images.gather(batch: sourceRows)
        output.trainIndex = sourceRows.map { shuffled[$0] }
        output.grid = try imageGrid([sourceImages, end, start, outcome.points], rows: Array(0..<min(options.shared.gridRows, n)), name: "deepdig-grid",
                                    caption: "Columns: training image of \(classifier.className(s)), x̂t = A1(x), x̂s = A2(x̂t), borderline point (\(s)→\(t)).")
        let set = try BoundarySet(
            pair: pair, points: outcome.points, startPoints: start, endPoints: end,
            startIndices: Array(repeating: -1, count: n), endIndices: Array(repeating: -1, count: n),
            probabilities: outcome.probabilities, succeeded: outcome.succeeded, failureReasons: outcome.failureReasons,
            iterations: outcome.steps, gapTolerance: options.shared.algorithm1.tolerance,
            extras: ["lambda": Tensor(shape: [n], scalars: outcome.lambdas), "source_image": sourceImages])
        return Probe(set, output: output)
    }
}
