// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (`swift-api-digester -dump-sdk`, tool arguments removed).
    public static let apiDigest = "820afa393bb1c32fec958ac8700a3e062b97c8845cdc923c176a2feced6b7b05"
    /// The ABI version a plugin was built against: the first 31 bits of ``apiDigest``.
    @_alwaysEmitIntoClient
    public static var version: Int32 { 0x020afa39 }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = 0x020afa39
}
