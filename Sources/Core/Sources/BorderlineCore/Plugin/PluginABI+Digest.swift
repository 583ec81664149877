// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "5b5af3549dcd98becf6e14aa8cb2c97181267883e8ceeb60e9e3b2cbf104a5c6"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x5b5af354 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x5b5af354
}
