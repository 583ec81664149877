import BorderlineCore
import Foundation

/// The text `borderline plugins` prints: the folders searched, every plugin found with where it
/// came from and its probers, metrics and generators with their options, and every file that
/// failed to load with why.
public struct PluginListing {
    public let discovery: PluginDiscovery
    public let result: PluginDiscovery.Result

    public init(discovery: PluginDiscovery) {
        self.discovery = discovery
        self.result = discovery.loadAll()
    }

    /// Whether something the user pointed at could not be used (the command then exits 2).
    public var hasProblems: Bool { !result.problems.isEmpty || !result.missingFolders.isEmpty }

    static func describe(_ options: [PluginOption], indent: String) -> String {
        options.map { o in
            "\(indent)--set <plugin>.\(o.name)=…  \(o.kind), default \(o.defaultValue.stringValue ?? o.defaultValue.serialized()) — \(o.help)\n"
        }.joined()
    }

    public func render() -> String {
        var out = "plugin folders (searched in this order):\n"
        for f in discovery.folders {
            let exists = FileManager.default.fileExists(atPath: f.path)
            out += "  \(f.path)  [\(f.origin.rawValue)]\(exists ? "" : " (does not exist)")\n"
        }
        out += "\n"
        if result.plugins.isEmpty { out += "no plugins found\n" }
        for loaded in result.plugins {
            let p = loaded.plugin
            out += "\(p.name) \(p.version) — \(p.summary)\n"
            out += "  file: \(loaded.file) [\(loaded.origin.rawValue)]\n"
            for prober in p.probers {
                out += "  prober \(prober.name)\(prober.needsGradients ? " (needs gradients)" : ""): \(prober.summary)\n"
                out += PluginListing.describe(prober.options, indent: "      ").replacingOccurrences(of: "<plugin>", with: p.name)
            }
            for metric in p.metrics {
                out += "  metric \(metric.name): \(metric.summary)\n"
                out += PluginListing.describe(metric.options, indent: "      ").replacingOccurrences(of: "<plugin>", with: p.name)
            }
            for generator in p.generators {
                out += "  generator \(generator.name): \(generator.summary)\n"
                out += PluginListing.describe(generator.options, indent: "      ").replacingOccurrences(of: "<plugin>", with: p.name)
            }
            out += "\n"
        }
        for s in result.shadowed {
            out += "shadowed: \(s.file) also provides '\(s.name)'; \(s.by) is used\n"
        }
        for f in result.missingFolders { out += "problem: plugin folder \(f) does not exist\n" }
        for p in result.problems { out += "problem: \(p.error) [\(p.origin.rawValue)]\n" }
        return out
    }
}
