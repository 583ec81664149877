import Foundation

/// The binary interface between the host and plugin libraries.
///
/// A plugin library exports three C functions (the scaffold writes them; keep them exactly so):
///
/// ```swift
/// @_cdecl("borderline_plugin_abi_version")
/// public func borderlinePluginABIVersion() -> Int32 { PluginABI.version }
///
/// @_cdecl("borderline_plugin_manifest")
/// public func borderlinePluginManifest() -> UnsafePointer<CChar> { PluginABI.manifest(of: MyPlugin.self) }
///
/// @_cdecl("borderline_plugin_create")
/// public func borderlinePluginCreate() -> UnsafeMutableRawPointer { PluginABI.export(MyPlugin()) }
/// ```
///
/// The host `dlopen`s the file, checks that each symbol is a function, calls ``versionSymbol``
/// and refuses the file unless it returns the host's ``hostVersion``, reads the manifest (name,
/// version, summary) and calls ``entrySymbol`` only when the run enables the plugin.
///
/// **The version is derived, not chosen.** The core is built without library evolution, so any
/// change to a public declaration of BorderlineCore — a protocol requirement, a stored property of
/// a public struct, a function signature — can break a plugin built against the old core. The
/// version is therefore the first 31 bits of ``apiDigest``, the SHA-256 of the core's public
/// interface as `swift-api-digester -dump-sdk` prints it; `tools/check-abi.sh` recomputes it (CI
/// runs it after the release build) and `tools/check-abi.sh --update` rewrites
/// `PluginABI+Digest.swift` after a change.
public enum PluginABI {
    // `version` (compiled into each plugin: `@_alwaysEmitIntoClient` with a literal body, so a
    // plugin reports the version it was built against) and `hostVersion` (what this copy of the
    // core implements) live in PluginABI+Digest.swift, which tools/check-abi.sh writes.

    /// `int32_t borderline_plugin_abi_version(void)`.
    public static let versionSymbol = "borderline_plugin_abi_version"
    /// `const char *borderline_plugin_manifest(void)`: the plugin's ``PluginManifest`` as JSON.
    public static let manifestSymbol = "borderline_plugin_manifest"
    /// `void *borderline_plugin_create(void)`: a +1 retained plugin object.
    public static let entrySymbol = "borderline_plugin_create"

    /// Hands a plugin to the host: a +1 retained pointer for the entry symbol to return.
    public static func export(_ plugin: any BorderlinePlugin) -> UnsafeMutableRawPointer {
        Unmanaged<AnyObject>.passRetained(plugin as AnyObject).toOpaque()
    }

    /// The manifest of a plugin type as a C string for the manifest symbol (made once per call and
    /// never freed: the host asks once per library).
    public static func manifest<P: BorderlinePlugin>(of type: P.Type) -> UnsafePointer<CChar> {
        UnsafePointer(strdup(P.manifest.json.serialized())!)
    }

    /// Takes ownership of what an entry symbol returned and casts it to the core's plugin
    /// protocol; nil when the object is not a ``BorderlinePlugin`` *of this copy of the core*
    /// (which is what happens when a plugin carries its own, statically linked core).
    public static func adopt(_ pointer: UnsafeMutableRawPointer) -> (any BorderlinePlugin)? {
        let object = Unmanaged<AnyObject>.fromOpaque(pointer).takeRetainedValue()
        return object as? any BorderlinePlugin
    }
}

/// What the host learns about a plugin before creating it: enough to list it and to decide whether
/// a run needs it.
public struct PluginManifest: Sendable, Equatable {
    /// `--plugin NAME`: lower-case letters, digits and dashes.
    public var name: String
    public var version: String
    /// One line for `borderline plugins` and the report.
    public var summary: String

    public init(name: String, version: String, summary: String) {
        self.name = name
        self.version = version
        self.summary = summary
    }

    public var json: JSONValue {
        .object(["name": .string(name), "version": .string(version), "summary": .string(summary), "abi": .number(Double(PluginABI.hostVersion))])
    }

    /// Reads a manifest the manifest symbol returned.
    /// - Throws: `.invalidConfiguration` saying which field is missing.
    public init(json: JSONValue) throws {
        guard let name = json["name"]?.stringValue, let version = json["version"]?.stringValue else {
            throw BorderlineError(.invalidConfiguration, "plugin manifest needs text fields 'name' and 'version', got \(json.serialized())")
        }
        self.init(name: name, version: version, summary: json["summary"]?.stringValue ?? "")
    }
}

/// The version of Borderline (host and core), recorded in every run's summary.json.
public enum BorderlineVersion {
    public static let string = "0.2.0"
}
