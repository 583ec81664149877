#!/usr/bin/env bash
# The plugin ABI version is derived from the core's public interface (see PluginABI.swift):
# this script dumps BorderlineCore's public API from a built module with swift-api-digester,
# hashes it, and compares the hash with PluginABI+Digest.swift.
#
#   bash tools/check-abi.sh            # CI: fails when the committed digest is stale
#   bash tools/check-abi.sh --update   # after changing the core's public API: rewrite the digest
#
# Needs a built core: `swift build -c release` (or BUILD=.build/debug after `swift build`).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-.build/release}
modules="$build/Modules"
[ -d "$modules" ] || modules="$build"
if [ ! -e "$modules/BorderlineCore.swiftmodule" ]; then
  echo "check-abi: no BorderlineCore.swiftmodule in $modules; run swift build -c release first" >&2
  exit 2
fi
digester=$(command -v swift-api-digester || true)
[ -n "$digester" ] || digester="$(dirname "$(readlink -f "$(command -v swift)")")/swift-api-digester"
includes=(-I "$modules")
for shim in Sources/Core/Sources/C*/; do includes+=(-I "$shim"); done
# C targets of the core: SwiftPM writes their module maps into the build folder.
for map in "$build"/C*.build/module.modulemap; do [ -e "$map" ] && includes+=(-Xcc "-fmodule-map-file=$map"); done
for header in Sources/Core/Sources/C*/include; do [ -d "$header" ] && includes+=(-I "$header"); done
# C modules of the core's package dependencies (ZIPFoundation's zlib, …).
checkouts="$(dirname "$build")/checkouts"
[ -d "$checkouts" ] || checkouts=".build/checkouts"
while IFS= read -r map; do includes+=(-I "$(dirname "$map")"); done < <(find "$checkouts" -name module.modulemap 2>/dev/null)
for flag in $(pkg-config --cflags-only-I hdf5 freetype2 2>/dev/null); do includes+=("$flag"); done

dump=$(mktemp)
trap 'rm -f "$dump"' EXIT
errors=$(mktemp)
trap 'rm -f "$dump" "$errors"' EXIT
if ! "$digester" -dump-sdk -module BorderlineCore "${includes[@]}" -o "$dump" >/dev/null 2>"$errors" || grep -q 'error:' "$errors" \
   || ! grep -q '"name": "PluginABI"' "$dump"; then
  echo "check-abi: swift-api-digester could not read the BorderlineCore module:" >&2
  cat "$errors" >&2
  exit 2
fi
# The tool's own arguments (paths) are not part of the interface.
digest=$(sed '/"tool_arguments": \[/,/\]/d' "$dump" | sha256sum | cut -c1-64)
version=$(printf '0x%08x' $(( 0x${digest:0:8} & 0x7fffffff )))
file=Sources/Core/Sources/BorderlineCore/Plugin/PluginABI+Digest.swift
committed=$(sed -n 's/.*apiDigest = "\([0-9a-f]*\)".*/\1/p' "$file")

if [ "${1:-}" = "--update" ]; then
  cat > "$file" <<SWIFT
// Written by tools/check-abi.sh --update; do not edit by hand. CI fails when it does not match the core.
extension PluginABI {
    /// SHA-256 of the core's public interface (\`swift-api-digester -dump-sdk\`, tool arguments removed).
    public static let apiDigest = "$digest"
    /// The ABI version a plugin was built against: the first 31 bits of \`\`apiDigest\`\`.
    @_alwaysEmitIntoClient
    public static var version: Int32 { $version }
    /// The ABI version this copy of the core implements.
    public static let hostVersion: Int32 = $version
}
SWIFT
  echo "check-abi: wrote $file (ABI version $version); rebuild, and rebuild out-of-tree plugins"
  exit 0
fi
if [ "$digest" != "$committed" ]; then
  echo "check-abi: the core's public API changed (digest $digest, committed $committed)." >&2
  echo "check-abi: plugins built against the old core would break; run 'bash tools/check-abi.sh --update' and commit the result." >&2
  exit 1
fi
echo "check-abi: plugin ABI version $version matches the core's public API"
