import BorderlineCore

/// Applies `body` to consecutive row slices of `x` of at most `size` rows, checking for a stop
/// request before each slice; the results come back in row order.
func inBatches<T>(_ x: Tensor, size: Int, checkStop: () throws -> Void, _ body: (Tensor) throws -> T) throws -> [T] {
    var parts: [T] = []
    var start = 0
    while start < x.batchSize {
        try checkStop()
        let end = min(start + max(1, size), x.batchSize)
        parts.append(try body(x.slice(batch: start..<end)))
        start = end
    }
    return parts
}
