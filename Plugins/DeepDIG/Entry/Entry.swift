// The plugin's three C entry points, and nothing else: the logic lives in DeepDIGKit, which tests
// link directly. Keeping the `@_cdecl` symbols out of it lets several plugins' kits share one
// test bundle without duplicate-symbol link errors.
import BorderlineCore
import DeepDIGKit

@_cdecl("borderline_plugin_abi_version")
public func borderlinePluginABIVersion() -> Int32 { PluginABI.version }

@_cdecl("borderline_plugin_manifest")
public func borderlinePluginManifest() -> UnsafePointer<CChar> { PluginABI.manifest(of: DeepDIGPlugin.self) }

@_cdecl("borderline_plugin_create")
public func borderlinePluginCreate() -> UnsafeMutableRawPointer { PluginABI.export(DeepDIGPlugin()) }
