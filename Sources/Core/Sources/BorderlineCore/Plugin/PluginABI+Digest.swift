// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "b3387aed1ccf160692b9c726ca2d343d177b5899c7623bb6eabec9f6acf0eed5"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x33387aed }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x33387aed
}
