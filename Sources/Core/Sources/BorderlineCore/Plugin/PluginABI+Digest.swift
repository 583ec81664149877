// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "d19cdc4bde5c9833f505e29bd888953a33468c720c6a7e2059b26b51dde5ab52"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x519cdc4b }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x519cdc4b
}
