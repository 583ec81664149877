/// An ordered pair of classes: a boundary point of the pair separates `source` (where an attempt
/// starts) from `target` (where it is heading).
public struct ClassPair: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var source: Int
    public var target: Int
    public init(_ source: Int, _ target: Int) {
        self.source = source
        self.target = target
    }

    /// `s-t`, the pair's key in summary.json.
    public var key: String { "\(source)-\(target)" }
    /// `pair_s_t`, the pair's group name in results.h5.
    public var groupName: String { "pair_\(source)_\(target)" }
    public var description: String { "\(source):\(target)" }

    public static func < (a: ClassPair, b: ClassPair) -> Bool {
        (a.source, a.target) < (b.source, b.target)
    }

    /// Every unordered pair `s < t` of the given classes.
    public static func allPairs(of classes: [Int]) -> [ClassPair] {
        let c = Array(Set(classes)).sorted()
        var pairs: [ClassPair] = []
        for i in c.indices { for j in c.indices where j > i { pairs.append(ClassPair(c[i], c[j])) } }
        return pairs
    }
}
