internal import CFreeType
import Foundation

/// Draws text into ``PNGImage``s with FreeType, in a font found by fontconfig.
///
/// The font is `BORDERLINE_FONT` (a path to a TrueType/OpenType file) when set, else fontconfig's
/// best match for "DejaVu Sans" (Debian: `fonts-dejavu-core`, installed by `tools/install-deps.sh`).
/// Without a usable font, ``isAvailable`` is false and drawing text does nothing: pictures lose
/// their labels, never the run. One FreeType face is shared and guarded by a lock (FreeType faces
/// are not thread-safe).
public final class TextRenderer: @unchecked Sendable {
    /// The process-wide renderer.
    public static let shared = TextRenderer()

    private let lock = NSLock()
    private var library: FT_Library?
    private var face: FT_Face?
    private var currentSize: Int = 0
    /// The font file in use, or nil when none could be loaded.
    public private(set) var fontPath: String?
    /// Why no font is available (for a warning), nil when one is.
    public private(set) var unavailableReason: String?

    private init() {
        var lib: FT_Library?
        guard FT_Init_FreeType(&lib) == 0, let lib else {
            unavailableReason = "FreeType could not be initialised"
            return
        }
        library = lib
        let candidates = [ProcessInfo.processInfo.environment["BORDERLINE_FONT"], Self.fontconfigMatch("DejaVu Sans"),
                          "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"].compactMap { $0 }
        for path in candidates {
            var f: FT_Face?
            if FT_New_Face(lib, path, 0, &f) == 0, let f {
                face = f
                fontPath = path
                return
            }
        }
        unavailableReason = candidates.isEmpty ? "no font found (install fonts-dejavu-core or set BORDERLINE_FONT)"
            : "no usable font among \(candidates.joined(separator: ", ")) (install fonts-dejavu-core or set BORDERLINE_FONT)"
    }

    private static func fontconfigMatch(_ name: String) -> String? {
        guard let config = FcInitLoadConfigAndFonts() else { return nil }
        defer { FcConfigDestroy(config) }
        guard let pattern = FcNameParse(name) else { return nil }
        defer { FcPatternDestroy(pattern) }
        FcConfigSubstitute(config, pattern, FcMatchPattern)
        FcDefaultSubstitute(pattern)
        var result = FcResultNoMatch
        guard let match = FcFontMatch(config, pattern, &result) else { return nil }
        defer { FcPatternDestroy(match) }
        var file: UnsafeMutablePointer<FcChar8>?
        guard FcPatternGetString(match, "file", 0, &file) == FcResultMatch, let file else { return nil }
        return String(cString: UnsafeRawPointer(file).assumingMemoryBound(to: CChar.self))
    }

    /// Whether text will be drawn.
    public var isAvailable: Bool { face != nil }

    /// Width and height (ascent + descent) in pixels of `text` at `size` pixels.
    public func measure(_ text: String, size: Int) -> (width: Int, height: Int) {
        lock.lock(); defer { lock.unlock() }
        guard let face, setSize(size) else { return (0, 0) }
        var width = 0
        for scalar in text.unicodeScalars where FT_Load_Char(face, FT_ULong(scalar.value), FT_Int32(0)) == 0 {
            width += Int(face.pointee.glyph.pointee.advance.x >> 6)
        }
        let metrics = face.pointee.size.pointee.metrics
        return (width, Int((metrics.ascender - metrics.descender) >> 6))
    }

    private func setSize(_ size: Int) -> Bool {
        guard let face else { return false }
        if size == currentSize { return true }
        guard FT_Set_Pixel_Sizes(face, 0, FT_UInt(max(1, size))) == 0 else { return false }
        currentSize = size
        return true
    }

    /// Draws `text` with its top-left corner at `(x, y)` (pixels; the line box starts at `y`).
    /// `rotated` draws it bottom-to-top (for a vertical axis label), `(x, y)` then being the
    /// top-left of the rotated box. Glyph coverage is alpha-blended over the pixels.
    public func draw(_ text: String, into image: inout PNGImage, x: Int, y: Int, size: Int, colour: [UInt8], rotated: Bool = false) {
        lock.lock(); defer { lock.unlock() }
        guard let face, setSize(size) else { return }
        let ascent = Int(face.pointee.size.pointee.metrics.ascender >> 6)
        var penX = 0
        let flags = FT_Int32(borderline_ft_load_render())
        let totalWidth: Int = rotated ? {
            var w = 0
            for s in text.unicodeScalars where FT_Load_Char(face, FT_ULong(s.value), FT_Int32(0)) == 0 { w += Int(face.pointee.glyph.pointee.advance.x >> 6) }
            return w
        }() : 0
        for scalar in text.unicodeScalars {
            guard FT_Load_Char(face, FT_ULong(scalar.value), flags) == 0 else { continue }
            let slot = face.pointee.glyph.pointee
            let bitmap = slot.bitmap
            let left = Int(slot.bitmap_left), top = Int(slot.bitmap_top)
            if let buffer = bitmap.buffer {
                for row in 0..<Int(bitmap.rows) {
                    for col in 0..<Int(bitmap.width) {
                        let coverage = Int(buffer[row * Int(bitmap.pitch) + col])
                        guard coverage > 0 else { continue }
                        // Unrotated text coordinates (u along the text, v down the line).
                        let u = penX + left + col, v = ascent - top + row
                        let px = rotated ? x + v : x + u
                        let py = rotated ? y + totalWidth - 1 - u : y + v
                        image.blend(x: px, y: py, colour: colour, alpha: coverage)
                    }
                }
            }
            penX += Int(slot.advance.x >> 6)
        }
    }
}

