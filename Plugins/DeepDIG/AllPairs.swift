import BorderlineCore
import Foundation

/// Values keyed by the producer of the boundary sets they describe (`deepdig.deepdig`:
/// `plugin.prober`), in producer order; files as one group per producer.
struct ByProducer<Value: Encodable>: Encodable {
    var entries: [(key: String, value: Value)] = []

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: ResultKey.self)
        for e in entries { try c.encode(e.value, forKey: ResultKey(e.key)) }
    }
}

/// The IDC and EDC metrics' outputs of one producer's sets, by ordered pair.
struct DirectionValues {
    var idc: [ClassPair: InputSpaceComplexity.Output] = [:]
    var edc: [ClassPair: EmbeddingComplexity.Output] = [:]

    /// Every producer of the run's sets (`plugin/prober`, in name order) with its results key
    /// (`plugin.prober`), the pairs it probed and its sets' IDC and EDC outputs.
    static func byProducer(_ context: RunContext) -> [(producer: String, key: String, pairs: Set<ClassPair>, values: DirectionValues)] {
        var pairs: [String: Set<ClassPair>] = [:], keys: [String: String] = [:]
        for set in context.boundarySets {
            pairs[set.producer, default: []].insert(set.pair)
            keys[set.producer] = set.producerKey
        }
        var values: [String: DirectionValues] = [:]
        for o in context.outputs(of: InputSpaceComplexity.self) { values[o.set.producer, default: .init()].idc[o.pair] = o.output }
        for o in context.outputs(of: EmbeddingComplexity.self) { values[o.set.producer, default: .init()].edc[o.pair] = o.output }
        return pairs.keys.sorted().map { ($0, keys[$0]!, pairs[$0]!, values[$0] ?? .init()) }
    }

    /// One per-direction quantity (paper Figures 7–9 per ordered pair) for every pair that has it.
    func values(_ quantity: AllPairsSummary.Quantity) -> [(pair: ClassPair, value: Double)] {
        if quantity == .idc { return idc.map { ($0.key, $0.value.idc) } }
        return edc.compactMap { e in quantity.of(e.value).map { (e.key, $0) } }
    }
}

/// One boundary between two classes (both directions of one prober, paper Section 3's remark,
/// Table 9): IDC = the mean of IDC(s→t) and IDC(t→s), EDC = the `edc` metric's values pooled over
/// both sets. Files as `pairs."s-t".boundary.<producer>.{idc, edc1_borderline, edc1_test,
/// edc2_borderline, edc2_test}` (s < t); NaN (null) where a value is missing.
struct Boundary: Encodable {
    var pair: ClassPair  // source < target
    var idcForward: Double, idcReverse: Double
    var idc: Double
    var edc1Borderline: Double, edc1Test: Double
    var edc2Borderline: Double, edc2Test: Double
    /// Successful points of both directions (the pooled EDC's points).
    var points: Double

    private enum CodingKeys: String, CodingKey { case idc, edc1Borderline, edc1Test, edc2Borderline, edc2Test }
}

/// Analysis `boundary`: the values of every boundary of the run (both directions present) per
/// producer, under the boundary's pair s-t with s < t, from the `idc` and `edc` metrics' outputs.
final class BoundaryAnalysis: Analysis {
    let name = "boundary"
    let summary = "Per boundary (both directions s→t and t→s): IDC (mean of the two) and EDC1/EDC2 of both sets pooled (paper Table 9)."

    func analyse(options: NoOptions, context: RunContext) throws -> PerPair<ByProducer<Boundary>> {
        var out = PerPair<ByProducer<Boundary>>()
        for (_, key, pairs, values) in DirectionValues.byProducer(context) {
            for b in AllPairsSummary.boundaries(values, pairs: pairs) {
                var entry = out[b.pair] ?? ByProducer()
                entry.entries.append((key, b))
                out[b.pair] = entry
            }
        }
        return out
    }
}

