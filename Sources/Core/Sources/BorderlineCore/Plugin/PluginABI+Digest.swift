// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "10078cfd9cd18f90683c88e33e80c0dc0f973418996b86013005030e707b810f"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x10078cfd }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x10078cfd
}
