internal import CGzip
import Foundation

/// Reader for the IDX format of MNIST and Fashion-MNIST (`*-images-idx3-ubyte`,
/// `*-labels-idx1-ubyte`), plain or gzip-compressed (zlib reads both through `gzread`).
///
/// An IDX file is a 4-byte magic number — two zero bytes, a type code (`0x08` = unsigned byte)
/// and the number of dimensions — then one big-endian `UInt32` per dimension, then the data.
public enum IDXFile {
    /// A decoded IDX array of unsigned bytes.
    public struct Contents: Sendable {
        public var shape: [Int]
        public var bytes: [UInt8]
        public init(shape: [Int], bytes: [UInt8]) {
            self.shape = shape
            self.bytes = bytes
        }
    }

    /// Reads an unsigned-byte IDX file with `dimensions` dimensions.
    /// - Throws: `.fileNotFound`; `.unreadableFile` for a wrong magic number, a truncated or
    ///   corrupt file, or trailing bytes after the data.
    public static func read(_ path: String, dimensions expected: Int) throws -> Contents {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BorderlineError(.fileNotFound, "no such file", file: path)
        }
        guard !isDirectory.boolValue else { throw BorderlineError(.unreadableFile, "is a directory, not an IDX file", file: path) }
        guard let gz = gzopen(path, "rb") else {
            throw BorderlineError(.fileNotFound, "cannot be opened: \(String(cString: strerror(errno)))", file: path)
        }
        defer { gzclose(gz) }

        // The buffer grows with the bytes actually read (16 MB at a time), so a short file whose
        // header declares gigabytes fails as truncated without allocating what it declares.
        func readExactly(_ count: Int, what: String) throws -> [UInt8] {
            var buffer: [UInt8] = []
            buffer.reserveCapacity(min(count, 1 << 24))
            var filled = 0
            while filled < count {
                let chunk = min(count - filled, 1 << 24)
                buffer.append(contentsOf: repeatElement(0, count: chunk))
                let n = buffer.withUnsafeMutableBytes { gzread(gz, $0.baseAddress! + filled, UInt32(chunk)) }
                if n < 0 { throw corrupt(what: what, got: filled, of: count) }
                filled += Int(n)
                if Int(n) < chunk { buffer.removeLast(chunk - Int(n)); break }
            }
            guard filled == count else {
                throw BorderlineError(.unreadableFile,
                    "is truncated: expected \(count) bytes of \(what), found \(filled)\(gzipDetail())", file: path)
            }
            return buffer
        }
        func corrupt(what: String, got: Int, of count: Int) -> BorderlineError {
            BorderlineError(.unreadableFile,
                "is truncated or corrupt: reading \(what) failed after \(got) of \(count) bytes\(gzipDetail())", file: path)
        }
        func gzipDetail() -> String {
            var code: Int32 = 0
            guard let message = gzerror(gz, &code), code != Z_OK else { return "" }
            return " (zlib: \(String(cString: message)))"
        }

