// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "6b7532c7dbd41c14d6442e26aaef7c77d61792fc0d4e81bdad200268238dbb08"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x6b7532c7 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x6b7532c7
}
