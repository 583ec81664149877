// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "f0435194988525684b1566b446979ffa9ec302ba8db35ac2dc7e841035ea61fe"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x70435194 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x70435194
}
