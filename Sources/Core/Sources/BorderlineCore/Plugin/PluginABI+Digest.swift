// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "8d29f40f55c5d0541e9daf99b534f89488c700f1f3ffb6f0bde4946befe97ff1"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x0d29f40f }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x0d29f40f
}
