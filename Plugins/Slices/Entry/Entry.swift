// The plugin's three C entry points, and nothing else: the logic lives in SlicesKit.
import BorderlineCore
import SlicesKit

@_cdecl("borderline_plugin_abi_version")
public func borderlinePluginABIVersion() -> Int32 { PluginABI.version }

@_cdecl("borderline_plugin_manifest")
public func borderlinePluginManifest() -> UnsafePointer<CChar> { PluginABI.manifest(of: SlicesPlugin.self) }

@_cdecl("borderline_plugin_create")
public func borderlinePluginCreate() -> UnsafeMutableRawPointer { PluginABI.export(SlicesPlugin()) }
