// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "ea19d9deea88d30a2cc38bc13f6b70c4858d0831b6045ac4b704d65384bcacb8"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x6a19d9de }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x6a19d9de
}