/// Analysis `all-pairs` (paper Table 9, Section 6.4, Figures 7–9), after `boundary`:
///
/// - **Boundaries.** A table in the layout of Table 9 for every producer with at least one
///   boundary (the `boundary` analysis's values, with IDC of each direction).
/// - **All pairs** (≥ 3 classes): class×class heatmaps of the boundary values (symmetric; the
///   paper's Figures 7–9 show its 45 boundaries) and of the per-direction values (row = source s,
///   column = target t), and the Pearson correlation between IDC and EDC2_borderline over the
///   boundaries (the paper's −0.5066 over 45) and over the ordered pairs
///   (`numbers.all-pairs.<producer>.pearson_*`).
final class AllPairsAnalysis: Analysis {
    let name = "all-pairs"
    let summary = "Table 9 per prober; class×class heatmaps of IDC/EDC per boundary and per direction; Pearson IDC–EDC2_borderline (paper Section 6.4)."

    /// One producer's run-wide results.
    struct View: Encodable {
        var pearsonIdcEdc2BorderlineBoundaries: Double?
        var pearsonBoundaries: Int?
        var pearsonIdcEdc2Borderline: Double?
        var pearsonPairs: Int?
        var table: ResultTable?
        /// Per boundary, then per direction (nil, not empty, without: the encoder would take an
        /// empty array of pictures for an empty numeric array).
        var heatmaps: [ResultPicture]?

        mutating func add(_ heatmap: ResultPicture) { heatmaps = (heatmaps ?? []) + [heatmap] }
    }

    /// The producers' views, with the section's key numbers first (the report shows them as
    /// cards at the top of the plugin's section; summary.json: `all-pairs.highlights`).
    struct Output: Encodable {
        var highlights: [ResultHighlight]
        var producers: ByProducer<View>

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: ResultKey.self)
            if !highlights.isEmpty { try c.encode(highlights, forKey: ResultKey("highlights")) }
            for e in producers.entries { try c.encode(e.value, forKey: ResultKey(e.key)) }
        }
    }

    func analyse(options: NoOptions, context: RunContext) throws -> Output {
        Output(highlights: AllPairsSummary.highlights(context), producers: try views(context))
    }

    private func views(_ context: RunContext) throws -> ByProducer<View> {
        guard let perBoundary = context.output(of: BoundaryAnalysis.self) else {
            throw BorderlineError(.invalidConfiguration, "\(context.owner) needs the values of the boundary analysis, which did not finish")
        }
        var out = ByProducer<View>()
        for (producer, key, pairs, values) in DirectionValues.byProducer(context) {
            let found = perBoundary.entries.compactMap { e in e.value.entries.first { $0.key == key }?.value }
            let classes = Set(pairs.flatMap { [$0.source, $0.target] }).sorted()
            var view = View(table: AllPairsSummary.table(found, producer: producer, context: context))
            // The heatmaps only for runs over more than one boundary (≥ 3 classes): one pair's two
            // directions are already in the tables.
            if classes.count >= 3 {
                try AllPairsSummary.drawBoundaryHeatmaps(found, classes: classes, producer: producer, key: key, into: &view, context: context)
                try AllPairsSummary.drawDirectionHeatmaps(values, classes: classes, producer: producer, key: key, into: &view, context: context)
            }
            if view.table != nil || view.heatmaps != nil || view.pearsonPairs != nil { out.entries.append((key, view)) }
        }
        return out
    }
}

