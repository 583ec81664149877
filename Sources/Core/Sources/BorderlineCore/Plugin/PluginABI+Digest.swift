// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "b09014e1e3eaeed4d273cebce1093bca47d35f041f10747b2672a73a51f28534"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x309014e1 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x309014e1
}
