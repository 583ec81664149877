import Foundation

/// A constant of an ONNX graph: an initializer, a `Constant` node's value, or the folded result of
/// an operator on constants (the `Shape → Gather → Unsqueeze → Concat` chains torch.onnx emits
/// for `x.view(x.size(0), -1)`).
///
/// Integer constants may hold the batch size as an unknown (`nil`): `Shape` of a graph tensor is
/// `[nil, C, H, W]`, and a `Reshape` whose target starts with that `nil` keeps the batch.
struct ONNXConstant: Equatable {
    enum Values: Equatable {
        case floats([Float])
        /// `nil` is the batch size, known only at run time.
        case ints([Int64?])
    }

    var dims: [Int]
    var values: Values

    init(dims: [Int], floats: [Float]) {
        precondition(dims.reduce(1, *) == floats.count, "ONNXConstant: \(floats.count) values for dims \(dims)")
        self.dims = dims
        self.values = .floats(floats)
    }

    init(dims: [Int], ints: [Int64?]) {
        precondition(dims.reduce(1, *) == ints.count, "ONNXConstant: \(ints.count) values for dims \(dims)")
        self.dims = dims
        self.values = .ints(ints)
    }

    var count: Int { dims.reduce(1, *) }

    /// The values as floats (integers converted; the batch size cannot be).
    func floats() throws -> [Float] {
        switch values {
        case .floats(let f): return f
        case .ints(let i):
            return try i.map { v in
                guard let v else { throw BorderlineError(.invalidConfiguration, "uses the batch size as a number") }
                return Float(v)
            }
        }
    }

    /// The values as integers, `nil` for the batch size; floats must be whole numbers.
    func ints() throws -> [Int64?] {
        switch values {
        case .ints(let i): return i
        case .floats(let f):
            return try f.map { v in
                guard v.isFinite, v.rounded() == v, abs(v) < 9e15 else {
                    throw BorderlineError(.invalidConfiguration, "expects integers, found \(v)")
                }
                return Int64(v)
            }
        }
    }

    /// The values as known integers (no batch size).
    func knownInts() throws -> [Int] {
        try ints().map { v in
            guard let v else { throw BorderlineError(.invalidConfiguration, "needs a known integer, found the batch size") }
            return Int(v)
        }
    }

    /// A short rendering for messages: `[1, -1]`, `float [8, 3, 3, 3]`.
    var brief: String {
        switch values {
        case .ints(let i) where count <= 8:
            return "[" + i.map { $0.map(String.init) ?? "batch" }.joined(separator: ", ") + "]"
        case .floats(let f) where count == 1:
            return "\(f[0])"
        case .ints: return "int64 \(dims)"
        case .floats: return "float \(dims)"
        }
    }

    /// The constant as a `Tensor` of shape `dims` (scalars become shape `[1]`).
    func tensor() throws -> Tensor { Tensor(shape: dims.isEmpty ? [1] : dims, scalars: try floats()) }

    // MARK: Reading a TensorProto

    /// Decodes a `TensorProto`: `raw_data` (little-endian) or the typed fields (`float_data`,
    /// `int64_data`, `int32_data` for the small types, …), or external data beside the model.
    ///
    /// - Parameters:
    ///   - what: how messages name the tensor, e.g. "initializer 'fc.weight'".
    ///   - directory: the model file's folder, where external data files are looked up.
    static func read(_ t: Onnx_TensorProto, what: String, file: String, directory: String) throws -> ONNXConstant {
        func fail(_ kind: BorderlineError.Kind, _ message: String) -> BorderlineError {
            BorderlineError(kind, "\(what): \(message)", file: file)
        }
        let dims = try t.dims.map { d -> Int in
            guard d >= 0, d < 1 << 40 else { throw fail(.invalidConfiguration, "has dimension \(d) in \(t.dims)") }
            return Int(d)
        }
        var count = 1
        for d in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product < 1 << 31 else {
                throw fail(.invalidConfiguration, "has dimensions \(dims), more elements than Borderline reads")
            }
            count = product
        }
        if t.hasSegment { throw fail(.invalidConfiguration, "is stored in segments, which Borderline does not read") }
        guard let type = Onnx_TensorProto.DataType(rawValue: Int(t.dataType)) else {
            throw fail(.invalidConfiguration, "has unknown data_type \(t.dataType)")
        }

        var raw: Data?
        if t.dataLocation == .external {
            raw = try readExternal(t, what: what, file: file, directory: directory)
        } else if t.hasRawData {
            raw = t.rawData
        }

