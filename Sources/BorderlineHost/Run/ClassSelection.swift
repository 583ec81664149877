import BorderlineCore
import Foundation

/// Turns class arguments (names or indices) into class indices and pairs, with messages that
/// list the classes when an argument matches none.
public struct ClassSelection {
    public let classNames: [String]
    public init(classNames: [String]) { self.classNames = classNames }

    private var listing: String {
        classNames.enumerated().map { "\($0) \($1)" }.joined(separator: ", ")
    }

    /// One class: an index `0…K−1` or a class name (case-insensitive).
    public func resolve(_ text: String) throws -> Int {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let i = Int(t) {
            guard i >= 0 && i < classNames.count else {
                throw BorderlineError(.invalidArgument,
                    "class \(i) is out of range: the model has \(classNames.count) classes, 0…\(classNames.count - 1) (\(listing))")
            }
            return i
        }
        if let i = classNames.firstIndex(where: { $0.lowercased() == t.lowercased() }) { return i }
        throw BorderlineError(.invalidArgument, "'\(t)' is neither a class index nor a class name of the model (\(listing))")
    }

    /// A pair `s:t`.
    public func resolvePair(_ text: String) throws -> ClassPair {
        // Split at the last ':' whose both sides resolve, so class names may contain ':'.
        let colons = text.indices.filter { text[$0] == ":" }
        guard !colons.isEmpty else {
            throw BorderlineError(.invalidArgument, "class pair '\(text)' must look like s:t (class names or indices), e.g. 0:6 or Shirt:Coat")
        }
        var lastError: Error?
        for c in colons.reversed() {
            do {
                let s = try resolve(String(text[..<c])), t = try resolve(String(text[text.index(after: c)...]))
                guard s != t else { throw BorderlineError(.invalidArgument, "class pair '\(text)' names the same class twice") }
                return ClassPair(s, t)
            } catch { lastError = error }
        }
        throw lastError!
    }

    /// The run's pairs: the given pairs (or `all`), else every unordered pair of `classes`
    /// (or of all classes). `all-ordered` gives every ordered pair (s, t), s ≠ t, of `classes`
    /// (or of all classes): both directions, for direction-dependent probers such as DeepDIG.
    public func pairs(_ pairArguments: [String], classes classArguments: [String]) throws -> [ClassPair] {
        let args = pairArguments.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        let classes = try classArguments.flatMap { $0.split(separator: ",").map(String.init) }.map(resolve)
        if args == ["all-ordered"] {
            let pool = Array(Set(classes.isEmpty ? Array(0..<classNames.count) : classes)).sorted()
            let pairs = pool.flatMap { s in pool.filter { $0 != s }.map { ClassPair(s, $0) } }
            guard !pairs.isEmpty else {
                throw BorderlineError(.invalidArgument, "--classes must name at least two different classes to form a pair")
            }
            return pairs
        }
        if args.isEmpty || args == ["all"] {
            let pool = classes.isEmpty ? Array(0..<classNames.count) : classes
            let pairs = ClassPair.allPairs(of: pool)
            guard !pairs.isEmpty else {
                throw BorderlineError(.invalidArgument, "--classes must name at least two different classes to form a pair")
            }
            return pairs
        }
        var seen = Set<ClassPair>()
        return try args.map(resolvePair).filter { seen.insert($0).inserted }
    }
}