        let magic = try readExactly(4, what: "the IDX header")
        guard magic[0] == 0, magic[1] == 0 else {
            throw BorderlineError(.unreadableFile,
                "is not an IDX file (magic number \(magic.map { String(format: "%02x", $0) }.joined()); expected 0000080\(expected))", file: path)
        }
        guard magic[2] == 0x08 else {
            throw BorderlineError(.unreadableFile,
                "holds IDX type 0x\(String(format: "%02x", magic[2])); only unsigned bytes (0x08) are supported", file: path)
        }
        guard Int(magic[3]) == expected else {
            throw BorderlineError(.unreadableFile,
                "has \(magic[3]) dimensions (magic 0000080\(magic[3])); expected \(expected) (magic 0000080\(expected))", file: path)
        }
        let header = try readExactly(4 * expected, what: "the IDX dimensions")
        let shape = (0..<expected).map { d in
            header[(4 * d)..<(4 * d + 4)].reduce(0) { $0 << 8 | Int($1) }
        }
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard count < 1 << 34 else { throw BorderlineError(.unreadableFile, "declares an implausible size \(shape)", file: path) }
        // The bytes and the Float images made from them.
        try MemoryBudget.require(Double(count) * 5, for: "the \(shape) array its header declares", kind: .unreadableFile, file: path)
        let data = try readExactly(count, what: "data for shape \(shape)")
        var extra: UInt8 = 0
        let more = gzread(gz, &extra, 1)
        if more > 0 {
            throw BorderlineError(.unreadableFile, "has bytes after the \(count) data bytes its header \(shape) declares", file: path)
        }
        if more < 0 { throw corrupt(what: "the end of the file", got: count, of: count) }
        return Contents(shape: shape, bytes: data)
    }

    /// Writes an unsigned-byte IDX file, gzip-compressed when `path` ends in `.gz`.
    public static func write(_ array: Contents, to path: String) throws {
        guard !array.shape.isEmpty, array.shape.count < 256, array.shape.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }),
              array.shape.reduce(1, *) == array.bytes.count else {
            throw BorderlineError(.invalidArgument, "IDX array of shape \(array.shape) with \(array.bytes.count) bytes is inconsistent", file: path)
        }
        var bytes: [UInt8] = [0, 0, 0x08, UInt8(array.shape.count)]
        for d in array.shape { bytes += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        bytes += array.bytes
        try AtomicFile.write(to: path) { tmp in
            if path.hasSuffix(".gz") {
                guard let gz = gzopen(tmp, "wb") else {
                    throw BorderlineError(.ioFailure, "cannot create: \(String(cString: strerror(errno)))", file: tmp)
                }
                var written = 0
                while written < bytes.count {
                    let chunk = UInt32(min(bytes.count - written, 1 << 30))
                    let n = bytes.withUnsafeBytes { gzwrite(gz, $0.baseAddress! + written, chunk) }
                    if n <= 0 { break }
                    written += Int(n)
                }
                let closed = gzclose(gz)
                guard written == bytes.count, closed == Z_OK else {
                    throw BorderlineError(.ioFailure, "cannot write the compressed data", file: tmp)
                }
            } else {
                guard FileManager.default.createFile(atPath: tmp, contents: Data(bytes)) else {
                    throw BorderlineError(.ioFailure, "cannot write", file: tmp)
                }
            }
        }
    }
}

extension Dataset {
    /// Reads an IDX image file (`idx3`, `N × H × W` bytes) and its IDX label file (`idx1`, `N` bytes);
    /// pixels are scaled to [0, 1].
    public static func readIDX(images imagesPath: String, labels labelsPath: String, name: String? = nil,
                               classNames: [String] = []) throws -> Dataset {
        let images = try IDXFile.read(imagesPath, dimensions: 3)
        let labels = try IDXFile.read(labelsPath, dimensions: 1)
        guard images.shape[0] == labels.shape[0] else {
            throw BorderlineError(.shapeMismatch,
                "has \(labels.shape[0]) labels but the images file \(imagesPath) has \(images.shape[0]) images", file: labelsPath)
        }
        let (n, h, w) = (images.shape[0], images.shape[1], images.shape[2])
        guard h > 0, w > 0 else { throw BorderlineError(.unreadableFile, "declares empty images \(images.shape)", file: imagesPath) }
        let tensor = Tensor(shape: [n, 1, h, w]) { out in
            images.bytes.withUnsafeBufferPointer { src in
                for i in 0..<src.count { out[i] = Float(src[i]) / 255 }
            }
        }
        let labelValues = labels.bytes.map(Int.init)
        if !classNames.isEmpty, let bad = labelValues.firstIndex(where: { $0 >= classNames.count }) {
            throw BorderlineError(.dataMismatch,
                "label \(labelValues[bad]) at index \(bad) is not below the \(classNames.count) class names", file: labelsPath)
        }
        let defaultName = URL(fileURLWithPath: imagesPath).lastPathComponent
        return try Dataset(name: name ?? defaultName, images: tensor, labels: labelValues, classNames: classNames, source: imagesPath)
    }

    /// Writes single-channel images (pixels `round(255·x)`) and labels (below 256) as IDX files;
    /// paths ending in `.gz` are gzip-compressed.
    public func writeIDX(images imagesPath: String, labels labelsPath: String) throws {
        guard imageShape[0] == 1 else {
            throw BorderlineError(.invalidArgument, "IDX holds single-channel images; data set '\(name)' has \(imageShape[0]) channels", file: imagesPath)
        }
        guard labels.allSatisfy({ $0 < 256 }) else {
            throw BorderlineError(.invalidArgument, "IDX labels are bytes; data set '\(name)' has labels ≥ 256", file: labelsPath)
        }
        let pixels = images.scalars.map { UInt8(Swift.max(0, Swift.min(255, ($0 * 255).rounded()))) }
        try IDXFile.write(IDXFile.Contents(shape: [count, imageShape[1], imageShape[2]], bytes: pixels), to: imagesPath)
        try IDXFile.write(IDXFile.Contents(shape: [count], bytes: labels.map { UInt8($0) }), to: labelsPath)
    }
}
