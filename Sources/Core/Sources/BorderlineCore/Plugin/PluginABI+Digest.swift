// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "dc008c2dec4c1af7773d4fa0bea51bb0a8a5fb3f9c37d82febe108d705693811"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x5c008c2d }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x5c008c2d
}
