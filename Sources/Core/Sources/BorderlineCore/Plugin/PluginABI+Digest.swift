// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "35cfb9d3e7553d7e8756f04539846b84005a87e5d01bebfcec757b5aaf93904a"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x35cfb9d3 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x35cfb9d3
}
