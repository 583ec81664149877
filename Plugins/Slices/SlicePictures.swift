import BorderlineCore
import Foundation

/// A labelled point drawn on a slice picture (an anchor `x1`, `x2`, `x3`, or a window centre).
public struct SliceMarker: Sendable {
    public var label: String
    public var a: Double
    public var b: Double
    public init(label: String, a: Double, b: Double) {
        self.label = label
        self.a = a
        self.b = b
    }
}

/// Pictures of slices: class maps with a legend and marked anchors, side-by-side panels, and
/// probability profiles.
public enum SlicePictures {
    static let white: [UInt8] = [255, 255, 255]
    static let black: [UInt8] = [0, 0, 0]

    /// The colour of a pixel of class `c` with top probability `p` among `k` classes: the class's
    /// palette colour, or with `shade` mixed with white by how far `p` is from certain,
    /// `colour = white − (white − class colour)·(0.3 + 0.7·(p − 1/k)/(1 − 1/k))`.
    static func colour(_ c: Int, probability p: Float, classes k: Int, shade: Bool) -> [UInt8] {
        guard c >= 0 else { return Palette.missing }
        let base = Palette.colour(c)
        guard shade, k > 1 else { return base }
        let t = 0.3 + 0.7 * max(0, min(1, (p - 1 / Float(k)) / (1 - 1 / Float(k))))
        return base.map { UInt8((255 - (255 - Float($0)) * t).rounded()) }
    }

    /// The class map of a slice: one grid pixel per `scale × scale` image pixels (scale chosen so
    /// the map is at least `minimumSide` wide), grey outside the feasible polygon, the markers as
    /// white dots with black rims and labels, a title above and a legend of the classes that
    /// occur (and of the grey) on the right; `frames` (e.g. a local view's window) are outlined
    /// in black.
    public static func classMap(_ decision: SliceDecision, grid: SliceGrid, classNames: [String], markers: [SliceMarker],
                                title: String, shade: Bool, frames: [SliceRectangle] = [], minimumSide: Int = 320,
                                legend: Bool = true, legendClasses: Set<Int>? = nil, legendOutside: Bool? = nil) throws -> PNGImage {
        let scale = max(1, (minimumSide + grid.columns - 1) / grid.columns)
        let mapWidth = grid.columns * scale, mapHeight = grid.rows * scale
        let k = classNames.count
        let present = legendClasses ?? Set(decision.classes.filter { $0 >= 0 })
        var entries = (0..<k).filter { present.contains($0) }.map { (label: classNames[$0], colour: Palette.colour($0)) }
        if legendOutside ?? decision.classes.contains(-1) { entries.append((label: "outside the input box", colour: Palette.missing)) }
        if !legend { entries = [] }
        let textSize = 13, titleHeight = 24, margin = 8
        let legendWidth = entries.isEmpty ? 0 : (entries.map { TextRenderer.shared.measure($0.label, size: textSize).width }.max() ?? 0) + textSize + 30
        let titleWidth = TextRenderer.shared.measure(title, size: textSize).width
        let width = max(margin + mapWidth + margin + legendWidth + margin, titleWidth + 2 * margin)
        var image = try PNGImage(width: width, height: titleHeight + mapHeight + margin, colour: white)
        image.text(title, x: margin, y: 4, size: textSize)
        let left = margin, top = titleHeight
        image.pixels.withUnsafeMutableBufferPointer { px in
            for i in 0..<grid.rows {
                for j in 0..<grid.columns {
                    let pixel = i * grid.columns + j
                    let c = colour(decision.classes[pixel], probability: decision.topProbability[pixel], classes: k, shade: shade)
                    for y in 0..<scale {
                        var o = ((top + i * scale + y) * width + left + j * scale) * 3
                        for _ in 0..<scale { px[o] = c[0]; px[o + 1] = c[1]; px[o + 2] = c[2]; o += 3 }
                    }
                }
            }
        }
        image.outline(x: left - 1, y: top - 1, width: mapWidth + 2, height: mapHeight + 2, colour: [90, 90, 90])
        func px(_ a: Double) -> Int { left + Int(((a - grid.rectangle.aRange.lowerBound) / grid.rectangle.width * Double(mapWidth)).rounded()) }
        func py(_ b: Double) -> Int { top + Int(((grid.rectangle.bRange.upperBound - b) / grid.rectangle.height * Double(mapHeight)).rounded()) }
        for f in frames {
            let x0 = max(left, px(f.aRange.lowerBound)), x1 = min(left + mapWidth - 1, px(f.aRange.upperBound))
            let y0 = max(top, py(f.bRange.upperBound)), y1 = min(top + mapHeight - 1, py(f.bRange.lowerBound))
            if x1 > x0, y1 > y0 { image.outline(x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1, colour: black) }
        }
        for m in markers {
            let x = px(m.a), y = py(m.b)
            guard x >= left - 2, x <= left + mapWidth + 2, y >= top - 2, y <= top + mapHeight + 2 else { continue }
            dot(&image, x: x, y: y, radius: 4)
            image.text(m.label, x: min(x + 6, width - 24), y: max(top, y - 8), size: 12, colour: black)
        }
        if !entries.isEmpty { image.legend(entries, x: left + mapWidth + margin, y: top, size: textSize) }
        return image
    }

