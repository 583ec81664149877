// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "245cb2e1f854580dcee0f396a8b90950b952a83bb0649cb99abae96af97e72e7"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x245cb2e1 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x245cb2e1
}
