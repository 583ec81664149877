// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "fdbef4c5cd6ffa0355c2cb2e277eedf4b63fa1a529de6d115e78e85718b4a10a"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x7dbef4c5 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x7dbef4c5
}
