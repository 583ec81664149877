import BorderlineCore
import Foundation

/// A model's outputs on a data set, as `borderline predict` prints and writes them: logits,
/// probabilities `softmax(logits)` per image, and the predicted class `argmax`.
public struct Predictions {
    public let logits: Tensor
    public let probabilities: Tensor
    public let classes: [Int]
    /// The data set's labels, when it has them.
    public let labels: [Int]?
    /// One name per model output (the model's, else the data set's, else the numbers).
    public let classNames: [String]
    public let modelSource: String
    public let dataName: String

    /// Per-image tables are printed up to this many images; more get a summary and a file.
    public static let tableLimit = 20

    /// Runs the model on the whole set, in batches of `batchSize`.
    public init(model: Model, dataset: Dataset, modelSource: String, batchSize: Int = 512, progress: ProgressReporter = SilentProgress()) {
        let n = dataset.count
        let batches = stride(from: 0, to: n, by: batchSize).map { $0..<min($0 + batchSize, n) }
        progress.begin("predict", total: n)
        var parts: [Tensor] = []
        for r in batches {
            parts.append(model(dataset.images.slice(batch: r)))
            progress.update(completed: r.upperBound, detail: "")
        }
        progress.end(summary: "\(n) images")
        logits = n == 0 ? Tensor(zeros: [0, model.classCount]) : Tensor.concatenate(batches: parts)
        probabilities = logits.softmaxRows()
        classes = logits.argmaxRows()
        labels = dataset.isLabelled ? dataset.labels : nil
        let k = model.classCount
        if model.classNames.count == k {
            classNames = model.classNames
        } else if dataset.classNames.count == k {
            classNames = dataset.classNames
        } else {
            classNames = (0..<k).map(String.init)
        }
        self.modelSource = modelSource
        dataName = dataset.name
    }

    public var count: Int { classes.count }
    var classCount: Int { logits.rank == 2 ? logits.shape[1] : 0 }

    func probability(_ i: Int, _ j: Int) -> Float { probabilities.scalars[i * classCount + j] }

    /// The `k` most probable classes of image `i`, best first.
    func top(_ i: Int, _ k: Int) -> [Int] {
        (0..<classCount).sorted { probability(i, $0) > probability(i, $1) || (probability(i, $0) == probability(i, $1) && $0 < $1) }
            .prefix(k).map { $0 }
    }

