import BorderlineCore
import Foundation

/// The text `borderline plugins` prints: the folders searched, every plugin found with where it
/// came from and its probers, metrics, analyses and generators with their options, and every file
/// that failed to load with why.
public struct PluginListing {
    public let discovery: PluginDiscovery
    public let plugins: [LoadedPlugin]
    public let survey: PluginDiscovery.Survey

    public init(discovery: PluginDiscovery) {
        self.discovery = discovery
        (plugins, survey) = discovery.loadAll()
    }

    /// Whether something the user pointed at could not be used (the command then exits 2).
    public var hasProblems: Bool { !survey.problems.isEmpty || !survey.missingFolders.isEmpty }

    static func describe(_ options: [DeclaredOption], plugin: String, indent: String) -> String {
        options.map { d in
            let o = d.option
            return "\(indent)--set \(plugin).\(o.name)=…  \(o.kind), default \(o.defaultValue.stringValue ?? o.defaultValue.serialized()) — \(o.help)\n"
        }.joined()
    }

    public func render() -> String {
        var out = "plugin folders (searched in this order):\n"
        for f in discovery.folders {
            let exists = FileManager.default.fileExists(atPath: f.path)
            out += "  \(f.path)  [\(f.origin.rawValue)]\(exists ? "" : " (does not exist)")\n"
        }
        out += "\n"
        if plugins.isEmpty { out += "no plugins found\n" }
        for loaded in plugins.sorted(by: { $0.plugin.name < $1.plugin.name }) {
            let p = loaded.plugin
            out += "\(p.name) \(p.version) — \(p.summary)\n"
            out += "  file: \(loaded.file) [\(loaded.origin.rawValue)]\n"
            for (kind, component) in p.components {
                var flags: [String] = []
                if let prober = component as? any BoundaryProber {
                    if prober.needsGradients { flags.append("needs gradients") }
                    if prober.readsBoundarySets { flags.append("reads other probers' sets") }
                }
                out += "  \(kind.rawValue) \(component.name)\(flags.isEmpty ? "" : " (\(flags.joined(separator: ", ")))"): \(component.summary)\n"
                out += PluginListing.describe((try? component.declaredOptions()) ?? [], plugin: p.name, indent: "      ")
            }
            out += "\n"
        }
        for s in survey.shadowed {
            out += "shadowed: \(s.file) also provides '\(s.name)'; \(s.by) is used\n"
        }
        for f in survey.missingFolders { out += "problem: plugin folder \(f) does not exist\n" }
        for p in survey.problems { out += "problem: \(p.error) [\(p.origin.rawValue)]\n" }
        return out
    }
}