extension PNGImage {
    /// Mixes `colour` into pixel `(x, y)` with `alpha` in 0…255; pixels outside are ignored.
    public mutating func blend(x: Int, y: Int, colour: [UInt8], alpha: Int) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let o = (y * width + x) * channels
        let a = max(0, min(255, alpha))
        if channels == 1 {
            let grey = colour.count >= 3 ? (Int(colour[0]) * 299 + Int(colour[1]) * 587 + Int(colour[2]) * 114) / 1000 : Int(colour[0])
            pixels[o] = UInt8((grey * a + Int(pixels[o]) * (255 - a)) / 255)
            return
        }
        for c in 0..<3 {
            let value = c < colour.count ? Int(colour[c]) : Int(colour[0])
            pixels[o + c] = UInt8((value * a + Int(pixels[o + c]) * (255 - a)) / 255)
        }
        if channels == 4 { pixels[o + 3] = UInt8(max(Int(pixels[o + 3]), a)) }
    }

    /// Sets the pixels of the rectangle `[x, x + w) × [y, y + h)` (clipped to the image) to `colour`.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, colour: [UInt8]) {
        let x0 = max(0, x), y0 = max(0, y), x1 = min(width, x + w), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for py in y0..<y1 {
            for px in x0..<x1 {
                let o = (py * width + px) * channels
                for c in 0..<min(channels, 3) { pixels[o + c] = c < colour.count ? colour[c] : colour[0] }
                if channels == 4 { pixels[o + 3] = 255 }
            }
        }
    }

    /// A straight line from `(x0, y0)` to `(x1, y1)`, `thickness` pixels wide (Bresenham with a
    /// square pen).
    public mutating func line(from p0: (x: Int, y: Int), to p1: (x: Int, y: Int), colour: [UInt8], thickness: Int = 1) {
        var x = p0.x, y = p0.y
        let dx = abs(p1.x - p0.x), dy = -abs(p1.y - p0.y)
        let sx = p0.x < p1.x ? 1 : -1, sy = p0.y < p1.y ? 1 : -1
        var err = dx + dy
        let lo = -(thickness - 1) / 2, hi = thickness / 2
        while true {
            for ox in lo...hi { for oy in lo...hi { blend(x: x + ox, y: y + oy, colour: colour, alpha: 255) } }
            if x == p1.x && y == p1.y { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// The 1-pixel outline of the rectangle `[x, x + w) × [y, y + h)`.
    public mutating func outline(x: Int, y: Int, width w: Int, height h: Int, colour: [UInt8]) {
        fill(x: x, y: y, width: w, height: 1, colour: colour)
        fill(x: x, y: y + h - 1, width: w, height: 1, colour: colour)
        fill(x: x, y: y, width: 1, height: h, colour: colour)
        fill(x: x + w - 1, y: y, width: 1, height: h, colour: colour)
    }

    /// Draws `text` (see ``TextRenderer/draw(_:into:x:y:size:colour:rotated:)``).
    public mutating func text(_ text: String, x: Int, y: Int, size: Int = 12, colour: [UInt8] = [0, 0, 0], rotated: Bool = false) {
        TextRenderer.shared.draw(text, into: &self, x: x, y: y, size: size, colour: colour, rotated: rotated)
    }

    /// A legend box: one coloured square and label per entry, stacked, top-left at `(x, y)`.
    /// Returns the box's size.
    @discardableResult
    public mutating func legend(_ entries: [(label: String, colour: [UInt8])], x: Int, y: Int, size: Int = 12) -> (width: Int, height: Int) {
        guard !entries.isEmpty else { return (0, 0) }
        let line = max(size + 4, TextRenderer.shared.measure("Ag", size: size).height + 2)
        let textWidth = entries.map { TextRenderer.shared.measure($0.label, size: size).width }.max() ?? 0
        let w = 8 + size + 6 + textWidth + 8, h = 6 + entries.count * line + 4
        fill(x: x, y: y, width: w, height: h, colour: [255, 255, 255])
        outline(x: x, y: y, width: w, height: h, colour: [160, 160, 160])
        for (i, e) in entries.enumerated() {
            let top = y + 6 + i * line
            fill(x: x + 8, y: top + (line - size) / 2 - 1, width: size, height: size, colour: e.colour)
            text(e.label, x: x + 8 + size + 6, y: top, size: size)
        }
        return (w, h)
    }
}
