import BorderlineCore
import Foundation

/// A small RGB canvas for the plugin's pictures: images, lines, and numbers in a 3×5 pixel font.
struct Canvas {
    let width: Int, height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int, background: UInt8 = 0xFF) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: background, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ c: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let o = (y * width + x) * 3
        pixels[o] = c.0; pixels[o + 1] = c.1; pixels[o + 2] = c.2
    }

    mutating func fill(x: Int, y: Int, w: Int, h: Int, _ c: (UInt8, UInt8, UInt8)) {
        for yy in y..<(y + h) { for xx in x..<(x + w) { set(xx, yy, c) } }
    }

    /// A grey image of `h × w` values in [0, 1] (clamped), each pixel `scale × scale`.
    mutating func image(_ values: ArraySlice<Float>, h: Int, w: Int, x: Int, y: Int, scale: Int) {
        let base = values.startIndex
        for r in 0..<h {
            for c in 0..<w {
                let v = UInt8((min(1, max(0, values[base + r * w + c])) * 255).rounded())
                fill(x: x + c * scale, y: y + r * scale, w: scale, h: scale, (v, v, v))
            }
        }
    }

    mutating func rectangle(x: Int, y: Int, w: Int, h: Int, _ c: (UInt8, UInt8, UInt8)) {
        for xx in x..<(x + w) { set(xx, y, c); set(xx, y + h - 1, c) }
        for yy in y..<(y + h) { set(x, yy, c); set(x + w - 1, yy, c) }
    }

    mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8)) {
        let n = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in 0...n {
            set(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n, c)
        }
    }

    /// 3×5 glyphs, one row of 3 bits per line, top first.
    static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
        "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], " ": [0, 0, 0, 0, 0], "x": [0, 5, 2, 5, 0], "=": [0, 7, 0, 7, 0],
        "e": [0, 7, 7, 4, 7], "t": [2, 7, 2, 2, 3], "s": [0, 3, 6, 1, 6], "p": [0, 7, 5, 7, 4], "f": [3, 4, 6, 4, 4],
        "z": [0, 7, 1, 4, 7], "*": [0, 5, 2, 5, 0],
    ]

    /// Text width in pixels at `scale`.
    static func textWidth(_ s: String, scale: Int) -> Int { max(0, s.count * 4 * scale - scale) }

    mutating func text(_ s: String, x: Int, y: Int, scale: Int, _ c: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        for (i, ch) in s.enumerated() {
            guard let g = Canvas.glyphs[ch] else { continue }
            for (r, bits) in g.enumerated() {
                for b in 0..<3 where bits & (4 >> b) != 0 {
                    fill(x: x + (i * 4 + b) * scale, y: y + r * scale, w: scale, h: scale, c)
                }
            }
        }
    }

    func png() throws -> PNGImage { try PNGImage(width: width, height: height, channels: 3, pixels: pixels) }
}

enum LatentPictures {
    /// One row per trajectory: the source image `x`, `frames` images `G(z_t)` at evenly spaced
    /// steps from `z_0` to the last step, and the boundary point `G(z*)` (red frame); under every
    /// image its `f_C` with two decimals (under `G(z*)`: `f_C` with three).
    static func strip(sources: Tensor, sourceProbability: [Float], frames: [[(image: ArraySlice<Float>, fC: Float, step: Int)]],
                      boundary: [(image: ArraySlice<Float>, fC: Float)?], imageShape: [Int]) throws -> PNGImage {
        let h = imageShape.count >= 2 ? imageShape[imageShape.count - 2] : Int(Double(imageShape[0]).squareRoot())
        let w = imageShape.count >= 2 ? imageShape[imageShape.count - 1] : h
        let scale = 2, gap = 4, textScale = 2, label = 5 * textScale + 2 * 3 + 5 * textScale
        let columns = 1 + (frames.map(\.count).max() ?? 0) + 1
        let cellW = w * scale, cellH = h * scale
        var c = Canvas(width: gap + columns * (cellW + gap), height: gap + frames.count * (cellH + label + gap))
        for (r, row) in frames.enumerated() {
            let y = gap + r * (cellH + label + gap)
            func put(_ img: ArraySlice<Float>, column: Int, caption: String, sub: String, colour: (UInt8, UInt8, UInt8)?) {
                let x = gap + column * (cellW + gap)
                c.image(img, h: h, w: w, x: x, y: y, scale: scale)
                if let colour { c.rectangle(x: x - 1, y: y - 1, w: cellW + 2, h: cellH + 2, colour) }
                c.text(caption, x: x + (cellW - Canvas.textWidth(caption, scale: textScale)) / 2, y: y + cellH + 3, scale: textScale)
                c.text(sub, x: x + (cellW - Canvas.textWidth(sub, scale: textScale)) / 2, y: y + cellH + 5 + 5 * textScale, scale: textScale, (120, 120, 120))
            }
            let d = sources.sampleCount
            put(sources.scalars[(r * d)..<((r + 1) * d)], column: 0, caption: String(format: "%.2f", sourceProbability[r]), sub: "x", colour: (0, 90, 200))
            for (j, f) in row.enumerated() {
                put(f.image, column: 1 + j, caption: String(format: "%.2f", f.fC), sub: "t\(f.step)", colour: nil)
            }
            if let b = boundary[r] {
                put(b.image, column: columns - 1, caption: String(format: "%.3f", b.fC), sub: "z*", colour: (220, 30, 30))
            }
        }
        return try c.png()
    }

    /// `f_C` against the step for every trajectory (one line each, up to 50), with the 0.5 line.
    static func curves(_ values: [[Float]]) throws -> PNGImage {
        let w = 480, h = 240, left = 30, bottom = 20, top = 10, right = 10
        var c = Canvas(width: w, height: h)
        let longest = max(2, values.map(\.count).max() ?? 2)
        func px(_ t: Int) -> Int { left + (w - left - right) * t / (longest - 1) }
        func py(_ v: Float) -> Int { top + Int(Float(h - top - bottom) * (1 - min(1, max(0, v)))) }
        c.line(left, py(0), w - right, py(0), (0, 0, 0))
        c.line(left, py(0), left, py(1), (0, 0, 0))
        c.line(left, py(0.5), w - right, py(0.5), (200, 200, 200))
        c.text("1", x: left - 8, y: py(1) - 2, scale: 1)
        c.text(".5", x: left - 12, y: py(0.5) - 2, scale: 1)
        c.text("0", x: left - 8, y: py(0) - 2, scale: 1)
        c.text("0", x: left, y: h - bottom + 5, scale: 1)
        c.text("\(longest - 1)", x: w - right - Canvas.textWidth("\(longest - 1)", scale: 1), y: h - bottom + 5, scale: 1)
        let palette: [(UInt8, UInt8, UInt8)] = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
        for (i, v) in values.prefix(50).enumerated() where v.count > 1 {
            for t in 1..<v.count { c.line(px(t - 1), py(v[t - 1]), px(t), py(v[t]), palette[i % palette.count]) }
        }
        return try c.png()
    }
}
