// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "9d220a26a4f4ce6e45763f13d807d52a5eb9c5edc42dee19d61bfdd4556b60f4"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x1d220a26 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x1d220a26
}