/// The arithmetic and pictures of the two analyses.
enum AllPairsSummary {
    /// Two or three key numbers of the run (DeepDIG's own sets when it ran, else the first
    /// producer's): the success rate over every direction (with the baselines' beside it), the
    /// mean IDC and the mean EDC2 on the borderline points over the directions that have them.
    static func highlights(_ context: RunContext) -> [ResultHighlight] {
        var attempts: [String: Int] = [:], successes: [String: Int] = [:], directions: [String: Int] = [:]
        for set in context.boundarySets {
            attempts[set.producer, default: 0] += set.count
            successes[set.producer, default: 0] += set.successfulIndices.count
            directions[set.producer, default: 0] += 1
        }
        let producers = attempts.keys.sorted()
        guard let main = producers.first(where: { $0.hasSuffix("/deepdig") }) ?? producers.first else { return [] }
        let name = main.split(separator: "/").last.map(String.init) ?? main
        func rate(_ p: String) -> Double { attempts[p, default: 0] > 0 ? Double(successes[p, default: 0]) / Double(attempts[p]!) : .nan }
        let others = producers.filter { $0 != main }.map { p in
            "\(p.split(separator: "/").last.map(String.init) ?? p) \(ResultHighlight("", value: rate(p), unit: "%").formatted)"
        }
        var detail = "\(successes[main, default: 0]) borderline points of \(attempts[main, default: 0]) attempts, \(directions[main, default: 0]) directions"
        if !others.isEmpty { detail += "; " + others.joined(separator: ", ") }
        var out = [ResultHighlight("\(name) success rate", value: rate(main), unit: "%", detail: detail)]
        let values = DirectionValues.byProducer(context).first { $0.producer == main }?.values
        // In pair order: a dictionary's order differs between processes, and a sharded run's
        // merged summary must equal the whole run's to the last bit.
        func byPair<V>(_ d: [ClassPair: V]?) -> [V] {
            (d ?? [:]).sorted { ($0.key.source, $0.key.target) < ($1.key.source, $1.key.target) }.map(\.value)
        }
        let idc = byPair(values?.idc).map(\.idc).filter(\.isFinite)
        if !idc.isEmpty {
            out.append(ResultHighlight("mean IDC (class changes per segment point)", value: idc.reduce(0, +) / Double(idc.count),
                                       detail: "\(name) borderline points, over \(idc.count) directions; 0 = straight segments never leave the pair"))
        }
        let edc2 = byPair(values?.edc).compactMap(\.edc2Borderline).filter(\.isFinite)
        if !edc2.isEmpty {
            out.append(ResultHighlight("mean EDC2 on borderline points", value: edc2.reduce(0, +) / Double(edc2.count) / 100, unit: "%",
                                       detail: "linear separability of the embedded borderline points, over \(edc2.count) directions"))
        }
        return out
    }

    /// The quantities drawn, per direction and per boundary, in the order of the pictures.
    enum Quantity: CaseIterable, Sendable {
        case idc, edc1Borderline, edc1Test, edc2Borderline, edc2Test

        /// The picture stem (and the metric's key).
        var number: String {
            switch self {
            case .idc: return "idc"
            case .edc1Borderline: return "edc1_borderline"
            case .edc1Test: return "edc1_test"
            case .edc2Borderline: return "edc2_borderline"
            case .edc2Test: return "edc2_test"
            }
        }

        var title: String {
            switch self {
            case .idc: return "IDC"
            case .edc1Borderline: return "EDC1 borderline"
            case .edc1Test: return "EDC1 test"
            case .edc2Borderline: return "EDC2 borderline %"
            case .edc2Test: return "EDC2 test %"
            }
        }

        /// The value of a boundary (both directions).
        func of(_ b: Boundary) -> Double {
            switch self {
            case .idc: return b.idc
            case .edc1Borderline: return b.edc1Borderline
            case .edc1Test: return b.edc1Test
            case .edc2Borderline: return b.edc2Borderline
            case .edc2Test: return b.edc2Test
            }
        }

        /// The per-direction value in an `edc` output (nil for IDC).
        func of(_ e: EmbeddingComplexity.Output) -> Double? {
            switch self {
            case .idc: return nil
            case .edc1Borderline: return e.edc1Borderline
            case .edc1Test: return e.edc1Test
            case .edc2Borderline: return e.edc2Borderline
            case .edc2Test: return e.edc2Test
            }
        }
    }

