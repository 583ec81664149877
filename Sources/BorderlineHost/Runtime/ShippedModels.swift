import BorderlineCore
import Foundation

/// Finds the models shipped in the repository's `Models/` folder.
///
/// A shipped name (`fashion-cnn`, `fashion-vae-decoder.h5`) is looked up in these folders, in
/// order, and the first that holds the file wins: `$BORDERLINE_MODELS`, every `Models/` folder in
/// the running executable's folder and up to five above it (so `.build/release/borderline` finds
/// the checkout's models), then the current directory's `Models/`. Plugins reach it through
/// `RunContext.modelPath(_:)` / `loadClassifier(_:)`.
public enum ShippedModels {
    public static let defaultClassifier = "fashion-cnn.h5"

    /// The folders searched for a shipped name, in order (existing or not).
    public static func folders() -> [URL] {
        let fm = FileManager.default
        var out: [URL] = []
        if let env = ProcessInfo.processInfo.environment["BORDERLINE_MODELS"] { out.append(URL(fileURLWithPath: env)) }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        }
        for _ in 0..<6 {
            out.append(dir.appendingPathComponent("Models"))
            dir = dir.deletingLastPathComponent()
        }
        out.append(URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("Models"))
        return out
    }

    /// The folder holding the default classifier: `$BORDERLINE_MODELS` when set, else the first
    /// `Models/` of ``folders()`` that holds `fashion-cnn.h5`, else the current directory's
    /// `Models/` when it exists.
    public static func directory() -> URL? {
        if let env = ProcessInfo.processInfo.environment["BORDERLINE_MODELS"] { return URL(fileURLWithPath: env) }
        let fm = FileManager.default
        if let hit = folders().first(where: { fm.fileExists(atPath: $0.appendingPathComponent(defaultClassifier).path) }) { return hit }
        let cwd = URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("Models")
        return fm.fileExists(atPath: cwd.path) ? cwd : nil
    }

    /// Resolves a model argument: an existing path as is; a bare name (`fashion-cnn`,
    /// `fashion-vae-decoder.h5`) to the shipped file of that name in the first of ``folders()``
    /// that holds it.
    public static func resolve(_ spec: String?) throws -> String {
        let name = spec ?? defaultClassifier
        let fm = FileManager.default
        if fm.fileExists(atPath: name) { return name }
        let file = name.hasSuffix(".h5") ? name : name + ".h5"
        if !name.contains("/"), let hit = folders().map({ $0.appendingPathComponent(file).path }).first(where: { fm.fileExists(atPath: $0) }) {
            return hit
        }
        throw BorderlineError(.fileNotFound,
            "no model file '\(name)' (neither a path nor a shipped model; shipped models live in Models/, or set BORDERLINE_MODELS)")
    }
}
