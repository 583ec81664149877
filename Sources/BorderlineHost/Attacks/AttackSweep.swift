import BorderlineCore
import Foundation

/// A robust-accuracy curve: one attack run per budget ε on the same images.
///
/// **Definition.** For budgets `ε₁ < … < ε_E` and the attacked images `(xₙ, yₙ)`, the robust
/// accuracy at `ε` is `a(ε) = |{n : f(x′ₙ(ε)) = yₙ}| / N`, with `x′ₙ(ε)` the attack's output at
/// budget `ε` (the image itself when the attack failed). `a(0)` is the clean accuracy for FGSM and
/// PGD (`x′ = x`). For C&W, which minimises the distortion instead of taking a budget, one run
/// gives the whole curve: row `n` counts as broken at `ε` when the attack succeeded with
/// `‖x′ₙ − xₙ‖₂ ≤ ε` (Foolbox's reading of a minimisation attack), so the curve is monotone by
/// construction. The success rate at `ε` is the attack's (the goal met), 1 − a(ε) untargeted on
/// correctly classified images.
public struct AttackSweepOutcome: Sendable {
    public struct Point: Sendable {
        public var epsilon: Float
        public var robustAccuracy: Double
        public var successRate: Double
        /// Mean RMS distortion over the rows that met the goal at this budget (NaN: none).
        public var meanRMSDistortion: Double
        public var seconds: Double
    }

    public var attackName: String
    /// What ε measures for this attack ("L∞ radius", "L2 radius", "RMS of the ensemble's perturbations").
    public var budget: String
    public var targeted: Bool
    public var images: Int
    public var cleanAccuracy: Double
    public var indices: [Int]
    public var points: [Point]

    /// The table `borderline attack --epsilons` prints.
    public func table() -> String {
        var out = "attack            \(attackName)\(targeted ? " (targeted)" : "")\n"
        out += "images            \(images)\n"
        out += String(format: "clean accuracy    %.2f %%\n", 100 * cleanAccuracy)
        out += "ε = \(budget)\n"
        func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - s.count))
            return left ? s + fill : fill + s
        }
        out += pad("ε", 10, left: true) + pad("robust accuracy", 17) + pad("success rate", 15) + pad("mean RMS distortion", 22) + pad("seconds", 10) + "\n"
        for p in points {
            let rms = p.meanRMSDistortion.isNaN ? "—" : String(format: "%.4f", p.meanRMSDistortion)
            out += pad(Self.format(p.epsilon), 10, left: true) + pad(String(format: "%.2f %%", 100 * p.robustAccuracy), 17)
                + pad(String(format: "%.2f %%", 100 * p.successRate), 15) + pad(rms, 22) + pad(String(format: "%.2f", p.seconds), 10) + "\n"
        }
        return out
    }

    static func format(_ e: Float) -> String { String(format: "%g", Double(e)) }

    /// `epsilon,robust_accuracy,success_rate,mean_rms_distortion,seconds`, one line per budget
    /// (an empty field for NaN).
    public func csv() -> String {
        func v(_ x: Double) -> String { x.isNaN ? "" : String(format: "%.6g", x) }
        var out = "epsilon,robust_accuracy,success_rate,mean_rms_distortion,seconds\n"
        for p in points {
            out += [Self.format(p.epsilon), v(p.robustAccuracy), v(p.successRate), v(p.meanRMSDistortion), v(p.seconds)].joined(separator: ",") + "\n"
        }
        return out
    }

    /// The curve and its context as JSON (`null` for NaN).
    public func json() -> JSONValue {
        func v(_ x: Double) -> JSONValue { x.isNaN ? .null : .init(x) }
        return [
            "attack": .string(attackName), "budget": .string(budget), "targeted": .bool(targeted),
            "images": .init(Double(images)), "clean_accuracy": v(cleanAccuracy),
            "epsilon": .array(points.map { .init(Double($0.epsilon)) }),
            "robust_accuracy": .array(points.map { v($0.robustAccuracy) }),
            "success_rate": .array(points.map { v($0.successRate) }),
            "mean_rms_distortion": .array(points.map { v($0.meanRMSDistortion) }),
            "seconds": .array(points.map { v($0.seconds) }),
        ]
    }

    /// Writes the curve as CSV, JSON or HDF5, chosen by the extension of `path`
    /// (`.csv`, `.json`, `.h5`/`.hdf5`).
    /// - Throws: `.invalidArgument` for another extension.
    public func writeData(to path: String) throws {
        switch try Self.dataFormat(path) {
        case "csv":
            try Data(csv().utf8).write(to: URL(fileURLWithPath: path))
        case "json":
            try Data((json().serialized(pretty: true) + "\n").utf8).write(to: URL(fileURLWithPath: path))
        case "h5", "hdf5":
            let file = try HDF5File.create(path)
            let root = try file.root()
            try root.setAttribute("attack", string: attackName)
            try root.setAttribute("budget", string: budget)
            try root.setAttribute("targeted", int: targeted ? 1 : 0)
            try root.setAttribute("clean_accuracy", doubles: [cleanAccuracy])
            try root.writeDoubles(points.map { Double($0.epsilon) }, name: "epsilon")
            try root.writeDoubles(points.map(\.robustAccuracy), name: "robust_accuracy")
            try root.writeDoubles(points.map(\.successRate), name: "success_rate")
            try root.writeDoubles(points.map(\.meanRMSDistortion), name: "mean_rms_distortion")
            try root.writeDoubles(points.map(\.seconds), name: "seconds")
            try root.writeInt64s(indices.map(Int64.init), name: "indices")
            try file.close()
        default:
            break
        }
    }

    /// The format `path`'s extension names: "csv", "json" or "h5" (checked before a sweep runs).
    /// - Throws: `.invalidArgument` for another extension.
    public static func dataFormat(_ path: String) throws -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "csv": return "csv"
        case "json": return "json"
        case "h5", "hdf5": return "h5"
        default:
            throw BorderlineError(.invalidArgument, "--curve-data '\(path)': the extension must be .csv, .json or .h5 (the format to write)")
        }
    }

    /// Robust accuracy against ε, with the clean accuracy as a dashed rule.
    public func chart() throws -> PNGImage {
        var chart = Chart(title: "\(attackName)\(targeted ? " (targeted)" : ""): robust accuracy on \(images) images",
                          xLabel: "ε (\(budget))", yLabel: "accuracy")
        chart.yRange = 0...1
        chart.horizontalRules = [cleanAccuracy]
        let x = points.map { Double($0.epsilon) }
        chart.line(x: x, y: points.map(\.robustAccuracy), label: "robust accuracy")
        chart.scatter(x: x, y: points.map(\.robustAccuracy), radius: 2)
        return try chart.render()
    }
}

