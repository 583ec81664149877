import BorderlineCore
import Foundation

/// The in-tree "flip-point" plugin: distance to the decision boundary along the input gradient
/// (`jacobian-flip`, Gupta's Algorithms 1–2) and DeepFool's minimal-L2 estimate (`deepfool`) for
/// the same images, and a run-wide analysis in ``finish(_:)``. See docs/flip-distance.md.
public final class FlipPointPlugin: BorderlinePlugin {
    public init() {}
    public let name = "flip-point"
    public let version = "0.1.0"
    public let summary = "Distance from images to the decision boundary: jacobian flip points and DeepFool, entropy relation, histograms."
    public let probers: [any BoundaryProber] = [JacobianFlipProber(), DeepFoolProber()]

    /// Run-wide analysis over this plugin's sets (each start image counted once):
    /// entropy vs jacobian L2 distance (Pearson, Spearman, scatter), per-class mean distance and
    /// start→flip class counts, DeepFool L2 / jacobian L2 per image, and distance histograms for
    /// the natural starts, uniform random inputs and Gaussian random inputs with the data's pixel
    /// mean and std (as many as natural starts, at most 1000; jacobian-flip with default options).
    public func finish(_ context: RunContext) throws {
        let sets = context.boundarySets
        func rows(_ producer: String) -> [Int: (set: BoundarySet, row: Int)] {
            var out: [Int: (BoundarySet, Int)] = [:]
            for s in sets where s.producer == producer {
                for r in 0..<s.count where s.startIndices[r] >= 0 && out[s.startIndices[r]] == nil { out[s.startIndices[r]] = (s, r) }
            }
            return out
        }
        let jac = rows("\(name)/jacobian-flip"), df = rows("\(name)/deepfool")
        func value(_ e: (set: BoundarySet, row: Int), _ key: String) -> Double {
            guard let t = e.set.extras[key] else { return .nan }
            return Double(t.scalars[e.row])
        }
        let store = context.store
        if !jac.isEmpty {
            let keys = jac.keys.sorted()
            let status = keys.map { value(jac[$0]!, "status") }
            let flippedKeys = keys.filter { value(jac[$0]!, "status") != 2 }
            try store.addNumber(Double(keys.count), name: "jacobian_images")
            try store.addNumber(Double(status.filter { $0 == 0 }.count), name: "jacobian_resolved")
            try store.addNumber(Double(status.filter { $0 == 1 }.count), name: "jacobian_capped")
            try store.addNumber(Double(status.filter { $0 == 2 }.count), name: "jacobian_never_flipped")
            let never = keys.filter { value(jac[$0]!, "status") == 2 }
            if !never.isEmpty { try store.addIntegers(never, name: "jacobian_never_flipped_indices") }
            // Check of the bar: every flip point is classified differently from its start.
            let same = flippedKeys.filter { value(jac[$0]!, "flip_class") == value(jac[$0]!, "start_class") }.count
            try store.addNumber(Double(same), name: "jacobian_flip_points_same_class_as_start")

            let l2 = flippedKeys.map { value(jac[$0]!, "l2") }
            for (label, key) in [("l1", "l1"), ("l2", "l2"), ("linf", "linf")] {
                let v = flippedKeys.map { value(jac[$0]!, key) }
                try store.addNumber(Stats.median(v), name: "jacobian_median_\(label)")
                try store.addNumber(Stats.mean(v), name: "jacobian_mean_\(label)")
            }
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
            try store.addNumber(pearson, name: "entropy_distance_pearson")
            try store.addNumber(spearman, name: "entropy_distance_spearman")
            try store.addArray(Tensor(shape: [entropy.count], scalars: entropy.map(Float.init)), name: "entropy")
            try store.addArray(Tensor(shape: [l2.count], scalars: l2.map(Float.init)), name: "jacobian_l2")
            try store.addIntegers(flippedKeys, name: "jacobian_image_indices")
            // Pearson on log distance too: the raw distances have a long tail (saturated, clipped
            // paths) that dominates the linear coefficient.
            let positive = (0..<l2.count).filter { l2[$0] > 0 }
            let logPearson = Stats.pearson(positive.map { entropy[$0] }, positive.map { log10(l2[$0]) })
            try store.addNumber(logPearson, name: "entropy_log_distance_pearson")
            if !positive.isEmpty {
                var chart = Chart(title: "Softmax entropy vs distance to the boundary", xLabel: "jacobian-flip L2 distance (log scale)",
                                  yLabel: "entropy of the start (nats)")
                chart.xScale = .log10
                chart.scatter(x: positive.map { l2[$0] }, y: positive.map { entropy[$0] }, label: "\(positive.count) images", radius: 1)
                store.addPicture(ResultPicture(name: "entropy-vs-distance", caption: String(format:
                    "Jacobian-flip L2 distance (x, log scale) vs softmax entropy of the start image (y), %d images; Pearson %.3f (on log10 distance %.3f), Spearman %.3f.",
                    positive.count, pearson, logPearson, spearman),
                    image: try chart.render()))
            }

            // Per class: mean distance, and which class lies beyond.
            let k = context.classifier.classCount
            var sum = [Double](repeating: 0, count: k), count = [Int](repeating: 0, count: k)
            var adjacency = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
            for key in flippedKeys {
                let a = Int(value(jac[key]!, "start_class")), f = Int(value(jac[key]!, "flip_class"))
                sum[a] += value(jac[key]!, "l2"); count[a] += 1
                if f >= 0 && f < k { adjacency[a][f] += 1 }
            }
            store.addTable(ResultTable(title: "Jacobian-flip distance by predicted class of the start", columns: ["class", "images", "mean L2", "most frequent class beyond"],
                rows: (0..<k).map { c in
                    let top = adjacency[c].indices.max { adjacency[c][$0] < adjacency[c][$1] }!
                    return [context.classifier.className(c), "\(count[c])", count[c] == 0 ? "—" : String(format: "%.4f", sum[c] / Double(count[c])),
                            adjacency[c][top] == 0 ? "—" : "\(context.classifier.className(top)) (\(adjacency[c][top]))"]
                }))
            var pairs: [(Int, Int, Int)] = []
            for a in 0..<k { for c in (a + 1)..<max(a + 1, k) { pairs.append((a, c, adjacency[a][c] + adjacency[c][a])) } }
            pairs.sort { $0.2 > $1.2 }
            store.addTable(ResultTable(title: "Most adjacent class pairs (flips between them, both directions)", columns: ["pair", "flips"],
                rows: pairs.prefix(10).map { ["\(context.classifier.className($0.0)) – \(context.classifier.className($0.1))", "\($0.2)"] }))
            try store.addIntegers(adjacency.flatMap { $0 }, shape: [k, k], name: "flip_class_counts")

            // DeepFool / jacobian L2 per image both resolve.
            let both = keys.filter { value(jac[$0]!, "status") != 2 && df[$0] != nil && value(df[$0]!, "l2").isFinite && value(jac[$0]!, "l2") > 0 }
            if !both.isEmpty {
                let ratio = both.map { value(df[$0]!, "l2") / value(jac[$0]!, "l2") }
                try store.addNumber(Double(both.count), name: "ratio_images")
                try store.addNumber(Stats.median(ratio), name: "deepfool_over_jacobian_l2_median")
                try store.addNumber(Stats.quantile(ratio, 0.1), name: "deepfool_over_jacobian_l2_p10")
                try store.addNumber(Stats.quantile(ratio, 0.9), name: "deepfool_over_jacobian_l2_p90")
                try store.addNumber(Double(ratio.filter { $0 < 1 }.count) / Double(ratio.count), name: "deepfool_shorter_fraction")
                try store.addArray(Tensor(shape: [ratio.count], scalars: ratio.map(Float.init)), name: "deepfool_over_jacobian_l2")
                let upper = max(1.0, Stats.quantile(ratio, 0.99))
                store.addPicture(ResultPicture(name: "deepfool-jacobian-ratio", caption: String(format:
                    "Histogram of DeepFool L2 / jacobian-flip L2 over %d images both resolve, x from 0 to %.3g (40 bins); median %.3f.",
                    ratio.count, upper, Stats.median(ratio)), image: try {
                        var chart = Chart(title: "DeepFool L2 / jacobian-flip L2 per image", xLabel: "ratio", yLabel: "share of images")
                        chart.histogram(ratio, bins: 40, range: 0...upper, label: String(format: "%d images, median %.3f", ratio.count, Stats.median(ratio)))
                        return try chart.render()
                    }()))
            }

            try distanceSampling(keys: flippedKeys, l2: l2, context: context)

            // Natural vs random inputs.
            let model = try context.gradients()
            let images = context.data.images
            var m = 0.0, s2 = 0.0
            images.withUnsafeBufferPointer { p in for v in p { m += Double(v) } ; m /= Double(max(1, p.count)); for v in p { s2 += (Double(v) - m) * (Double(v) - m) } ; s2 /= Double(max(1, p.count)) }
            let std = s2.squareRoot()
            let randomCount = min(1000, flippedKeys.count)
            var random = context.randomGenerator()
            let shape = [randomCount] + images.sampleShape
            let uniform = random.uniform(shape: shape, low: 0, high: 1)
            let gaussian = random.normal(shape: shape, mean: Float(m), std: Float(std)).map { min(max($0, 0), 1) }
            var c = JacobianFlipSearch.Configuration()
            c.clip = 0...1
            var medians: [Double] = []
            var series: [[Double]] = [l2]
            for (label, x) in [("uniform", uniform), ("gaussian", gaussian)] where randomCount > 0 {
                let o = try JacobianFlipSearch.search(model, x, configuration: c, checkStop: context.checkInterrupted)
                let d = RowDistances.between(x, o.points).l2
                let v = (0..<randomCount).filter { o.status[$0] != .neverFlipped }.map { Double(d[$0]) }
                try store.addNumber(Stats.median(v), name: "\(label)_median_l2")
                try store.addNumber(Double(randomCount - v.count), name: "\(label)_never_flipped")
                try store.addArray(Tensor(shape: [v.count], scalars: v.map(Float.init)), name: "\(label)_l2")
                medians.append(Stats.median(v))
                series.append(v)
                // A second opinion on the same random inputs when DeepFool is enabled: its
                // minimal-L2 estimate does not depend on where the gradient direction points.
                if !df.isEmpty {
                    let f = try DeepFoolSearch.search(model, x, checkStop: context.checkInterrupted)
                    let fd = RowDistances.between(x, f.points).l2
                    let fv = (0..<randomCount).filter { f.flipped[$0] }.map { Double(fd[$0]) }
                    try store.addNumber(Stats.median(fv), name: "\(label)_deepfool_median_l2")
                    try store.addNumber(Double(randomCount - fv.count), name: "\(label)_deepfool_not_flipped")
                }
            }
            if !df.isEmpty {
                let natural = keys.compactMap { df[$0] }.map { value($0, "l2") }.filter(\.isFinite)
                try store.addNumber(Stats.median(natural), name: "natural_deepfool_median_l2")
            }
            try store.addNumber(m, name: "data_pixel_mean")
            try store.addNumber(std, name: "data_pixel_std")
            try store.addNumber(Stats.median(l2), name: "natural_median_l2")
            let upper = max(1e-6, Stats.quantile(series.flatMap { $0 }, 0.95))
            if randomCount > 0 {
                store.addPicture(ResultPicture(name: "distance-histograms", caption: String(format:
                    "Jacobian-flip L2 distance histograms, x from 0 to %.3g (the pooled 95th percentile; larger distances fall in the last bin; 50 bins), as the share of each series per bin: natural images (median %.3g), uniform random (median %.3g), Gaussian random with the data's pixel mean %.3f and std %.3f, clipped to [0, 1] (median %.3g); %d random inputs each.",
                    upper, Stats.median(l2), medians[0], m, std, medians[1], randomCount),
                    image: try {
                        var chart = Chart(title: "Distance to the boundary: natural vs random inputs", xLabel: "jacobian-flip L2 distance", yLabel: "share of inputs")
                        for (i, name) in ["natural images", "uniform random", "Gaussian random"].enumerated() where i < series.count {
                            chart.histogram(series[i], bins: 50, range: 0...upper, label: "\(name) (median \(String(format: "%.3g", Stats.median(series[i]))))")
                        }
                        return try chart.render()
                    }()))
            }
        }
    }
}

