import BorderlineCore
import Foundation

/// Which images the analysis attacks, probes and holds out: shared by the prober and the analysis
/// (`--set region.images=…` sets both), which need the same images.
public struct RegionImageOptions: PluginOptions {
    @Option(help: "images attacked and probed along directions (the first of the evaluation pool)", in: 1...100_000)
    public var images = 100
    @Option(help: "held-out images (a seeded random subset, never evaluated) on which r is chosen", in: 1...100_000)
    public var radiusImages = 500
    @Option(help: "region radius r (L∞ half-side of the hypercube); −1: choose it on the held-out images", in: -1...10)
    public var radius: Float = -1
    public init() {}
}

/// The search for boundaries along random directions: shared by the prober and the analysis.
public struct RegionDirectionOptions: PluginOptions {
    @Option(name: "directions", help: "random directions per input (0: all D QR basis vectors and their negatives, 2D)", in: 0...1_000_000)
    public var count = 0
    @Option(help: "t_max, the largest RMS distance searched along a direction", in: 1e-4...100)
    public var maxDistance: Float = 1
    @Option(help: "S, the coarse-scan steps up to t_max", in: 1...1000)
    public var coarseSteps = 10
    @Option(help: "B, the bisection halvings inside the bracket", in: 0...60)
    public var bisectionSteps = 12
    public init() {}
}

/// A list of attack names, written as one comma-separated option (`fgsm,pgd-linf`; empty: none).
public struct AttackList: OptionValue, Equatable, ExpressibleByArrayLiteral {
    public var names: [String]
    public init(_ names: [String]) { self.names = names }
    public init(arrayLiteral names: String...) { self.names = names }

    /// The names in `text`, trimmed, empty entries dropped.
    public init(parsing text: String) {
        names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    public init(from decoder: Decoder) throws {
        self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public static func optionKind(range: ClosedRange<Double>?) -> PluginOption.Kind { .string }
    public var jsonValue: JSONValue { .string(names.joined(separator: ",")) }

    /// - Throws: `.invalidArgument` naming the first unknown attack, with a "did you mean".
    public func validate() throws {
        for a in names where !RegionAttacks.known.contains(a) {
            throw BorderlineError(.invalidArgument,
                "attacks: unknown attack '\(a)'\(Suggestion.phrase(for: a, in: RegionAttacks.known)); known: \(RegionAttacks.known.joined(separator: ", "))")
        }
    }
}

/// A list of budgets, written as one comma-separated option (`0,0.01,0.05`; empty: none).
public struct EpsilonList: OptionValue, Equatable, ExpressibleByArrayLiteral {
    public var values: [Float]
    public init(_ values: [Float]) { self.values = values }
    public init(arrayLiteral values: Float...) { self.values = values }

    /// The numbers in `text`, ascending, duplicates dropped.
    /// - Throws: `.invalidArgument` naming an entry that is not a finite number ≥ 0.
    public init(parsing text: String) throws {
        var out: [Float] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            guard let v = Float(part), v.isFinite, v >= 0 else {
                throw BorderlineError(.invalidArgument, "sweep-epsilons: '\(part)' is not a finite number ≥ 0 (expected e.g. 0,0.01,0.05)")
            }
            out.append(v)
        }
        values = Array(Set(out)).sorted()
    }

    public init(from decoder: Decoder) throws {
        try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public static func optionKind(range: ClosedRange<Double>?) -> PluginOption.Kind { .string }
    public var jsonValue: JSONValue { .string(values.map { String(format: "%g", Double($0)) }.joined(separator: ",")) }
}

extension RegionAnalysisSettings {
    /// The settings of the shared part (images, directions), the rest at their defaults.
    init(images: RegionImageOptions, directions: RegionDirectionOptions, seed: UInt64) {
        self.init()
        self.images = images.images
        radiusImages = images.radiusImages
        radius = images.radius < 0 ? nil : images.radius
        directionCount = directions.count == 0 ? nil : directions.count
        self.directions.maxDistance = directions.maxDistance
        self.directions.coarseSteps = directions.coarseSteps
        self.directions.bisectionSteps = directions.bisectionSteps
        self.seed = seed
        detector.seed = seed
    }
}
