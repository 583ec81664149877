// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "54a9c4979494d0ad80864907bb5bf1a27314b0597169f59a23d6ed7863357a42"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x54a9c497 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x54a9c497
}
