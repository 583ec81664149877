// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "dbe6e98115288a582388b383d1a9ea4621f44767b848e204c46063309070f42e"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x5be6e981 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x5be6e981
}
