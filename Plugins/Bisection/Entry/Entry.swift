// The plugin's three C entry points, and nothing else: the logic lives in BisectionKit, which tests
// link directly. Keeping the `@_cdecl` symbols out of it lets several plugins' kits share one
// test bundle without duplicate-symbol link errors.
import BisectionKit
import BorderlineCore

@_cdecl("borderline_plugin_abi_version")
public func borderlinePluginABIVersion() -> Int32 { PluginABI.version }

@_cdecl("borderline_plugin_manifest")
public func borderlinePluginManifest() -> UnsafePointer<CChar> { PluginABI.manifest(of: BisectionPlugin.self) }

@_cdecl("borderline_plugin_create")
public func borderlinePluginCreate() -> UnsafeMutableRawPointer { PluginABI.export(BisectionPlugin()) }
