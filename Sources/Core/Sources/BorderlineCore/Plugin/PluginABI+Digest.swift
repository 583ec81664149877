// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "9eb59465dc40bbc23f083cf861c7ffc68a5a59060a39e5505dc798a3d5b45357"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x1eb59465 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x1eb59465
}
