import BorderlineCore
import Foundation

/// Writes a run folder: `results.h5` (every array), `summary.json` (every number), `config.json`
/// (the resolved configuration), `report.html` (one self-contained page) and `images/*.png`.
/// Layouts are documented in docs/results-format.md.
struct RunFolderWriter {
    let prepared: RunEngine.Prepared
    let record: RunRecord
    let status: RunStatus
    let seconds: Double
    let totalQueries: Int
    /// Of ``totalQueries``: run-wide work shared by components (``RunEnvironment/sharedQueries``).
    var sharedQueries = 0
    let predictions: [Int]

    /// Writes every file into the temporary folder, then moves it into place; returns where the
    /// folder went (see ``RunFolder/commit()``).
    @discardableResult
    func write() throws -> String {
        let folder = prepared.folder
        do {
            let modelHash = prepared.modelHash
            let filed = self.filed
            let pictures = try writeImages(filed)
            try writeResults(modelHash: modelHash, filed: filed)
            let summary = makeSummary(modelHash: modelHash, pictures: pictures, filed: filed)
            try write(summary.serialized(pretty: true) + "\n", to: "summary.json")
            try write(RunFolderWriter.resolvedConfiguration(prepared).serialized(pretty: true) + "\n", to: "config.json")
            try write(ReportPage(prepared: prepared, record: record, status: status, seconds: seconds,
                                 totalQueries: totalQueries, accuracy: accuracy, modelHash: modelHash, pictures: pictures, filed: filed).html(),
                      to: "report.html")
            return try folder.commit()
        } catch {
            folder.discard()
            throw error
        }
    }

