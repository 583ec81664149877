import BorderlineCore
import Foundation

/// Metric `edc` (paper Section 4.2): a linear SVM (LIBLINEAR, squared hinge, C = 1) trained on the
/// classifier's embeddings of the class-s and class-t training images (all images with those
/// labels in the training split). The SVM is solved to scikit-learn's default tolerance 1e-4
/// (`svm-tolerance`) in the dual by default (`svm-solver=dual`, coordinate descent, which reaches
/// the SVM's optimum here); `svm-solver=primal` is LIBLINEAR's trust-region Newton, the solver the
/// authors' `LinearSVC(C=1, max_iter=10000)` runs under scikit-learn ≥ 1.5 (`dual="auto"`), whose
/// stop at tol 1e-4 lies far from the optimum and depends on the Newton variant (docs/deepdig.md,
/// "The authors' CNN"). LIBLINEAR 2.3 fixes its iteration cap at 1000, which the output's
/// `svm_iterations` / `svm_reached_iteration_limit` report against; then
/// - **EDC1** = d̄ / (1 + d̄), where d̄ is the mean Euclidean distance |w·e + b| / ‖w‖ of the
///   embeddings to the SVM's hyperplane (the authors' normalisation into [0, 1)), for the run's
///   test images of s and t (`edc1_test`) and for the set's successful boundary points
///   (`edc1_borderline`); the raw d̄ are reported too;
/// - **EDC2** = the SVM's accuracy (in %) on those test images (true labels) and on the boundary
///   points, each labelled by the side it was approached from (the set's source class s).
/// The SVM of an unordered pair is trained once per run (``RunContext/cached(_:_:)``) and shared
/// by both directions; the training embeddings come from ``RunContext/embeddings(of:rows:)``.
///
/// **The boundary between s and t** (paper Section 3's remark, Table 9, Figures 8–9): when the run
/// holds both directions of one prober (s→t and t→s), the set with s < t also gets the values of
/// the whole boundary, `boundary_edc1_borderline` and `boundary_edc2_borderline`, over the
/// successful points of *both* sets pooled, each labelled by the side it was approached from (s→t
/// points labelled s, t→s points labelled t). This is how the authors' code computes the paper's
/// numbers; the per-direction values stay as they are.
final class EmbeddingComplexity: Metric {
    let name = "edc"
    let summary = "EDC1/EDC2 (paper Section 4.2): distance to and accuracy of a linear SVM on training embeddings of s and t."

    struct Options: PluginOptions, Sendable {
        @OptionGroup var data: TrainDataOption
        @Option(help: "C of the linear SVM (paper: 1)", in: 1e-6...1e6)
        var svmC = 1.0
        @Option(help: "stopping tolerance of the linear SVM (LIBLINEAR eps; scikit-learn LinearSVC's default tol, which the authors' call uses: 1e-4)", in: 1e-12...1)
        var svmTolerance = 1e-4
        @Option(help: "LIBLINEAR solver of the squared-hinge SVM: dual = coordinate descent (LinearSVC(dual=True), scikit-learn's default before 1.5); primal = trust-region Newton (what LinearSVC's dual=\"auto\" picks for more rows than features, scikit-learn ≥ 1.5)")
        var svmSolver = SVMSolver.dual
        func validate() throws {
            try data.validate()
            guard svmTolerance.isFinite, svmTolerance > 0, svmTolerance <= 1 else {
                throw BorderlineError(.invalidArgument, "edc.svm-tolerance must be a number in (0, 1] (scikit-learn's default tol: 1e-4), got \(svmTolerance)")
            }
        }
    }

    /// summary.json `pairs."s-t".edc.<producer>.…`: the per-direction values, and on the set with
    /// s < t of a run holding both directions the boundary's pooled `boundary_*` values. All are
    /// absent when the classifier exposes no embedding (the table says so).
    struct Output: Codable {
        var edc1Test: Double?
        var edc1Borderline: Double?
        var edc2Test: Double?
        var edc2Borderline: Double?
        var meanDistanceTest: Double?
        var meanDistanceBorderline: Double?
        var testImages: Int?
        var borderlinePoints: Int?
        var boundaryEdc1Borderline: Double?
        var boundaryEdc2Borderline: Double?
        var boundaryMeanDistanceBorderline: Double?
        var boundaryBorderlinePoints: Int?
        /// The SVM's solver iterations and whether it stopped at LIBLINEAR's cap instead of the tolerance.
        var svmIterations: Int?
        var svmReachedIterationLimit: Bool?
        var table: ResultTable?
    }

    static func flat(_ t: Tensor) -> Tensor { t.reshaped([t.batchSize, t.sampleCount]) }

    static func edc1(_ distances: [Double]) -> (raw: Double, normalised: Double) {
        guard !distances.isEmpty else { return (.nan, .nan) }
        let mean = distances.reduce(0, +) / Double(distances.count)
        return (mean, mean / (1 + mean))
    }

