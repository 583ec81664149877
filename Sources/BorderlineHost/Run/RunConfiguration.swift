import BorderlineCore
import Foundation
import Yams

/// Everything that defines a run, from the command line and/or a configuration file (JSON or
/// YAML, same keys). Command-line values override the file's. The resolved form (model path,
/// class pairs as indices, every option's value) is written back into the run folder as
/// `config.json`, which `borderline run --config` accepts to repeat the run.
public struct RunConfiguration: Equatable {
    /// Model file or shipped model name; nil: the shipped Fashion-MNIST CNN.
    public var model: String?
    /// Architecture JSON for a PyTorch state_dict model file.
    public var architecture: String?
    /// Data set name or file.
    public var data: String = "fashion-mnist"
    public var split: DataSplit = .test
    /// Plugin names to enable, in addition to ``defaultPlugins`` unless ``includeDefaultPlugins``
    /// is false (`--no-defaults`, `default_plugins: false`).
    public var plugins: [String] = []
    /// Whether the run enables ``defaultPlugins`` besides ``plugins`` (config key `default_plugins`).
    public var includeDefaultPlugins: Bool = true
    /// `plugin.option` or `plugin.component.option` → value (text from `--set`, typed from files).
    public var options: [String: JSONValue] = [:]
    /// `["all"]`, `["all-ordered"]` (both directions of every pair), or pairs `s:t` with class names or indices; empty: all pairs of `classes`.
    public var pairs: [String] = []
    /// Classes (names or indices) whose pairs are analysed when `pairs` is empty; empty: all.
    public var classes: [String] = []
    /// Attempts per class pair.
    public var samples: Int = 50
    /// The run uses the first this many images of each class of its pairs (0: all of them), so
    /// that it classifies only the images probers can draw from.
    public var imagesPerClass: Int = 1000
    public var seed: UInt64 = 0
    /// The run folder; nil: `runs/<date>-<time>-<model>` in the current directory.
    public var out: String?
    /// Replace an existing run folder.
    public var overwrite: Bool = false
    public var pluginPaths: [String] = []
    /// Analyse the model as a black box (probabilities only).
    public var blackBox: Bool = false
    /// `nes` or `finite-differences`: enable a zeroth-order gradient estimator for black boxes.
    public var gradientEstimator: String?
    public var estimatorSamples: Int = 50
    public var estimatorStep: Double = 0.01
    /// Run only this slice of the pairs (`--shard I/N`) into a shard run folder for `borderline merge`.
    public var shard: ShardSpec?

    /// The plugins a run enables when none are named: the model atlas (docs/report.md) — bisection's
    /// class × class heatmaps and most fragile pairs, flip-point's natural-vs-random distance
    /// histograms, one decision slice.
    public static let defaultPlugins = ["bisection", "flip-point", "slices"]

    /// Settings that keep the default run (the atlas) within a minute on the shipped CNN, per
    /// default plugin (`option` or `component.option` → value). They apply only to a plugin that
    /// runs as a default (``pluginsRunningAsDefaults``), beneath the user's own settings; a plugin
    /// named with `--plugin` runs at its own defaults. The resolved values land in config.json, so
    /// `--config` repeats the run exactly.
    public static let atlasOptions: [String: [String: JSONValue]] = [
        // One slice, drawn smaller; no church windows or three-image slice.
        "slices": ["max-pairs": 1, "grid": 256, "window-grid": 160, "church-window": false, "image-slice": false, "profile-points": 101],
        // A few images per pair: the histograms need hundreds of distances, not thousands.
        "flip-point": ["per-pair": 6],
    ]

    /// Every plugin the run enables: the defaults (unless ``includeDefaultPlugins`` is false), then
    /// the named ones, each once.
    public var enabledPlugins: [String] {
        var out: [String] = []
        for n in (includeDefaultPlugins ? RunConfiguration.defaultPlugins : []) + plugins where !out.contains(n) { out.append(n) }
        return out
    }

    /// The plugins that run only because they are defaults (not named with `--plugin` or the
    /// `plugins` key), which get ``atlasOptions``.
    public var pluginsRunningAsDefaults: [String] {
        includeDefaultPlugins ? RunConfiguration.defaultPlugins.filter { !plugins.contains($0) } : []
    }

