import BorderlineCore
import Foundation

/// Analysis `flip-distances`: run-wide statistics over the two probers' outputs, each start image
/// counted once (its first occurrence in the run's pair order):
///
/// - outcome counts and L1/L2/L∞ medians and means of the jacobian-flip distance over the images
///   that flipped, and a check that no flip point has its start's class;
/// - softmax entropy `H(p(x₀)) = −Σ_k p_k log p_k` of the start against its jacobian distance
///   (in the `norm` option's norm: L2, or L1 as in the paper's Algorithm 2): Pearson, Spearman,
///   Pearson on log10 distance, scatter;
/// - per predicted class the mean distance and the most frequent class beyond, and the `K × K`
///   counts of start class → flip class;
/// - DeepFool L2 / jacobian L2 per image both resolve (median, 10th/90th percentiles, histogram);
/// - Gupta's Section 6: index sets chosen by distance and a model-extraction check;
/// - jacobian-flip (and DeepFool, when enabled) with the run's settings (recorded in the probers'
///   outputs) on `min(1000, n)` uniform random inputs in the model's input box and Gaussian ones
///   with the data's pixel mean and std, against the natural images: histograms on a log axis,
///   one panel per input kind (the paper's Figure 2).
///
/// Image indices in the output (`jacobian_image_indices`, `jacobian_never_flipped_indices`, the
/// `sample_*` sets) are indices in the full data set, like the boundary sets' `start_indices`.
final class FlipDistanceAnalysis: Analysis {
    /// The norm of the distance the statistics, histograms and sets use.
    enum DistanceNorm: String, CaseIterable, OptionValue {
        case l2, l1
        var label: String { self == .l2 ? "L2" : "L1" }
    }

    struct Options: PluginOptions {
        @Option(help: "distance for the entropy correlations, per-class table, histograms and distance-chosen sets: l2, or l1 (the paper's Algorithm 2)")
        var norm = DistanceNorm.l2
        @Option(help: "check the first N probed images and every never-flipped one (0: off) against a dense scan of the same ray: no class change before the reported flip point, none at all for never-flipped images", in: 0...1_000_000)
        var denseCheck = 0
        @Option(help: "dense-check: grid points per ray (from 0 to the reported α, or to the saturation α for never-flipped images)", in: 10...1_000_000)
        var denseCheckSteps = 2000
        @Option(help: "extraction check: epochs each student FCN trains (Adam, the core's trainer)", in: 1...1000)
        var extractionEpochs = 30
    }

    let name = "flip-distances"
    let summary = "Run-wide: distance statistics, entropy vs distance, class adjacency, DeepFool/jacobian ratio, natural vs random inputs, distance-chosen training sets."

