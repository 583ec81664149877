// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "74cb239ebc0b377da35c9b205b7eab6f7945688406ab93ac6e7bdd691ccec045"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x74cb239e }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x74cb239e
}
