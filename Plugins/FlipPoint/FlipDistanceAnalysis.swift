import BorderlineCore
import Foundation

/// Analysis `flip-distances`: run-wide statistics over the two probers' outputs, each start image
/// counted once (its first occurrence in the run's pair order):
///
/// - outcome counts and L1/L2/L∞ medians and means of the jacobian-flip distance over the images
///   that flipped, and a check that no flip point has its start's class;
/// - softmax entropy `H(p(x₀)) = −Σ_k p_k log p_k` of the start against its jacobian L2 distance:
///   Pearson, Spearman, Pearson on log10 distance, scatter;
/// - per predicted class the mean L2 and the most frequent class beyond, and the `K × K` counts of
///   start class → flip class;
/// - DeepFool L2 / jacobian L2 per image both resolve (median, 10th/90th percentiles, histogram);
/// - Gupta's Section 6: index sets chosen by distance and a model-extraction check;
/// - jacobian-flip (and DeepFool, when enabled) at default settings on `min(1000, n)` uniform
///   random inputs in [0, 1] and Gaussian ones with the data's pixel mean and std, against the
///   natural images.
final class FlipDistanceAnalysis: Analysis {
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
        var entropyDistancePearson: Double?
        var entropyDistanceSpearman: Double?
        /// Aligned: the start's entropy, its jacobian L2 and its data index, per flipped image.
        var entropy: [Float]?
        var jacobianL2: [Float]?
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
        var extractionCheck: ResultTable?
        var uniformMedianL2: Double?
        var uniformNeverFlipped: Int?
        var uniformL2: [Float]?
        var uniformDeepfoolMedianL2: Double?
        var uniformDeepfoolNotFlipped: Int?
        var gaussianMedianL2: Double?
        var gaussianNeverFlipped: Int?
        var gaussianL2: [Float]?
        var gaussianDeepfoolMedianL2: Double?
        var gaussianDeepfoolNotFlipped: Int?
        var naturalDeepfoolMedianL2: Double?
        var dataPixelMean: Double?
        var dataPixelStd: Double?
        var naturalMedianL2: Double?
        var distanceHistograms: ResultPicture?
        var highlights: [ResultHighlight]?

        enum CodingKeys: String, CodingKey {
            case jacobianImages, jacobianResolved, jacobianCapped, jacobianNeverFlipped, jacobianNeverFlippedIndices
            case jacobianFlipPointsSameClassAsStart, jacobianMedianL1, jacobianMeanL1, jacobianMedianL2, jacobianMeanL2
            case jacobianMedianLinf, jacobianMeanLinf, entropyDistancePearson, entropyDistanceSpearman, entropy, jacobianL2
            case jacobianImageIndices, entropyLogDistancePearson, entropyVsDistance, distanceByClass, adjacentPairs, flipClassCounts
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
            case extractionCheck, uniformMedianL2, uniformNeverFlipped, uniformL2, uniformDeepfoolMedianL2, uniformDeepfoolNotFlipped
            case gaussianMedianL2, gaussianNeverFlipped, gaussianL2, gaussianDeepfoolMedianL2, gaussianDeepfoolNotFlipped
            case naturalDeepfoolMedianL2, dataPixelMean, dataPixelStd, naturalMedianL2, distanceHistograms, highlights
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