    /// Everything is nil when jacobian-flip probed no image. Keys are the property names in snake
    /// case (the `10pct` sets spelled out in ``CodingKeys``).
    struct Output: Encodable {
        var jacobianImages: Int?
        var jacobianResolved: Int?
        var jacobianCapped: Int?
        var jacobianNeverFlipped: Int?
        var jacobianNeverFlippedIndices: [Int]?
        /// The bar's check: flip points classified like their start (0 by construction).
        var jacobianFlipPointsSameClassAsStart: Int?
        var jacobianMedianL1: Double?
        var jacobianMeanL1: Double?
        var jacobianMedianL2: Double?
        var jacobianMeanL2: Double?
        var jacobianMedianLinf: Double?
        var jacobianMeanLinf: Double?
        /// The norm of the distances below ("l2" or "l1", the `norm` option).
        var distanceNorm: String?
        var entropyDistancePearson: Double?
        var entropyDistanceSpearman: Double?
        /// Aligned: the start's entropy, its jacobian L2 and L1 and its data-set index, per
        /// flipped image.
        var entropy: [Float]?
        var jacobianL2: [Float]?
        var jacobianL1: [Float]?
        var jacobianImageIndices: [Int]?
        var entropyLogDistancePearson: Double?
        var entropyVsDistance: ResultPicture?
        var distanceByClass: ResultTable?
        var adjacentPairs: ResultTable?
        /// `[K, K]`: row = start class, column = class beyond.
        var flipClassCounts: [[Int]]?
        var ratioImages: Int?
        var deepfoolOverJacobianL2Median: Double?
        var deepfoolOverJacobianL2P10: Double?
        var deepfoolOverJacobianL2P90: Double?
        var deepfoolShorterFraction: Double?
        var deepfoolOverJacobianL2: [Float]?
        var ratioHistogram: ResultPicture?
        var sampleUniformOverDistance: [Int]?
        var sampleLowestDistance10pct: [Int]?
        var sampleHighestDistance10pct: [Int]?
        var sampleRandom10pct: [Int]?
        var studentAgreementUniformOverDistance: Double?
        var studentAgreementLowestDistance10pct: Double?
        var studentAgreementHighestDistance10pct: Double?
        var studentAgreementRandom10pct: Double?
        /// The paper's "natural samples" row: a student trained on every run image but the random
        /// 10 % (the full set less a hold-out), scored on that 10 %.
        var studentAgreementFullSet: Double?
        /// The paper's "flip points" row: a student trained on the jacobian flip points of the
        /// flipped images, labelled by the victim at each flip point, scored on all run images.
        var studentAgreementFlipPoints: Double?
        /// The paper's "uniform random sampled" row: a student trained on as many uniform random
        /// inputs in the model's box as a 10 % set, labelled by the victim, scored on all run images.
        var studentAgreementUniformRandomInputs: Double?
        /// Training-set sizes of the extraction check's rows, in table order.
        var extractionCheckImages: [Int]?
        var extractionCheck: ResultTable?
        var uniformMedianL2: Double?
        var uniformNeverFlipped: Int?
        var uniformL2: [Float]?
        var uniformMedianL1: Double?
        var uniformL1: [Float]?
        var uniformDeepfoolMedianL2: Double?
        var uniformDeepfoolNotFlipped: Int?
        var gaussianMedianL2: Double?
        var gaussianNeverFlipped: Int?
        var gaussianL2: [Float]?
        var gaussianMedianL1: Double?
        var gaussianL1: [Float]?
        var gaussianDeepfoolMedianL2: Double?
        var gaussianDeepfoolNotFlipped: Int?
        var naturalDeepfoolMedianL2: Double?
        var dataPixelMean: Double?
        var dataPixelStd: Double?
        var naturalMedianL2: Double?
        var naturalMedianL1: Double?
        var distanceHistograms: ResultPicture?
        var highlights: [ResultHighlight]?
        /// `dense-check`: images checked, flipped ones among them, those with a class change on
        /// the dense grid before the reported flip point (beyond 0.1 % of its distance), those
        /// farther than 1.5× the dense scan's first crossing, never-flipped ones whose ray does
        /// change class, and the largest ratio reported / dense distance (in the `norm` norm).
        var denseCheckImages: Int?
        /// Of those, the first N images by data-set index (the rest: never-flipped images outside them).
        var denseCheckSample: Int?
        var denseCheckSteps: Int?
        var denseCheckFlipped: Int?
        var denseCheckEarlierCrossings: Int?
        var denseCheckBeyond15x: Int?
        var denseCheckNeverFlippedThatCross: Int?
        var denseCheckMaxRatio: Double?
        var denseCheckMedianDistance: Double?
        var denseCheckDataSetIndices: [Int]?
        /// Aligned with `dense_check_data_set_indices`: the reported distance and the dense
        /// scan's first crossing (NaN: none), in the `norm` norm.
        var denseCheckReported: [Float]?
        var denseCheckFirstCrossing: [Float]?

        enum CodingKeys: String, CodingKey {
            case jacobianImages, jacobianResolved, jacobianCapped, jacobianNeverFlipped, jacobianNeverFlippedIndices
            case jacobianFlipPointsSameClassAsStart, jacobianMedianL1, jacobianMeanL1, jacobianMedianL2, jacobianMeanL2
            case jacobianMedianLinf, jacobianMeanLinf, distanceNorm, entropyDistancePearson, entropyDistanceSpearman, entropy, jacobianL2
            case jacobianL1, jacobianImageIndices, entropyLogDistancePearson, entropyVsDistance, distanceByClass, adjacentPairs, flipClassCounts
            case ratioImages, deepfoolOverJacobianL2Median, deepfoolOverJacobianL2P10, deepfoolOverJacobianL2P90
            case deepfoolShorterFraction, deepfoolOverJacobianL2, ratioHistogram
            case sampleUniformOverDistance
            case sampleLowestDistance10pct = "sample_lowest_distance_10pct"
            case sampleHighestDistance10pct = "sample_highest_distance_10pct"
            case sampleRandom10pct = "sample_random_10pct"
            case studentAgreementUniformOverDistance
            case studentAgreementLowestDistance10pct = "student_agreement_lowest_distance_10pct"
            case studentAgreementHighestDistance10pct = "student_agreement_highest_distance_10pct"
            case studentAgreementRandom10pct = "student_agreement_random_10pct"
            case studentAgreementFullSet, studentAgreementFlipPoints, studentAgreementUniformRandomInputs, extractionCheckImages
            case extractionCheck, uniformMedianL2, uniformNeverFlipped, uniformL2, uniformMedianL1, uniformL1
            case uniformDeepfoolMedianL2, uniformDeepfoolNotFlipped
            case gaussianMedianL2, gaussianNeverFlipped, gaussianL2, gaussianMedianL1, gaussianL1
            case gaussianDeepfoolMedianL2, gaussianDeepfoolNotFlipped
            case naturalDeepfoolMedianL2, dataPixelMean, dataPixelStd, naturalMedianL2, naturalMedianL1, distanceHistograms, highlights
            case denseCheckImages, denseCheckSample, denseCheckSteps, denseCheckFlipped, denseCheckEarlierCrossings
            case denseCheckBeyond15x = "dense_check_beyond_1_5x"
            case denseCheckNeverFlippedThatCross, denseCheckMaxRatio, denseCheckMedianDistance, denseCheckDataSetIndices
            case denseCheckReported, denseCheckFirstCrossing
        }
    }