    /// `values[i][j]` = the value for the pair (classes[i], classes[j]); NaN where absent.
    static func matrix(_ values: [(pair: ClassPair, value: Double)], classes: [Int]) -> [[Double]] {
        let k = classes.count
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var m = [[Double]](repeating: [Double](repeating: .nan, count: k), count: k)
        for e in values {
            guard let i = position[e.pair.source], let j = position[e.pair.target] else { continue }
            m[i][j] = e.value
        }
        return m
    }

    /// The fewest points over which the report prints a correlation (over 2 points it is ±1 whatever the data).
    static let minimumCorrelationPoints = 5

    /// Pearson correlation of two matrices over the cells where both are finite, and how many cells.
    static func correlation(_ a: [[Double]], _ b: [[Double]]) -> (r: Double, cells: Int) {
        let x = a.flatMap { $0 }, y = b.flatMap { $0 }
        let cells = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }.count
        return (Charts.pearson(x, y), cells)
    }

    /// The boundaries (unordered pairs with both directions in `pairs`) and their values, from one
    /// producer's IDC and EDC outputs (EDC's pooled values are on the set with s < t).
    static func boundaries(_ values: DirectionValues, pairs: Set<ClassPair>) -> [Boundary] {
        pairs.filter { $0.source < $0.target && pairs.contains(ClassPair($0.target, $0.source)) }.sorted().map { p in
            let forward = values.idc[p]?.idc ?? .nan, backward = values.idc[ClassPair(p.target, p.source)]?.idc ?? .nan
            let edc = values.edc[p]
            return Boundary(pair: p, idcForward: forward, idcReverse: backward, idc: (forward + backward) / 2,
                            edc1Borderline: edc?.boundaryEdc1Borderline ?? .nan, edc1Test: edc?.edc1Test ?? .nan,
                            edc2Borderline: edc?.boundaryEdc2Borderline ?? .nan, edc2Test: edc?.edc2Test ?? .nan,
                            points: edc?.boundaryBorderlinePoints.map(Double.init) ?? .nan)
        }
    }

    /// Pearson correlation of two quantities over the boundaries where both are finite.
    static func correlation(_ boundaries: [Boundary], _ a: Quantity, _ b: Quantity) -> (r: Double, cells: Int) {
        let both = boundaries.compactMap { x -> (Double, Double)? in
            let u = a.of(x), v = b.of(x)
            return u.isFinite && v.isFinite ? (u, v) : nil
        }
        return (Charts.pearson(both.map(\.0), both.map(\.1)), both.count)
    }

    /// The Table 9 layout for every boundary of one producer (nil: none).
    static func table(_ found: [Boundary], producer: String, context: RunContext) -> ResultTable? {
        guard !found.isEmpty else { return nil }
        let f4 = { (x: Double) in x.isFinite ? String(format: "%.4f", x) : "—" }
        let f2 = { (x: Double) in x.isFinite ? String(format: "%.2f", x) : "—" }
        let name = { (c: Int) in "\(c) \(context.classifier.className(c))" }
        let rows: [[String]] = found.map { b in
            ["\(name(b.pair.source)) – \(name(b.pair.target))", f4(b.idcForward), f4(b.idcReverse), f4(b.idc),
             f4(b.edc1Test), f4(b.edc1Borderline), f2(b.edc2Test), f2(b.edc2Borderline), b.points.isFinite ? "\(Int(b.points))" : "—"]
        }
        return ResultTable(
            title: "Boundary characteristics, both directions (paper Table 9): \(producer)",
            columns: ["boundary s – t", "IDC s→t", "IDC t→s", "IDC (mean)", "EDC1 test", "EDC1 borderline", "EDC2 test %", "EDC2 borderline %", "borderline points"],
            rows: rows)
    }

    static func classList(_ classes: [Int], _ context: RunContext) -> String {
        classes.map { "\($0) \(context.classifier.className($0))" }.joined(separator: ", ")
    }

    /// Symmetric class×class heatmaps of the boundary values and the IDC–EDC2_borderline correlation over boundaries.
    static func drawBoundaryHeatmaps(_ found: [Boundary], classes: [Int], producer: String, key: String, into view: inout AllPairsAnalysis.View,
                                     context: RunContext) throws {
        guard !found.isEmpty else { return }
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        for q in Quantity.allCases {
            var m = [[Double]](repeating: [Double](repeating: .nan, count: classes.count), count: classes.count)
            for b in found {
                guard let i = position[b.pair.source], let j = position[b.pair.target] else { continue }
                m[i][j] = q.of(b)
                m[j][i] = m[i][j]
            }
            guard m.flatMap({ $0 }).contains(where: { $0.isFinite }) else { continue }
            let image = try Charts.heatmap(m, labels: classes.map { "\($0)" }, title: "\(q.title) of each boundary, both directions (\(producer))",
                                           rowLabel: "class", columnLabel: "class")
            view.add(ResultPicture(name: "heatmap-boundary-\(q.number)-\(key)", caption:
                "\(q.title.lowercased()) of the boundary between each two classes (both directions of \(producer); symmetric; class indices: " +
                classList(classes, context) + ") (grey: no value); colour scale from the smallest to the largest value.", image: image, key: q == .idc))
        }
        let (r, cells) = correlation(found, .idc, .edc2Borderline)
        view.pearsonBoundaries = cells
        if cells >= minimumCorrelationPoints {
            view.pearsonIdcEdc2BorderlineBoundaries = r
            context.note(String(format: "%@: Pearson correlation of IDC and EDC2_borderline over %d boundaries (both directions): %.4f", producer, cells, r))
        } else {
            context.note("\(producer): no IDC–EDC2_borderline correlation: \(cells) boundaries have both values, fewer than the \(minimumCorrelationPoints) a correlation needs to mean anything.")
        }
    }

    /// Class×class heatmaps of the per-direction values (row = s, column = t) and the
    /// IDC–EDC2_borderline correlation over the ordered pairs.
    static func drawDirectionHeatmaps(_ values: DirectionValues, classes: [Int], producer: String, key: String, into view: inout AllPairsAnalysis.View,
                                      context: RunContext) throws {
        var matrices: [String: [[Double]]] = [:]
        for q in Quantity.allCases {
            let m = matrix(values.values(q), classes: classes)
            guard m.flatMap({ $0 }).contains(where: { $0.isFinite }) else { continue }
            matrices[q.number] = m
            let image = try Charts.heatmap(m, labels: classes.map { "\($0)" }, title: "\(q.title) per direction (\(producer))")
            view.add(ResultPicture(name: "heatmap-\(q.number)-\(key)", caption:
                "\(q.title.lowercased()) of \(producer) for every class pair of the run: row = source class s, column = target class t (class indices: " +
                classList(classes, context) + ") " +
                "(grey: no value, e.g. the diagonal or a pair without borderline points); colour scale from the smallest to the largest value.",
                image: image, key: q == .edc2Borderline))
        }
        if let idc = matrices["idc"], let edc2 = matrices["edc2_borderline"] {
            let (r, cells) = correlation(idc, edc2)
            view.pearsonPairs = cells
            if cells >= minimumCorrelationPoints {
                view.pearsonIdcEdc2Borderline = r
                context.note(String(format: "%@: Pearson correlation of IDC and EDC2_borderline over %d ordered class pairs: %.4f", producer, cells, r))
            } else {
                context.note("\(producer): no IDC–EDC2_borderline correlation: \(cells) ordered class pairs have both values, fewer than the \(minimumCorrelationPoints) a correlation needs to mean anything.")
            }
        }
    }
}
