// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "cd80eca7669d51ec8c516e55ba5f3cea1f23a44b3fea9f39eb56b1bec045491c"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x4d80eca7 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x4d80eca7
}