    /// Class maps of several decisions side by side (one panel per model or per third point),
    /// with one legend, on the last panel, of every class that occurs in any of them.
    public static func panels(_ maps: [(decision: SliceDecision, grid: SliceGrid, markers: [SliceMarker], title: String)],
                              classNames: [String], shade: Bool) throws -> PNGImage {
        let present = Set(maps.flatMap { $0.decision.classes.filter { $0 >= 0 } })
        let outside = maps.contains { $0.decision.classes.contains(-1) }
        return try sideBySide(maps.enumerated().map { (i, m) in
            try classMap(m.decision, grid: m.grid, classNames: classNames, markers: m.markers, title: m.title, shade: shade,
                         legend: i == maps.count - 1, legendClasses: present, legendOutside: outside)
        })
    }

    /// A white disc of radius `r` with a black rim.
    static func dot(_ image: inout PNGImage, x: Int, y: Int, radius r: Int) {
        for dy in -(r + 1)...(r + 1) {
            for dx in -(r + 1)...(r + 1) {
                let d2 = dx * dx + dy * dy
                if d2 <= (r - 1) * (r - 1) { image.blend(x: x + dx, y: y + dy, colour: white, alpha: 255) }
                else if d2 <= (r + 1) * (r + 1) { image.blend(x: x + dx, y: y + dy, colour: black, alpha: 255) }
            }
        }
    }

    /// Panels side by side (top-aligned) on white, `gap` pixels apart.
    public static func sideBySide(_ panels: [PNGImage], gap: Int = 12) throws -> PNGImage {
        guard !panels.isEmpty else { throw BorderlineError(.invalidArgument, "slices: no panels to put side by side") }
        let width = panels.map(\.width).reduce(0, +) + gap * (panels.count - 1)
        let height = panels.map(\.height).max()!
        var out = try PNGImage(width: width, height: height, colour: white)
        var x0 = 0
        for p in panels {
            let rgb = p.channels == 3 ? p : try rgbCopy(p)
            for y in 0..<p.height {
                let src = y * p.width * 3, dst = (y * width + x0) * 3
                out.pixels.replaceSubrange(dst..<(dst + p.width * 3), with: rgb.pixels[src..<(src + p.width * 3)])
            }
            x0 += p.width + gap
        }
        return out
    }

    static func rgbCopy(_ p: PNGImage) throws -> PNGImage {
        var pixels = [UInt8](); pixels.reserveCapacity(p.width * p.height * 3)
        for i in 0..<(p.width * p.height) {
            let o = i * p.channels
            if p.channels == 1 { pixels += [p.pixels[o], p.pixels[o], p.pixels[o]] } else { pixels += p.pixels[o..<(o + 3)] }
        }
        return try PNGImage(width: p.width, height: p.height, channels: 3, pixels: pixels)
    }

    /// One chart per segment: every class's probability along the segment (one line per class in
    /// its palette colour, legend), side by side.
    public static func profiles(_ segments: [(name: String, probabilities: Tensor)], classNames: [String]) throws -> PNGImage {
        let k = classNames.count
        var charts: [PNGImage] = []
        for s in segments {
            let n = s.probabilities.batchSize
            let t = (0..<n).map { n > 1 ? Double($0) / Double(n - 1) : 0 }
            var chart = Chart(title: s.name, xLabel: "position t along the segment", yLabel: "probability", width: 420, height: 320)
            chart.yRange = 0...1
            chart.xRange = 0...1
            for c in 0..<k {
                let y = (0..<n).map { Double(s.probabilities.scalars[$0 * k + c]) }
                // Classes that never reach 1 % stay out of the legend (drawn all the same).
                chart.line(x: t, y: y, label: (y.max() ?? 0) >= 0.01 ? classNames[c] : nil, colour: Palette.colour(c))
            }
            charts.append(try chart.render())
        }
        return try sideBySide(charts)
    }
}
