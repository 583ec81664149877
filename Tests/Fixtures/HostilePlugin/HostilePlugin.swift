// A plugin that misbehaves on purpose, for the host's fault tests (Tests/BorderlineHostTests/
// HostilePluginTests.swift). Its library is built as libHostileFixture.so — a name the host never
// loads by itself; tests copy it into a folder of their own as libHostilePlugin.so.
import BorderlineCore
import Foundation

public final class HostilePlugin: BorderlinePlugin {
    public static let manifest = PluginManifest(name: "hostile", version: "1.0.0", summary: "Breaks the plugin contract in the way its option says (a test fixture).")
    public init() {}
    public let probers: [any BoundaryProber] = [Misbehave()]
}

enum Fault: String, CaseIterable, OptionValue {
    case none, exit, index, probabilities, collision, hang, gap
}

final class Misbehave: BoundaryProber {
    let name = "misbehave", summary = "does what `fault` says"
    struct Options: PluginOptions { @Option(help: "what to do wrong") var fault = Fault.none }
    struct Output: Encodable { var points: [Float]? }

    func probe(_ pair: ClassPair, options: Options, context: RunContext) throws -> Probe<Output> {
        let x = context.data.images.slice(batch: 0..<1)
        var probabilities = try context.classifier.probabilities(x)
        var index = 0
        var tolerance: Float?
        var output = Output()
        switch options.fault {
        case .none: break
        case .exit: exit(0)
        case .index: index = 1_000_000
        case .probabilities: probabilities = Tensor(zeros: [1, 1])
        case .collision: output.points = [1, 2, 3]
        case .hang: while true { usleep(100_000) }   // never checks for Ctrl-C
        case .gap:   // a "success" that is all class s: not a tie of s and t within its own β
            tolerance = 0.01
            var oneHot = [Float](repeating: 0, count: context.classifier.classCount)
            oneHot[pair.source] = 1
            probabilities = Tensor(shape: [1, oneHot.count], scalars: oneHot)
        }
        let set = try BoundarySet(pair: pair, points: x, startPoints: x, startIndices: [index], probabilities: probabilities,
                                  succeeded: [true], failureReasons: [nil], iterations: [0], gapTolerance: tolerance)
        return Probe(set, output: output)
    }
}

@_cdecl("borderline_plugin_abi_version")
public func borderlinePluginABIVersion() -> Int32 { PluginABI.version }

@_cdecl("borderline_plugin_manifest")
public func borderlinePluginManifest() -> UnsafePointer<CChar> { PluginABI.manifest(of: HostilePlugin.self) }

@_cdecl("borderline_plugin_create")
public func borderlinePluginCreate() -> UnsafeMutableRawPointer { PluginABI.export(HostilePlugin()) }
