internal import CPNG
import Foundation

/// An 8-bit image that plugins draw and the report shows, encoded and decoded with libpng.
///
/// Pixels are stored row-major, top row first, `channels` bytes per pixel: 1 (grey), 3 (RGB)
/// or 4 (RGBA).
public struct PNGImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, width <= 1 << 16, height <= 1 << 16 else {
            throw BorderlineError(.invalidArgument, "PNG image size \(width)×\(height) is out of range (1…65536 each)")
        }
        guard [1, 3, 4].contains(channels) else {
            throw BorderlineError(.invalidArgument, "PNG image has \(channels) channels; expected 1 (grey), 3 (RGB) or 4 (RGBA)")
        }
        guard pixels.count == width * height * channels else {
            throw BorderlineError(.invalidArgument, "PNG image \(width)×\(height)×\(channels) needs \(width * height * channels) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// A blank image of one colour (`colour.count == channels`).
    public init(width: Int, height: Int, colour: [UInt8]) throws {
        var pixels: [UInt8] = []
        pixels.reserveCapacity(width * height * colour.count)
        for _ in 0..<(width * height) { pixels += colour }
        try self.init(width: width, height: height, channels: colour.count, pixels: pixels)
    }

    private static func format(channels: Int) -> UInt32 {
        switch channels {
        case 1: return 0   // PNG_FORMAT_GRAY
        case 3: return 2   // PNG_FORMAT_RGB
        default: return 3  // PNG_FORMAT_RGBA
        }
    }

    /// The PNG file's bytes.
    public func encoded() throws -> Data {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(width)
        image.height = UInt32(height)
        image.format = PNGImage.format(channels: channels)
        let stride = Int32(width * channels)
        var size = 0
        // First call measures, second writes.
        let measured = pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }
        guard measured != 0, size > 0 else {
            defer { png_image_free(&image) }
            throw BorderlineError(.ioFailure, "libpng cannot encode a \(width)×\(height) image: \(PNGImage.message(&image))")
        }
        var data = Data(count: size)
        let written = data.withUnsafeMutableBytes { out in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, out.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard written != 0 else {
            defer { png_image_free(&image) }
            throw BorderlineError(.ioFailure, "libpng cannot encode a \(width)×\(height) image: \(PNGImage.message(&image))")
        }
        data.count = size
        return data
    }

    /// Decodes PNG bytes into an image with `channels` channels (converting as needed).
    public static func decode(_ data: Data, channels: Int = 3) throws -> PNGImage {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        let ok = data.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, data.count) }
        guard ok != 0 else {
            defer { png_image_free(&image) }
            throw BorderlineError(.unreadableFile, "not a readable PNG image: \(message(&image))")
        }
        image.format = format(channels: channels)
        let width = Int(image.width), height = Int(image.height)
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        let done = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, Int32(width * channels), nil) }
        guard done != 0 else {
            defer { png_image_free(&image) }
            throw BorderlineError(.unreadableFile, "cannot decode PNG image: \(message(&image))")
        }
        return try PNGImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Writes the PNG file.
    public func write(to path: String) throws {
        do { try encoded().write(to: URL(fileURLWithPath: path)) } catch let e as BorderlineError { throw e } catch {
            throw BorderlineError(.ioFailure, "cannot write PNG: \(error.localizedDescription)", file: path)
        }
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }
}
