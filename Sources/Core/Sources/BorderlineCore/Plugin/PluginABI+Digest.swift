// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "8a48d49b506578fa263417caa389fdedb7233cbae60decad6417b4b4bb5fb1e5"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x0a48d49b }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x0a48d49b
}
