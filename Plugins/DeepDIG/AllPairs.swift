import BorderlineCore
import Foundation

/// The per-boundary and all-pairs views of the paper (Table 9, Section 6.4, Figures 7–9), made in
/// the plugin's `finish` from the metric numbers already stored for every boundary set.
///
/// - **Boundaries.** The paper characterises the decision boundary between s and t with both
///   directions' borderline points (Section 3's remark): for every unordered pair whose two
///   directions the run holds, IDC of the boundary = the mean of IDC(s→t) and IDC(t→s) (the
///   authors' code computes one per direction; the paper prints one number), EDC of the boundary =
///   the `edc` metric's pooled `boundary_*` values. A table in the layout of Table 9 and numbers
///   `boundary/<producer>/{idc, edc1_test, edc1_borderline, edc2_test, edc2_borderline}`.
/// - **All pairs** (≥ 3 classes): class×class heatmaps of the boundary values (symmetric; the
///   paper's Figures 7–9 show its 45 boundaries) and of the per-direction values (row = source s,
///   column = target t), and the Pearson correlation between IDC and EDC2_borderline over the
///   boundaries (the paper's −0.5066 over 45) and over the ordered pairs.
enum AllPairsSummary {
    /// The quantities drawn: (metric number path under `<metric>/<producer key>/`, picture stem, title).
    static let quantities: [(metric: String, number: String, title: String)] = [
        ("idc", "idc", "IDC"),
        ("edc", "edc1_borderline", "EDC1 borderline"), ("edc", "edc1_test", "EDC1 test"),
        ("edc", "edc2_borderline", "EDC2 borderline %"), ("edc", "edc2_test", "EDC2 test %"),
    ]

    /// `values[i][j]` of one stored number for one producer key (`deepdig.deepdig`) for the pair
    /// (classes[i], classes[j]); NaN where absent.
    static func matrix(_ numbers: [(pair: ClassPair?, path: String, value: Double)], path: String, classes: [Int]) -> [[Double]] {
        let k = classes.count
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var m = [[Double]](repeating: [Double](repeating: .nan, count: k), count: k)
        for e in numbers where e.path == path {
            guard let p = e.pair, let i = position[p.source], let j = position[p.target] else { continue }
            m[i][j] = e.value
        }
        return m
    }

