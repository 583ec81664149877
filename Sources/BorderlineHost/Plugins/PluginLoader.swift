import BorderlineCore
import CHostSystem
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a plugin file was found.
public enum PluginOrigin: String, Sendable {
    /// The host's own plugin folder (next to the `borderline` executable).
    case builtIn = "built-in"
    /// Handed to the engine in-process (tests, programs embedding the host); never from a file.
    case inProcess = "in-process"
    /// A `--plugin-path` folder.
    case pluginPath = "--plugin-path"
    /// A `BORDERLINE_PLUGIN_PATH` folder.
    case environment = "BORDERLINE_PLUGIN_PATH"
}

/// A plugin loaded into the host.
public struct LoadedPlugin {
    public let plugin: any BorderlinePlugin
    /// The library file, as found (not symlink-resolved).
    public let file: String
    public let origin: PluginOrigin
    public init(plugin: any BorderlinePlugin, file: String, origin: PluginOrigin) {
        self.plugin = plugin
        self.file = file
        self.origin = origin
    }
}

/// A plugin library whose ABI version and manifest have been read, not yet instantiated.
public struct PluginLibrary {
    public let file: String
    public let origin: PluginOrigin
    public let manifest: PluginManifest
    /// Whether the manifest came from the sidecar file (the library itself was not opened).
    public let fromSidecar: Bool
}

/// Loads plugin libraries: checks that the file and its folders are safe to run, `dlopen`s it,
/// checks that its symbols are functions, checks its ABI version, reads its manifest and — only
/// for plugins a run enables — calls its entry point and casts the result to the core's
/// ``BorderlinePlugin``.
///
/// Libraries are never unloaded (`dlclose` on Swift code is unsafe: type metadata and conformance
/// records would dangle), and a file is opened and instantiated at most once per process.
public enum PluginLoader {
    /// Plugin library files are named `lib<Something>Plugin.so` (`.dylib` on macOS); other files
    /// in plugin folders (such as `libBorderlineCore.so` next to the host) are not plugins.
    public static func isPluginFileName(_ name: String) -> Bool {
        name.hasPrefix("lib") && name.hasSuffix("Plugin" + libraryExtension) && name.count > 3 + 6 + libraryExtension.count
    }

    #if os(macOS)
    public static let libraryExtension = ".dylib"
    #else
    public static let libraryExtension = ".so"
    #endif

    private final class Cache: @unchecked Sendable {
        let lock = NSLock()
        var handles: [String: UnsafeMutableRawPointer] = [:]
        var plugins: [String: any BorderlinePlugin] = [:]
    }
    private static let cache = Cache()

    // MARK: Safety