    /// One start image: the set and row where it first occurs, and the prober's output for the set.
    struct Start<ProberOutput> {
        let set: BoundarySet
        let row: Int
        let output: ProberOutput
        func extra(_ key: String) -> Double {
            guard let t = set.extras[key] else { return .nan }
            return Double(t.scalars[row])
        }
    }

    /// The first occurrence of every data image among the starts of `outputs`, by data index.
    static func firstStarts<O>(_ outputs: [SetOutput<O>]) -> [Int: Start<O>] {
        var out: [Int: Start<O>] = [:]
        for o in outputs {
            for r in 0..<o.set.count where o.set.startIndices[r] >= 0 && out[o.set.startIndices[r]] == nil {
                out[o.set.startIndices[r]] = Start(set: o.set, row: r, output: o.output)
            }
        }
        return out
    }

    func analyse(options: Options, context: RunContext) throws -> Output {
        let jacOutputs = context.outputs(of: JacobianFlipProber.self), dfOutputs = context.outputs(of: DeepFoolProber.self)
        let jac = Self.firstStarts(jacOutputs)
        let df = Self.firstStarts(dfOutputs)
        var out = Output()
        guard !jac.isEmpty else { return out }
        typealias X = FlipStarts.Extras
        let norm = options.norm, normKey = norm == .l2 ? X.l2 : X.l1
        func status(_ key: Int) -> JacobianFlipSearch.Status { let s = jac[key]!; return s.output.status[s.row] }
        func startClass(_ key: Int) -> Int { let s = jac[key]!; return s.output.startClass[s.row] }
        func flipClass(_ key: Int) -> Int { let s = jac[key]!; return s.output.flipClass[s.row] }
        // Keys are rows of the run's data; the output stores data-set indices.
        let keys = jac.keys.sorted()
        let flippedKeys = keys.filter { status($0) != .neverFlipped }
        out.jacobianImages = keys.count
        out.jacobianResolved = keys.filter { status($0) == .resolved }.count
        out.jacobianCapped = keys.filter { status($0) == .capped }.count
        let never = keys.filter { status($0) == .neverFlipped }
        out.jacobianNeverFlipped = never.count
        if !never.isEmpty { out.jacobianNeverFlippedIndices = context.dataSetIndices(ofRows: never) }
        out.jacobianFlipPointsSameClassAsStart = flippedKeys.filter { flipClass($0) == startClass($0) }.count

        let l2 = flippedKeys.map { jac[$0]!.extra(X.l2) }
        let l1 = flippedKeys.map { jac[$0]!.extra(X.l1) }, linf = flippedKeys.map { jac[$0]!.extra(X.linf) }
        let dist = norm == .l2 ? l2 : l1
        out.jacobianMedianL1 = Stats.median(l1)
        out.jacobianMeanL1 = Stats.mean(l1)
        out.jacobianMedianL2 = Stats.median(l2)
        out.jacobianMeanL2 = Stats.mean(l2)
        out.jacobianMedianLinf = Stats.median(linf)
        out.jacobianMeanLinf = Stats.mean(linf)
        out.distanceNorm = norm.rawValue

        // Entropy of the start image's softmax vs distance.
        let starts = context.data.images.gather(batch: flippedKeys)
        var entropy: [Double] = []
        var b = 0
        while b < starts.batchSize {
            let e = min(b + 512, starts.batchSize)
            entropy += Stats.entropies(try context.classifier.probabilities(starts.slice(batch: b..<e)))
            b = e
        }
        let pearson = Stats.pearson(entropy, dist), spearman = Stats.spearman(entropy, dist)
        out.entropyDistancePearson = pearson
        out.entropyDistanceSpearman = spearman
        out.entropy = entropy.map(Float.init)
        out.jacobianL2 = l2.map(Float.init)
        out.jacobianL1 = l1.map(Float.init)
        out.jacobianImageIndices = context.dataSetIndices(ofRows: flippedKeys)
        // Pearson on log distance too: the raw distances have a long tail (saturated, clipped
        // paths) that dominates the linear coefficient.
        let positive = (0..<dist.count).filter { dist[$0] > 0 }
        let logPearson = Stats.pearson(positive.map { entropy[$0] }, positive.map { log10(dist[$0]) })
        out.entropyLogDistancePearson = logPearson
        if !positive.isEmpty {
            var chart = Chart(title: "Softmax entropy vs distance to the boundary", xLabel: "jacobian-flip \(norm.label) distance (log scale)",
                              yLabel: "entropy of the start (nats)")
            chart.xScale = .log10
            chart.scatter(x: positive.map { dist[$0] }, y: positive.map { entropy[$0] }, label: "\(positive.count) images", radius: 1)
            out.entropyVsDistance = ResultPicture(name: "entropy-vs-distance", caption: String(format:
                "Jacobian-flip %@ distance (x, log scale) vs softmax entropy of the start image (y), %d images; Pearson %.3f (on log10 distance %.3f), Spearman %.3f.",
                norm.label, positive.count, pearson, logPearson, spearman),
                image: try chart.render(), key: true)
        }

        // Per class: mean distance, and which class lies beyond.
        let classifier = context.classifier
        let k = classifier.classCount
        var sum = [Double](repeating: 0, count: k), count = [Int](repeating: 0, count: k)
        var adjacency = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for key in flippedKeys {
            let a = startClass(key), f = flipClass(key)
            sum[a] += jac[key]!.extra(normKey); count[a] += 1
            if f >= 0 && f < k { adjacency[a][f] += 1 }
        }
        out.distanceByClass = ResultTable(title: "Jacobian-flip distance by predicted class of the start", columns: ["class", "images", "mean \(norm.label)", "most frequent class beyond"],
            rows: (0..<k).map { c in
                let top = adjacency[c].indices.max { adjacency[c][$0] < adjacency[c][$1] }!
                return [classifier.className(c), "\(count[c])", count[c] == 0 ? "—" : String(format: "%.4f", sum[c] / Double(count[c])),
                        adjacency[c][top] == 0 ? "—" : "\(classifier.className(top)) (\(adjacency[c][top]))"]
            })
        var pairs: [(Int, Int, Int)] = []
        for a in 0..<k { for c in (a + 1)..<max(a + 1, k) { pairs.append((a, c, adjacency[a][c] + adjacency[c][a])) } }
        pairs.sort { $0.2 > $1.2 }
        out.adjacentPairs = ResultTable(title: "Most adjacent class pairs (flips between them, both directions)", columns: ["pair", "flips"],
            rows: pairs.prefix(10).map { ["\(classifier.className($0.0)) – \(classifier.className($0.1))", "\($0.2)"] })
        out.flipClassCounts = adjacency

        // DeepFool / jacobian L2 per image both resolve (L2: DeepFool minimises it).
        let both = keys.filter { status($0) != .neverFlipped && df[$0] != nil && df[$0]!.extra(X.l2).isFinite && jac[$0]!.extra(X.l2) > 0 }
        if !both.isEmpty {
            let ratio = both.map { df[$0]!.extra(X.l2) / jac[$0]!.extra(X.l2) }
            out.ratioImages = both.count
            out.deepfoolOverJacobianL2Median = Stats.median(ratio)
            out.deepfoolOverJacobianL2P10 = Stats.quantile(ratio, 0.1)
            out.deepfoolOverJacobianL2P90 = Stats.quantile(ratio, 0.9)
            out.deepfoolShorterFraction = Double(ratio.filter { $0 < 1 }.count) / Double(ratio.count)
            out.deepfoolOverJacobianL2 = ratio.map(Float.init)
            let upper = max(1.0, Stats.quantile(ratio, 0.99))
            var chart = Chart(title: "DeepFool L2 / jacobian-flip L2 per image", xLabel: "ratio", yLabel: "share of images")
            chart.histogram(ratio, bins: 40, range: 0...upper, label: String(format: "%d images, median %.3f", ratio.count, Stats.median(ratio)))
            out.ratioHistogram = ResultPicture(name: "deepfool-jacobian-ratio", caption: String(format:
                "Histogram of DeepFool L2 / jacobian-flip L2 over %d images both resolve, x from 0 to %.3g (40 bins); median %.3f.",
                ratio.count, upper, Stats.median(ratio)), image: try chart.render())
        }

        let flipPoints = flippedKeys.isEmpty ? Tensor(zeros: [0] + context.data.images.sampleShape) : Tensor.concatenate(batches: flippedKeys.map { key in
            let start = jac[key]!
            return start.set.points.slice(batch: start.row..<(start.row + 1))
        })
        try distanceSampling(keys: flippedKeys, distances: dist, flipPoints: flipPoints, epochs: options.extractionEpochs,
                             context: context, into: &out)

        // Natural vs random inputs, searched with the run's settings.
        let model = try context.gradients()
        let images = context.data.images
        let box = classifier.inputBox
        try box.check(inputShape: classifier.inputShape)
        let jacSettings = jacOutputs.lazy.compactMap(\.output.settings).first
        let jacConfig = try jacSettings?.configuration(box: box) ?? JacobianFlipProber.Options().configuration(box: box)
        let dfConfig = dfOutputs.lazy.compactMap(\.output.settings).first?.configuration(box: box) ?? {
            var c = DeepFoolSearch.Configuration()
            c.box = box
            return c
        }()
        var m = 0.0, s2 = 0.0
        images.withUnsafeBufferPointer { p in for v in p { m += Double(v) } ; m /= Double(max(1, p.count)); for v in p { s2 += (Double(v) - m) * (Double(v) - m) } ; s2 /= Double(max(1, p.count)) }
        let std = s2.squareRoot()
        let randomCount = min(1000, flippedKeys.count)
        // The plugin's own stream (seed ⊕ hash of the plugin's name), as before the analysis had a name.
        var random = RandomGenerator(seed: context.seed ^ StableHash.fnv1a(context.plugin))
        let shape = [randomCount] + images.sampleShape
        // Uniform in the model's box (for the unit box the same draws as `uniform(low: 0, high: 1)`).
        let uniform = box.uniformSamples(randomCount, inputShape: images.sampleShape, generator: &random)
        var gaussian = random.normal(shape: shape, mean: Float(m), std: Float(std))
        if jacConfig.box != nil { box.clamp(&gaussian) }
        /// Jacobian-flip (and, when enabled, DeepFool) L2 and L1 distances of random inputs `x`.
        func distances(_ x: Tensor) throws -> (l2: [Double], l1: [Double], deepfool: (l2: [Double], l1: [Double])?) {
            let o = try JacobianFlipSearch.search(model, x, configuration: jacConfig, checkStop: context.checkInterrupted)
            let d = RowDistances.between(x, o.points)
            let rows = (0..<randomCount).filter { o.status[$0] != .neverFlipped }
            // A second opinion on the same random inputs when DeepFool is enabled: its
            // minimal-L2 estimate does not depend on where the gradient direction points.
            guard !df.isEmpty else { return (rows.map { Double(d.l2[$0]) }, rows.map { Double(d.l1[$0]) }, nil) }
            let f = try DeepFoolSearch.search(model, x, configuration: dfConfig, checkStop: context.checkInterrupted)
            let fd = RowDistances.between(x, f.points)
            let frows = (0..<randomCount).filter { f.flipped[$0] }
            return (rows.map { Double(d.l2[$0]) }, rows.map { Double(d.l1[$0]) },
                    (frows.map { Double(fd.l2[$0]) }, frows.map { Double(fd.l1[$0]) }))
        }
        let naturalDeepfool: (l2: [Double], l1: [Double])? = df.isEmpty ? nil : {
            let found = keys.compactMap { df[$0] }.filter { $0.extra(X.l2).isFinite }
            return (found.map { $0.extra(X.l2) }, found.map { $0.extra(X.l1) })
        }()
        var panels: [HistogramPanel] = [HistogramPanel(name: "natural images", jacobian: dist,
                                                       deepfool: naturalDeepfool.map { norm == .l2 ? $0.l2 : $0.l1 })]
        if randomCount > 0 {
            let u = try distances(uniform)
            out.uniformMedianL2 = Stats.median(u.l2)
            out.uniformMedianL1 = Stats.median(u.l1)
            out.uniformNeverFlipped = randomCount - u.l2.count
            out.uniformL2 = u.l2.map(Float.init)
            out.uniformL1 = u.l1.map(Float.init)
            out.uniformDeepfoolMedianL2 = u.deepfool.map { Stats.median($0.l2) }
            out.uniformDeepfoolNotFlipped = u.deepfool.map { randomCount - $0.l2.count }
            let g = try distances(gaussian)
            out.gaussianMedianL2 = Stats.median(g.l2)
            out.gaussianMedianL1 = Stats.median(g.l1)
            out.gaussianNeverFlipped = randomCount - g.l2.count
            out.gaussianL2 = g.l2.map(Float.init)
            out.gaussianL1 = g.l1.map(Float.init)
            out.gaussianDeepfoolMedianL2 = g.deepfool.map { Stats.median($0.l2) }
            out.gaussianDeepfoolNotFlipped = g.deepfool.map { randomCount - $0.l2.count }
            panels.append(HistogramPanel(name: "uniform random in \(box)", jacobian: norm == .l2 ? u.l2 : u.l1,
                                         deepfool: u.deepfool.map { norm == .l2 ? $0.l2 : $0.l1 }))
            panels.append(HistogramPanel(name: String(format: "Gaussian random (mean %.2f, std %.2f)", m, std), jacobian: norm == .l2 ? g.l2 : g.l1,
                                         deepfool: g.deepfool.map { norm == .l2 ? $0.l2 : $0.l1 }))
        }
        if let naturalDeepfool { out.naturalDeepfoolMedianL2 = Stats.median(naturalDeepfool.l2) }
        out.dataPixelMean = m
        out.dataPixelStd = std
        out.naturalMedianL2 = Stats.median(l2)
        out.naturalMedianL1 = Stats.median(l1)
        if randomCount > 0 {
            let (image, range) = try Self.histogramPanels(panels, xLabel: "\(norm.label) distance to the boundary (log scale)")
            let medians = panels.map { String(format: "%.3g", Stats.median($0.jacobian)) }
            out.distanceHistograms = ResultPicture(name: "distance-histograms", caption: String(format:
                "Jacobian-flip %@ distance histograms, one panel per input kind (the paper's Figure 2), on a log x axis from %.3g to %.3g (40 log-spaced bins, the same in every panel), as the share of each panel's inputs per bin: natural images (median %@), %d uniform random inputs in the model's input box %@ (median %@), %d Gaussian random inputs with the data's pixel mean %.3f and std %.3f%@ (median %@)%@. Searched with the run's jacobian-flip settings (alpha-schedule %@).",
                norm.label, range.lowerBound, range.upperBound, medians[0], randomCount, "\(box)", medians[1], randomCount, m, std,
                jacConfig.box != nil ? ", clipped to the box" : "", medians[2],
                df.isEmpty ? "" : "; DeepFool's distances for the same inputs in grey", jacConfig.schedule.rawValue),
                image: image, key: true)
        }
        if options.denseCheck > 0 {
            // The first N images, and every never-flipped one (the bar: each shown not to change
            // class along its ray).
            let sample = Array(keys.prefix(options.denseCheck)), inSample = Set(sample)
            out.denseCheckSample = sample.count
            try denseCheck(rows: sample + never.filter { !inSample.contains($0) }, status: status, extra: { jac[$0]!.extra($1) }, normKey: normKey,
                           configuration: jacConfig, steps: options.denseCheckSteps, model: model, context: context, into: &out)
        }
        // The section's key numbers.
        var highlights = [ResultHighlight("median distance to the boundary", value: Stats.median(dist), unit: norm.label,
                                          detail: "jacobian flip, \(dist.count) natural images")]
        if randomCount > 0, panels.count > 1 {
            highlights.append(ResultHighlight("median distance, uniform random inputs", value: Stats.median(panels[1].jacobian), unit: norm.label,
                                              detail: "\(randomCount) inputs uniform in \(box)"))
        }
        out.highlights = highlights
        return out
    }