    /// Pearson correlation of two matrices over the cells where both are finite, and how many cells.
    static func correlation(_ a: [[Double]], _ b: [[Double]]) -> (r: Double, cells: Int) {
        let x = a.flatMap { $0 }, y = b.flatMap { $0 }
        let cells = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }.count
        return (Charts.pearson(x, y), cells)
    }

    /// The quantities of a boundary (both directions): (stored name under `boundary/<producer>/`, title).
    static let boundaryQuantities: [(number: String, title: String)] = [
        ("idc", "IDC"), ("edc1_borderline", "EDC1 borderline"), ("edc1_test", "EDC1 test"),
        ("edc2_borderline", "EDC2 borderline %"), ("edc2_test", "EDC2 test %"),
    ]

    /// One boundary's values: IDC of both directions and their mean, EDC of the pooled points.
    struct Boundary {
        var pair: ClassPair  // source < target
        var idcForward: Double, idcReverse: Double
        var values: [String: Double]
    }

    /// The boundaries (unordered pairs with both directions in `pairs`) and their values, from the
    /// stored metric numbers of producer `key`.
    static func boundaries(_ numbers: [(pair: ClassPair?, path: String, value: Double)], key: String, pairs: Set<ClassPair>) -> [Boundary] {
        var lookup: [String: Double] = [:]
        for e in numbers { if let p = e.pair { lookup["\(e.path)#\(p.key)"] = e.value } }
        func value(_ path: String, _ p: ClassPair) -> Double { lookup["\(path)#\(p.key)"] ?? .nan }
        return pairs.filter { $0.source < $0.target && pairs.contains(ClassPair($0.target, $0.source)) }.sorted().map { p in
            let reverse = ClassPair(p.target, p.source)
            let forward = value("idc/\(key)/idc", p), backward = value("idc/\(key)/idc", reverse)
            return Boundary(pair: p, idcForward: forward, idcReverse: backward, values: [
                "idc": (forward + backward) / 2,
                "edc1_borderline": value("edc/\(key)/boundary_edc1_borderline", p), "edc1_test": value("edc/\(key)/edc1_test", p),
                "edc2_borderline": value("edc/\(key)/boundary_edc2_borderline", p), "edc2_test": value("edc/\(key)/edc2_test", p),
                "points": value("edc/\(key)/boundary_borderline_points", p),
            ])
        }
    }

    /// Pearson correlation of two quantities over the boundaries where both are finite.
    static func correlation(_ boundaries: [Boundary], _ a: String, _ b: String) -> (r: Double, cells: Int) {
        let both = boundaries.compactMap { x -> (Double, Double)? in
            guard let u = x.values[a], let v = x.values[b], u.isFinite, v.isFinite else { return nil }
            return (u, v)
        }
        return (Charts.pearson(both.map(\.0), both.map(\.1)), both.count)
    }

    static func run(_ context: RunContext) throws {
        let numbers = context.store.record.numbers.map { (pair: $0.pair, path: $0.path, value: $0.value) }
        var producers: [String: Set<ClassPair>] = [:]
        for set in context.boundarySets { producers[set.producer, default: []].insert(set.pair) }
        for (producer, pairs) in producers.sorted(by: { $0.key < $1.key }) {
            let key = producer.replacingOccurrences(of: "/", with: ".")
            let classes = Set(pairs.flatMap { [$0.source, $0.target] }).sorted()
            let found = boundaries(numbers, key: key, pairs: pairs)
            try recordBoundaries(found, producer: producer, key: key, context: context)
            // The heatmaps only for runs over more than one boundary (≥ 3 classes): one pair's two
            // directions are already in the tables.
            guard classes.count >= 3 else { continue }
            try drawBoundaryHeatmaps(found, classes: classes, producer: producer, key: key, context: context)
            var matrices: [String: [[Double]]] = [:]
            for q in quantities {
                let m = matrix(numbers, path: "\(q.metric)/\(key)/\(q.number)", classes: classes)
                guard m.flatMap({ $0 }).contains(where: { $0.isFinite }) else { continue }
                matrices[q.number] = m
                let image = try Charts.heatmap(m, labels: classes.map { "\($0)" }, title: "\(q.title) per direction (\(producer))")
                context.store.addPicture(ResultPicture(name: "heatmap-\(q.number)-\(key)", caption:
                    "\(q.title.lowercased()) of \(producer) for every class pair of the run: row = source class s, column = target class t (class indices: " +
                    classes.map { "\($0) \(context.classifier.className($0))" }.joined(separator: ", ") + ") " +
                    "(grey: no value, e.g. the diagonal or a pair without borderline points); colour scale from the smallest to the largest value.",
                    image: image))
            }
            if let idc = matrices["idc"], let edc2 = matrices["edc2_borderline"] {
                let (r, cells) = correlation(idc, edc2)
                try context.store.addNumber(r, name: "all-pairs/\(key)/pearson_idc_edc2_borderline")
                try context.store.addNumber(Double(cells), name: "all-pairs/\(key)/pearson_pairs")
                context.store.addNote(String(format: "%@: Pearson correlation of IDC and EDC2_borderline over %d ordered class pairs: %.4f", producer, cells, r))
            }
        }
    }

    /// The Table 9 layout for every boundary of one producer, and its numbers.
    static func recordBoundaries(_ found: [Boundary], producer: String, key: String, context: RunContext) throws {
        guard !found.isEmpty else { return }
        let f4 = { (x: Double) in x.isFinite ? String(format: "%.4f", x) : "—" }
        let f2 = { (x: Double) in x.isFinite ? String(format: "%.2f", x) : "—" }
        let name = { (c: Int) in "\(c) \(context.classifier.className(c))" }
        var rows: [[String]] = []
        for b in found {
            for q in boundaryQuantities { try context.store.addNumber(b.values[q.number] ?? .nan, name: "boundary/\(key)/\(q.number)", pair: b.pair) }
            let v = { (k: String) in b.values[k] ?? .nan }
            rows.append(["\(name(b.pair.source)) – \(name(b.pair.target))", f4(b.idcForward), f4(b.idcReverse), f4(v("idc")),
                         f4(v("edc1_test")), f4(v("edc1_borderline")), f2(v("edc2_test")), f2(v("edc2_borderline")),
                         v("points").isFinite ? "\(Int(v("points")))" : "—"])
        }
        context.store.addTable(ResultTable(
            title: "Boundary characteristics, both directions (paper Table 9): \(producer)",
            columns: ["boundary s – t", "IDC s→t", "IDC t→s", "IDC (mean)", "EDC1 test", "EDC1 borderline", "EDC2 test %", "EDC2 borderline %", "borderline points"],
            rows: rows))
    }

    /// Symmetric class×class heatmaps of the boundary values and the IDC–EDC2_borderline correlation over boundaries.
    static func drawBoundaryHeatmaps(_ found: [Boundary], classes: [Int], producer: String, key: String, context: RunContext) throws {
        guard !found.isEmpty else { return }
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        for q in boundaryQuantities {
            var m = [[Double]](repeating: [Double](repeating: .nan, count: classes.count), count: classes.count)
            for b in found {
                guard let i = position[b.pair.source], let j = position[b.pair.target] else { continue }
                m[i][j] = b.values[q.number] ?? .nan
                m[j][i] = m[i][j]
            }
            guard m.flatMap({ $0 }).contains(where: { $0.isFinite }) else { continue }
            let image = try Charts.heatmap(m, labels: classes.map { "\($0)" }, title: "\(q.title) of each boundary, both directions (\(producer))",
                                           rowLabel: "class", columnLabel: "class")
            context.store.addPicture(ResultPicture(name: "heatmap-boundary-\(q.number)-\(key)", caption:
                "\(q.title.lowercased()) of the boundary between each two classes (both directions of \(producer); symmetric; class indices: " +
                classes.map { "\($0) \(context.classifier.className($0))" }.joined(separator: ", ") +
                ") (grey: no value); colour scale from the smallest to the largest value.", image: image))
        }
        let (r, cells) = correlation(found, "idc", "edc2_borderline")
        try context.store.addNumber(r, name: "all-pairs/\(key)/pearson_idc_edc2_borderline_boundaries")
        try context.store.addNumber(Double(cells), name: "all-pairs/\(key)/pearson_boundaries")
        context.store.addNote(String(format: "%@: Pearson correlation of IDC and EDC2_borderline over %d boundaries (both directions): %.4f", producer, cells, r))
    }
}