extension FlipPointPlugin {
    /// Section 6: index sets chosen by jacobian-flip distance, and a model-extraction check — a
    /// student FCN trained on the victim's predicted labels of each set, scored by its agreement
    /// with the victim on the run's other images (those not in the set).
    static func sampleSets(keys: [Int], l2: [Double], fraction: Double, seed: UInt64) -> [(String, [Int])] {
        let order = keys.indices.sorted { l2[$0] < l2[$1] }
        let n = order.count, m = max(1, Int((Double(n) * fraction).rounded()))
        guard n >= 2 else { return [] }
        let lowest = order.prefix(m).map { keys[$0] }
        let highest = order.suffix(m).map { keys[$0] }
        // Uniform over distance: m target distances evenly spread over [min, max], each taking the
        // nearest image not yet taken.
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
        return [("uniform_over_distance", uniform), ("lowest_distance_10pct", lowest),
                ("highest_distance_10pct", highest), ("random_10pct", baseline)]
    }

    func distanceSampling(keys: [Int], l2: [Double], context: RunContext) throws {
        let store = context.store
        let sets = Self.sampleSets(keys: keys, l2: l2, fraction: 0.1, seed: context.seed ^ 0x5EED)
        for (name, idx) in sets { try store.addIntegers(idx, name: "sample_" + name) }
        guard context.classifier.inputShape == [1, 28, 28], keys.count >= 200 else {
            store.addNote("Extraction check skipped: it needs [1, 28, 28] inputs and at least 200 probed images (had \(keys.count)).")
            return
        }
        let data = context.data, victim = context.predictions
        var rows: [[String]] = []
        for (name, idx) in sets {
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
            try store.addNumber(agreement, name: "student_agreement_" + name)
            rows.append([name.replacingOccurrences(of: "_", with: " "), "\(idx.count)", String(format: "%.4f", agreement)])
        }
        store.addTable(ResultTable(title: "Extraction check: student FCN (30 epochs, Adam) trained on the victim's labels of each set; agreement with the victim on the run's other images",
                                   columns: ["training set", "images", "agreement"], rows: rows))
    }
}