    /// The `dense-check` option: ``JacobianFlipSearch/denseFirstCrossing(_:_:configuration:steps:upTo:checkStop:)``
    /// on `rows` with the run's settings, from 0 to each reported α (never flipped: to the
    /// saturation α).
    func denseCheck(rows: [Int], status: (Int) -> JacobianFlipSearch.Status, extra: (Int, String) -> Double, normKey: String,
                    configuration: JacobianFlipSearch.Configuration, steps: Int, model: any DifferentiableClassifier,
                    context: RunContext, into out: inout Output) throws {
        let x = context.data.images.gather(batch: rows)
        let ends = rows.map { status($0) == .neverFlipped ? Float.nan : Float(extra($0, FlipStarts.Extras.alpha)) }
        let scan = try JacobianFlipSearch.denseFirstCrossing(model, x, configuration: configuration, steps: steps, upTo: ends,
                                                             checkStop: context.checkInterrupted)
        let d = RowDistances.between(x, scan.points)
        let dense = normKey == FlipStarts.Extras.l2 ? d.l2 : d.l1
        var flipped = 0, earlier = 0, beyond = 0, crossing = 0, maxRatio = 0.0
        var firsts: [Double] = []
        for (i, r) in rows.enumerated() {
            if status(r) == .neverFlipped {
                if !scan.alphas[i].isNaN { crossing += 1 }
                continue
            }
            flipped += 1
            let reported = extra(r, normKey), first = Double(dense[i])
            guard !scan.alphas[i].isNaN else { continue }   // cannot happen: the last grid point is the flip point
            firsts.append(first)
            if reported > first * (1 + 1e-3) + 1e-6 { earlier += 1 }
            if reported > 1.5 * first { beyond += 1 }
            if first > 0 { maxRatio = max(maxRatio, reported / first) }
        }
        out.denseCheckImages = rows.count
        out.denseCheckSteps = steps
        out.denseCheckFlipped = flipped
        out.denseCheckEarlierCrossings = earlier
        out.denseCheckBeyond15x = beyond
        out.denseCheckNeverFlippedThatCross = crossing
        out.denseCheckMaxRatio = maxRatio
        out.denseCheckMedianDistance = Stats.median(firsts)
        out.denseCheckDataSetIndices = context.dataSetIndices(ofRows: rows)
        out.denseCheckReported = rows.map { Float(extra($0, normKey)) }
        out.denseCheckFirstCrossing = (0..<rows.count).map { scan.alphas[$0].isNaN ? .nan : dense[$0] }
    }