        let size: Int
        switch type {
        case .float, .int32, .uint32: size = 4
        case .double, .int64, .uint64: size = 8
        case .float16, .bfloat16, .int16, .uint16: size = 2
        case .int8, .uint8, .bool: size = 1
        default:
            throw fail(.invalidConfiguration, "has data type \(type), which Borderline does not read (float, double, float16, bfloat16 and integers)")
        }
        if let raw {
            guard raw.count == count * size else {
                throw fail(.unreadableFile, "holds \(raw.count) bytes of data; \(type) \(dims) needs \(count * size) (the file may be truncated)")
            }
            return try decodeRaw(raw, type: type, dims: dims, fail: fail)
        }

        func checked<T>(_ values: [T], _ field: String) throws -> [T] {
            guard values.count == count else {
                throw fail(.unreadableFile, "has \(values.count) values in \(field); \(type) \(dims) needs \(count)")
            }
            return values
        }
        switch type {
        case .float: return ONNXConstant(dims: dims, floats: try checked(t.floatData, "float_data"))
        case .double: return ONNXConstant(dims: dims, floats: try checked(t.doubleData, "double_data").map { Float($0) })
        case .float16:
            return ONNXConstant(dims: dims, floats: try checked(t.int32Data, "int32_data").map { halfToFloat(UInt16(truncatingIfNeeded: $0)) })
        case .bfloat16:
            return ONNXConstant(dims: dims, floats: try checked(t.int32Data, "int32_data").map { Float(bitPattern: UInt32(UInt16(truncatingIfNeeded: $0)) << 16) })
        case .int64: return ONNXConstant(dims: dims, ints: try checked(t.int64Data, "int64_data").map { $0 })
        case .uint32, .uint64: return ONNXConstant(dims: dims, ints: try checked(t.uint64Data, "uint64_data").map { Int64(truncatingIfNeeded: $0) })
        default: return ONNXConstant(dims: dims, ints: try checked(t.int32Data, "int32_data").map { Int64($0) })
        }
    }

    private static func decodeRaw(_ raw: Data, type: Onnx_TensorProto.DataType, dims: [Int],
                                  fail: (BorderlineError.Kind, String) -> BorderlineError) throws -> ONNXConstant {
        let count = dims.reduce(1, *)
        return raw.withUnsafeBytes { (p: UnsafeRawBufferPointer) -> ONNXConstant in
            func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T { T(littleEndian: p.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
            switch type {
            case .float: return ONNXConstant(dims: dims, floats: (0..<count).map { Float(bitPattern: load(UInt32.self, $0)) })
            case .double: return ONNXConstant(dims: dims, floats: (0..<count).map { Float(Double(bitPattern: load(UInt64.self, $0))) })
            case .float16: return ONNXConstant(dims: dims, floats: (0..<count).map { halfToFloat(load(UInt16.self, $0)) })
            case .bfloat16: return ONNXConstant(dims: dims, floats: (0..<count).map { Float(bitPattern: UInt32(load(UInt16.self, $0)) << 16) })
            case .int64: return ONNXConstant(dims: dims, ints: (0..<count).map { Int64(load(Int64.self, $0)) })
            case .uint64: return ONNXConstant(dims: dims, ints: (0..<count).map { Int64(truncatingIfNeeded: load(UInt64.self, $0)) })
            case .int32: return ONNXConstant(dims: dims, ints: (0..<count).map { Int64(load(Int32.self, $0)) })
            case .uint32: return ONNXConstant(dims: dims, ints: (0..<count).map { Int64(load(UInt32.self, $0)) })
            case .int16: return ONNXConstant(dims: dims, ints: (0..<count).map { Int64(load(Int16.self, $0)) })
            case .uint16: return ONNXConstant(dims: dims, ints: (0..<count).map { Int64(load(UInt16.self, $0)) })
            case .int8: return ONNXConstant(dims: dims, ints: (0..<count).map { Int64(load(Int8.self, $0)) })
            default: return ONNXConstant(dims: dims, ints: (0..<count).map { Int64(load(UInt8.self, $0)) })  // uint8, bool
            }
        }
    }

    /// Reads `location`/`offset`/`length` of an externally stored tensor from a file beside the
    /// model (torch.onnx.export writes `model.onnx.data` by default). Locations must be relative
    /// and stay inside the model's folder.
    private static func readExternal(_ t: Onnx_TensorProto, what: String, file: String, directory: String) throws -> Data {
        var entries: [String: String] = [:]
        for e in t.externalData { entries[e.key] = e.value }
        guard let location = entries["location"], !location.isEmpty else {
            throw BorderlineError(.invalidConfiguration, "\(what): is stored externally but names no 'location'", file: file)
        }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw BorderlineError(.invalidConfiguration,
                "\(what): external data location '\(location)' must be a relative path inside the model's folder", file: file)
        }
        let dataPath = URL(fileURLWithPath: directory).appendingPathComponent(location).path
        guard let handle = FileHandle(forReadingAtPath: dataPath) else {
            throw BorderlineError(.missingEntry,
                "\(what): its data is stored in the external file '\(location)', which is missing (expected at \(dataPath)); keep the .onnx.data file beside the .onnx file",
                file: file)
        }
        defer { try? handle.close() }
        let offset = Int(entries["offset"] ?? "0") ?? -1
        let length = entries["length"].map { Int($0) ?? -1 }
        guard offset >= 0, length.map({ $0 >= 0 }) ?? true else {
            throw BorderlineError(.invalidConfiguration, "\(what): external data offset/length \(entries) are not non-negative integers", file: file)
        }
        let data: Data
        do {
            try handle.seek(toOffset: UInt64(offset))
            if let length {
                data = try handle.read(upToCount: length) ?? Data()
            } else {
                data = try handle.readToEnd() ?? Data()
            }
        } catch {
            throw BorderlineError(.unreadableFile, "\(what): cannot read external data at offset \(offset) of \(dataPath)", file: file)
        }
        if let length, data.count != length {
            throw BorderlineError(.unreadableFile,
                "\(what): external file \(dataPath) ends after \(data.count) of \(length) bytes at offset \(offset) (truncated?)", file: file)
        }
        return data
    }

    /// IEEE 754 half precision to single precision.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h >> 15) << 31
        let exponent = Int((h >> 10) & 0x1f), mantissa = UInt32(h & 0x3ff)
        if exponent == 0 {
            let value = Float(mantissa) * 0x1p-24  // zero or subnormal
            return sign != 0 ? -value : value
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    // MARK: Folding

    /// NumPy-style broadcast of two shapes, or nil when they do not broadcast.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: n - a.count) + a, pb = [Int](repeating: 1, count: n - b.count) + b
        var out: [Int] = []
        for (x, y) in zip(pa, pb) {
            guard x == y || x == 1 || y == 1 else { return nil }
            out.append(x == 1 ? y : x)
        }
        return out
    }

    /// The flat index into a tensor of shape `dims` (right-aligned in `shape`, broadcast where 1)
    /// for every element of `shape`, in row-major order.
    static func broadcastIndices(from dims: [Int], to shape: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: shape.count - dims.count) + dims
        var strides = [Int](repeating: 0, count: shape.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = padded[i] == 1 ? 0 : s
            s *= padded[i]
        }
        let total = shape.reduce(1, *)
        var result = [Int](repeating: 0, count: total)
        var index = [Int](repeating: 0, count: shape.count)
        for k in 0..<total {
            var flat = 0
            for i in 0..<shape.count { flat += index[i] * strides[i] }
            result[k] = flat
            var i = shape.count - 1
            while i >= 0 {
                index[i] += 1
                if index[i] < shape[i] { break }
                index[i] = 0
                i -= 1
            }
        }
        return result
    }

    /// An element-wise operation on two constants, with broadcasting. Integers stay integers
    /// (the batch size propagates as unknown); anything with a float is computed in Float.
    static func elementwise(_ a: ONNXConstant, _ b: ONNXConstant, op: String) throws -> ONNXConstant {
        guard let shape = broadcast(a.dims, b.dims) else {
            throw BorderlineError(.shapeMismatch, "cannot broadcast constants of shapes \(a.dims) and \(b.dims)")
        }
        let ia = broadcastIndices(from: a.dims, to: shape), ib = broadcastIndices(from: b.dims, to: shape)
        if case .ints(let x) = a.values, case .ints(let y) = b.values {
            let values: [Int64?] = try zip(ia, ib).map { i, j in
                guard let u = x[i], let v = y[j] else { return nil }
                switch op {
                case "Add": return u &+ v
                case "Sub": return u &- v
                case "Mul": return u &* v
                default:
                    guard v != 0 else { throw BorderlineError(.invalidConfiguration, "divides an integer constant by zero") }
                    return u / v  // integer division truncates, as ONNX's Div does
                }
            }
            return ONNXConstant(dims: shape, ints: values)
        }
        let x = try a.floats(), y = try b.floats()
        let values: [Float] = zip(ia, ib).map { i, j in
            switch op {
            case "Add": return x[i] + y[j]
            case "Sub": return x[i] - y[j]
            case "Mul": return x[i] * y[j]
            default: return x[i] / y[j]
            }
        }
        return ONNXConstant(dims: shape, floats: values)
    }
}
