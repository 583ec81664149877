import Foundation
import ZIPFoundation

/// A Keras 3 `.keras` file: a zip archive of `config.json` (the model config, as in a legacy
/// `.h5`'s `model_config`), `model.weights.h5` (the weights) and `metadata.json` (keras_version).
///
/// In `model.weights.h5` every layer is a group `layers/<key>` holding `vars/0`, `vars/1`, … in the
/// order Keras creates the weights (kernel before bias; gamma, beta, moving_mean,
/// moving_variance); a nested model's layers sit under its own group's `layers/`. The group's
/// `vars` carries the layer's name as the attribute `name`; files without it are matched by
/// Keras's key (the snake-cased class name, numbered: `conv2d`, `conv2d_1`, …).
struct KerasArchive {
    let path: String

    init(path: String) { self.path = path }

    func importModel() throws -> Model {
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw BorderlineError(.unreadableFile, "is not a readable Keras 3 .keras archive (zip): \(error); the file may be truncated", file: path)
        }
        func entry(_ name: String, required: Bool) throws -> Data? {
            guard let e = archive[name] else {
                guard !required else {
                    let present = archive.map(\.path).prefix(8).joined(separator: ", ")
                    throw BorderlineError(.missingEntry,
                        "the Keras 3 archive has no \(name) (it holds: \(present.isEmpty ? "nothing" : present)); a .keras file needs config.json and model.weights.h5 — save it again with model.save(\"model.keras\")",
                        file: path)
                }
                return nil
            }
            var data = Data()
            let checksum: CRC32
            do {
                checksum = try archive.extract(e, skipCRC32: false) { chunk in data.append(chunk) }
            } catch {
                throw BorderlineError(.unreadableFile, "cannot extract \(name) from the Keras 3 archive (\(error)); the file may be truncated or damaged", file: path)
            }
            // ZIPFoundation returns the checksum of what it extracted; comparing it is the caller's job.
            guard checksum == e.checksum else {
                throw BorderlineError(.unreadableFile,
                    "\(name) in the Keras 3 archive fails its CRC-32 check (stored \(String(e.checksum, radix: 16)), read \(String(checksum, radix: 16))): the file is damaged; copy or save it again",
                    file: path)
            }
            return data
        }
        guard let configData = try entry("config.json", required: true) else { preconditionFailure() }
        let config: JSONValue
        do {
            config = try JSONValue.parse(String(decoding: configData, as: UTF8.self))
        } catch {
            throw BorderlineError(.invalidConfiguration, "config.json in the Keras 3 archive is not valid JSON: \(Architecture.describe(error))", file: path)
        }
        guard let weightsData = try entry("model.weights.h5", required: true) else { preconditionFailure() }
        let weightsName = "\(path) (model.weights.h5)"
        let weightsFile = try HDF5File.open(image: weightsData, name: weightsName)
        let weights = KerasArchiveWeights(root: try weightsFile.root(), name: weightsName)

        var importer = KerasImporter(path: path, modelConfig: config, weights: weights)
        if let meta = try entry("metadata.json", required: false), let m = try? JSONValue.parse(String(decoding: meta, as: UTF8.self)) {
            importer.kerasVersion = m["keras_version"]?.stringValue
        }
        let model = try importer.importModel()
        model.metadata["source"] = "keras (.keras archive)"
        return model
    }
}

/// The weights of a Keras 3 `model.weights.h5` (see ``KerasArchive``).
struct KerasArchiveWeights: KerasWeightSource {
    let root: HDF5Group
    /// How messages name the weights file.
    let name: String

