import BorderlineCore
import Foundation

/// One plugin's outputs laid out as the run folder stores them: every leaf of every output's
/// result tree with the pair it belongs to and its path below the plugin's pair group (or `all`).
///
/// Locations: a prober's output for pair p at `pair_p/<prober>/…` (beside the boundary set's
/// arrays), a metric's at `pair_p/<metric>/<producer plugin>.<producer prober>/…`, an
/// analysis's at `all/<analysis>/…`, and an analysis's ``PerPair`` values at `pair_q/<analysis>/…`.
struct FiledResults {
    struct Entry {
        var pair: ClassPair?
        var path: [String]
        var component: String
        var kind: ComponentKind
        var value: ResultValue
    }

    /// Every leaf, in output order.
    let entries: [Entry]

    init(plugin: String, outputs: [OutputRecord]) {
        var entries: [Entry] = []
        for output in outputs where output.plugin == plugin {
            var base = [output.component]
            if output.kind == .metric, let key = output.producerKey { base.append(key) }
            for leaf in output.tree.leaves(pair: output.pair) {
                var value = leaf.value
                // A metric's tables say which set they are about.
                if output.kind == .metric, case .table(var t) = value, let set = output.set {
                    t.title += " (\(set.producer), pair \(set.pair))"
                    value = .table(t)
                }
                entries.append(Entry(pair: leaf.pair, path: base + leaf.path, component: output.component, kind: output.kind, value: value))
            }
        }
        self.entries = entries
    }

    /// Scalars for summary.json and results.h5 attributes: numbers, booleans, text.
    var scalars: [Entry] {
        entries.filter {
            switch $0.value {
            case .number, .bool, .string, .strings: return true
            default: return false
            }
        }
    }
    var arrays: [(entry: Entry, array: StoredArray)] {
        entries.compactMap { if case .array(let a) = $0.value { return ($0, a) } else { return nil } }
    }
    var tables: [(entry: Entry, table: ResultTable)] {
        entries.compactMap { if case .table(let t) = $0.value { return ($0, t) } else { return nil } }
    }
    var pictures: [(entry: Entry, picture: ResultPicture)] {
        entries.compactMap { if case .picture(let p) = $0.value { return ($0, p) } else { return nil } }
    }
    var highlights: [(entry: Entry, highlight: ResultHighlight)] {
        entries.compactMap { if case .highlight(let h) = $0.value { return ($0, h) } else { return nil } }
    }
    var notes: [(entry: Entry, text: String)] {
        entries.compactMap { if case .note(let n) = $0.value { return ($0, n) } else { return nil } }
    }

    /// The JSON of a scalar leaf (non-finite numbers are null).
    static func json(_ value: ResultValue) -> JSONValue {
        switch value {
        case .number(let d): return d.isFinite ? .number(d) : .null
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .strings(let a): return .array(a.map { .string($0) })
        default: return .null
        }
    }

    /// The file-name stem of a picture: metrics' pictures carry the set's producer and pair.
    static func stem(_ entry: Entry, _ picture: ResultPicture) -> String {
        if entry.kind == .metric, entry.path.count >= 2, let pair = entry.pair {
            return "\(entry.path[0])-\(entry.path[1])-\(pair.groupName)-\(picture.name)"
        }
        return picture.name
    }
}
