import BorderlineCore

/// Limits a YAML configuration file must keep before it is parsed. The YAML parser nests
/// recursively (so 100,000 `[` overflow the stack) and expands aliases (so a kilobyte of
/// `&a [*b, *b, …]` becomes billions of values); a run configuration needs neither.
enum YAMLLimits {
    /// Deepest nesting accepted (block indentation levels, `- ` markers and flow brackets).
    static let maxDepth = 64
    /// Most aliases (`*name`) accepted.
    static let maxAliases = 64
    /// Most values the parsed file may expand to.
    static let maxValues = 100_000
    /// Largest file accepted, in bytes.
    static let maxBytes = 1 << 20

    /// - Throws: `.invalidConfiguration` saying which limit the text exceeds and where.
    static func check(_ text: String) throws {
        guard text.utf8.count <= maxBytes else {
            throw BorderlineError(.invalidConfiguration, "is \(text.utf8.count) bytes; a configuration file is at most \(maxBytes) bytes")
        }
        var indents: [Int] = []
        var flow = 0, aliases = 0
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let bytes = Array(line.utf8)
            var i = 0
            while i < bytes.count, bytes[i] == UInt8(ascii: " ") { i += 1 }
            guard i < bytes.count, bytes[i] != UInt8(ascii: "#") else { continue }
            if flow == 0 {
                while let last = indents.last, last >= i { indents.removeLast() }
                indents.append(i)
            }
            var depth = indents.count + flow
            var quote: UInt8?
            var previous = UInt8(ascii: " ")
            var j = i
            while j < bytes.count {
                let c = bytes[j]
                if let q = quote {
                    if c == q { quote = nil }
                } else {
                    switch c {
                    case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = c
                    case UInt8(ascii: "["), UInt8(ascii: "{"): flow += 1; depth = max(depth, indents.count + flow)
                    case UInt8(ascii: "]"), UInt8(ascii: "}"): flow = max(0, flow - 1)
                    case UInt8(ascii: "-") where (previous == UInt8(ascii: " ") || j == i) && j + 1 < bytes.count && bytes[j + 1] == UInt8(ascii: " "):
                        depth += 1
                    case UInt8(ascii: "*") where [UInt8(ascii: " "), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","), UInt8(ascii: ":")].contains(previous) || j == i:
                        aliases += 1
                    case UInt8(ascii: "#") where previous == UInt8(ascii: " "):
                        j = bytes.count
                        continue
                    default: break
                    }
                }
                previous = c
                j += 1
            }
            guard depth <= maxDepth else {
                throw BorderlineError(.invalidConfiguration, "nests deeper than \(maxDepth) levels (line \(number + 1)); a configuration file is a flat mapping with small lists")
            }
            guard aliases <= maxAliases else {
                throw BorderlineError(.invalidConfiguration, "uses more than \(maxAliases) YAML aliases (line \(number + 1)); a configuration file needs none")
            }
        }
    }
}
