// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "edba8696abd25909d6d6452cbd280d752aff3db27930c92ef353414f7dd108b8"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x6dba8696 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x6dba8696
}
