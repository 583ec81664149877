import BorderlineCore
import Foundation

/// Finds the models shipped in the repository's `Models/` folder.
///
/// Looked up, in order: `$BORDERLINE_MODELS`, then the nearest `Models/` folder above the running
/// executable (so `.build/release/borderline` finds the checkout's models), then the current
/// directory's `Models/`.
public enum ShippedModels {
    public static let defaultClassifier = "fashion-cnn.h5"

    public static func directory() -> URL? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["BORDERLINE_MODELS"] {
            return URL(fileURLWithPath: env)
        }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        }
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("Models")
            if fm.fileExists(atPath: candidate.appendingPathComponent(defaultClassifier).path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        let cwd = URL(fileURLWithPath: fm.currentDirectoryPath).appendingPathComponent("Models")
        return fm.fileExists(atPath: cwd.path) ? cwd : nil
    }

    /// Resolves a model argument: an existing path as is; a bare name (`fashion-cnn`) to the
    /// shipped file of that name.
    public static func resolve(_ spec: String?) throws -> String {
        let name = spec ?? defaultClassifier
        if FileManager.default.fileExists(atPath: name) { return name }
        let file = name.hasSuffix(".h5") ? name : name + ".h5"
        if !name.contains("/"), let dir = directory() {
            let path = dir.appendingPathComponent(file).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw BorderlineError(.fileNotFound,
            "no model file '\(name)' (neither a path nor a shipped model; shipped models live in Models/, or set BORDERLINE_MODELS)")
    }
}