    /// One panel of the distance histograms: one input kind.
    struct HistogramPanel {
        var name: String
        var jacobian: [Double]
        var deepfool: [Double]?
    }

    /// Histograms of positive distances over log-spaced bins, one chart per panel side by side,
    /// with the same x range (pooled min…max of the positive values) and y range. Returns the
    /// picture and the x range.
    static func histogramPanels(_ panels: [HistogramPanel], xLabel: String, bins: Int = 40) throws -> (PNGImage, ClosedRange<Double>) {
        let pooled = panels.flatMap { $0.jacobian + ($0.deepfool ?? []) }.filter { $0 > 0 && $0.isFinite }
        var lo = pooled.min() ?? 1e-3, hi = pooled.max() ?? 1
        if !(hi > lo) { lo /= 2; hi *= 2 }
        let a = log10(lo), span = log10(hi) - a
        let edges = (0...bins).map { pow(10, a + span * Double($0) / Double(bins)) }
        func shares(_ v: [Double]) -> [Double] {
            var c = [Double](repeating: 0, count: bins)
            let finite = v.filter { $0 > 0 && $0.isFinite }
            for x in finite { c[min(bins - 1, max(0, Int(((log10(x) - a) / span * Double(bins)).rounded(.down))))] += 1 }
            return finite.isEmpty ? c : c.map { $0 / Double(finite.count) }
        }
        let jac = panels.map { shares($0.jacobian) }, dfs = panels.map { $0.deepfool.map(shares) }
        let top = max(1e-6, (jac + dfs.compactMap { $0 }).flatMap { $0 }.max() ?? 0) * 1.08
        func outline(_ h: [Double]) -> (x: [Double], y: [Double]) {
            var x = [edges[0]], y = [0.0]
            for b in 0..<bins { x += [edges[b], edges[b + 1]]; y += [h[b], h[b]] }
            x.append(edges[bins]); y.append(0)
            return (x, y)
        }
        var images: [PNGImage] = []
        for (i, p) in panels.enumerated() {
            var chart = Chart(title: p.name, xLabel: xLabel, yLabel: "share of inputs", width: 520, height: 400)
            chart.xScale = .log10
            chart.xRange = lo...hi
            chart.yRange = 0...top
            let j = outline(jac[i])
            chart.line(x: j.x, y: j.y, label: String(format: "jacobian flip: %d, median %.3g", p.jacobian.count, Stats.median(p.jacobian)),
                       colour: Palette.colour(i))
            if let d = dfs[i], let values = p.deepfool {
                let o = outline(d)
                chart.line(x: o.x, y: o.y, label: String(format: "DeepFool: %d, median %.3g", values.count, Stats.median(values)),
                           colour: [150, 150, 150], thickness: 1)
            }
            images.append(try chart.render())
        }
        let width = images.reduce(0) { $0 + $1.width }, height = images.map(\.height).max() ?? 1
        var canvas = try PNGImage(width: max(1, width), height: height, colour: [255, 255, 255])
        var x0 = 0
        for img in images {
            let c = img.channels
            precondition(c == canvas.channels, "chart and canvas channels differ")
            for y in 0..<img.height {
                let src = y * img.width * c, dst = (y * canvas.width + x0) * c
                canvas.pixels.replaceSubrange(dst..<(dst + img.width * c), with: img.pixels[src..<(src + img.width * c)])
            }
            x0 += img.width
        }
        return (canvas, lo...hi)
    }
}

