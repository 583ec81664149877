// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "02d6d7d1be0f1c554a6a29d32f914b0b0fe3ea45fb92e95d3b4b51f4ed39754d"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x02d6d7d1 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x02d6d7d1
}
