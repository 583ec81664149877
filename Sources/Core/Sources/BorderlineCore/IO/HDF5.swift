internal import CHDF5
import Foundation

// A small, safe wrapper over libhdf5's C API.
//
// Every identifier the wrapper opens is closed: long-lived ones (files, groups, datasets) by the
// owning object's `deinit`, temporaries (types, spaces, attributes, property lists) by `defer`.
// Every return code is checked, and every failure becomes a `BorderlineError` whose `file` is the
// HDF5 file and whose message names the object path (`dataset /parameters/conv1.weight …`) and,
// where libhdf5 says more, its innermost error description.

/// The element type of an HDF5 dataset or attribute, as stored in the file.
public enum HDF5ElementType: Equatable, Sendable, CustomStringConvertible {
    case float(bytes: Int)
    case signedInteger(bytes: Int)
    case unsignedInteger(bytes: Int)
    case string(variableLength: Bool)
    case other(String)

    public var isNumeric: Bool {
        switch self {
        case .float, .signedInteger, .unsignedInteger: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .float(let b): return "float\(8 * b)"
        case .signedInteger(let b): return "int\(8 * b)"
        case .unsignedInteger(let b): return "uint\(8 * b)"
        case .string(let v): return v ? "variable-length string" : "fixed-length string"
        case .other(let s): return s
        }
    }
}

/// What a link inside a group points to.
public enum HDF5ObjectKind: Equatable, Sendable {
    case group, dataset, other

    /// "group", "dataset" or "object", for messages.
    var noun: String {
        switch self {
        case .group: return "group"
        case .dataset: return "dataset"
        case .other: return "object"
        }
    }
}

// MARK: - Library state

enum H5 {
    private static let silencedKey = "borderline.hdf5.silenced"

    /// libhdf5 normally closes every file still open when the process exits. A file whose close
    /// failed (disk full) stays half-open inside the library, and closing it again at exit
    /// crashes; every file Borderline writes is closed explicitly, so the exit-time cleanup is
    /// switched off (before the library's first use, as `H5dont_atexit` requires).
    private static let noCleanupAtExit: Void = { _ = H5dont_atexit() }()

    /// libhdf5's automatic error printing is per thread in thread-safe builds (Debian's is one), so
    /// it is switched off once on every thread that enters the wrapper.
    static func prepareThread() {
        _ = noCleanupAtExit
        let dict = Thread.current.threadDictionary
        if dict[silencedKey] == nil {
            bl_h5_silence_errors()
            dict[silencedKey] = true
        }
    }

    /// The most specific description on the current thread's libhdf5 error stack, if any.
    static func lastErrorDescription() -> String? {
        final class Box { var text: String? }
        let box = Box()
        let status = withExtendedLifetime(box) { () -> herr_t in
            let ctx = Unmanaged.passUnretained(box).toOpaque()
            return H5Ewalk2(0, H5E_WALK_UPWARD, { _, err, client in
                guard let err, let client else { return 0 }
                let b = Unmanaged<Box>.fromOpaque(client).takeUnretainedValue()
                if b.text == nil, let d = err.pointee.desc {
                    let s = String(cString: d)
                    if !s.isEmpty { b.text = s }
                }
                return 0
            }, ctx)
        }
        guard status >= 0 else { return nil }
        return box.text
    }

    static func detail() -> String {
        guard var text = lastErrorDescription() else { return "" }
        // A failed write names the system error inside a long dump of its arguments; keep the error.
        if let start = text.range(of: "error message = '"), let end = text[start.upperBound...].firstIndex(of: "'") {
            text = "write failed: " + text[start.upperBound..<end]
        }
        return " (libhdf5: \(text))"
    }

    /// Splits an object path into its components, ignoring empty ones.
    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    static func join(_ base: String, _ name: String) -> String {
        if name.hasPrefix("/") { return name }
        return base.hasSuffix("/") ? base + name : base + "/" + name
    }
}

// MARK: - File

/// An open HDF5 file. Open read-only with ``open(_:)``, or create (truncating) with ``create(_:)``.
public final class HDF5File {
    /// The path the file was opened with.
    public let path: String
    public let isWritable: Bool
    let id: hid_t
    private(set) var isClosed = false

    private init(path: String, id: hid_t, writable: Bool) {
        self.path = path
        self.id = id
        self.isWritable = writable
    }

    deinit {
        if !isClosed { _ = H5Fclose(id) }
    }

