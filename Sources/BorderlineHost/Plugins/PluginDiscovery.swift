import BorderlineCore
import Foundation

/// A plugin file that could not be opened, and why.
public struct PluginProblem: Error, CustomStringConvertible {
    public let file: String
    public let origin: PluginOrigin
    public let error: BorderlineError
    public var description: String { error.description }
}

/// Finds plugin libraries and reads their manifests.
///
/// Folders are searched in this order, and the first plugin of a name wins: every
/// `--plugin-path DIR` (in the order given), every folder of `BORDERLINE_PLUGIN_PATH`
/// (colon-separated), then the host's built-in folder (the folder of the `borderline`
/// executable, where SwiftPM puts the in-tree plugin libraries). The current directory is never
/// searched unless named explicitly. In each folder, files named `lib*Plugin.so` are plugins.
///
/// **Manifests.** Beside each library the host keeps a small manifest file,
/// `lib<Name>Plugin.so.manifest.json` (name, version, summary, ABI version, and the library's
/// size and modification time). When it matches the library, the host learns the plugin's name
/// from it without opening the library, so a run opens only the plugins it enables; otherwise
/// it opens the library, reads the manifest symbol and rewrites the file (when the folder is
/// writable). A library that cannot be opened is a warning unless the run asks for it.
public struct PluginDiscovery {
    public var folders: [(path: String, origin: PluginOrigin)]
    /// Whether to write manifest files beside libraries.
    public var writesManifests = true

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

    /// What the folders hold.
    public struct Survey {
        /// The first library of each name, in search order.
        public var libraries: [PluginLibrary] = []
        /// Files that could not be opened or read.
        public var problems: [PluginProblem] = []
        /// Libraries hidden by an earlier one of the same name: (hidden file, name, winning file).
        public var shadowed: [(file: String, name: String, by: String)] = []
        /// Folders given by the user that do not exist.
        public var missingFolders: [String] = []

        public func library(named name: String) -> PluginLibrary? { libraries.first { $0.manifest.name == name } }
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

    /// Reads every library's manifest (from its manifest file when that is current).
    public func survey() -> Survey {
        var result = Survey()
        let (files, missing) = candidateFiles()
        result.missingFolders = missing
        var seenFiles = Set<String>()
        for (file, origin) in files {
            let real = URL(fileURLWithPath: file).resolvingSymlinksInPath().path
            guard seenFiles.insert(real).inserted else { continue }
            do {
                let library = try manifest(of: file, origin: origin)
                if let first = result.library(named: library.manifest.name) {
                    result.shadowed.append((file, library.manifest.name, first.file))
                } else {
                    result.libraries.append(library)
                }
            } catch let error as BorderlineError {
                result.problems.append(PluginProblem(file: file, origin: origin, error: error.inFile(file)))
            } catch {
                result.problems.append(PluginProblem(file: file, origin: origin, error: BorderlineError(.unreadableFile, "\(error)", file: file)))
            }
        }
        return result
    }

    /// Creates every plugin found (for `borderline plugins`); libraries that fail become problems.
    public func loadAll() -> (plugins: [LoadedPlugin], survey: Survey) {
        var survey = self.survey()
        var plugins: [LoadedPlugin] = []
        for library in survey.libraries {
            do {
                plugins.append(try PluginLoader.create(try opened(library)))
            } catch let error as BorderlineError {
                survey.problems.append(PluginProblem(file: library.file, origin: library.origin, error: error.inFile(library.file)))
            } catch {
                survey.problems.append(PluginProblem(file: library.file, origin: library.origin, error: BorderlineError(.unreadableFile, "\(error)", file: library.file)))
            }
        }
        survey.libraries.removeAll { l in !plugins.contains { $0.file == l.file } }
        return (plugins, survey)
    }

    /// The library itself opened (its ABI and manifest checked), when the survey only read its
    /// manifest file; refuses a manifest file that names another plugin than the library.
    public func opened(_ library: PluginLibrary) throws -> PluginLibrary {
        guard library.fromSidecar else { return library }
        let real = try PluginLoader.open(library.file, origin: library.origin)
        guard real.manifest.name == library.manifest.name else {
            throw BorderlineError(.invalidConfiguration,
                "its manifest file \(PluginDiscovery.manifestFile(for: library.file)) names plugin '\(library.manifest.name)' but the library is '\(real.manifest.name)'; delete the manifest file", file: library.file)
        }
        return real
    }

    // MARK: Manifest files

    /// `<library>.manifest.json`.
    public static func manifestFile(for library: String) -> String { library + ".manifest.json" }

    /// The size and modification time (ns) that tie a manifest file to its library.
    static func stamp(_ path: String) -> (size: Int, modified: Int)? {
        guard let a = try? FileManager.default.attributesOfItem(atPath: URL(fileURLWithPath: path).resolvingSymlinksInPath().path),
              let size = a[.size] as? Int, let date = a[.modificationDate] as? Date else { return nil }
        return (size, Int((date.timeIntervalSince1970 * 1e6).rounded()))
    }

    func manifest(of file: String, origin: PluginOrigin) throws -> PluginLibrary {
        let sidecar = PluginDiscovery.manifestFile(for: file)
        if let stamp = PluginDiscovery.stamp(file),
           let text = try? String(contentsOfFile: sidecar, encoding: .utf8),
           let json = try? JSONValue.parse(text),
           json["library_size"]?.intValue == stamp.size, json["library_modified_us"]?.intValue == stamp.modified,
           json["abi"]?.intValue == Int(PluginABI.hostVersion),
           let manifest = try? PluginManifest(json: json), PluginLoader.isValidName(manifest.name) {
            try PluginLoader.checkSafety(of: file)
            return PluginLibrary(file: file, origin: origin, manifest: manifest, fromSidecar: true)
        }
        let library = try PluginLoader.open(file, origin: origin)
        if writesManifests, let stamp = PluginDiscovery.stamp(file) {
            var object = library.manifest.json.objectValue ?? [:]
            object["library_size"] = .number(Double(stamp.size))
            object["library_modified_us"] = .number(Double(stamp.modified))
            object["note"] = "written by borderline from the library's manifest symbol; safe to delete"
            let temporary = sidecar + ".tmp-\(getpid())"
            if (try? Data((JSONValue.object(object).serialized(pretty: true) + "\n").utf8).write(to: URL(fileURLWithPath: temporary))) != nil {
                if rename(temporary, sidecar) != 0 { unlink(temporary) }
            }
        }
        return library
    }
}
