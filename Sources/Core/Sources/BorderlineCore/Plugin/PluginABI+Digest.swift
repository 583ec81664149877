// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "dacc23f2df711ebd8f9bfe2845ffcda31f10e296ffedae06a063e74b4fb3bd2c"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x5acc23f2 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x5acc23f2
}
