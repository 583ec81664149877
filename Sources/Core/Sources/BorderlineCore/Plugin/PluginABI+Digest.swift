// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "b9bb92f1565c1bbe7b658fb485129f8dc4421d6af388ca2d4daf7e5e14b0e698"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x39bb92f1 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x39bb92f1
}