    static func accuracy(_ predicted: [Int], _ labels: [Int]) -> Double {
        predicted.isEmpty ? .nan : 100 * Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(predicted.count)
    }

    func evaluate(_ set: BoundarySet, options: Options, context: RunContext) throws -> Output {
        let classifier = context.classifier
        guard classifier.embeddingShape != nil else {
            return Output(table: ResultTable(title: "EDC", columns: ["note"], rows: [["the classifier exposes no embedding"]]))
        }
        let s = set.pair.source, t = set.pair.target
        let c = options.svmC
        // One SVM per boundary (unordered pair), shared by both directions and every prober's sets.
        let key = SVMKey(boundary: BoundaryKey(set.pair, data: options.data.trainData), c: c,
                         tolerance: options.svmTolerance, solver: options.svmSolver)
        let model = try context.cached(key) {
            let train = try trainingEmbeddings(try context.trainingData(options.data.choice), s, t, context: context)
            return try LinearSVM.train(train.embedding, labels: train.labels, C: c, tolerance: options.svmTolerance,
                                       solver: options.svmSolver.liblinear)
        }
        let labels = context.data.labels
        let testRows = labels.indices.filter { labels[$0] == s || labels[$0] == t }
        let testEmbedding = try context.embeddings(of: context.runData, rows: testRows)
        let testD = EmbeddingComplexity.edc1(model.distances(testEmbedding))
        let testAcc = EmbeddingComplexity.accuracy(model.predict(testEmbedding), testRows.map { labels[$0] })
        let ok = set.successfulIndices
        let own = try EmbeddingComplexity.scores(set, model: model, classifier: classifier)
        let borderD = EmbeddingComplexity.edc1(own.distances)
        let borderAcc = EmbeddingComplexity.accuracy(own.predicted, Array(repeating: s, count: ok.count))
        var output = Output(
            edc1Test: testD.normalised, edc1Borderline: borderD.normalised, edc2Test: testAcc, edc2Borderline: borderAcc,
            meanDistanceTest: testD.raw, meanDistanceBorderline: borderD.raw, testImages: testRows.count, borderlinePoints: ok.count,
            svmIterations: model.iterations, svmReachedIterationLimit: model.reachedIterationLimit)
        if s < t, let reverse = reverseSet(of: set, in: context) {
            // Pooled: s→t points labelled s, t→s points labelled t.
            let other = try EmbeddingComplexity.scores(reverse, model: model, classifier: classifier)
            let labels = Array(repeating: s, count: own.predicted.count) + Array(repeating: t, count: other.predicted.count)
            let both = (distance: EmbeddingComplexity.edc1(own.distances + other.distances),
                        accuracy: EmbeddingComplexity.accuracy(own.predicted + other.predicted, labels), points: labels.count)
            output.boundaryEdc1Borderline = both.distance.normalised
            output.boundaryEdc2Borderline = both.accuracy
            output.boundaryMeanDistanceBorderline = both.distance.raw
            output.boundaryBorderlinePoints = both.points
            let name = { (c: Int) in "\(c) \(classifier.className(c))" }
            output.table = ResultTable(title: "EDC of the boundary \(name(s)) – \(name(t)), both directions pooled (paper Table 9)",
                columns: ["points", "EDC1 test", "EDC1 borderline", "EDC2 test %", "EDC2 borderline %"],
                rows: [["\(both.points) (\(ok.count) from \(s)→\(t), \(both.points - ok.count) from \(t)→\(s))",
                        String(format: "%.4f", testD.normalised), String(format: "%.4f", both.distance.normalised),
                        String(format: "%.2f", testAcc), String(format: "%.2f", both.accuracy)]])
        }
        return output
    }

    /// The cache key of an SVM: its boundary, data, C, tolerance and solver.
    struct SVMKey: Hashable, Sendable {
        var boundary: BoundaryKey
        var c: Double
        var tolerance: Double
        var solver: SVMSolver
    }

    /// Distances to the SVM's hyperplane and the SVM's predictions for the embeddings of a set's
    /// successful points (computed once per set, used per direction and pooled).
    static func scores(_ set: BoundarySet, model: LinearSVM, classifier: any Classifier) throws -> (distances: [Double], predicted: [Int]) {
        let ok = set.successfulIndices
        guard !ok.isEmpty else { return ([], []) }
        let e = flat(try classifier.embedding(set.points.gather(batch: ok))!)
        return (model.distances(e), model.predict(e))
    }
}

/// Option `edc.svm-solver`: which LIBLINEAR problem the squared-hinge SVM is solved as.
enum SVMSolver: String, CaseIterable, OptionValue {
    case dual, primal
    var liblinear: LinearSVM.Solver { self == .primal ? .primal : .dual }
}
