import Foundation

/// The most memory one allocation whose size comes from outside — a file's header, a model's
/// declared layer sizes, a command-line count — may ask for. Sizes are checked against it before
/// anything is allocated, so a 24-byte header declaring gigabytes or `--samples 2000000000` is
/// refused with a message instead of aborting the process.
///
/// The budget is `BORDERLINE_MEMORY_LIMIT` (bytes, or with a `K`, `M`, `G` or `T` suffix, powers
/// of 1024) when set, else three quarters of the machine's physical memory.
public enum MemoryBudget {
    /// The budget in bytes.
    public static var bytes: Double {
        if let text = ProcessInfo.processInfo.environment["BORDERLINE_MEMORY_LIMIT"], let v = parse(text) { return v }
        return Double(ProcessInfo.processInfo.physicalMemory) * 0.75
    }

    /// `"512M"` → 536870912; nil for text that is not a positive size.
    static func parse(_ text: String) -> Double? {
        var s = text.trimmingCharacters(in: .whitespaces).uppercased()
        if s.hasSuffix("B") { s.removeLast() }
        let units: [Character: Double] = ["K": 1024, "M": 1024 * 1024, "G": 1024 * 1024 * 1024, "T": 1024 * 1024 * 1024 * 1024]
        var scale = 1.0
        if let last = s.last, let u = units[last] { scale = u; s.removeLast() }
        guard let v = Double(s), v > 0, v.isFinite else { return nil }
        return v * scale
    }

    /// "3.1 GB" for messages.
    public static func describe(_ bytes: Double) -> String {
        bytes >= 1e9 ? String(format: "%.1f GB", bytes / 1e9) : bytes >= 1e6 ? String(format: "%.1f MB", bytes / 1e6) : String(format: "%.0f bytes", bytes)
    }

    /// Throws `kind` (default `.invalidArgument`) saying that `what` needs more than the budget.
    /// `bytes` is a Double so that overflowing products of declared sizes compare correctly.
    public static func require(_ bytes: Double, for what: @autoclosure () -> String, kind: BorderlineError.Kind = .invalidArgument,
                               file: String? = nil) throws {
        let budget = self.bytes
        guard bytes <= budget else {
            throw BorderlineError(kind,
                "\(what()) would need \(describe(bytes)) of memory, more than the budget of \(describe(budget)) (three quarters of this machine's memory; set BORDERLINE_MEMORY_LIMIT to change it)",
                file: file)
        }
    }

    /// `require` for `elements` values of `bytesPerElement` bytes each (counts multiplied in Double).
    public static func require(elements: [Int], bytesPerElement: Int = 4, for what: @autoclosure () -> String,
                               kind: BorderlineError.Kind = .invalidArgument, file: String? = nil) throws {
        try require(elements.reduce(Double(bytesPerElement)) { $0 * Double(max(0, $1)) }, for: what(), kind: kind, file: file)
    }
}