extension FlipDistanceAnalysis {
    /// Section 6's index sets chosen by jacobian-flip distance.
    struct SampleSets {
        /// `m` target distances evenly spread over [min, max], each taking the nearest image not yet taken.
        var uniformOverDistance: [Int]
        var lowestDistance10pct: [Int]
        var highestDistance10pct: [Int]
        /// A seeded random subset of the same size, the baseline.
        var random10pct: [Int]

        /// The sets with their names, in the order the report lists them.
        var named: [(String, [Int])] {
            [("uniform_over_distance", uniformOverDistance), ("lowest_distance_10pct", lowestDistance10pct),
             ("highest_distance_10pct", highestDistance10pct), ("random_10pct", random10pct)]
        }
    }

    /// Section 6: index sets chosen by jacobian-flip distance (nil for fewer than 2 images).
    static func sampleSets(keys: [Int], l2: [Double], fraction: Double, seed: UInt64) -> SampleSets? {
        let order = keys.indices.sorted { l2[$0] < l2[$1] }
        let n = order.count, m = max(1, Int((Double(n) * fraction).rounded()))
        guard n >= 2 else { return nil }
        let lowest = order.prefix(m).map { keys[$0] }
        let highest = order.suffix(m).map { keys[$0] }
        let sorted = order.map { l2[$0] }
        let lo = sorted.first!, hi = sorted.last!
        var taken = [Bool](repeating: false, count: n)
        var uniform: [Int] = []
        for i in 0..<m {
            let t = lo + (Double(i) + 0.5) / Double(m) * (hi - lo)
            var best = -1, bestDiff = Double.infinity
            for j in 0..<n where !taken[j] && abs(sorted[j] - t) < bestDiff { bestDiff = abs(sorted[j] - t); best = j }
            if best >= 0 { taken[best] = true; uniform.append(keys[order[best]]) }
        }
        var random = RandomGenerator(seed: seed)
        let baseline = random.permutation(n).prefix(m).map { keys[$0] }
        return SampleSets(uniformOverDistance: uniform, lowestDistance10pct: lowest, highestDistance10pct: highest, random10pct: baseline)
    }

