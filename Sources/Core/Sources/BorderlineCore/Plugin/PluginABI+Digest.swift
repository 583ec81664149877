// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "764848f67da218afbd5a3602d2028d7d279f455207e3f55877f3f2909fbd90ea"
    /// The ABI version a plugin was built against: the first 31 bits of apiDigest.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x764848f6 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x764848f6
}
