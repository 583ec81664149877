import CLIBLINEAR
import Foundation

/// A two-class linear support vector machine trained with LIBLINEAR
/// (`L2R_L2LOSS_SVC_DUAL`: L2-regularised squared-hinge loss, the solver of scikit-learn's
/// `LinearSVC`), with a bias feature of 1 (regularised, as LIBLINEAR and `LinearSVC` do).
///
/// The decision value is `f(x) = w·x + b`; `f > 0` predicts `positiveLabel`, otherwise
/// `negativeLabel`. The Euclidean distance of `x` to the hyperplane is `|f(x)| / ‖w‖`. Training is
/// deterministic: the same rows and labels give the same SVM in any process, at any point of it.
public struct LinearSVM: Sendable {
    public let weights: [Double]
    public let bias: Double
    public let positiveLabel: Int
    public let negativeLabel: Int

    /// Trains on the rows of `features` (`[N, e]`) with two distinct integer `labels`.
    /// - Throws: `.invalidArgument` for a shape mismatch or fewer than two classes; LIBLINEAR's
    ///   parameter check message otherwise.
    public static func train(_ features: Tensor, labels: [Int], C: Double = 1, tolerance: Double = 1e-3) throws -> LinearSVM {
        let n = features.batchSize, e = features.sampleCount
        guard labels.count == n, n > 0 else {
            throw BorderlineError(.invalidArgument, "linear SVM: \(labels.count) labels for \(n) rows")
        }
        let classes = Array(Set(labels)).sorted()
        guard classes.count == 2 else {
            throw BorderlineError(.invalidArgument, "linear SVM: needs exactly two classes, got \(classes)")
        }
        // Rows as LIBLINEAR sparse vectors: e features (1-based), bias, terminator (-1).
        let stride = e + 2
        var nodes = [feature_node](repeating: feature_node(index: -1, value: 0), count: n * stride)
        features.withUnsafeBufferPointer { f in
            for r in 0..<n {
                for c in 0..<e { nodes[r * stride + c] = feature_node(index: Int32(c + 1), value: Double(f[r * e + c])) }
                nodes[r * stride + e] = feature_node(index: Int32(e + 1), value: 1)
                nodes[r * stride + e + 1] = feature_node(index: -1, value: 0)
            }
        }
        var y = labels.map(Double.init)
        var result: LinearSVM?
        var problemMessage: String?
        nodes.withUnsafeMutableBufferPointer { np in
            var rows = (0..<n).map { Optional(np.baseAddress! + $0 * stride) }
            rows.withUnsafeMutableBufferPointer { rp in
                y.withUnsafeMutableBufferPointer { yp in
                    var prob = problem(l: Int32(n), n: Int32(e + 1), y: yp.baseAddress, x: rp.baseAddress, bias: -1)
                    var param = parameter()
                    param.solver_type = Int32(L2R_L2LOSS_SVC_DUAL)
                    param.eps = tolerance
                    param.C = C
                    param.nr_weight = 0
                    param.p = 0.1
                    if let message = check_parameter(&prob, &param) {
                        problemMessage = String(cString: message)
                        return
                    }
                    set_print_string_function { _ in }
                    // LIBLINEAR's solvers shuffle with the C library's rand(): reseed it (1, the C
                    // default) so that an SVM is the same whichever SVMs this process trained before
                    // (a resumed or sharded run trains them in other orders and other processes).
                    srand(1)
                    guard let model = CLIBLINEAR.train(&prob, &param) else { problemMessage = "training failed"; return }
                    var m: UnsafeMutablePointer<model>? = model
                    defer { free_and_destroy_model(&m) }
                    let w = (0..<e).map { get_decfun_coef(model, Int32($0 + 1), 0) }
                    let b = get_decfun_coef(model, Int32(e + 1), 0)
                    var labelBuffer = [Int32](repeating: 0, count: 2)
                    get_labels(model, &labelBuffer)
                    result = LinearSVM(weights: w, bias: b, positiveLabel: Int(labelBuffer[0]), negativeLabel: Int(labelBuffer[1]))
                }
            }
        }
        if let problemMessage { throw BorderlineError(.invalidArgument, "linear SVM (LIBLINEAR): \(problemMessage)") }
        return result!
    }

    public init(weights: [Double], bias: Double, positiveLabel: Int, negativeLabel: Int) {
        self.weights = weights
        self.bias = bias
        self.positiveLabel = positiveLabel
        self.negativeLabel = negativeLabel
    }

    /// `‖w‖`.
    public var weightNorm: Double { weights.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// `f(x) = w·x + b` for every row of `features` (`[N, e]`).
    public func decisionValues(_ features: Tensor) -> [Double] {
        let n = features.batchSize, e = features.sampleCount
        precondition(e == weights.count, "linear SVM: \(e) features, trained on \(weights.count)")
        return features.withUnsafeBufferPointer { f in
            (0..<n).map { r in
                var s = bias
                for c in 0..<e { s += weights[c] * Double(f[r * e + c]) }
                return s
            }
        }
    }

    /// Euclidean distance of every row to the hyperplane, `|f(x)| / ‖w‖`.
    public func distances(_ features: Tensor) -> [Double] {
        let norm = weightNorm
        return decisionValues(features).map { norm > 0 ? abs($0) / norm : .infinity }
    }

    /// The predicted label of every row.
    public func predict(_ features: Tensor) -> [Int] {
        decisionValues(features).map { $0 > 0 ? positiveLabel : negativeLabel }
    }
}
