// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "b0ed2f307fc1c0110a49d1387d97744525ed49fb9baacc1ad401c8b579b6ab88"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x30ed2f30 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x30ed2f30
}