    private func write(_ text: String, to name: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: prepared.folder.file(name))) } catch {
            throw BorderlineError(.ioFailure, "cannot write \(name): \(RunFolder.reason(error))", file: prepared.folder.temporaryPath)
        }
    }

    var accuracy: Double {
        let labels = prepared.data.labels
        guard !labels.isEmpty else { return 0 }
        return Double(zip(labels, predictions).filter { $0 == $1 }.count) / Double(labels.count)
    }

    // MARK: images

    /// Each plugin's filed outputs.
    var filed: [String: FiledResults] {
        Dictionary(uniqueKeysWithValues: record.plugins.map { ($0.name, FiledResults(plugin: $0.name, outputs: record.outputs)) })
    }

    /// Writes every picture as `images/<plugin>-<name>.png`; returns the file names by
    /// `plugin#index` (the picture's position among the plugin's pictures).
    private func writeImages(_ filed: [String: FiledResults]) throws -> [String: (file: String, data: Data)] {
        var out: [String: (String, Data)] = [:]
        var used = Set<String>()
        let dir = prepared.folder.file("images")
        for plugin in record.plugins {
            for (i, item) in (filed[plugin.name]?.pictures ?? []).enumerated() {
                if out.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
                var stem = "\(plugin.name)-\(FiledResults.stem(item.entry, item.picture))".map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" }
                    .reduce(into: "") { $0.append($1) }
                if let pair = item.entry.pair, !stem.contains("pair_") { stem += "-\(pair.groupName)" }
                var name = stem + ".png", n = 2
                while used.contains(name) { name = "\(stem)-\(n).png"; n += 1 }
                used.insert(name)
                let data = try item.picture.image.encoded()
                do { try data.write(to: URL(fileURLWithPath: (dir as NSString).appendingPathComponent(name))) } catch {
                    throw BorderlineError(.ioFailure, "cannot write images/\(name): \(RunFolder.reason(error))", file: prepared.folder.temporaryPath)
                }
                out["\(plugin.name)#\(i)"] = ("images/" + name, data)
            }
        }
        return out
    }

    // MARK: results.h5

    private func writeResults(modelHash: String, filed: [String: FiledResults]) throws {
        let file = try HDF5File.create(prepared.folder.file("results.h5"))
        let root = try file.root()
        try root.setAttribute("format", string: "borderline.results")
        try root.setAttribute("format_version", int: 1)
        try root.setAttribute("status", string: status.rawValue)
        try root.setAttribute("borderline_version", string: BorderlineVersion.string)
        try root.setAttribute("seed", int: Int(truncatingIfNeeded: prepared.configuration.seed))
        try root.setAttribute("model", string: prepared.modelPath)
        try root.setAttribute("model_sha256", string: modelHash)
        try root.setAttribute("data", string: prepared.fullDataName)
        try root.setAttribute("class_names", strings: prepared.classifier.classNames)

        let data = try root.createGroup("data")
        try data.writeInt64s(prepared.dataIndices.map(Int64.init), name: "indices")
        try data.writeInt64s(prepared.data.labels.map(Int64.init), name: "labels")
        try data.writeInt64s(predictions.map(Int64.init), name: "predictions")

        let classNames = prepared.classifier.classNames
        for plugin in record.plugins {
            let g = try root.createGroup(plugin.name)
            try g.setAttribute("version", string: plugin.version)
            try g.setAttribute("status", string: plugin.status.word)
            if case .failed(let why) = plugin.status { try g.setAttribute("error", string: why) }
            var pairGroups: [String: HDF5Group] = [:]
            func group(_ pair: ClassPair?) throws -> HDF5Group {
                let name = pair?.groupName ?? "all"
                if let existing = pairGroups[name] { return existing }
                let made = try g.createGroup(name)
                if let pair {
                    try made.setAttribute("source", int: pair.source)
                    try made.setAttribute("target", int: pair.target)
                    try made.setAttribute("source_name", string: classNames[pair.source])
                    try made.setAttribute("target_name", string: classNames[pair.target])
                }
                pairGroups[name] = made
                return made
            }
            for set in record.boundarySets where set.producer.hasPrefix(plugin.name + "/") {
                let prober = String(set.producer.dropFirst(plugin.name.count + 1))
                let s = try group(set.pair).createGroup(prober)
                try writeBoundarySet(set, to: s)
            }
            let results = filed[plugin.name]!
            for (entry, array) in results.arrays {
                let pg = try group(entry.pair)
                let name = entry.path.joined(separator: "/")
                switch array {
                case .float(let t): try pg.writeTensor(t, name: name, compressionLevel: t.count > 4096 ? 4 : nil)
                case .float64(let v, let shape): try pg.writeDoubles(v, shape: shape, name: name)
                case .int64(let v, let shape): try pg.writeInt64s(v, shape: shape, name: name)
                case .uint8(let v, let shape): try pg.writeUInt8s(v, shape: shape, name: name, compressionLevel: v.count > 4096 ? 4 : nil)
                }
            }
            // Scalars also become attributes of the group they belong to (h5py: group.attrs["name"]).
            for entry in results.scalars {
                let pg = try group(entry.pair)
                let parent = entry.path.dropLast().joined(separator: "/")
                let holder = parent.isEmpty ? pg : try (pg.contains(parent) ? pg.group(parent) : pg.createGroup(parent))
                let name = entry.path.last!
                switch entry.value {
                case .number(let d): try holder.setAttribute(name, doubles: [d])
                case .bool(let b): try holder.setAttribute(name, int: b ? 1 : 0)
                case .string(let t): try holder.setAttribute(name, string: t)
                case .strings(let a): try holder.setAttribute(name, strings: a)
                default: break
                }
            }
        }
        try file.close()
    }

    private func writeBoundarySet(_ set: BoundarySet, to g: HDF5Group) throws {
        let level: Int? = set.points.count > 4096 ? 4 : nil
        try g.writeTensor(set.points, name: "points", compressionLevel: level)
        try g.writeTensor(set.startPoints, name: "start_points", compressionLevel: level)
        if let end = set.endPoints { try g.writeTensor(end, name: "end_points", compressionLevel: level) }
        try g.writeInt64s(set.startIndices.map { $0 < 0 ? -1 : Int64(prepared.dataIndices[$0]) }, name: "start_indices")
        if let e = set.endIndices { try g.writeInt64s(e.map { $0 < 0 ? -1 : Int64(prepared.dataIndices[$0]) }, name: "end_indices") }
        try g.writeTensor(set.probabilities, name: "probabilities")
        try g.writeUInt8s(set.succeeded.map { $0 ? 1 : 0 }, name: "succeeded")
        try g.writeInt64s(set.iterations.map(Int64.init), name: "iterations")
        var reasons: [String] = []
        let codes: [Int64] = set.failureReasons.map { r in
            guard let r else { return -1 }
            if let i = reasons.firstIndex(of: r) { return Int64(i) }
            reasons.append(r)
            return Int64(reasons.count - 1)
        }
        try g.writeInt64s(codes, name: "failure_code")
        try g.setAttribute("failure_reasons", strings: reasons)
        try g.setAttribute("producer", string: set.producer)
        try g.setAttribute("queries", int: set.queries)
        try g.setAttribute("attempts", int: set.count)
        try g.setAttribute("successes", int: set.successCount)
        if let beta = set.gapTolerance { try g.setAttribute("gap_tolerance", doubles: [Double(beta)]) }
        for (name, t) in set.extras.sorted(by: { $0.key < $1.key }) {
            try g.writeTensor(t, name: "extras/\(name)")
        }
    }

    // MARK: summary.json

    static func number(_ v: Double) -> JSONValue { v.isFinite ? .number(v) : .null }

    /// Inserts `value` at a slash-separated path into a JSON object.
    static func insert(_ value: JSONValue, at path: [String], into object: inout [String: JSONValue]) {
        guard let head = path.first else { return }
        if path.count == 1 { object[head] = value; return }
        var child = object[head]?.objectValue ?? [:]
        insert(value, at: Array(path.dropFirst()), into: &child)
        object[head] = .object(child)
    }

    private func makeSummary(modelHash: String, pictures: [String: (file: String, data: Data)], filed: [String: FiledResults]) -> JSONValue {
        let config = prepared.configuration
        var plugins: [String: JSONValue] = [:]
        let loaded = Dictionary(prepared.plugins.map { ($0.plugin.name, $0) }, uniquingKeysWith: { a, _ in a })
        for plugin in record.plugins {
            var p: [String: JSONValue] = [
                "version": .string(plugin.version),
                "file": .string(loaded[plugin.name]?.file ?? ""),
                "status": .string(plugin.status.word),
                "seconds": .number((plugin.seconds * 1000).rounded() / 1000),
                "model_queries": .init(plugin.queries),
                "problems": .array(plugin.problems.map { .string($0) }),
            ]
            if case .failed(let why) = plugin.status { p["error"] = .string(why) }
            p["skipped_pairs"] = .array(plugin.skippedPairs.map { RunFolderWriter.json($0) })
            p["failed_pairs"] = .array(plugin.failedPairs.map { RunFolderWriter.json($0) })
            var sets: [String: JSONValue] = [:]
            for set in record.boundarySets where set.producer.hasPrefix(plugin.name + "/") {
                let prober = String(set.producer.dropFirst(plugin.name.count + 1))
                RunFolderWriter.insert(.object([
                    "attempts": .init(set.count), "successes": .init(set.successCount), "model_queries": .init(set.queries),
                    "failures": .object(Dictionary(set.failureHistogram.map { ($0.reason, JSONValue.init($0.count)) }, uniquingKeysWith: { a, _ in a })),
                ]), at: [prober, set.pair.key], into: &sets)
            }
            p["boundary_sets"] = .object(sets)
            let results = filed[plugin.name]!
            var pairs: [String: JSONValue] = [:], numbers: [String: JSONValue] = [:]
            for entry in results.scalars {
                if let pair = entry.pair {
                    RunFolderWriter.insert(FiledResults.json(entry.value), at: [pair.key] + entry.path, into: &pairs)
                } else {
                    RunFolderWriter.insert(FiledResults.json(entry.value), at: entry.path, into: &numbers)
                }
            }
            p["pairs"] = .object(pairs)
            p["numbers"] = .object(numbers)
            p["tables"] = .array(results.tables.map { item in
                .object(["title": .string(item.table.title), "pair": item.entry.pair.map { .string($0.key) } ?? .null,
                         "component": .string(item.entry.component),
                         "columns": .array(item.table.columns.map { .string($0) }),
                         "rows": .array(item.table.rows.map { .array($0.map { .string($0) }) })])
            })
            p["pictures"] = .array(results.pictures.indices.compactMap { i in pictures["\(plugin.name)#\(i)"].map { .string($0.file) } })
            p["highlights"] = .array(results.highlights.map { item in
                .object(["label": .string(item.highlight.label), "value": item.highlight.value.isFinite ? .number(item.highlight.value) : .null,
                         "unit": .string(item.highlight.unit), "detail": .string(item.highlight.detail),
                         "pair": item.entry.pair.map { .string($0.key) } ?? .null, "component": .string(item.entry.component)])
            })
            p["component_seconds"] = .object(plugin.componentSeconds.mapValues { .number(($0 * 1000).rounded() / 1000) })
            p["component_queries"] = .object(plugin.componentQueries.mapValues { .number(Double($0)) })
            plugins[plugin.name] = .object(p)
        }
        let model = prepared.model
        let failed = record.plugins.contains { if case .failed = $0.status { return true } else { return false } }
        return .object([
            "format": "borderline.summary",
            "format_version": 1,
            "status": .string(status.rawValue),
            "all_plugins_ok": .bool(status == .complete && !failed),
            "versions": .object([
                "borderline": .string(BorderlineVersion.string),
                "plugin_abi": .init(Int(PluginABI.hostVersion)),
                "plugins": .object(Dictionary(record.plugins.map { ($0.name, JSONValue.string($0.version)) }, uniquingKeysWith: { a, _ in a })),
            ]),
            "seed": .number(Double(config.seed)),
            "seconds": .number((seconds * 1000).rounded() / 1000),
            "model_queries": .init(totalQueries),
            "shared_model_queries": .init(sharedQueries),
            "model": .object([
                "path": .string(prepared.modelPath),
                "sha256": .string(modelHash),
                "input_shape": .init(model.inputShape),
                "class_names": .array(prepared.classifier.classNames.map { .string($0) }),
                "parameters": .init(model.parameterCount),
                "black_box": .bool(config.blackBox),
                "accuracy_on_run_data": RunFolderWriter.number((accuracy * 1e4).rounded() / 1e4),
            ]),
            "data": .object([
                "name": .string(prepared.fullDataName),
                "split": .string(config.split.rawValue),
                "images": .init(prepared.data.count),
                "images_per_class": .init(config.imagesPerClass),
            ]),
            "gradient_estimator": config.gradientEstimator.map { .string($0) } ?? .null,
            "pairs": .array(prepared.pairs.map { .string($0.description) }),
            "samples_per_pair": .init(config.samples),
            // Pairs a component declined (PairDeclined), every plugin's; each plugin also lists its own.
            "skipped_pairs": .array(record.plugins.flatMap { r in
                r.skippedPairs.map { o in
                    var object = RunFolderWriter.json(o).objectValue ?? [:]
                    object["plugin"] = .string(r.name)
                    return JSONValue.object(object)
                }
            }),
            "plugins": .object(plugins),
        ].merging(shardSummary) { a, _ in a })
    }

    /// A skipped or failed pair: `{"pair": "s:t", "component": …, "producer": … (metrics), "reason": …}`.
    static func json(_ o: PluginRecord.PairOutcome) -> JSONValue {
        var object: [String: JSONValue] = ["pair": .string(o.pair.description), "component": .string(o.component), "reason": .string(o.reason)]
        if let producer = o.producer { object["producer"] = .string(producer) }
        return .object(object)
    }

    /// A shard folder's `shard` key: which slice of the run it holds.
    private var shardSummary: [String: JSONValue] {
        guard let shard = prepared.configuration.shard else { return [:] }
        return ["shard": .object([
            "index": .init(shard.index), "count": .init(shard.count),
            "pairs": .array(prepared.units.flatMap(\.pairs).map { .string($0.description) }),
            "merge": .string("borderline merge SHARD_FOLDERS... -o RUN"),
        ])]
    }

    // MARK: config.json

    /// The configuration with everything resolved: absolute model and plugin paths, pairs as
    /// indices, every option of every component. `borderline run --config config.json --out NEW`
    /// repeats the run.
    static func resolvedConfiguration(_ prepared: RunEngine.Prepared) -> JSONValue {
        let c = prepared.configuration
        var options: [String: JSONValue] = [:]
        for (plugin, components) in prepared.options {
            for (component, resolved) in components where !resolved.values.isEmpty {
                let object = JSONValue.object(Dictionary(resolved.values.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }))
                RunFolderWriter.insert(object, at: [plugin, component], into: &options)
            }
        }
        var object: [String: JSONValue] = [
            "model": .string(prepared.modelPath),
            "data": .string(c.data.contains("/") ? URL(fileURLWithPath: c.data).standardizedFileURL.path : c.data),
            "split": .string(c.split.rawValue),
            "plugins": .array(prepared.plugins.map { .string($0.plugin.name) }),
            // The list above is complete: repeating the run with --config adds no defaults to it.
            "default_plugins": false,
            "options": .object(options),
            "pairs": .array(prepared.pairs.map { .string($0.description) }),
            "samples": .init(c.samples),
            "images_per_class": .init(c.imagesPerClass),
            "seed": .number(Double(c.seed)),
            "plugin_paths": .array(c.pluginPaths.map { .string(URL(fileURLWithPath: $0).standardizedFileURL.path) }),
            "black_box": .bool(c.blackBox),
            "estimator_samples": .init(c.estimatorSamples),
            "estimator_step": .number(c.estimatorStep),
        ]
        if let a = c.architecture { object["architecture"] = .string(URL(fileURLWithPath: a).standardizedFileURL.path) }
        if let g = c.gradientEstimator { object["gradient_estimator"] = .string(g) }
        if let s = c.shard { object["shard"] = .string(s.description) }
        return .object(object)
    }
}