    /// Opens an existing file read-only.
    ///
    /// - Throws: `.fileNotFound` when the file does not exist or cannot be read; `.unreadableFile`
    ///   when it is not HDF5, or is truncated or damaged.
    public static func open(_ path: String) throws -> HDF5File {
        H5.prepareThread()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw BorderlineError(.fileNotFound, "no such file", file: path)
        }
        guard !isDirectory.boolValue else {
            throw BorderlineError(.unreadableFile, "is a directory, not an HDF5 file", file: path)
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw BorderlineError(.fileNotFound, "cannot be read (permission denied)", file: path)
        }
        let isHDF5 = H5Fis_hdf5(path)
        if isHDF5 == 0 {
            throw BorderlineError(.unreadableFile, "is not an HDF5 file (no HDF5 signature)", file: path)
        }
        if isHDF5 < 0 {
            throw BorderlineError(.unreadableFile, "cannot be examined as HDF5\(H5.detail())", file: path)
        }
        let fapl = try accessList(path)
        defer { H5Pclose(fapl) }
        let fid = H5Fopen(path, bl_h5f_acc_rdonly(), fapl)
        guard fid >= 0 else {
            throw BorderlineError(.unreadableFile,
                "is not a readable HDF5 file: it looks truncated or damaged\(H5.detail())", file: path)
        }
        return HDF5File(path: path, id: fid, writable: false)
    }

    /// Opens an HDF5 file held in memory (e.g. `model.weights.h5` inside a Keras 3 `.keras` zip),
    /// read-only, through libhdf5's core driver; nothing is written to disk.
    ///
    /// - Parameter name: how errors name the file, e.g. `model.keras (model.weights.h5)`.
    /// - Throws: `.unreadableFile` when the bytes are not HDF5 or are truncated.
    public static func open(image: Data, name: String) throws -> HDF5File {
        H5.prepareThread()
        guard image.starts(with: ModelFileSniffer.hdf5Signature) else {
            throw BorderlineError(.unreadableFile, "is not an HDF5 file (no HDF5 signature)", file: name)
        }
        let fapl = try accessList(name)
        defer { H5Pclose(fapl) }
        guard H5Pset_fapl_core(fapl, 1 << 16, false) >= 0 else {
            throw BorderlineError(.ioFailure, "cannot select libhdf5's in-memory driver\(H5.detail())", file: name)
        }
        // libhdf5 copies the image into its own buffer.
        let status = image.withUnsafeBytes { p -> herr_t in
            H5Pset_file_image(fapl, UnsafeMutableRawPointer(mutating: p.baseAddress), p.count)
        }
        guard status >= 0 else { throw BorderlineError(.ioFailure, "cannot hand the file image to libhdf5\(H5.detail())", file: name) }
        let fid = H5Fopen(name, bl_h5f_acc_rdonly(), fapl)
        guard fid >= 0 else {
            throw BorderlineError(.unreadableFile, "is not a readable HDF5 file: it looks truncated or damaged\(H5.detail())", file: name)
        }
        return HDF5File(path: name, id: fid, writable: false)
    }

    /// Opens an existing file for reading and writing (to change attributes or datasets in place).
    public static func openForUpdate(_ path: String) throws -> HDF5File {
        _ = try open(path)  // the same checks and messages as a read-only open
        H5.prepareThread()
        let fapl = try accessList(path)
        defer { H5Pclose(fapl) }
        let fid = H5Fopen(path, bl_h5f_acc_rdwr(), fapl)
        guard fid >= 0 else {
            throw BorderlineError(.ioFailure, "cannot be opened for writing\(H5.detail())", file: path)
        }
        return HDF5File(path: path, id: fid, writable: true)
    }

    /// Creates a file, replacing any file at `path`.
    public static func create(_ path: String) throws -> HDF5File {
        H5.prepareThread()
        let fapl = try accessList(path)
        defer { H5Pclose(fapl) }
        let fid = H5Fcreate(path, bl_h5f_acc_trunc(), bl_h5p_default(), fapl)
        guard fid >= 0 else {
            throw BorderlineError(.ioFailure, "cannot create HDF5 file\(H5.detail())", file: path)
        }
        return HDF5File(path: path, id: fid, writable: true)
    }

    /// The number of HDF5 files, groups, datasets, named types and attributes open in this process
    /// (for tests that check nothing is left open).
    public static var openObjectCount: Int {
        H5.prepareThread()
        // H5F_OBJ_ALL as a file id means "in every file"; 0x1F is the same flag for the object types.
        return Int(H5Fget_obj_count(hid_t(0x1F), 0x1F))
    }

    /// File-access properties: closing the file closes every object still open in it, so `close()`
    /// really finishes the file and the objects' `deinit` has nothing left to do.
    private static func accessList(_ path: String) throws -> hid_t {
        let fapl = H5Pcreate(bl_h5p_file_access())
        guard fapl >= 0 else { throw BorderlineError(.ioFailure, "cannot create a file-access property list\(H5.detail())", file: path) }
        guard H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 else {
            H5Pclose(fapl)
            throw BorderlineError(.ioFailure, "cannot set the file-close degree\(H5.detail())", file: path)
        }
        return fapl
    }

    /// The root group `/`.
    public func root() throws -> HDF5Group {
        try checkOpen()
        H5.prepareThread()
        let gid = H5Gopen2(id, "/", bl_h5p_default())
        guard gid >= 0 else { throw error(.unreadableFile, "cannot open the root group\(H5.detail())") }
        return HDF5Group(file: self, id: gid, path: "/")
    }

    /// Writes buffered data to disk.
    public func flush() throws {
        try checkOpen()
        H5.prepareThread()
        guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else { throw error(.ioFailure, "cannot flush\(H5.detail())") }
    }

    /// Closes the file and every object still open in it.
    /// Further use of the file or its objects throws.
    public func close() throws {
        guard !isClosed else { return }
        H5.prepareThread()
        isClosed = true
        guard H5Fclose(id) >= 0 else { throw error(.ioFailure, "cannot close\(H5.detail())") }
    }

    func checkOpen() throws {
        if isClosed { throw error(.ioFailure, "file is already closed") }
    }

    func error(_ kind: BorderlineError.Kind, _ message: String) -> BorderlineError {
        BorderlineError(kind, message, file: path)
    }
}

