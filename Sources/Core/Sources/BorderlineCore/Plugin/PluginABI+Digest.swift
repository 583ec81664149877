// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "bffd885af59d98a1f5edd0285a83706f591976cfc12a104e1d5f1eacb01db87a"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x3ffd885a }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x3ffd885a
}
