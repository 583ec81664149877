import BorderlineCore
import Foundation

/// A plugin file that could not be loaded, and why.
public struct PluginProblem: Error, CustomStringConvertible {
    public let file: String
    public let origin: PluginOrigin
    public let error: BorderlineError
    public var description: String { error.description }
}

/// Finds plugin libraries and loads them.
///
/// Folders are searched in this order, and the first plugin of a name wins: every
/// `--plugin-path DIR` (in the order given), every folder of `BORDERLINE_PLUGIN_PATH`
/// (colon-separated), then the host's built-in folder (the folder of the `borderline`
/// executable, where SwiftPM puts the in-tree plugin libraries). The current directory is never
/// searched unless named explicitly. In each folder, files named `lib*Plugin.so` are plugins.
public struct PluginDiscovery {
    public var folders: [(path: String, origin: PluginOrigin)]

    public init(pluginPaths: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                builtInFolder: String? = PluginDiscovery.builtInFolder()) {
        var folders: [(String, PluginOrigin)] = pluginPaths.map { ($0, .pluginPath) }
        if let env = environment["BORDERLINE_PLUGIN_PATH"] {
            folders += env.split(separator: ":").map(String.init).filter { !$0.isEmpty }.map { ($0, .environment) }
        }
        if let builtInFolder { folders.append((builtInFolder, .builtIn)) }
        self.folders = folders
    }

    /// The folder of the running executable (symlinks resolved).
    public static func builtInFolder() -> String? {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        }
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }

    /// The result of loading every plugin file of every folder.
    public struct Result {
        public var plugins: [LoadedPlugin] = []
        /// Files that failed to load.
        public var problems: [PluginProblem] = []
        /// Plugins hidden by an earlier one of the same name: (hidden file, name, winning file).
        public var shadowed: [(file: String, name: String, by: String)] = []
        /// Folders given by the user that do not exist.
        public var missingFolders: [String] = []

        public func plugin(named name: String) -> LoadedPlugin? { plugins.first { $0.plugin.name == name } }
    }

    /// Plugin files in the folders, in search order, each folder's files sorted by name.
    public func candidateFiles() -> (files: [(path: String, origin: PluginOrigin)], missing: [String]) {
        var files: [(String, PluginOrigin)] = []
        var missing: [String] = []
        let fm = FileManager.default
        for (folder, origin) in folders {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                if origin != .builtIn { missing.append(folder) }
                continue
            }
            let names = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter(PluginLoader.isPluginFileName).sorted()
            files += names.map { ((folder as NSString).appendingPathComponent($0), origin) }
        }
        return (files, missing)
    }

    /// Loads every plugin file found.
    public func loadAll() -> Result {
        var result = Result()
        let (files, missing) = candidateFiles()
        result.missingFolders = missing
        var seenFiles = Set<String>()
        for (file, origin) in files {
            let real = URL(fileURLWithPath: file).resolvingSymlinksInPath().path
            guard seenFiles.insert(real).inserted else { continue }
            do {
                let loaded = try PluginLoader.load(file, origin: origin)
                if let first = result.plugin(named: loaded.plugin.name) {
                    result.shadowed.append((file, loaded.plugin.name, first.file))
                } else {
                    result.plugins.append(loaded)
                }
            } catch let error as BorderlineError {
                result.problems.append(PluginProblem(file: file, origin: origin, error: error.inFile(file)))
            } catch {
                result.problems.append(PluginProblem(file: file, origin: origin,
                    error: BorderlineError(.unreadableFile, "\(error)", file: file)))
            }
        }
        return result
    }
}
