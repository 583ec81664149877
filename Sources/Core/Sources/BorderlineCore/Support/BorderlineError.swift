/// The one error type Borderline's core throws for bad input. `kind` is for programs and tests;
/// `description` is for people: it names the file, the layer or dataset, and what was expected.
public struct BorderlineError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// The file does not exist or cannot be opened.
        case fileNotFound
        /// The file is not HDF5 (or not the kind of file expected), or is truncated.
        case unreadableFile
        /// A dataset, attribute or group the format requires is missing.
        case missingEntry
        /// An array's shape contradicts the architecture or the data.
        case shapeMismatch
        /// The architecture names a layer type Borderline does not know.
        case unknownLayerType
        /// A layer's or a model's configuration is malformed.
        case invalidConfiguration
        /// Weights or data contain NaN or infinity.
        case nonFiniteValues
        /// A data set does not fit the model.
        case dataMismatch
        /// A command-line or API argument is out of range or malformed.
        case invalidArgument
        /// Reading or writing failed part-way.
        case ioFailure
    }

    public var kind: Kind
    public var message: String
    /// The file the error is about, when there is one.
    public var file: String?

    public init(_ kind: Kind, _ message: String, file: String? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
    }

    public var description: String {
        if let file { return "\(file): \(message)" }
        return message
    }

    /// The same error attributed to `path` (unless it already names a file).
    public func inFile(_ path: String) -> BorderlineError {
        var e = self
        if e.file == nil { e.file = path }
        return e
    }
}
