import BorderlineCore
import Foundation

/// The all-pairs view of the paper (Section 6.4, Figures 7–9), drawn in the plugin's `finish`
/// from the metric numbers already stored for every boundary set: for each prober with sets of
/// at least three classes, class×class heatmaps (row = source s, column = target t) of IDC,
/// EDC1 and EDC2 (borderline and test), and the Pearson correlation between IDC and
/// EDC2_borderline over the pairs where both are defined.
enum AllPairsSummary {
    /// The quantities drawn: (metric number path under `<metric>/<producer key>/`, picture stem, title).
    static let quantities: [(metric: String, number: String, title: String)] = [
        ("idc", "idc", "IDC"),
        ("edc", "edc1_borderline", "EDC1 BORDERLINE"), ("edc", "edc1_test", "EDC1 TEST"),
        ("edc", "edc2_borderline", "EDC2 BORDERLINE %"), ("edc", "edc2_test", "EDC2 TEST %"),
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

    static func run(_ context: RunContext) throws {
        let numbers = context.store.record.numbers.map { (pair: $0.pair, path: $0.path, value: $0.value) }
        var producers: [String: Set<ClassPair>] = [:]
        for set in context.boundarySets { producers[set.producer, default: []].insert(set.pair) }
        for (producer, pairs) in producers.sorted(by: { $0.key < $1.key }) {
            // Only runs over more than one boundary (≥ 3 classes): one pair's two directions are
            // already in the per-pair tables.
            let classes = Set(pairs.flatMap { [$0.source, $0.target] }).sorted()
            guard classes.count >= 3 else { continue }
            let key = producer.replacingOccurrences(of: "/", with: ".")
            var matrices: [String: [[Double]]] = [:]
            for q in quantities {
                let m = matrix(numbers, path: "\(q.metric)/\(key)/\(q.number)", classes: classes)
                guard m.flatMap({ $0 }).contains(where: { $0.isFinite }) else { continue }
                matrices[q.number] = m
                let image = try Charts.heatmap(m, labels: classes.map { "\($0)" }, title: "\(q.title) \(producer)")
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
                context.store.addNote(String(format: "%@: Pearson correlation of IDC and EDC2_borderline over %d class pairs: %.4f", producer, cells, r))
            }
        }
    }
}