    func analyse(options: NoOptions, context: RunContext) throws -> Output {
        let jac = Self.firstStarts(context.outputs(of: JacobianFlipProber.self))
        let df = Self.firstStarts(context.outputs(of: DeepFoolProber.self))
        var out = Output()
        guard !jac.isEmpty else { return out }
        typealias X = FlipStarts.Extras
        func status(_ key: Int) -> JacobianFlipSearch.Status { let s = jac[key]!; return s.output.status[s.row] }
        func startClass(_ key: Int) -> Int { let s = jac[key]!; return s.output.startClass[s.row] }
        func flipClass(_ key: Int) -> Int { let s = jac[key]!; return s.output.flipClass[s.row] }
        let keys = jac.keys.sorted()
        let flippedKeys = keys.filter { status($0) != .neverFlipped }
        out.jacobianImages = keys.count
        out.jacobianResolved = keys.filter { status($0) == .resolved }.count
        out.jacobianCapped = keys.filter { status($0) == .capped }.count
        let never = keys.filter { status($0) == .neverFlipped }
        out.jacobianNeverFlipped = never.count
        if !never.isEmpty { out.jacobianNeverFlippedIndices = never }
        out.jacobianFlipPointsSameClassAsStart = flippedKeys.filter { flipClass($0) == startClass($0) }.count

        let l2 = flippedKeys.map { jac[$0]!.extra(X.l2) }
        let l1 = flippedKeys.map { jac[$0]!.extra(X.l1) }, linf = flippedKeys.map { jac[$0]!.extra(X.linf) }
        out.jacobianMedianL1 = Stats.median(l1)
        out.jacobianMeanL1 = Stats.mean(l1)
        out.jacobianMedianL2 = Stats.median(l2)
        out.jacobianMeanL2 = Stats.mean(l2)
        out.jacobianMedianLinf = Stats.median(linf)
        out.jacobianMeanLinf = Stats.mean(linf)

        // Entropy of the start image's softmax vs distance.
        let starts = context.data.images.gather(batch: flippedKeys)
        var entropy: [Double] = []
        var b = 0
        while b < starts.batchSize {
            let e = min(b + 512, starts.batchSize)
            entropy += Stats.entropies(try context.classifier.probabilities(starts.slice(batch: b..<e)))
            b = e
        }
        let pearson = Stats.pearson(entropy, l2), spearman = Stats.spearman(entropy, l2)
        out.entropyDistancePearson = pearson
        out.entropyDistanceSpearman = spearman
        out.entropy = entropy.map(Float.init)
        out.jacobianL2 = l2.map(Float.init)
        out.jacobianImageIndices = flippedKeys
        // Pearson on log distance too: the raw distances have a long tail (saturated, clipped
        // paths) that dominates the linear coefficient.
        let positive = (0..<l2.count).filter { l2[$0] > 0 }
        let logPearson = Stats.pearson(positive.map { entropy[$0] }, positive.map { log10(l2[$0]) })
        out.entropyLogDistancePearson = logPearson
        if !positive.isEmpty {
            var chart = Chart(title: "Softmax entropy vs distance to the boundary", xLabel: "jacobian-flip L2 distance (log scale)",
                              yLabel: "entropy of the start (nats)")
            chart.xScale = .log10
            chart.scatter(x: positive.map { l2[$0] }, y: positive.map { entropy[$0] }, label: "\(positive.count) images", radius: 1)
            out.entropyVsDistance = ResultPicture(name: "entropy-vs-distance", caption: String(format:
                "Jacobian-flip L2 distance (x, log scale) vs softmax entropy of the start image (y), %d images; Pearson %.3f (on log10 distance %.3f), Spearman %.3f.",
                positive.count, pearson, logPearson, spearman),
                image: try chart.render(), key: true)
        }

        // Per class: mean distance, and which class lies beyond.
        let classifier = context.classifier
        let k = classifier.classCount
        var sum = [Double](repeating: 0, count: k), count = [Int](repeating: 0, count: k)
        var adjacency = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for key in flippedKeys {
            let a = startClass(key), f = flipClass(key)
            sum[a] += jac[key]!.extra(X.l2); count[a] += 1
            if f >= 0 && f < k { adjacency[a][f] += 1 }
        }
        out.distanceByClass = ResultTable(title: "Jacobian-flip distance by predicted class of the start", columns: ["class", "images", "mean L2", "most frequent class beyond"],
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

        // DeepFool / jacobian L2 per image both resolve.
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

        try distanceSampling(keys: flippedKeys, l2: l2, context: context, into: &out)

        // Natural vs random inputs.
        let model = try context.gradients()
        let images = context.data.images
        var m = 0.0, s2 = 0.0
        images.withUnsafeBufferPointer { p in for v in p { m += Double(v) } ; m /= Double(max(1, p.count)); for v in p { s2 += (Double(v) - m) * (Double(v) - m) } ; s2 /= Double(max(1, p.count)) }
        let std = s2.squareRoot()
        let randomCount = min(1000, flippedKeys.count)
        // The plugin's own stream (seed ⊕ hash of the plugin's name), as before the analysis had a name.
        var random = RandomGenerator(seed: context.seed ^ StableHash.fnv1a(context.plugin))
        let shape = [randomCount] + images.sampleShape
        let uniform = random.uniform(shape: shape, low: 0, high: 1)
        let gaussian = random.normal(shape: shape, mean: Float(m), std: Float(std)).map { min(max($0, 0), 1) }
        var c = JacobianFlipSearch.Configuration()
        c.clip = 0...1
        /// Jacobian-flip (and, when enabled, DeepFool) L2 distances of random inputs `x`.
        func distances(_ x: Tensor) throws -> (l2: [Double], deepfool: [Double]?) {
            let o = try JacobianFlipSearch.search(model, x, configuration: c, checkStop: context.checkInterrupted)
            let d = RowDistances.between(x, o.points).l2
            let v = (0..<randomCount).filter { o.status[$0] != .neverFlipped }.map { Double(d[$0]) }
            // A second opinion on the same random inputs when DeepFool is enabled: its
            // minimal-L2 estimate does not depend on where the gradient direction points.
            guard !df.isEmpty else { return (v, nil) }
            let f = try DeepFoolSearch.search(model, x, checkStop: context.checkInterrupted)
            let fd = RowDistances.between(x, f.points).l2
            return (v, (0..<randomCount).filter { f.flipped[$0] }.map { Double(fd[$0]) })
        }
        var series: [[Double]] = [l2]
        if randomCount > 0 {
            let u = try distances(uniform)
            out.uniformMedianL2 = Stats.median(u.l2)
            out.uniformNeverFlipped = randomCount - u.l2.count
            out.uniformL2 = u.l2.map(Float.init)
            out.uniformDeepfoolMedianL2 = u.deepfool.map(Stats.median)
            out.uniformDeepfoolNotFlipped = u.deepfool.map { randomCount - $0.count }
            let g = try distances(gaussian)
            out.gaussianMedianL2 = Stats.median(g.l2)
            out.gaussianNeverFlipped = randomCount - g.l2.count
            out.gaussianL2 = g.l2.map(Float.init)
            out.gaussianDeepfoolMedianL2 = g.deepfool.map(Stats.median)
            out.gaussianDeepfoolNotFlipped = g.deepfool.map { randomCount - $0.count }
            series += [u.l2, g.l2]
        }
        if !df.isEmpty {
            let natural = keys.compactMap { df[$0] }.map { $0.extra(X.l2) }.filter(\.isFinite)
            out.naturalDeepfoolMedianL2 = Stats.median(natural)
        }
        out.dataPixelMean = m
        out.dataPixelStd = std
        out.naturalMedianL2 = Stats.median(l2)
        let upper = max(1e-6, Stats.quantile(series.flatMap { $0 }, 0.95))
        if randomCount > 0 {
            var chart = Chart(title: "Distance to the boundary: natural vs random inputs", xLabel: "jacobian-flip L2 distance", yLabel: "share of inputs")
            for (i, name) in ["natural images", "uniform random", "Gaussian random"].enumerated() where i < series.count {
                chart.histogram(series[i], bins: 50, range: 0...upper, label: "\(name) (median \(String(format: "%.3g", Stats.median(series[i]))))")
            }
            out.distanceHistograms = ResultPicture(name: "distance-histograms", caption: String(format:
                "Jacobian-flip L2 distance histograms, x from 0 to %.3g (the pooled 95th percentile; larger distances fall in the last bin; 50 bins), as the share of each series per bin: natural images (median %.3g), uniform random (median %.3g), Gaussian random with the data's pixel mean %.3f and std %.3f, clipped to [0, 1] (median %.3g); %d random inputs each.",
                upper, Stats.median(l2), Stats.median(series[1]), m, std, Stats.median(series[2]), randomCount),
                image: try chart.render(), key: true)
        }
        // The section's key numbers.
        var highlights = [ResultHighlight("median distance to the boundary", value: Stats.median(l2), unit: "L2",
                                          detail: "jacobian flip, \(l2.count) natural images")]
        if randomCount > 0, series.count > 1 {
            highlights.append(ResultHighlight("median distance, uniform random inputs", value: Stats.median(series[1]), unit: "L2",
                                              detail: "\(randomCount) inputs uniform in [0, 1]"))
        }
        out.highlights = highlights
        return out
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

    /// The index sets, and a model-extraction check: a student FCN trained on the victim's
    /// predicted labels of each set, scored by its agreement with the victim on the run's other
    /// images (those not in the set).
    func distanceSampling(keys: [Int], l2: [Double], context: RunContext, into out: inout Output) throws {
        let sets = Self.sampleSets(keys: keys, l2: l2, fraction: 0.1, seed: context.seed ^ 0x5EED)
        out.sampleUniformOverDistance = sets?.uniformOverDistance
        out.sampleLowestDistance10pct = sets?.lowestDistance10pct
        out.sampleHighestDistance10pct = sets?.highestDistance10pct
        out.sampleRandom10pct = sets?.random10pct
        guard let sets, context.classifier.inputShape == [1, 28, 28], keys.count >= 200 else {
            context.note("Extraction check skipped: it needs [1, 28, 28] inputs and at least 200 probed images (had \(keys.count)).")
            return
        }
        let data = context.data, victim = context.predictions
        var rows: [[String]] = []
        var agreements: [Double] = []
        for (name, idx) in sets.named {
            try context.checkInterrupted()
            let inSet = Set(idx)
            let train = try Dataset(name: name, images: data.images.gather(batch: idx), labels: idx.map { victim[$0] },
                                    classNames: context.classifier.classNames)
            let rest = (0..<data.count).filter { !inSet.contains($0) }
            let held = try Dataset(name: "rest", images: data.images.gather(batch: rest), labels: rest.map { victim[$0] },
                                   classNames: context.classifier.classNames)
            let student = try Model.fashionFCN(seed: context.seed, classNames: context.classifier.classNames)
            var config = TrainingConfiguration()
            config.epochs = 30
            config.seed = context.seed
            try ClassifierTraining.train(student, on: train, configuration: config)
            let agreement = Double(Evaluation.accuracy(student, on: held))
            agreements.append(agreement)
            rows.append([name.replacingOccurrences(of: "_", with: " "), "\(idx.count)", String(format: "%.4f", agreement)])
        }
        out.studentAgreementUniformOverDistance = agreements[0]
        out.studentAgreementLowestDistance10pct = agreements[1]
        out.studentAgreementHighestDistance10pct = agreements[2]
        out.studentAgreementRandom10pct = agreements[3]
        out.extractionCheck = ResultTable(title: "Extraction check: student FCN (30 epochs, Adam) trained on the victim's labels of each set; agreement with the victim on the run's other images",
                                          columns: ["training set", "images", "agreement"], rows: rows)
    }
}