    func take(_ spec: KerasImporter.Spec, roles: [String]) throws -> [String: KerasWeights.Weight] {
        var group = root
        let levels = Array(zip(spec.scope, spec.scopeKeys)) + [(spec.kerasName, spec.weightsKey)]
        for (layerName, key) in levels {
            group = try child(of: group, layer: layerName, key: key, spec: spec, roles: roles)
        }
        guard group.kind(of: "vars") == .group else {
            throw BorderlineError(.missingEntry, "group \(group.path)/vars not found; Keras layer '\(spec.name)' (\(spec.className)) needs \(roles.joined(separator: ", "))", file: name)
        }
        let vars = try group.group("vars")
        let members = try vars.memberNames()
        let indices = members.compactMap(Int.init).sorted()
        guard indices == Array(0..<members.count) else {
            throw BorderlineError(.invalidConfiguration, "group \(vars.path) holds \(members) instead of datasets 0, 1, …", file: name)
        }
        guard members.count == roles.count else {
            throw BorderlineError(members.count < roles.count ? .missingEntry : .invalidConfiguration,
                "group \(vars.path) holds \(members.count) weights; Keras layer '\(spec.name)' (\(spec.className)) expects \(roles.count): \(roles.joined(separator: ", "))",
                file: name)
        }
        var result: [String: KerasWeights.Weight] = [:]
        for (i, role) in roles.enumerated() {
            let dataset = try vars.dataset(String(i))
            let value = try dataset.readTensor()
            try ParameterAssignment.checkFinite(value, what: "dataset \(dataset.path) (\(role))", file: name)
            result[role] = KerasWeights.Weight(path: "model.weights.h5:\(dataset.path)", value: value)
        }
        return result
    }

    /// The group of the layer called `layer` inside `parent/layers`: the one whose `vars` names it,
    /// else the one with Keras's key for it.
    private func child(of parent: HDF5Group, layer: String, key: String, spec: KerasImporter.Spec, roles: [String]) throws -> HDF5Group {
        guard parent.kind(of: "layers") == .group else {
            throw BorderlineError(.missingEntry,
                "group \(H5.join(parent.path, "layers")) not found; Keras layer '\(spec.name)' (\(spec.className)) needs \(roles.joined(separator: ", "))", file: name)
        }
        let layers = try parent.group("layers")
        var byKey: HDF5Group?
        for member in try layers.memberNames() where layers.kind(of: member) == .group {
            let g = try layers.group(member)
            if g.kind(of: "vars") == .group {
                let vars = try g.group("vars")
                if vars.hasAttribute("name"), (try? vars.stringAttribute("name")) == layer { return g }
            }
            if member == key { byKey = g }
        }
        if let byKey { return byKey }
        throw BorderlineError(.missingEntry,
            "no group under \(layers.path) holds the weights of Keras layer '\(layer)' (no vars with name '\(layer)'\(key.isEmpty ? "" : " and no group '\(key)'")); Keras layer '\(spec.name)' (\(spec.className)) needs \(roles.joined(separator: ", "))",
            file: name)
    }
}

extension KerasImporter {
    /// Keras's `to_snake_case` of a class name: `Conv2D` → `conv2d`, `BatchNormalization` →
    /// `batch_normalization`, `ReLU` → `re_lu`.
    static func snakeCase(_ name: String) -> String {
        func replace(_ s: String, _ pattern: String, _ template: String) -> String {
            guard let re = try? NSRegularExpression(pattern: pattern) else { return s }
            return re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: template)
        }
        var s = replace(name, "\\W+", "")
        s = replace(s, "(.)([A-Z][a-z]+)", "$1_$2")
        return replace(s, "([a-z])([A-Z])", "$1_$2").lowercased()
    }

    /// Gives every spec of one model the key Keras 3 files its weights under: the snake-cased class
    /// name, then `_1`, `_2`, … for later layers of the same class (the InputLayer included).
    static func numberWeightsKeys(_ specs: inout [Spec]) {
        var used: [String: Int] = [:]
        for i in specs.indices {
            let base = snakeCase(specs[i].className)
            if let n = used[base] {
                used[base] = n + 1
                specs[i].weightsKey = "\(base)_\(n + 1)"
            } else {
                used[base] = 0
                specs[i].weightsKey = base
            }
        }
    }
}
