import BorderlineCore
import Foundation

/// Metric `projection` (paper Figures 4–6): PCA (LAPACK, ``PCA``) fitted on the classifier's
/// embeddings of the class-s and class-t training images, then the training, test and boundary
/// points of the set projected onto the first two axes and drawn as a PNG scatter plot. The PCA
/// of an unordered pair is fitted once and shared by both directions (and every prober's sets),
/// so the pictures of s→t and t→s are in the same coordinates. When the run holds both directions
/// of a prober, the two are drawn in one picture, as the paper does (the set with s < t draws it,
/// the other adds no picture of its own).
final class EmbeddingProjection: Metric {
    let name = "projection"
    let summary = "PCA of the training embeddings of s and t; scatter of train, test and borderline points (paper Figures 4–6)."
    let options: [PluginOption] = [
        SharedOptions.trainData,
        .integer("train-points", default: 1000, in: 0...1_000_000,
                 help: "training points drawn per class (random; the PCA is fitted on all of them; 0: draw all)"),
    ]

    struct Fitted {
        var pca: PCA
        /// Projected training points per class (all of them).
        var train: [Int: [(Float, Float)]]
    }
    private static let cache = KeyedCache<Fitted>()

    static func pairs(_ t: Tensor) -> [(Float, Float)] {
        let s = t.scalars
        return (0..<t.batchSize).map { (s[2 * $0], s[2 * $0 + 1]) }
    }

    func evaluate(_ set: BoundarySet, context: RunContext) throws -> MetricResult {
        let classifier = context.classifier
        guard classifier.embeddingShape != nil else {
            return MetricResult(tables: [ResultTable(title: "Projection", columns: ["note"], rows: [["the classifier exposes no embedding"]])])
        }
        let s = set.pair.source, t = set.pair.target
        let spec = try context.options.string("train-data")
        let key = "\(ObjectIdentifier(context.environment).hashValue)|\(min(s, t))-\(max(s, t))|\(spec)"
        let f = try EmbeddingProjection.cache.value(key) {
            let train = try trainingEmbeddings(try TrainingSplit.resolve(spec, context: context), s, t, classifier: classifier)
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
        func project(_ images: Tensor) throws -> [(Float, Float)] {
            guard images.batchSize > 0 else { return [] }
            let p = try f.pca.transform(EmbeddingComplexity.flat(try classifier.embedding(images)!))
            if f.pca.componentCount == 1 { return p.scalars.map { ($0, 0) } }
            return EmbeddingProjection.pairs(p)
        }
        var random = context.randomGenerator(for: set.pair).derived(StableHash.fnv1a(set.producer))
        let cap = try context.options.int("train-points")
        func sample(_ points: [(Float, Float)]) -> [(Float, Float)] {
            guard cap > 0, points.count > cap else { return points }
            return random.permutation(points.count).prefix(cap).map { points[$0] }
        }
        let testS = context.data.labels.indices.filter { context.data.labels[$0] == s }
        let testT = context.data.labels.indices.filter { context.data.labels[$0] == t }
        let ok = set.successfulIndices
        let border = try project(set.points.gather(batch: ok))
        let explained = f.pca.variances.map { Double($0) }
        let numbers: [(String, Double)] = [("pc1_variance", explained.first ?? .nan), ("pc2_variance", explained.count > 1 ? explained[1] : .nan),
                                           ("borderline_points", Double(ok.count))]
        let array = ("borderline_pca", Tensor(shape: [border.count, 2], scalars: border.flatMap { [$0.0, $0.1] }))
        let reverse = reverseSet(of: set, in: context)
        // Both directions: one picture, drawn by the set with s < t.
        if reverse != nil, s > t { return MetricResult(numbers: numbers, arrays: [array]) }
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
            .init(label: "test \(name(s))", colour: [33, 113, 181], points: try project(context.data.images.gather(batch: testS)), size: 3),
            .init(label: "test \(name(t))", colour: [217, 72, 1], points: try project(context.data.images.gather(batch: testT)), size: 3),
        ] + borderline
        let image = try Charts.scatter(series, title: reverse == nil ? "PCA of the embeddings, \(name(s)) → \(name(t)) (\(set.producer))" : "PCA of the embeddings, \(name(s)) – \(name(t)), both directions (\(set.producer))")
        return MetricResult(
            numbers: numbers,
            arrays: [array],
            pictures: [ResultPicture(name: "pca", caption:
                "Embeddings projected on the first two principal axes of the training embeddings of \(name(s)) and \(name(t)) " +
                "(variance along PC1/PC2 \(String(format: "%.3g / %.3g", explained.first ?? .nan, explained.count > 1 ? explained[1] : .nan))): training points (at most \(cap) per class drawn), " +
                "the run's test images, and \(described).", image: image)])
    }
}
