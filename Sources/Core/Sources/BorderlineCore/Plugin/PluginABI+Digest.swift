// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "3f91ef879eba51b4806e86d59210ec48f34a5de3e46ad0ee307ced1fa1894c62"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x3f91ef87 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x3f91ef87
}
