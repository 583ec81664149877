// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "56a4a0717a76c278b3a88bb561daeb1e7c3fe6c5b82498c7c2344a9722db57a8"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x56a4a071 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x56a4a071
}