// MARK: - Objects (groups and datasets) and their attributes

/// A group or dataset: something that carries attributes.
public class HDF5Object {
    public let file: HDF5File
    /// The absolute object path inside the file, e.g. `/parameters/conv1.weight`.
    public let path: String
    let id: hid_t
    private let closeFunction: (hid_t) -> herr_t

    init(file: HDF5File, id: hid_t, path: String, close: @escaping (hid_t) -> herr_t) {
        self.file = file
        self.id = id
        self.path = path
        self.closeFunction = close
    }

    deinit {
        if !file.isClosed { _ = closeFunction(id) }
    }

    /// "group" or "dataset", for messages.
    var noun: String { "object" }

    func error(_ kind: BorderlineError.Kind, _ message: String) -> BorderlineError {
        BorderlineError(kind, message, file: file.path)
    }

    func enter() throws {
        try file.checkOpen()
        H5.prepareThread()
    }

    // MARK: Attribute reading

    /// Whether the object has an attribute of this name.
    public func hasAttribute(_ name: String) -> Bool {
        guard (try? enter()) != nil else { return false }
        return H5Aexists(id, name) > 0
    }

    /// The names of the object's attributes, in name order.
    public func attributeNames() throws -> [String] {
        try enter()
        // Attributes are listed by index until the index runs past the last one.
        var names: [String] = []
        var index: hsize_t = 0
        while true {
            let length = H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, bl_h5p_default())
            if length < 0 { break }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            guard H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count, bl_h5p_default()) >= 0 else {
                throw error(.unreadableFile, "cannot read attribute names of \(noun) \(path)\(H5.detail())")
            }
            names.append(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            index += 1
        }
        return names
    }

    private func openAttribute(_ name: String) throws -> hid_t {
        try enter()
        guard H5Aexists(id, name) > 0 else {
            throw error(.missingEntry, "\(noun) \(path) has no attribute '\(name)'")
        }
        let a = H5Aopen(id, name, bl_h5p_default())
        guard a >= 0 else { throw error(.unreadableFile, "cannot open attribute '\(name)' of \(noun) \(path)\(H5.detail())") }
        return a
    }

    /// An open attribute as the readers see it: its file type, dataspace and element count, and
    /// `what` (`attribute 'name' of group /path`) for messages.
    private struct AttributeInfo {
        let id: hid_t
        let fileType: hid_t
        let space: hid_t
        let count: Int
        let what: String
    }

    /// Opens attribute `name` with its type and dataspace for `body`, and closes them afterwards.
    private func withAttribute<R>(_ name: String, _ body: (AttributeInfo) throws -> R) throws -> R {
        let a = try openAttribute(name)
        defer { H5Aclose(a) }
        let what = "attribute '\(name)' of \(noun) \(path)"
        let ftype = H5Aget_type(a)
        guard ftype >= 0 else { throw error(.unreadableFile, "cannot read the type of \(what)\(H5.detail())") }
        defer { H5Tclose(ftype) }
        let space = H5Aget_space(a)
        guard space >= 0 else { throw error(.unreadableFile, "cannot read the shape of \(what)\(H5.detail())") }
        defer { H5Sclose(space) }
        let count = Int(H5Sget_simple_extent_npoints(space))
        guard count >= 0 else { throw error(.unreadableFile, "cannot read the size of \(what)\(H5.detail())") }
        return try body(AttributeInfo(id: a, fileType: ftype, space: space, count: count, what: what))
    }

    /// All of an attribute's values, converted by libhdf5 to `memType` (the native type of `T`).
    private func readValues<T: ExpressibleByIntegerLiteral>(_ a: AttributeInfo, as _: T.Type, memType: hid_t) throws -> [T] {
        var values = [T](repeating: 0, count: a.count)
        guard values.withUnsafeMutableBytes({ H5Aread(a.id, memType, $0.baseAddress) }) >= 0 else {
            throw error(.unreadableFile, "cannot read \(a.what)\(H5.detail())")
        }
        return values
    }

    /// The only value of a one-value attribute (`holding` names what it holds, for the message).
    private func single<T>(_ values: [T], attribute name: String, holding items: String, expected: String) throws -> T {
        guard values.count == 1 else {
            throw error(.invalidConfiguration, "attribute '\(name)' of \(noun) \(path) holds \(values.count) \(items); expected \(expected)")
        }
        return values[0]
    }

    /// The element type of an attribute.
    public func attributeType(_ name: String) throws -> HDF5ElementType {
        try withAttribute(name) { HDF5Object.elementType(of: $0.fileType) }
    }

    /// A string attribute, fixed- or variable-length, scalar or a one-element array.
    public func stringAttribute(_ name: String) throws -> String {
        try single(stringArrayAttribute(name), attribute: name, holding: "strings", expected: "one")
    }

    /// A string-array attribute (fixed- or variable-length; a scalar string gives one element).
    /// An empty array of any type (h5py writes `[]` as an empty float64 array) gives `[]`.
    public func stringArrayAttribute(_ name: String) throws -> [String] {
        try withAttribute(name) { a in
            guard H5Tget_class(a.fileType) == H5T_STRING else {
                if a.count == 0 { return [] }
                throw error(.invalidConfiguration, "\(a.what) has type \(HDF5Object.elementType(of: a.fileType)); expected strings")
            }
            if a.count == 0 { return [] }
            return try HDF5Object.readStrings(count: a.count, fileType: a.fileType, space: a.space, what: a.what,
                                              owner: self) { mem, buffer in H5Aread(a.id, mem, buffer) }
        }
    }

    /// An integer attribute (any integer type, or an integral floating-point value).
    public func intAttribute(_ name: String) throws -> Int {
        try single(intArrayAttribute(name), attribute: name, holding: "numbers", expected: "one integer")
    }

    /// An integer-array attribute (a scalar gives one element).
    public func intArrayAttribute(_ name: String) throws -> [Int] {
        try withAttribute(name) { a in
            if a.count == 0 { return [] }
            switch H5Tget_class(a.fileType) {
            case H5T_INTEGER:
                return try readValues(a, as: Int64.self, memType: bl_h5t_native_int64()).map { Int($0) }
            case H5T_FLOAT:
                let values = try readValues(a, as: Double.self, memType: bl_h5t_native_double())
                guard values.allSatisfy({ $0 == $0.rounded() && abs($0) < 9e15 }) else {
                    throw error(.invalidConfiguration, "\(a.what) holds non-integer values \(values.prefix(8)); expected integers")
                }
                return values.map { Int($0) }
            default:
                throw error(.invalidConfiguration, "\(a.what) has type \(HDF5Object.elementType(of: a.fileType)); expected integers")
            }
        }
    }

    /// A numeric attribute's values as `Double` (integers and float32 convert exactly).
    public func doubleArrayAttribute(_ name: String) throws -> [Double] {
        try withAttribute(name) { a in
            if a.count == 0 { return [] }
            switch H5Tget_class(a.fileType) {
            case H5T_INTEGER, H5T_FLOAT:
                return try readValues(a, as: Double.self, memType: bl_h5t_native_double())
            default:
                throw error(.invalidConfiguration, "\(a.what) has type \(HDF5Object.elementType(of: a.fileType)); expected numbers")
            }
        }
    }

    // MARK: Attribute writing

    private func replaceAttribute(_ name: String, type: hid_t, space: hid_t, write: (hid_t) -> herr_t) throws {
        try enter()
        let what = "attribute '\(name)' of \(noun) \(path)"
        if H5Aexists(id, name) > 0 {
            guard H5Adelete(id, name) >= 0 else { throw error(.ioFailure, "cannot replace \(what)\(H5.detail())") }
        }
        let a = H5Acreate2(id, name, type, space, bl_h5p_default(), bl_h5p_default())
        guard a >= 0 else { throw error(.ioFailure, "cannot create \(what)\(H5.detail())") }
        defer { H5Aclose(a) }
        guard write(a) >= 0 else { throw error(.ioFailure, "cannot write \(what)\(H5.detail())") }
    }

    /// Writes a scalar string attribute (variable-length UTF-8 by default, as h5py writes `str`;
    /// fixed-length as numpy writes `bytes`).
    public func setAttribute(_ name: String, string: String, variableLength: Bool = true) throws {
        try writeStrings(name, [string], scalar: true, variableLength: variableLength)
    }

    /// Writes a one-dimensional string-array attribute.
    public func setAttribute(_ name: String, strings: [String], variableLength: Bool = true) throws {
        try writeStrings(name, strings, scalar: false, variableLength: variableLength)
    }

    /// A dataspace for an attribute, scalar or one-dimensional with `count` elements, for `body`,
    /// closed afterwards.
    private func withAttributeSpace<R>(count: Int?, _ body: (hid_t) throws -> R) throws -> R {
        try enter()
        let space: hid_t
        if let count {
            var dims = [hsize_t(count)]
            space = H5Screate_simple(1, &dims, nil)
        } else {
            space = H5Screate(H5S_SCALAR)
        }
        guard space >= 0 else { throw error(.ioFailure, "cannot create a dataspace\(H5.detail())") }
        defer { H5Sclose(space) }
        return try body(space)
    }

    /// Writes a one-dimensional numeric array attribute of the native type `type`, whose values
    /// are `T`s.
    private func writeNumbers<T>(_ name: String, _ values: [T], type: hid_t) throws {
        var values = values
        try withAttributeSpace(count: values.count) { space in
            try replaceAttribute(name, type: type, space: space) { a in
                values.withUnsafeMutableBytes { H5Awrite(a, type, $0.baseAddress) }
            }
        }
    }

    /// Writes a scalar int64 attribute.
    public func setAttribute(_ name: String, int: Int) throws {
        try withAttributeSpace(count: nil) { space in
            var value = Int64(int)
            try replaceAttribute(name, type: bl_h5t_native_int64(), space: space) { a in H5Awrite(a, bl_h5t_native_int64(), &value) }
        }
    }

    /// Writes a one-dimensional int64 array attribute.
    public func setAttribute(_ name: String, ints: [Int]) throws {
        try writeNumbers(name, ints.map { Int64($0) }, type: bl_h5t_native_int64())
    }

    /// Writes a one-dimensional float64 array attribute.
    public func setAttribute(_ name: String, doubles: [Double]) throws {
        try writeNumbers(name, doubles, type: bl_h5t_native_double())
    }

    /// Deletes an attribute if it exists.
    public func removeAttribute(_ name: String) throws {
        try enter()
        guard H5Aexists(id, name) > 0 else { return }
        guard H5Adelete(id, name) >= 0 else { throw error(.ioFailure, "cannot delete attribute '\(name)' of \(noun) \(path)\(H5.detail())") }
    }

    private func writeStrings(_ name: String, _ strings: [String], scalar: Bool, variableLength: Bool) throws {
        try withAttributeSpace(count: scalar ? nil : strings.count) { space in
            let type = try HDF5Object.stringType(for: strings, variableLength: variableLength, owner: self)
            defer { H5Tclose(type) }
            if variableLength {
                let cStrings: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
                defer { cStrings.forEach { free($0) } }
                guard cStrings.allSatisfy({ $0 != nil }) else { throw error(.ioFailure, "out of memory writing attribute '\(name)'") }
                try replaceAttribute(name, type: type, space: space) { a in
                    cStrings.withUnsafeBufferPointer { H5Awrite(a, type, $0.baseAddress) }
                }
            } else {
                let size = H5Tget_size(type)
                var buffer = HDF5Object.fixedStringBuffer(strings, size: size)
                try replaceAttribute(name, type: type, space: space) { a in
                    buffer.withUnsafeMutableBytes { H5Awrite(a, type, $0.baseAddress) }
                }
            }
        }
    }

    // MARK: Shared helpers

    static func elementType(of t: hid_t) -> HDF5ElementType {
        let size = Int(H5Tget_size(t))
        switch H5Tget_class(t) {
        case H5T_FLOAT: return .float(bytes: size)
        case H5T_INTEGER: return H5Tget_sign(t) == H5T_SGN_NONE ? .unsignedInteger(bytes: size) : .signedInteger(bytes: size)
        case H5T_STRING: return .string(variableLength: H5Tis_variable_str(t) > 0)
        case H5T_COMPOUND: return .other("compound")
        case H5T_ENUM: return .other("enum")
        case H5T_VLEN: return .other("variable-length sequence")
        case H5T_ARRAY: return .other("array")
        case H5T_OPAQUE: return .other("opaque")
        case H5T_REFERENCE: return .other("reference")
        case H5T_BITFIELD: return .other("bitfield")
        case H5T_TIME: return .other("time")
        default: return .other("unknown type")
        }
    }

    /// A string datatype fit for `strings`: variable-length UTF-8, or fixed-length NUL-padded
    /// (ASCII when every string is ASCII, as numpy's `S` arrays are).
    static func stringType(for strings: [String], variableLength: Bool, owner: HDF5Object) throws -> hid_t {
        let t = H5Tcopy(bl_h5t_c_s1())
        guard t >= 0 else { throw owner.error(.ioFailure, "cannot create a string type\(H5.detail())") }
        let ascii = strings.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 } }
        var ok = H5Tset_cset(t, variableLength || !ascii ? H5T_CSET_UTF8 : H5T_CSET_ASCII) >= 0
        if variableLength {
            ok = ok && H5Tset_size(t, bl_h5t_variable()) >= 0
        } else {
            let size = max(1, strings.map { $0.utf8.count }.max() ?? 1)
            ok = ok && H5Tset_size(t, size) >= 0 && H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0
        }
        guard ok else {
            H5Tclose(t)
            throw owner.error(.ioFailure, "cannot create a string type\(H5.detail())")
        }
        return t
    }

    static func fixedStringBuffer(_ strings: [String], size: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max(1, strings.count * size))
        for (i, s) in strings.enumerated() {
            for (j, byte) in s.utf8.prefix(size).enumerated() { buffer[i * size + j] = byte }
        }
        return buffer
    }

    /// Reads `count` strings of file type `fileType` with `read(memType, buffer)`.
    static func readStrings(count: Int, fileType: hid_t, space: hid_t, what: String, owner: HDF5Object,
                            read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws -> [String] {
        if H5Tis_variable_str(fileType) > 0 {
            let mem = H5Tcopy(bl_h5t_c_s1())
            guard mem >= 0 else { throw owner.error(.unreadableFile, "cannot create a string type\(H5.detail())") }
            defer { H5Tclose(mem) }
            guard H5Tset_size(mem, bl_h5t_variable()) >= 0, H5Tset_cset(mem, H5Tget_cset(fileType)) >= 0 else {
                throw owner.error(.unreadableFile, "cannot create a string type\(H5.detail())")
            }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            let status = pointers.withUnsafeMutableBytes { read(mem, $0.baseAddress!) }
            guard status >= 0 else { throw owner.error(.unreadableFile, "cannot read \(what)\(H5.detail())") }
            let strings = pointers.map { p in p.map { String(cString: $0) } ?? "" }
            _ = pointers.withUnsafeMutableBytes { H5Dvlen_reclaim(mem, space, bl_h5p_default(), $0.baseAddress) }
            return strings
        }
        let size = H5Tget_size(fileType)
        guard size > 0 else { throw owner.error(.unreadableFile, "\(what) has a zero-size string type") }
        let mem = H5Tcopy(fileType)
        guard mem >= 0 else { throw owner.error(.unreadableFile, "cannot copy the type of \(what)\(H5.detail())") }
        defer { H5Tclose(mem) }
        let spacePadded = H5Tget_strpad(fileType) == H5T_STR_SPACEPAD
        var buffer = [UInt8](repeating: 0, count: count * size)
        let status = buffer.withUnsafeMutableBytes { read(mem, $0.baseAddress!) }
        guard status >= 0 else { throw owner.error(.unreadableFile, "cannot read \(what)\(H5.detail())") }
        return (0..<count).map { i in
            var bytes = buffer[(i * size)..<((i + 1) * size)]
            if let nul = bytes.firstIndex(of: 0) { bytes = bytes[..<nul] }
            if spacePadded { while bytes.last == 0x20 { bytes = bytes.dropLast() } }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

// MARK: - Groups

/// A group: a folder of datasets and groups.
public final class HDF5Group: HDF5Object {
    init(file: HDF5File, id: hid_t, path: String) {
        super.init(file: file, id: id, path: path) { H5Gclose($0) }
    }

    override var noun: String { "group" }

    private func linkExists(_ name: String) -> Bool {
        // H5Lexists fails (rather than answering false) when an intermediate group is missing,
        // so each component is checked in turn.
        let parts = H5.components(name)
        guard !parts.isEmpty else { return true }
        var prefix = name.hasPrefix("/") ? "/" : ""
        for part in parts {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            guard H5Lexists(id, prefix, bl_h5p_default()) > 0 else { return false }
        }
        return true
    }

    /// What `name` (a member or a relative path below this group) is, or nil if nothing is there.
    public func kind(of name: String) -> HDF5ObjectKind? {
        guard (try? enter()) != nil, linkExists(name) else { return nil }
        let o = H5Oopen(id, name, bl_h5p_default())
        guard o >= 0 else { return nil }
        defer { H5Oclose(o) }
        switch H5Iget_type(o) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return .other
        }
    }

    /// Whether a member (or relative path) exists.
    public func contains(_ name: String) -> Bool { kind(of: name) != nil }

    /// The names of the group's members, in name order.
    public func memberNames() throws -> [String] {
        try enter()
        var info = H5G_info_t()
        guard H5Gget_info(id, &info) >= 0 else { throw error(.unreadableFile, "cannot list group \(path)\(H5.detail())") }
        var names: [String] = []
        names.reserveCapacity(Int(info.nlinks))
        for i in 0..<info.nlinks {
            let length = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, bl_h5p_default())
            guard length >= 0 else { throw error(.unreadableFile, "cannot list group \(path)\(H5.detail())") }
            var buffer = [CChar](repeating: 0, count: Int(length) + 1)
            guard H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, buffer.count, bl_h5p_default()) >= 0 else {
                throw error(.unreadableFile, "cannot list group \(path)\(H5.detail())")
            }
            names.append(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    /// The absolute path of `name`, after checking that it is a `wanted` (group or dataset).
    private func memberPath(_ name: String, of wanted: HDF5ObjectKind) throws -> String {
        try enter()
        let full = H5.join(path, name)
        let found = kind(of: name)
        guard found != wanted else { return full }
        switch found {
        case nil: throw error(.missingEntry, "\(wanted.noun) \(full) not found")
        case .other?: throw error(.missingEntry, "\(full) is not a \(wanted.noun)")
        case let other?: throw error(.missingEntry, "\(full) is a \(other.noun), not a \(wanted.noun)")
        }
    }

    /// Opens a member group (or a group at a relative path).
    public func group(_ name: String) throws -> HDF5Group {
        let full = try memberPath(name, of: .group)
        let g = H5Gopen2(id, name, bl_h5p_default())
        guard g >= 0 else { throw error(.unreadableFile, "cannot open group \(full)\(H5.detail())") }
        return HDF5Group(file: file, id: g, path: full)
    }

    /// Creates a member group (intermediate groups of a relative path too).
    public func createGroup(_ name: String) throws -> HDF5Group {
        try enter()
        let full = H5.join(path, name)
        let lcpl = try linkCreationList()
        defer { H5Pclose(lcpl) }
        let g = H5Gcreate2(id, name, lcpl, bl_h5p_default(), bl_h5p_default())
        guard g >= 0 else { throw error(.ioFailure, "cannot create group \(full)\(H5.detail())") }
        return HDF5Group(file: file, id: g, path: full)
    }

    /// Opens a dataset.
    public func dataset(_ name: String) throws -> HDF5Dataset {
        let full = try memberPath(name, of: .dataset)
        let d = H5Dopen2(id, name, bl_h5p_default())
        guard d >= 0 else { throw error(.unreadableFile, "cannot open dataset \(full)\(H5.detail())") }
        return try HDF5Dataset(file: file, id: d, path: full)
    }

    /// Reads a numeric dataset of any rank as `Float` (float64 and integer data are converted).
    public func readTensor(_ name: String) throws -> Tensor { try dataset(name).readTensor() }

    /// Reads an integer dataset as `Int64` values with its shape.
    public func readInt64s(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        let d = try dataset(name)
        return (d.shape, try d.readInt64s())
    }

    /// Writes a float32 dataset with the tensor's shape (rank 0 gives a scalar dataset).
    /// `compressionLevel` (0–9) stores it chunked and deflated.
    public func writeTensor(_ tensor: Tensor, name: String, compressionLevel: Int? = nil) throws {
        try tensor.withUnsafeBufferPointer { p in
            try writeDataset(name, shape: tensor.shape, fileType: bl_h5t_native_float(), memType: bl_h5t_native_float(),
                             data: UnsafeRawPointer(p.baseAddress), compressionLevel: compressionLevel)
        }
    }

    /// Writes an int64 dataset; `shape` defaults to one dimension.
    public func writeInt64s(_ values: [Int64], shape: [Int]? = nil, name: String, compressionLevel: Int? = nil) throws {
        try writeValues(values, shape: shape, name: name, type: bl_h5t_native_int64(), compressionLevel: compressionLevel)
    }

    /// Writes a float64 dataset; `shape` defaults to one dimension.
    public func writeDoubles(_ values: [Double], shape: [Int]? = nil, name: String) throws {
        try writeValues(values, shape: shape, name: name, type: bl_h5t_native_double(), compressionLevel: nil)
    }

    /// Removes a member (dataset or group) from the group.
    public func remove(_ name: String) throws {
        try enter()
        guard contains(name) else { throw error(.missingEntry, "\(H5.join(path, name)) not found") }
        guard H5Ldelete(id, name, bl_h5p_default()) >= 0 else {
            throw error(.ioFailure, "cannot remove \(H5.join(path, name))\(H5.detail())")
        }
    }

    /// Writes a uint8 dataset (e.g. images); `shape` defaults to one dimension.
    public func writeUInt8s(_ values: [UInt8], shape: [Int]? = nil, name: String, compressionLevel: Int? = nil) throws {
        try writeValues(values, shape: shape, name: name, type: bl_h5t_native_uint8(), compressionLevel: compressionLevel)
    }

    /// Writes `values` as a dataset of the native type `type` (the file type too), after checking
    /// that they fill `shape` (one dimension when nil).
    private func writeValues<T>(_ values: [T], shape: [Int]?, name: String, type: hid_t, compressionLevel: Int?) throws {
        let shape = shape ?? [values.count]
        guard Tensor.count(of: shape) == values.count else {
            throw error(.invalidArgument, "dataset \(H5.join(path, name)): \(values.count) values do not fill shape \(shape)")
        }
        try values.withUnsafeBufferPointer { p in
            try writeDataset(name, shape: shape, fileType: type, memType: type,
                             data: UnsafeRawPointer(p.baseAddress), compressionLevel: compressionLevel)
        }
    }

    private func linkCreationList() throws -> hid_t {
        let lcpl = H5Pcreate(bl_h5p_link_create())
        guard lcpl >= 0 else { throw error(.ioFailure, "cannot create a link-creation property list\(H5.detail())") }
        guard H5Pset_create_intermediate_group(lcpl, 1) >= 0 else {
            H5Pclose(lcpl)
            throw error(.ioFailure, "cannot set intermediate-group creation\(H5.detail())")
        }
        return lcpl
    }

    private func writeDataset(_ name: String, shape: [Int], fileType: hid_t, memType: hid_t,
                              data: UnsafeRawPointer?, compressionLevel: Int?) throws {
        try enter()
        let full = H5.join(path, name)
        guard shape.allSatisfy({ $0 >= 0 }) else { throw error(.invalidArgument, "dataset \(full): negative dimension in \(shape)") }
        if kind(of: name) != nil {
            guard H5Ldelete(id, name, bl_h5p_default()) >= 0 else {
                throw error(.ioFailure, "cannot replace dataset \(full)\(H5.detail())")
            }
        }
        var dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), &dims, nil)
        guard space >= 0 else { throw error(.ioFailure, "cannot create the dataspace of dataset \(full)\(H5.detail())") }
        defer { H5Sclose(space) }
        let lcpl = try linkCreationList()
        defer { H5Pclose(lcpl) }
        let dcpl = H5Pcreate(bl_h5p_dataset_create())
        guard dcpl >= 0 else { throw error(.ioFailure, "cannot create a dataset-creation property list\(H5.detail())") }
        defer { H5Pclose(dcpl) }
        let count = Tensor.count(of: shape)
        if let level = compressionLevel, !shape.isEmpty, count > 0 {
            // Chunks of whole samples along the leading dimension, about 1 MiB each.
            let per = max(1, count / max(shape[0], 1))
            let rows = max(1, min(shape[0], (1 << 20) / max(per * 4, 1)))
            var chunk = dims
            chunk[0] = hsize_t(rows)
            guard H5Pset_chunk(dcpl, Int32(shape.count), &chunk) >= 0,
                  H5Pset_deflate(dcpl, UInt32(max(0, min(9, level)))) >= 0 else {
                throw error(.ioFailure, "cannot set compression of dataset \(full)\(H5.detail())")
            }
        }
        let d = H5Dcreate2(id, name, fileType, space, lcpl, dcpl, bl_h5p_default())
        guard d >= 0 else { throw error(.ioFailure, "cannot create dataset \(full)\(H5.detail())") }
        defer { H5Dclose(d) }
        if count > 0 {
            guard H5Dwrite(d, memType, bl_h5s_all(), bl_h5s_all(), bl_h5p_default(), data) >= 0 else {
                throw error(.ioFailure, "cannot write dataset \(full)\(H5.detail())")
            }
        }
    }
}

// MARK: - Datasets

/// An open dataset.
public final class HDF5Dataset: HDF5Object {
    /// The dataset's dimensions; `[]` for a scalar dataset.
    public let shape: [Int]
    /// The element type as stored.
    public let elementType: HDF5ElementType

    init(file: HDF5File, id: hid_t, path: String) throws {
        let space = H5Dget_space(id)
        let type = H5Dget_type(id)
        defer {
            if space >= 0 { H5Sclose(space) }
            if type >= 0 { H5Tclose(type) }
        }
        guard space >= 0, type >= 0 else {
            _ = H5Dclose(id)
            throw BorderlineError(.unreadableFile, "cannot read the shape or type of dataset \(path)\(H5.detail())", file: file.path)
        }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else {
            _ = H5Dclose(id)
            throw BorderlineError(.unreadableFile, "cannot read the shape of dataset \(path)\(H5.detail())", file: file.path)
        }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        // A damaged header can declare any size: refuse shapes whose element count overflows.
        var elements: UInt64 = 1
        for d in dims {
            let (product, overflow) = elements.multipliedReportingOverflow(by: UInt64(d))
            guard !overflow, product < 1 << 48 else {
                _ = H5Dclose(id)
                throw BorderlineError(.unreadableFile, "dataset \(path) declares the impossible shape \(dims); the file looks damaged", file: file.path)
            }
            elements = product
        }
        self.shape = dims.map { Int($0) }
        self.elementType = HDF5Object.elementType(of: type)
        super.init(file: file, id: id, path: path) { H5Dclose($0) }
    }

    override var noun: String { "dataset" }

    /// Number of elements.
    public var count: Int { Tensor.count(of: shape) }

    private func read(memType: hid_t, into buffer: UnsafeMutableRawPointer?, expecting: String) throws {
        try enter()
        guard elementType.isNumeric else {
            throw error(.unreadableFile, "dataset \(path) holds \(elementType) values; expected \(expecting)")
        }
        guard count > 0 else { return }
        guard H5Dread(id, memType, bl_h5s_all(), bl_h5s_all(), bl_h5p_default(), buffer) >= 0 else {
            throw error(.unreadableFile, "cannot read dataset \(path): the file looks truncated or damaged\(H5.detail())")
        }
    }

    /// Checks, before anything is allocated, that the declared shape is backed by stored bytes
    /// (compression shrinks data by at most about 1000×): a damaged header would otherwise make
    /// the reader allocate terabytes.
    private func checkStorage(bytesPerElement: Int) throws {
        try enter()
        guard count > 0 else { return }
        let stored = H5Dget_storage_size(id)
        let needed = Double(count) * Double(bytesPerElement)
        guard needed <= Double(stored) * 1100 + Double(1 << 20) else {
            throw error(.unreadableFile,
                "dataset \(path) declares shape \(shape) (\(Int(needed)) bytes) but stores only \(stored) bytes; the file looks truncated or damaged")
        }
    }

    /// The data as `Float` with the dataset's shape; float64 and integer data are converted.
    public func readTensor() throws -> Tensor {
        try checkStorage(bytesPerElement: 4)
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { try read(memType: bl_h5t_native_float(), into: $0.baseAddress, expecting: "numbers") }
        return Tensor(shape: shape, scalars: values)
    }

    /// The data as `Double` (float32 and integer data convert exactly; int64 beyond 2^53 rounds).
    public func readDoubles() throws -> [Double] {
        var values = [Double](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { try read(memType: bl_h5t_native_double(), into: $0.baseAddress, expecting: "numbers") }
        return values
    }

    /// The data as `Int64` (integer datasets only).
    public func readInt64s() throws -> [Int64] {
        switch elementType {
        case .signedInteger, .unsignedInteger: break
        default: throw error(.unreadableFile, "dataset \(path) holds \(elementType) values; expected integers")
        }
        try checkStorage(bytesPerElement: 8)
        var values = [Int64](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { try read(memType: bl_h5t_native_int64(), into: $0.baseAddress, expecting: "integers") }
        return values
    }

    /// The data as bytes (uint8 datasets only).
    public func readUInt8s() throws -> [UInt8] {
        guard elementType == .unsignedInteger(bytes: 1) else {
            throw error(.unreadableFile, "dataset \(path) holds \(elementType) values; expected uint8")
        }
        try checkStorage(bytesPerElement: 1)
        var values = [UInt8](repeating: 0, count: count)
        try values.withUnsafeMutableBytes { try read(memType: bl_h5t_native_uint8(), into: $0.baseAddress, expecting: "uint8") }
        return values
    }
}
