import CLIBLINEAR
import Foundation

/// A two-class linear support vector machine trained with LIBLINEAR: L2-regularised squared-hinge
/// loss (scikit-learn `LinearSVC`'s default `penalty="l2", loss="squared_hinge"`), with a bias
/// feature of 1 (regularised, as LIBLINEAR and `LinearSVC` with `intercept_scaling=1` do), solved in
/// the dual (`L2R_L2LOSS_SVC_DUAL`, coordinate descent: `LinearSVC(dual=True)`, its default before
/// scikit-learn 1.5) or in the primal (`L2R_L2LOSS_SVC`, trust-region Newton: what `LinearSVC`'s
/// `dual="auto"`, the default since 1.5, picks when there are more rows than features).
///
/// The system LIBLINEAR (2.3) caps both solvers at 1000 iterations (outer coordinate-descent
/// passes, Newton steps) and exposes no setting for it; ``iterations`` and
/// ``reachedIterationLimit`` say what the solver did.
///
/// The decision value is `f(x) = w·x + b`; `f > 0` predicts `positiveLabel`, otherwise
/// `negativeLabel`. The Euclidean distance of `x` to the hyperplane is `|f(x)| / ‖w‖`. Training is
/// deterministic: the same rows and labels give the same SVM in any process, at any point of it.
public struct LinearSVM: Sendable {
    public let weights: [Double]
    public let bias: Double
    public let positiveLabel: Int
    public let negativeLabel: Int
    /// Solver iterations LIBLINEAR reported (outer coordinate-descent passes or Newton steps); 0
    /// when not trained here.
    public var iterations: Int = 0
    /// Whether the solver stopped at LIBLINEAR's iteration cap (1000) instead of the tolerance.
    public var reachedIterationLimit = false

    /// The problem LIBLINEAR solves (both give the same SVM up to the stopping tolerance).
    public enum Solver: String, Sendable, CaseIterable {
        /// `L2R_L2LOSS_SVC_DUAL`: dual coordinate descent; stops when the projected gradient's
        /// spread is at most `tolerance`.
        case dual
        /// `L2R_L2LOSS_SVC`: primal trust-region Newton; stops when ‖∇f(w)‖ ≤ `tolerance` ·
        /// max(min(n₊, n₋), 1)/n · ‖∇f(0)‖.
        case primal
    }

    /// Trains on the rows of `features` (`[N, e]`) with two distinct integer `labels`.
    /// `tolerance` is LIBLINEAR's `eps` (scikit-learn's `tol`).
    /// - Throws: `.invalidArgument` for a shape mismatch, fewer than two classes, or a `C` or
    ///   `tolerance` that is not a finite positive number; LIBLINEAR's parameter check message otherwise.
    public static func train(_ features: Tensor, labels: [Int], C: Double = 1, tolerance: Double = 1e-3,
                             solver: Solver = .dual) throws -> LinearSVM {
        let n = features.batchSize, e = features.sampleCount
        guard tolerance.isFinite, tolerance > 0 else {
            throw BorderlineError(.invalidArgument, "linear SVM: the stopping tolerance must be a finite number > 0, got \(tolerance)")
        }
        guard C.isFinite, C > 0 else {
            throw BorderlineError(.invalidArgument, "linear SVM: C must be a finite number > 0, got \(C)")
        }
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
        // LIBLINEAR's print function and rand() are process-wide: one training at a time.
        let log = LiblinearLog.shared
        log.lock.lock()
        defer { log.lock.unlock() }
        log.text = ""
        nodes.withUnsafeMutableBufferPointer { np in
            var rows = (0..<n).map { Optional(np.baseAddress! + $0 * stride) }
            rows.withUnsafeMutableBufferPointer { rp in
                y.withUnsafeMutableBufferPointer { yp in
                    var prob = problem(l: Int32(n), n: Int32(e + 1), y: yp.baseAddress, x: rp.baseAddress, bias: -1)
                    var param = parameter()
                    param.solver_type = Int32(solver == .dual ? L2R_L2LOSS_SVC_DUAL : L2R_L2LOSS_SVC)
                    param.eps = tolerance
                    param.C = C
                    param.nr_weight = 0
                    param.p = 0.1
                    if let message = check_parameter(&prob, &param) {
                        problemMessage = String(cString: message)
                        return
                    }
                    set_print_string_function { text in
                        if let text { LiblinearLog.shared.text += String(cString: text) }
                    }
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
                    let info = LiblinearLog.parse(log.text)
                    result!.iterations = info.iterations
                    result!.reachedIterationLimit = info.reachedLimit
                }
            }
        }
        if let problemMessage { throw BorderlineError(.invalidArgument, "linear SVM (LIBLINEAR): \(problemMessage)") }
        return result!
    }

    /// The SVM `f(x) = w·x + b`.
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

/// What LIBLINEAR prints while training (captured, never shown), under the lock that serialises
/// trainings (the print function and the C library's rand() are process-wide).
private final class LiblinearLog: @unchecked Sendable {
    static let shared = LiblinearLog()
    let lock = NSLock()
    var text = ""

    /// Iterations and the cap warning from LIBLINEAR 2.3's messages: the dual solver prints
    /// "optimization finished, #iter = N", the Newton solver one "iter N act …" line per step; both
    /// print "WARNING: reaching max number of … iterations" at the cap.
    static func parse(_ text: String) -> (iterations: Int, reachedLimit: Bool) {
        var iterations = 0
        for line in text.split(whereSeparator: \.isNewline) {
            if let range = line.range(of: "#iter = ") {
                iterations = max(iterations, Int(line[range.upperBound...].trimmingCharacters(in: .whitespaces)) ?? 0)
            } else if line.hasPrefix("iter "), line.contains(" act ") {
                iterations = max(iterations, Int(line.dropFirst(5).split(separator: " ").first ?? "") ?? 0)
            }
        }
        return (iterations, text.contains("WARNING: reaching max number of"))
    }
}
