/// The binary interface between the host and plugin libraries.
///
/// A plugin library exports, with `@_cdecl`:
///
/// ```swift
/// @_cdecl("borderline_plugin_abi_version")
/// public func borderlinePluginABIVersion() -> Int32 { PluginABI.version }
///
/// @_cdecl("borderline_plugin_create")
/// public func borderlinePluginCreate() -> UnsafeMutableRawPointer { PluginABI.export(MyPlugin()) }
/// ```
///
/// The host `dlopen`s the file, looks up ``versionSymbol`` first and refuses the file unless it
/// returns the host's ``version``; only then it calls ``entrySymbol`` and takes ownership of the
/// returned object. Bump ``version`` whenever a public type of the core that plugins use changes
/// its layout or a protocol requirement changes.
public enum PluginABI {
    /// The ABI version. `@_alwaysEmitIntoClient` compiles the number *into the plugin*, so the
    /// plugin reports the version it was built against, not the one of the core it is loaded with.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 1 }

    /// The version the host (this copy of the core) implements.
    public static let hostVersion: Int32 = 1

    /// `int32_t borderline_plugin_abi_version(void)`.
    public static let versionSymbol = "borderline_plugin_abi_version"
    /// `void *borderline_plugin_create(void)`: a +1 retained plugin object.
    public static let entrySymbol = "borderline_plugin_create"

    /// Hands a plugin to the host: a +1 retained pointer for the entry symbol to return.
    public static func export(_ plugin: any BorderlinePlugin) -> UnsafeMutableRawPointer {
        Unmanaged<AnyObject>.passRetained(plugin as AnyObject).toOpaque()
    }

    /// Takes ownership of what an entry symbol returned and casts it to the core's plugin
    /// protocol; nil when the object is not a ``BorderlinePlugin`` *of this copy of the core*
    /// (which is what happens when a plugin carries its own, statically linked core).
    public static func adopt(_ pointer: UnsafeMutableRawPointer) -> (any BorderlinePlugin)? {
        let object = Unmanaged<AnyObject>.fromOpaque(pointer).takeRetainedValue()
        return object as? any BorderlinePlugin
    }
}

/// The version of Borderline (host and core), recorded in every run's summary.json.
public enum BorderlineVersion {
    public static let string = "0.1.0"
}