    /// Refuses files another user could have written: the file (after following symlinks) must be
    /// a regular file owned by the current user or root and not group- or world-writable, and so
    /// must every folder from it up to the root — except folders like /tmp that are
    /// world-writable but sticky and owned by root (others cannot replace what is in them).
    /// - Throws: `.invalidArgument` with the reason and the fix.
    public static func checkSafety(of path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw BorderlineError(.fileNotFound, "plugin file cannot be examined: \(String(cString: strerror(errno)))", file: path)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw BorderlineError(.invalidArgument, "plugin refused: not a regular file", file: path)
        }
        try checkOwner(info, what: "the file", path: path)
        let mode = info.st_mode & 0o777
        if mode & 0o022 != 0 {
            let who = mode & 0o002 != 0 ? "world-writable" : "group-writable"
            throw BorderlineError(.invalidArgument,
                "plugin refused: the file is \(who) (mode \(String(mode, radix: 8))), so others could replace the code it would run; fix with `chmod go-w \(path)`")
        }
        // Every folder the real file lies in.
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath()
        var folder = real.deletingLastPathComponent()
        var first = true
        while true {
            var d = stat()
            guard stat(folder.path, &d) == 0 else { break }
            let dmode = d.st_mode & 0o7777
            let sticky = dmode & UInt32(S_ISVTX) != 0
            if dmode & 0o022 != 0, !(sticky && !first && d.st_uid == 0) {
                let who = dmode & 0o002 != 0 ? "world-writable" : "group-writable"
                throw BorderlineError(.invalidArgument,
                    "plugin refused: its folder \(folder.path) is \(who) (mode \(String(dmode & 0o777, radix: 8))), so others could put code in its place; fix with `chmod go-w \(folder.path)` or move the plugin",
                    file: path)
            }
            try checkOwner(d, what: "its folder \(folder.path)", path: path)
            if folder.path == "/" { break }
            folder.deleteLastPathComponent()
            first = false
        }
    }

    private static func checkOwner(_ info: stat, what: String, path: String) throws {
        let uid = getuid()
        guard info.st_uid == uid || info.st_uid == 0 else {
            throw BorderlineError(.invalidArgument,
                "plugin refused: \(what) is owned by user id \(info.st_uid), not by you (\(uid)) or root, so someone else controls the code it would run",
                file: path)
        }
    }

    // MARK: Opening

    /// Opens a library (once per process) and reads its ABI version and manifest; does not create
    /// the plugin.
    /// - Throws: `BorderlineError` naming the file and what is wrong with it: unsafe permissions,
    ///   not loadable, a missing symbol or one that is not a function, an ABI mismatch (with both
    ///   versions), a malformed manifest.
    public static func open(_ path: String, origin: PluginOrigin) throws -> PluginLibrary {
        let handle = try handle(path)
        typealias VersionFunction = @convention(c) () -> Int32
        let version = unsafeBitCast(try function(PluginABI.versionSymbol, in: handle, file: path), to: VersionFunction.self)()
        guard version == PluginABI.hostVersion else {
            throw BorderlineError(.invalidArgument,
                "plugin ABI version mismatch: the plugin was built for ABI version \(hex(version)), this host implements version \(hex(PluginABI.hostVersion)); rebuild the plugin against this Borderline's Sources/Core",
                file: path)
        }
        typealias ManifestFunction = @convention(c) () -> UnsafePointer<CChar>?
        guard let text = unsafeBitCast(try function(PluginABI.manifestSymbol, in: handle, file: path), to: ManifestFunction.self)() else {
            throw BorderlineError(.invalidArgument, "\(PluginABI.manifestSymbol) returned no manifest", file: path)
        }
        let manifest: PluginManifest
        do { manifest = try PluginManifest(json: try JSONValue.parse(String(cString: text))) } catch let e as BorderlineError {
            throw e.inFile(path)
        }
        try validateName(manifest.name, file: path)
        return PluginLibrary(file: path, origin: origin, manifest: manifest, fromSidecar: false)
    }

    static func hex(_ v: Int32) -> String { "0x" + String(UInt32(bitPattern: v), radix: 16) }

    private static func handle(_ path: String) throws -> UnsafeMutableRawPointer {
        try checkSafety(of: path)
        let key = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let h = cache.handles[key] { return h }
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
            throw BorderlineError(.unreadableFile, "cannot be loaded as a plugin library: \(reason)", file: path)
        }
        // The handle is deliberately never closed.
        cache.handles[key] = h
        return h
    }

    /// The address of an exported function; refuses a missing symbol and one that is data (calling
    /// data would crash the host).
    private static func function(_ name: String, in handle: UnsafeMutableRawPointer, file: String) throws -> UnsafeMutableRawPointer {
        guard let symbol = dlsym(handle, name) else {
            throw BorderlineError(.invalidArgument,
                "is not a Borderline plugin of this version: it exports no \(name) symbol (see docs/writing-plugins.md; plugins built before plugin API v2 need the manifest symbol)", file: file)
        }
        if borderline_symbol_is_function(symbol) == 0 {
            throw BorderlineError(.invalidArgument, "its symbol \(name) is not a function (it is data); declare it with @_cdecl as docs/writing-plugins.md shows", file: file)
        }
        return symbol
    }

    // MARK: Creating

    /// Creates the plugin of an opened library (once per process).
    /// - Throws: `BorderlineError` for a missing or non-function entry symbol, an object that is not
    ///   a ``BorderlinePlugin`` of this host's core, a name that differs from the manifest's, or
    ///   invalid components.
    public static func create(_ library: PluginLibrary) throws -> LoadedPlugin {
        let path = library.file
        let key = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let handle = try handle(path)
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let plugin = cache.plugins[key] { return LoadedPlugin(plugin: plugin, file: path, origin: library.origin) }
        typealias EntryFunction = @convention(c) () -> UnsafeMutableRawPointer?
        guard let pointer = unsafeBitCast(try function(PluginABI.entrySymbol, in: handle, file: path), to: EntryFunction.self)() else {
            throw BorderlineError(.invalidArgument, "\(PluginABI.entrySymbol) returned no object", file: path)
        }
        guard let plugin = PluginABI.adopt(pointer) else {
            throw BorderlineError(.invalidArgument,
                "\(PluginABI.entrySymbol) returned an object that is not a BorderlinePlugin of this host's core; the plugin probably carries its own copy of BorderlineCore (depend on the BorderlineCore dynamic library product by path; never link it statically)",
                file: path)
        }
        guard plugin.name == library.manifest.name else {
            throw BorderlineError(.invalidConfiguration, "the plugin calls itself '\(plugin.name)' but its manifest says '\(library.manifest.name)'", file: path)
        }
        try validate(plugin, file: path)
        cache.plugins[key] = plugin
        return LoadedPlugin(plugin: plugin, file: path, origin: library.origin)
    }

    /// Opens and creates a plugin in one step.
    public static func load(_ path: String, origin: PluginOrigin) throws -> LoadedPlugin {
        try create(try open(path, origin: origin))
    }

    // MARK: Validation

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    static func validateName(_ name: String, file: String) throws {
        guard isValidName(name) else {
            throw BorderlineError(.invalidConfiguration,
                "plugin name '\(name)' is invalid: use lower-case letters, digits and dashes, starting with a letter", file: file)
        }
    }

    /// Checks the plugin's name, that its component names are valid and unique, and that every
    /// component's options can be read (valid, unique option names).
    static func validate(_ plugin: any BorderlinePlugin, file: String) throws {
        try validateName(plugin.name, file: file)
        var seen = Set<String>()
        for (kind, component) in plugin.components {
            let name = component.name
            guard isValidName(name) else {
                throw BorderlineError(.invalidConfiguration, "plugin '\(plugin.name)': \(kind.rawValue) name '\(name)' is invalid: use lower-case letters, digits and dashes", file: file)
            }
            guard seen.insert(name).inserted else {
                throw BorderlineError(.invalidConfiguration, "plugin '\(plugin.name)': two components are named '\(name)'", file: file)
            }
            let options: [DeclaredOption]
            do { options = try component.declaredOptions() } catch let e as BorderlineError {
                throw BorderlineError(.invalidConfiguration, "plugin '\(plugin.name)', \(kind.rawValue) '\(name)': \(e.message)", file: file)
            }
            for o in options where !isValidName(o.option.name) {
                throw BorderlineError(.invalidConfiguration, "plugin '\(plugin.name)', \(kind.rawValue) '\(name)': option name '\(o.option.name)' is invalid: use lower-case letters, digits and dashes", file: file)
            }
        }
    }
}