    /// The fraction of images whose predicted class is their label, when labelled.
    public var accuracy: Double? {
        guard let labels, !labels.isEmpty else { return nil }
        return Double(zip(classes, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    // MARK: Text

    /// A table of every image: predicted class and probability, the runners-up, and the label.
    public func table() -> String {
        let k = min(3, classCount)
        var header = ["#", "predicted", "probability"]
        if k > 1 { header.append("runners-up") }
        if labels != nil { header.append("label") }
        var rows = [header]
        for i in 0..<count {
            let best = top(i, k)
            var row = ["\(i)", classNames[classes[i]], String(format: "%.4f", probability(i, classes[i]))]
            if k > 1 {
                row.append(best.dropFirst().map { "\(classNames[$0]) \(String(format: "%.4f", probability(i, $0)))" }.joined(separator: ", "))
            }
            if let labels { row.append(classNames.indices.contains(labels[i]) ? classNames[labels[i]] + (labels[i] == classes[i] ? " ✓" : " ✗") : "\(labels[i])") }
            rows.append(row)
        }
        return Predictions.render(rows) + (accuracy.map { String(format: "\naccuracy    %.2f %% (%d of %d)\n", 100 * $0, Int(($0 * Double(count)).rounded()), count) } ?? "")
    }

    /// Counts per predicted class, the mean top probability and (when labelled) the accuracy.
    public func summary() -> String {
        var out = "model       \(modelSource)\ndata        \(dataName), \(count) images\n"
        if let accuracy { out += String(format: "accuracy    %.2f %%\n", 100 * accuracy) }
        let meanTop = count == 0 ? 0 : (0..<count).reduce(0.0) { $0 + Double(probability($1, classes[$1])) } / Double(count)
        out += String(format: "mean top probability  %.4f\n\n", meanTop)
        var counts = [Int](repeating: 0, count: classCount)
        for c in classes { counts[c] += 1 }
        var rows = [["class", "predicted", "share"]]
        for j in 0..<classCount {
            rows.append(["\(j) \(classNames[j])", "\(counts[j])", String(format: "%.1f %%", count == 0 ? 0 : 100 * Double(counts[j]) / Double(count))])
        }
        return out + Predictions.render(rows)
    }

    static func render(_ rows: [[String]]) -> String {
        let widths = (0..<rows[0].count).map { c in rows.map { $0.indices.contains(c) ? $0[c].count : 0 }.max() ?? 0 }
        var out = ""
        for (r, row) in rows.enumerated() {
            out += row.enumerated().map { c, s in
                c == row.count - 1 ? s : s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
            }.joined(separator: "  ") + "\n"
            if r == 0 { out += widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ") + "\n" }
        }
        return out
    }

    // MARK: Files

    /// The output formats of ``write(to:format:)``.
    public enum FileFormat: String, CaseIterable, Sendable {
        case csv, json, h5

        /// The format an output path's extension names.
        public static func of(_ path: String) throws -> FileFormat {
            let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
            if ext == "hdf5" { return .h5 }
            guard let f = FileFormat(rawValue: ext) else {
                throw BorderlineError(.invalidArgument,
                    "cannot tell the output format from the extension '.\(ext)'; name the file .csv, .json or .h5 (or give --json)", file: path)
            }
            return f
        }
    }

    /// Every image's logits, probabilities and class as JSON (sorted keys).
    public func json() -> String {
        var images: [JSONValue] = []
        let k = classCount
        for i in 0..<count {
            var entry: [String: JSONValue] = [
                "index": .init(i), "class": .init(classes[i]), "class_name": .string(classNames[classes[i]]),
                "probability": .init(Double(probability(i, classes[i]))),
                "logits": .array((0..<k).map { .init(Double(logits.scalars[i * k + $0])) }),
                "probabilities": .array((0..<k).map { .init(Double(probability(i, $0))) }),
            ]
            if let labels { entry["label"] = .init(labels[i]) }
            images.append(.object(entry))
        }
        var root: [String: JSONValue] = [
            "model": .string(modelSource), "data": .string(dataName), "count": .init(count),
            "class_names": .array(classNames.map { .string($0) }), "predictions": .array(images),
        ]
        if let accuracy { root["accuracy"] = .init(accuracy) }
        return JSONValue.object(root).serialized(pretty: true) + "\n"
    }

    /// One row per image: index, [label,] class, class_name, probability, then every logit and
    /// every probability.
    public func csv() -> String {
        let k = classCount
        func quoted(_ s: String) -> String { s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        var header = ["index"]
        if labels != nil { header.append("label") }
        header += ["class", "class_name", "probability"] + (0..<k).map { "logit_\($0)" } + (0..<k).map { "probability_\($0)" }
        var out = header.joined(separator: ",") + "\n"
        for i in 0..<count {
            var row = ["\(i)"]
            if let labels { row.append("\(labels[i])") }
            row += ["\(classes[i])", quoted(classNames[classes[i]]), "\(probability(i, classes[i]))"]
            row += (0..<k).map { "\(logits.scalars[i * k + $0])" } + (0..<k).map { "\(probability(i, $0))" }
            out += row.joined(separator: ",") + "\n"
        }
        return out
    }

    /// Writes the predictions (atomically).
    public func write(to path: String, format: FileFormat) throws {
        let url = URL(fileURLWithPath: path)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8)).tmp").path
        do {
            switch format {
            case .csv, .json:
                try Data((format == .csv ? csv() : json()).utf8).write(to: URL(fileURLWithPath: tmp))
            case .h5:
                let file = try HDF5File.create(tmp)
                let root = try file.root()
                try root.writeTensor(logits, name: "logits")
                try root.writeTensor(probabilities, name: "probabilities")
                try root.writeInt64s(classes.map { Int64($0) }, name: "classes")
                if let labels { try root.writeInt64s(labels.map { Int64($0) }, name: "labels") }
                try root.setAttribute("class_names", strings: classNames)
                try root.setAttribute("model", string: modelSource)
                try root.setAttribute("data", string: dataName)
                try file.close()
            }
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            if let e = error as? BorderlineError { throw BorderlineError(e.kind, e.message, file: path) }
            throw BorderlineError(.ioFailure, "cannot write predictions: \(error)", file: path)
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw BorderlineError(.ioFailure, "cannot write predictions: \(reason)", file: path)
        }
    }
}