    /// `options` with the ``atlasOptions`` of every plugin in ``pluginsRunningAsDefaults`` added
    /// where the user set nothing of that name for the plugin.
    public var optionsWithAtlasSettings: [String: JSONValue] {
        var out = options
        for plugin in pluginsRunningAsDefaults {
            for (option, value) in RunConfiguration.atlasOptions[plugin] ?? [:] {
                let name = option.split(separator: ".").last.map(String.init) ?? option
                let userSet = options.keys.contains { $0.hasPrefix(plugin + ".") && $0.split(separator: ".").last.map(String.init) == name }
                if !userSet { out["\(plugin).\(option)"] = value }
            }
        }
        return out
    }

    public init() {}

    /// The keys a configuration file may use.
    public static let keys = ["model", "architecture", "data", "split", "plugins", "default_plugins", "options", "pairs", "classes", "samples",
                              "images_per_class", "seed", "out", "overwrite", "plugin_paths", "black_box", "gradient_estimator",
                              "estimator_samples", "estimator_step", "shard"]

    /// Reads a configuration file: JSON (`.json`) or YAML (anything else; JSON is valid YAML).
    /// - Throws: `.fileNotFound`, or `.invalidConfiguration` naming the file, the key and what was expected.
    public static func load(_ path: String) throws -> RunConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BorderlineError(.fileNotFound, "configuration file cannot be read (no such file, or not UTF-8 text)", file: path)
        }
        let json: JSONValue
        do {
            if path.lowercased().hasSuffix(".json") {
                json = try JSONValue.parse(text)
            } else {
                try YAMLLimits.check(text)
                var budget = YAMLLimits.maxValues
                json = try jsonValue(fromYAML: Yams.load(yaml: text) ?? [String: Any](), budget: &budget)
            }
        } catch let e as BorderlineError {
            throw e.inFile(path)
        } catch {
            throw BorderlineError(.invalidConfiguration, "is not valid \(path.lowercased().hasSuffix(".json") ? "JSON" : "YAML"): \(error)", file: path)
        }
        do { return try RunConfiguration(json: json) } catch let e as BorderlineError { throw e.inFile(path) }
    }

    /// Converts what Yams parsed into a ``JSONValue``, at most `budget` values in all (aliases
    /// repeat what they point to, so a small file can expand to billions of values).
    static func jsonValue(fromYAML value: Any, budget: inout Int) throws -> JSONValue {
        budget -= 1
        guard budget >= 0 else {
            throw BorderlineError(.invalidConfiguration, "expands to more than \(YAMLLimits.maxValues) values (aliases repeating aliases?); a configuration is a few dozen keys")
        }
        switch value {
        case is NSNull: return .null
        case let b as Bool: return .bool(b)
        case let i as Int: return .number(Double(i))
        case let d as Double: return .number(d)
        case let s as String: return .string(s)
        case let a as [Any]: return .array(try a.map { try jsonValue(fromYAML: $0, budget: &budget) })
        case let o as [String: Any]: return .object(try o.mapValues { try jsonValue(fromYAML: $0, budget: &budget) })
        case let o as [AnyHashable: Any]:
            var out: [String: JSONValue] = [:]
            for (k, v) in o { out["\(k)"] = try jsonValue(fromYAML: v, budget: &budget) }
            return .object(out)
        default:
            throw BorderlineError(.invalidConfiguration, "unsupported YAML value \(value) (\(type(of: value)))")
        }
    }

    /// Builds a configuration from a JSON object with the keys of ``keys``.
    public init(json: JSONValue) throws {
        guard let object = json.objectValue else {
            throw BorderlineError(.invalidConfiguration, "the configuration must be a mapping of keys (\(RunConfiguration.keys.joined(separator: ", "))) to values")
        }
        for key in object.keys where !RunConfiguration.keys.contains(key) {
            throw BorderlineError(.invalidConfiguration, "unknown configuration key '\(key)'; known keys: \(RunConfiguration.keys.joined(separator: ", "))")
        }
        func fail(_ key: String, _ expected: String) -> BorderlineError {
            BorderlineError(.invalidConfiguration, "configuration key '\(key)' must be \(expected), got \(object[key]!.serialized())")
        }
        func string(_ key: String) throws -> String? {
            guard let v = object[key], v != .null else { return nil }
            if let s = v.stringValue { return s }
            if let n = v.doubleValue { return n == n.rounded() ? String(Int(n)) : String(n) }
            throw fail(key, "a string")
        }
        func strings(_ key: String) throws -> [String]? {
            guard let v = object[key], v != .null else { return nil }
            if let s = v.stringValue { return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            if let i = v.intValue { return [String(i)] }
            guard let a = v.arrayValue else { throw fail(key, "a list of strings") }
            return try a.map { item in
                if let s = item.stringValue { return s }
                if let i = item.intValue { return String(i) }
                throw fail(key, "a list of strings")
            }
        }
        func int(_ key: String) throws -> Int? {
            guard let v = object[key], v != .null else { return nil }
            guard let i = v.intValue else { throw fail(key, "an integer") }
            return i
        }
        func bool(_ key: String) throws -> Bool? {
            guard let v = object[key], v != .null else { return nil }
            guard let b = v.boolValue else { throw fail(key, "true or false") }
            return b
        }
        model = try string("model")
        architecture = try string("architecture")
        if let d = try string("data") { data = d }
        if let s = try string("split") {
            guard let split = DataSplit(rawValue: s) else { throw fail("split", "train or test") }
            self.split = split
        }
        plugins = try strings("plugins") ?? []
        includeDefaultPlugins = try bool("default_plugins") ?? true
        if let o = object["options"], o != .null {
            guard let map = o.objectValue else { throw fail("options", "a mapping of plugin.option to value (or plugin → option → value)") }
            options = RunConfiguration.flatten(map)
        }
        pairs = try strings("pairs") ?? []
        classes = try strings("classes") ?? []
        if let n = try int("samples") { samples = n }
        if let n = try int("images_per_class") { imagesPerClass = n }
        if let n = try int("seed") {
            guard n >= 0 else { throw fail("seed", "a non-negative integer") }
            seed = UInt64(n)
        }
        out = try string("out")
        overwrite = try bool("overwrite") ?? false
        pluginPaths = try strings("plugin_paths") ?? []
        blackBox = try bool("black_box") ?? false
        gradientEstimator = try string("gradient_estimator")
        if let n = try int("estimator_samples") { estimatorSamples = n }
        if let v = object["estimator_step"], v != .null {
            guard let d = v.doubleValue else { throw fail("estimator_step", "a number") }
            estimatorStep = d
        }
        if let s = try string("shard") { shard = try ShardSpec(parsing: s) }
    }

    /// `{bisection: {beta: 0.1}}` → `{"bisection.beta": 0.1}`; dotted keys stay as they are.
    static func flatten(_ map: [String: JSONValue], prefix: String = "") -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (k, v) in map {
            let key = prefix.isEmpty ? k : "\(prefix).\(k)"
            if let nested = v.objectValue { out.merge(flatten(nested, prefix: key)) { $1 } } else { out[key] = v }
        }
        return out
    }

    /// Parses `--set plugin.option=value` into `options`.
    public mutating func set(_ assignment: String) throws {
        guard let eq = assignment.firstIndex(of: "="), assignment[..<eq].contains(".") else {
            throw BorderlineError(.invalidArgument, "--set '\(assignment)' must look like plugin.option=value (or plugin.component.option=value)")
        }
        options[String(assignment[..<eq]).trimmingCharacters(in: .whitespaces)] =
            .string(String(assignment[assignment.index(after: eq)...]))
    }

    /// Checks ranges that do not need the model.
    public func validate() throws {
        guard !enabledPlugins.isEmpty else {
            throw BorderlineError(.invalidArgument, "no plugins to run: --no-defaults (or default_plugins: false) leaves only the plugins named with --plugin, and none is named")
        }
        guard samples >= 1 else { throw BorderlineError(.invalidArgument, "--samples must be at least 1, got \(samples)") }
        if let g = gradientEstimator, ZerothOrderGradientEstimator.Method(rawValue: g) == nil {
            throw BorderlineError(.invalidArgument,
                "--gradient-estimator '\(g)' is not one of: \(ZerothOrderGradientEstimator.Method.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard imagesPerClass >= 0 else { throw BorderlineError(.invalidArgument, "--images-per-class must be 0 (all) or positive, got \(imagesPerClass)") }
        guard estimatorSamples >= 1 else { throw BorderlineError(.invalidArgument, "--estimator-samples must be at least 1") }
        guard estimatorStep > 0, estimatorStep.isFinite else { throw BorderlineError(.invalidArgument, "--estimator-step must be a positive number") }
    }
}
