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

/// Minimal plots without text (the captions name the axes and ranges).
enum Plot {
    static let palette: [[UInt8]] = [[31, 119, 180], [214, 39, 40], [44, 160, 44], [148, 103, 189]]

    struct Canvas {
        var width: Int, height: Int
        var pixels: [UInt8]
        init(width: Int, height: Int) {
            self.width = width; self.height = height
            pixels = [UInt8](repeating: 255, count: width * height * 3)
        }
        mutating func set(_ x: Int, _ y: Int, _ c: [UInt8]) {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let o = (y * width + x) * 3
            pixels[o] = c[0]; pixels[o + 1] = c[1]; pixels[o + 2] = c[2]
        }
        mutating func axes(margin m: Int) {
            for x in m..<(width - m / 2) { set(x, height - m, [0, 0, 0]) }
            for y in (m / 2)...(height - m) { set(m, y, [0, 0, 0]) }
        }
        func image() throws -> PNGImage { try PNGImage(width: width, height: height, channels: 3, pixels: pixels) }
    }

    /// Scatter of `(x, y)`, both axes linear from their min to max; x values above `xUpper` are
    /// drawn at `xUpper` (the right edge).
    static func scatter(_ x: [Double], _ y: [Double], xUpper: Double = .infinity) throws -> PNGImage {
        let x = x.map { min($0, xUpper) }
        var c = Canvas(width: 480, height: 360)
        let m = 30
        c.axes(margin: m)
        let pts = zip(x, y).filter { $0.0.isFinite && $0.1.isFinite }
        guard let x0 = pts.map(\.0).min(), let x1 = pts.map(\.0).max(), let y0 = pts.map(\.1).min(), let y1 = pts.map(\.1).max() else {
            return try c.image()
        }
        let w = Double(c.width - m - m / 2 - 2), h = Double(c.height - m - m / 2 - 2)
        for (a, b) in pts {
            let px = m + 1 + Int((x1 > x0 ? (a - x0) / (x1 - x0) : 0.5) * w)
            let py = c.height - m - 1 - Int((y1 > y0 ? (b - y0) / (y1 - y0) : 0.5) * h)
            for dx in -1...1 { for dy in -1...1 { c.set(px + dx, py + dy, palette[0]) } }
        }
        return try c.image()
    }

    /// Histograms of several series over common bins on `[0, upper]`, drawn as outlines, each
    /// normalised to its own peak (so shapes and modes compare).
    static func histograms(_ series: [[Double]], bins: Int, upper: Double) throws -> PNGImage {
        var c = Canvas(width: 480, height: 360)
        let m = 30
        c.axes(margin: m)
        let w = c.width - m - m / 2 - 2, h = Double(c.height - m - m / 2 - 2)
        for (s, values) in series.enumerated() {
            var counts = [Int](repeating: 0, count: bins)
            for v in values where v.isFinite && v >= 0 { counts[min(bins - 1, Int(v / upper * Double(bins)))] += 1 }
            let peak = max(1, counts.max() ?? 1)
            var lastY: Int? = nil
            for b in 0..<bins {
                let y = c.height - m - 1 - Int(Double(counts[b]) / Double(peak) * h)
                let xa = m + 1 + b * w / bins, xb = m + 1 + (b + 1) * w / bins
                if let lastY { for yy in min(lastY, y)...max(lastY, y) { c.set(xa, yy, palette[s % palette.count]); c.set(xa + 1, yy, palette[s % palette.count]) } }
                for xx in xa..<xb { c.set(xx, y, palette[s % palette.count]); c.set(xx, y + 1, palette[s % palette.count]) }
                lastY = y
            }
        }
        return try c.image()
    }
}
