/// "Did you mean …?" for names a person typed.
public enum Suggestion {
    /// The candidate closest to `name` by edit distance (insertions, deletions, substitutions and
    /// swaps of neighbours), if it is within `maxDistance` (default: 2, or 1 for names of up to 4
    /// characters); failing that, the one candidate that shares a word of three or more letters
    /// with `name` (`max-steps` → `max-halvings`), if exactly one does.
    public static func closest(to name: String, in candidates: [String], maxDistance: Int? = nil) -> String? {
        let limit = maxDistance ?? (name.count <= 4 ? 1 : 2)
        var best: (String, Int)?
        for c in candidates {
            let d = distance(name.lowercased(), c.lowercased())
            if d <= limit, d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        if let best { return best.0 }
        func words(_ s: String) -> Set<String> {
            Set(s.lowercased().split(whereSeparator: { $0 == "-" || $0 == "_" || $0 == "." }).map(String.init).filter { $0.count >= 3 })
        }
        let mine = words(name)
        let sharing = Set(candidates).filter { !words($0).isDisjoint(with: mine) }
        return sharing.count == 1 ? sharing.first : nil
    }

    /// `" (did you mean 'x'?)"` or the empty string.
    public static func phrase(for name: String, in candidates: [String]) -> String {
        closest(to: name, in: candidates.filter { $0 != name }).map { " (did you mean '\($0)'?)" } ?? ""
    }

    /// The same as ``phrase(for:in:)``, in the words of the architecture readers.
    public static func didYouMean(_ word: String, among candidates: [String]) -> String { phrase(for: word, in: candidates) }

    /// Optimal-string-alignment distance.
    public static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[x.count][y.count]
    }
}
