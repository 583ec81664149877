import BorderlineCore
import Foundation

enum Stats {
    static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }

    static func median(_ v: [Double]) -> Double {
        let s = v.filter { $0.isFinite }.sorted()
        if s.isEmpty { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func quantile(_ v: [Double], _ q: Double) -> Double {
        let s = v.filter { $0.isFinite }.sorted()
        if s.isEmpty { return .nan }
        return s[min(s.count - 1, max(0, Int((Double(s.count - 1) * q).rounded())))]
    }

    static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        guard x.count == y.count, x.count >= 2 else { return .nan }
        let mx = mean(x), my = mean(y)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : .nan
    }

    /// Average ranks (ties share their mean rank), 1-based.
    static func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for q in i...j { r[order[q]] = rank }
            i = j + 1
        }
        return r
    }

    static func spearman(_ x: [Double], _ y: [Double]) -> Double { pearson(ranks(x), ranks(y)) }

    /// Shannon entropy (nats) of every row of `[N, K]` probabilities.
    static func entropies(_ p: Tensor) -> [Double] {
        let n = p.batchSize, k = p.sampleCount
        return (0..<n).map { r in
            var h = 0.0
            for j in 0..<k { let q = Double(p.scalars[r * k + j]); if q > 0 { h -= q * Foundation.log(q) } }
            return h
        }
    }
}