public enum AttackSweep {
    /// Parses `0,0.01,0.02`: finite budgets ≥ 0, at least one; sorted ascending, duplicates dropped.
    /// - Throws: `.invalidArgument` naming the bad entry.
    public static func parseEpsilons(_ text: String) throws -> [Float] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var values: [Float] = []
        for p in parts {
            guard let v = Float(p), v.isFinite, v >= 0 else {
                throw BorderlineError(.invalidArgument, "--epsilons: '\(p)' is not a finite number ≥ 0 (expected a comma-separated list such as 0,0.01,0.02)")
            }
            values.append(v)
        }
        guard !values.isEmpty else { throw BorderlineError(.invalidArgument, "--epsilons needs at least one budget") }
        return Array(Set(values)).sorted()
    }

    /// What ε measures for `kind`.
    public static func budget(_ kind: AttackKind) -> String {
        switch kind {
        case .fgsm, .pgdLinf, .squareLinf: return "L∞ radius"
        case .pgdL2, .cwL2, .deepfool: return "L2 radius"
        case .optmargin: return "RMS of the ensemble's perturbations"
        }
    }

    /// Runs the attack of `settings` once per budget (C&W: once, thresholding its distances), on
    /// the same images as ``AttackRunner/run(_:classifier:data:count:progress:)``.
    public static func run(_ settings: AttackRunSettings, epsilons: [Float], classifier: any DifferentiableClassifier,
                           data: Dataset, count: Int, progress: (any ProgressReporter)?) throws -> AttackSweepOutcome {
        guard !epsilons.isEmpty else { throw BorderlineError(.invalidArgument, "--epsilons needs at least one budget") }
        guard settings.epsilon == nil else {
            throw BorderlineError(.invalidArgument, "--epsilon and --epsilons exclude each other (--epsilons sweeps the budget)")
        }
        func accuracy(_ predicted: [Int], _ labels: [Int]) -> Double {
            labels.isEmpty ? .nan : Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
        }
        var points: [AttackSweepOutcome.Point] = []
        var first: AttackRunOutcome?
        if settings.kind == .cwL2 || settings.kind == .deepfool {
            // Minimisation attacks: one run, broken at ε when the example is within ε in L2.
            let o = try AttackRunner.run(settings, classifier: classifier, data: data, count: count, progress: progress)
            first = o
            let d = Float(o.result.adversarials.sampleCount).squareRoot()
            for e in epsilons {
                // RMS · √D = ‖δ‖₂; broken at ε when the goal was met within the budget.
                let broken = o.result.succeeded.indices.map { o.result.succeeded[$0] && o.result.rmsDistortion[$0] * d <= e * (1 + 1e-6) }
                let predicted = broken.indices.map { broken[$0] ? o.result.predictions[$0] : o.cleanPredictions[$0] }
                let rms = broken.indices.filter { broken[$0] }.map { Double(o.result.rmsDistortion[$0]) }
                points.append(.init(epsilon: e, robustAccuracy: accuracy(predicted, o.labels),
                                    successRate: Double(rms.count) / Double(max(1, broken.count)),
                                    meanRMSDistortion: rms.isEmpty ? .nan : rms.reduce(0, +) / Double(rms.count), seconds: o.seconds))
            }
        } else {
            for e in epsilons {
                var s = settings
                s.epsilon = e
                let o = try AttackRunner.run(s, classifier: classifier, data: data, count: count, progress: progress)
                if first == nil { first = o }
                points.append(.init(epsilon: e, robustAccuracy: accuracy(o.result.predictions, o.labels), successRate: o.result.successRate,
                                    meanRMSDistortion: o.result.meanRMSDistortion, seconds: o.seconds))
            }
        }
        let o = first!
        return AttackSweepOutcome(attackName: o.attackName, budget: budget(settings.kind), targeted: settings.targeted, images: o.labels.count,
                                  cleanAccuracy: accuracy(o.cleanPredictions, o.labels), indices: o.indices, points: points)
    }
}
