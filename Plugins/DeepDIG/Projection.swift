import BorderlineCore
import Foundation

/// Metric `projection` (paper Figures 4–6): PCA (LAPACK, ``PCA``) fitted on the classifier's
/// embeddings of the class-s and class-t training images, then the training, test and boundary
/// points of the set projected onto the first two axes and drawn as a PNG scatter plot. The PCA
/// of an unordered pair is fitted once per run (``RunContext/cached(_:_:)``) and shared by both
/// directions (and every prober's sets), so the pictures of s→t and t→s are in the same
/// coordinates. When the run holds both directions of a prober, the two are drawn in one picture,
/// as the paper does (the set with s < t draws it, the other adds no picture of its own).
final class EmbeddingProjection: Metric {
    let name = "projection"
    let summary = "PCA of the training embeddings of s and t; scatter of train, test and borderline points (paper Figures 4–6)."

    struct Options: PluginOptions, Sendable {
        @OptionGroup var data: TrainDataOption
        @Option(help: "training points drawn per class (random; the PCA is fitted on all of them; 0: draw all)", in: 0...1_000_000)
        var trainPoints = 1000
        func validate() throws { try data.validate() }
    }

    /// summary.json `pairs."s-t".projection.<producer>.…`; absent but for the note when the
    /// classifier exposes no embedding.
    struct Output: Encodable {
        var pc1Variance: Double?
        var pc2Variance: Double?
        var borderlinePoints: Int?
        /// The successful boundary points on the first two axes, `[n, 2]`.
        var borderlinePca: Tensor?
        var pca: ResultPicture?
        var note: ResultTable?
    }

    struct Fitted {
        var pca: PCA
        /// Projected training points per class (all of them).
        var train: [Int: [(Float, Float)]]
    }

    static func pairs(_ t: Tensor) -> [(Float, Float)] {
        let s = t.scalars
        return (0..<t.batchSize).map { (s[2 * $0], s[2 * $0 + 1]) }
    }

    func evaluate(_ set: BoundarySet, options: Options, context: RunContext) throws -> Output {
        let classifier = context.classifier
        guard classifier.embeddingShape != nil else {
            return Output(note: ResultTable(title: "Projection", columns: ["note"], rows: [["the classifier exposes no embedding"]]))
        }
        let s = set.pair.source, t = set.pair.target
        // One PCA per boundary (unordered pair), shared by both directions and every prober's sets.
        let f = try context.cached(BoundaryKey(set.pair, data: options.data.trainData)) { () throws -> Fitted in
            let train = try trainingEmbeddings(try context.trainingData(options.data.choice), s, t, context: context)
            guard train.labels.count >= 2 else {
                throw BorderlineError(.dataMismatch, "projection \(set.pair): fewer than 2 training images of classes \(s) and \(t)")
            }
            let pca = try PCA.fit(train.embedding, components: min(2, train.embedding.sampleCount))
            let projected = try pca.transform(train.embedding)
            let points = pca.componentCount == 1 ? projected.scalars.map { ($0, Float(0)) } : EmbeddingProjection.pairs(projected)
            var byClass: [Int: [(Float, Float)]] = [s: [], t: []]
            for (i, label) in train.labels.enumerated() { byClass[label, default: []].append(points[i]) }
            return Fitted(pca: pca, train: byClass)
        }
        func place(_ embedding: Tensor) throws -> [(Float, Float)] {
            guard embedding.batchSize > 0 else { return [] }
            let p = try f.pca.transform(embedding)
            if f.pca.componentCount == 1 { return p.scalars.map { ($0, 0) } }
            return EmbeddingProjection.pairs(p)
        }
        func project(_ images: Tensor) throws -> [(Float, Float)] {
            guard images.batchSize > 0 else { return [] }
            return try place(EmbeddingComplexity.flat(try classifier.embedding(images)!))
        }
        func projectRunData(_ rows: [Int]) throws -> [(Float, Float)] {
            guard !rows.isEmpty else { return [] }
            return try place(try context.embeddings(of: context.runData, rows: rows))
        }
        var random = context.randomGenerator(for: set.pair).derived(StableHash.fnv1a(set.producer))
        let cap = options.trainPoints
        func sample(_ points: [(Float, Float)]) -> [(Float, Float)] {
            guard cap > 0, points.count > cap else { return points }
            return random.permutation(points.count).prefix(cap).map { points[$0] }
        }
        let labels = context.data.labels
        let testS = labels.indices.filter { labels[$0] == s }
        let testT = labels.indices.filter { labels[$0] == t }
        let ok = set.successfulIndices
        let border = try project(set.points.gather(batch: ok))
        let explained = f.pca.variances.map { Double($0) }
        var output = Output(pc1Variance: explained.first ?? .nan, pc2Variance: explained.count > 1 ? explained[1] : .nan,
                            borderlinePoints: ok.count,
                            borderlinePca: Tensor(shape: [border.count, 2], scalars: border.flatMap { [$0.0, $0.1] }))
        let reverse = reverseSet(of: set, in: context)
        // Both directions: one picture, drawn by the set with s < t.
        if reverse != nil, s > t { return output }
        let name = { (c: Int) in classifier.className(c) }
        var borderline: [Charts.Series] = [.init(label: reverse == nil ? "borderline" : "borderline \(name(s)) → \(name(t))",
                                                 colour: [0, 0, 0], points: border, size: 3)]
        var described = "the \(ok.count) successful boundary points of \(set.producer) \(s)→\(t)"
        if let reverse {
            let other = reverse.successfulIndices
            borderline.append(.init(label: "borderline \(name(t)) → \(name(s))", colour: [117, 107, 177],
                                    points: try project(reverse.points.gather(batch: other)), size: 3))
            described += " (black) and the \(other.count) of \(t)→\(s) (purple)"
        }
        let series: [Charts.Series] = [
            .init(label: "train \(name(s))", colour: [158, 202, 225], points: sample(f.train[s] ?? []), size: 3),
            .init(label: "train \(name(t))", colour: [253, 208, 162], points: sample(f.train[t] ?? []), size: 3),
            .init(label: "test \(name(s))", colour: [33, 113, 181], points: try projectRunData(testS), size: 3),
            .init(label: "test \(name(t))", colour: [217, 72, 1], points: try projectRunData(testT), size: 3),
        ] + borderline
        let image = try Charts.scatter(series, title: reverse == nil ? "PCA of the embeddings, \(name(s)) → \(name(t)) (\(set.producer))" : "PCA of the embeddings, \(name(s)) – \(name(t)), both directions (\(set.producer))")
        output.pca = ResultPicture(name: "pca", caption:
            "Embeddings projected on the first two principal axes of the training embeddings of \(name(s)) and \(name(t)) " +
            "(variance along PC1/PC2 \(String(format: "%.3g / %.3g", explained.first ?? .nan, explained.count > 1 ? explained[1] : .nan))): training points (at most \(cap) per class drawn), " +
            "the run's test images, and \(described).", image: image)
        return output
    }
}
