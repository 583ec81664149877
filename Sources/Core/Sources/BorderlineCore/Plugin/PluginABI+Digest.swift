// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "0719e3b67b96855bd9581c6405b11491faca06103e88f2e27660af594a84cea5"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x0719e3b6 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x0719e3b6
}
