// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "94bad6203f3c1df1c9e9a80341090541a440ec661e41a58f837e4f9e93e1983e"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x14bad620 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x14bad620
}