    /// The student: the shipped FCN's architecture (784 → 50 → 50 → K, ReLU; `Model.fashionFCN`
    /// with K outputs), one output per class of the victim.
    static func studentFCN(seed: UInt64, classNames: [String]) throws -> Model {
        try Model.fashionFCN(seed: seed, classCount: classNames.count, classNames: classNames)
    }

    /// The index sets, and a model-extraction check (the paper's Tables 1–2): a student FCN
    /// trained on the victim's predicted labels of each training set, scored by its agreement
    /// with the victim on images it did not train on. Rows: the distance-chosen 10 % sets and a
    /// random 10 % (scored on the run's other images); the full set (every run image but the
    /// random 10 %, scored on that 10 %); the flip points of the flipped images (`flipPoints`,
    /// aligned with `keys`, labelled by the victim at the point; scored on all run images); and
    /// uniform random inputs in the model's box, as many as a 10 % set (scored on all run images).
    func distanceSampling(keys: [Int], distances: [Double], flipPoints: Tensor, epochs: Int = 30, context: RunContext,
                          into out: inout Output) throws {
        let sets = Self.sampleSets(keys: keys, l2: distances, fraction: 0.1, seed: context.seed ^ 0x5EED)
        // Stored as data-set indices; the sets themselves are run rows (for training below).
        out.sampleUniformOverDistance = sets.map { context.dataSetIndices(ofRows: $0.uniformOverDistance) }
        out.sampleLowestDistance10pct = sets.map { context.dataSetIndices(ofRows: $0.lowestDistance10pct) }
        out.sampleHighestDistance10pct = sets.map { context.dataSetIndices(ofRows: $0.highestDistance10pct) }
        out.sampleRandom10pct = sets.map { context.dataSetIndices(ofRows: $0.random10pct) }
        guard let sets, context.classifier.inputShape.reduce(1, *) == 784, keys.count >= 200 else {
            context.note("Extraction check skipped: it needs 784-value (28×28) inputs and at least 200 probed images (had \(keys.count)).")
            return
        }
        let data = context.data, victim = context.predictions
        let names = context.classifier.classNames
        /// The student sees 28×28 images whatever the model's own shape of 784 values.
        func images(_ t: Tensor) -> Tensor { Tensor(shape: [t.batchSize, 1, 28, 28], scalars: t.scalars) }
        func agreement(trainX: Tensor, trainY: [Int], name: String, heldRows: [Int]) throws -> Double {
            try context.checkInterrupted()
            let train = try Dataset(name: name, images: images(trainX), labels: trainY, classNames: names)
            let held = try Dataset(name: "held-out", images: images(data.images.gather(batch: heldRows)), labels: heldRows.map { victim[$0] },
                                   classNames: names)
            let student = try Self.studentFCN(seed: context.seed, classNames: names)
            var config = TrainingConfiguration()
            config.epochs = epochs
            config.seed = context.seed
            try ClassifierTraining.train(student, on: train, configuration: config)
            return Double(Evaluation.accuracy(student, on: held))
        }
        var rows: [[String]] = [], sizes: [Int] = []
        var agreements: [Double] = []
        let all = Array(0..<data.count)
        // Full set: every run image but the random 10 %, which it is scored on.
        let randomSet = Set(sets.random10pct)
        let fullRows = all.filter { !randomSet.contains($0) }
        let full = try agreement(trainX: data.images.gather(batch: fullRows), trainY: fullRows.map { victim[$0] }, name: "full set",
                                 heldRows: sets.random10pct)
        out.studentAgreementFullSet = full
        rows.append(["full set (all but the random 10 %)", "\(fullRows.count)", String(format: "%.4f", full), "the random 10 %"])
        sizes.append(fullRows.count)
        for (name, idx) in sets.named {
            let inSet = Set(idx)
            let rest = all.filter { !inSet.contains($0) }
            let a = try agreement(trainX: data.images.gather(batch: idx), trainY: idx.map { victim[$0] }, name: name, heldRows: rest)
            agreements.append(a)
            rows.append([name.replacingOccurrences(of: "_", with: " "), "\(idx.count)", String(format: "%.4f", a), "the other run images"])
            sizes.append(idx.count)
        }
        out.studentAgreementUniformOverDistance = agreements[0]
        out.studentAgreementLowestDistance10pct = agreements[1]
        out.studentAgreementHighestDistance10pct = agreements[2]
        out.studentAgreementRandom10pct = agreements[3]
        // Flip points: the points themselves, labelled by the victim there (the class beyond the boundary).
        let flipLabels = try context.classifier.predictions(flipPoints)
        let flip = try agreement(trainX: flipPoints, trainY: flipLabels, name: "flip points", heldRows: all)
        out.studentAgreementFlipPoints = flip
        rows.append(["flip points (jacobian-flip, victim's label there)", "\(flipPoints.batchSize)", String(format: "%.4f", flip), "all run images"])
        sizes.append(flipPoints.batchSize)
        // Uniform random inputs in the model's box, as many as a 10 % set.
        var random = RandomGenerator(seed: context.seed ^ 0x0E47_AC70)
        let m = sets.random10pct.count
        let noise = context.classifier.inputBox.uniformSamples(m, inputShape: data.images.sampleShape, generator: &random)
        let uniform = try agreement(trainX: noise, trainY: try context.classifier.predictions(noise), name: "uniform random inputs", heldRows: all)
        out.studentAgreementUniformRandomInputs = uniform
        rows.append(["uniform random inputs (as many as 10 %)", "\(m)", String(format: "%.4f", uniform), "all run images"])
        sizes.append(m)
        out.extractionCheckImages = sizes
        out.extractionCheck = ResultTable(title: "Extraction check (Gupta, Tables 1–2): student FCN (\(epochs) epochs, Adam) trained on the victim's labels of each set; agreement with the victim on images it did not train on",
                                          columns: ["training set", "images", "agreement", "scored on"], rows: rows)
    }
}
