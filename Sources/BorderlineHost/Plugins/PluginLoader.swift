import BorderlineCore
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

/// Loads plugin libraries: checks that the file is safe to run, `dlopen`s it, checks its ABI
/// version, calls its entry point and casts the result to the core's ``BorderlinePlugin``.
///
/// Libraries are never unloaded (`dlclose` on Swift code is unsafe: type metadata and conformance
/// records would dangle), and a file is loaded at most once per process: asking again returns
/// the same plugin object.
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
        var loaded: [String: any BorderlinePlugin] = [:]
    }
    private static let cache = Cache()

    /// Refuses files another user could have written: the file (after following symlinks) must be
    /// owned by the current user or root and must not be group- or world-writable.
    /// - Throws: `.invalidArgument` with the reason and the fix.
    public static func checkSafety(of path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw BorderlineError(.fileNotFound, "plugin file cannot be examined: \(String(cString: strerror(errno)))", file: path)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw BorderlineError(.invalidArgument, "plugin refused: not a regular file", file: path)
        }
        let uid = getuid()
        guard info.st_uid == uid || info.st_uid == 0 else {
            throw BorderlineError(.invalidArgument,
                "plugin refused: the file is owned by user id \(info.st_uid), not by you (\(uid)) or root, so someone else controls the code it would run")
        }
        let mode = info.st_mode & 0o777
        if mode & 0o022 != 0 {
            let who = mode & 0o002 != 0 ? "world-writable" : "group-writable"
            throw BorderlineError(.invalidArgument,
                "plugin refused: the file is \(who) (mode \(String(mode, radix: 8))), so others could replace the code it would run; fix with `chmod go-w \(path)`")
        }
    }

    /// Loads one plugin library.
    /// - Throws: `BorderlineError` naming the file and what is wrong with it: unsafe permissions,
    ///   not loadable, no ABI-version symbol, ABI mismatch (with both versions), no entry symbol,
    ///   an object that is not a ``BorderlinePlugin`` of this host's core, or an invalid plugin.
    public static func load(_ path: String, origin: PluginOrigin) throws -> LoadedPlugin {
        try checkSafety(of: path)
        let key = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let plugin = cache.loaded[key] { return LoadedPlugin(plugin: plugin, file: path, origin: origin) }

        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown reason"
            throw BorderlineError(.unreadableFile, "cannot be loaded as a plugin library: \(reason)", file: path)
        }
        // The handle is deliberately never closed.
        guard let versionSymbol = dlsym(handle, PluginABI.versionSymbol) else {
            throw BorderlineError(.invalidArgument,
                "is not a Borderline plugin: it exports no \(PluginABI.versionSymbol) symbol (see docs/writing-plugins.md)", file: path)
        }
        typealias VersionFunction = @convention(c) () -> Int32
        let version = unsafeBitCast(versionSymbol, to: VersionFunction.self)()
        guard version == PluginABI.hostVersion else {
            throw BorderlineError(.invalidArgument,
                "plugin ABI version mismatch: the plugin was built for ABI version \(version), this host implements version \(PluginABI.hostVersion); rebuild the plugin against this Borderline's Sources/Core",
                file: path)
        }
        guard let entry = dlsym(handle, PluginABI.entrySymbol) else {
            throw BorderlineError(.invalidArgument,
                "has no entry symbol: it exports \(PluginABI.versionSymbol) but not \(PluginABI.entrySymbol) (declare it with @_cdecl(\"\(PluginABI.entrySymbol)\"))",
                file: path)
        }
        typealias EntryFunction = @convention(c) () -> UnsafeMutableRawPointer?
        guard let pointer = unsafeBitCast(entry, to: EntryFunction.self)() else {
            throw BorderlineError(.invalidArgument, "\(PluginABI.entrySymbol) returned no object", file: path)
        }
        guard let plugin = PluginABI.adopt(pointer) else {
            throw BorderlineError(.invalidArgument,
                "\(PluginABI.entrySymbol) returned an object that is not a BorderlinePlugin of this host's core; the plugin probably carries its own copy of BorderlineCore (depend on the BorderlineCore dynamic library product by path; never link it statically)",
                file: path)
        }
        try validate(plugin, file: path)
        cache.loaded[key] = plugin
        return LoadedPlugin(plugin: plugin, file: path, origin: origin)
    }

    /// Checks the plugin's name and that its component names are valid and unique.
    static func validate(_ plugin: any BorderlinePlugin, file: String) throws {
        func valid(_ name: String) -> Bool {
            guard let first = name.unicodeScalars.first, CharacterSet.lowercaseLetters.contains(first) else { return false }
            return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
        guard valid(plugin.name) else {
            throw BorderlineError(.invalidConfiguration,
                "plugin name '\(plugin.name)' is invalid: use lower-case letters, digits and dashes, starting with a letter", file: file)
        }
        var seen = Set<String>()
        let names = plugin.probers.map(\.name) + plugin.metrics.map(\.name) + plugin.generators.map(\.name)
        for name in names {
            guard valid(name) else {
                throw BorderlineError(.invalidConfiguration, "plugin '\(plugin.name)': component name '\(name)' is invalid: use lower-case letters, digits and dashes", file: file)
            }
            guard seen.insert(name).inserted else {
                throw BorderlineError(.invalidConfiguration, "plugin '\(plugin.name)': two components are named '\(name)'", file: file)
            }
        }
    }
}
