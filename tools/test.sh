#!/usr/bin/env bash
# Sets up and runs every test: installs system packages, builds the release CLI (the
# end-to-end tests run it), then runs the XCTest suites.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
swift build -c release   # the CLI and the in-tree plugins beside it
bash tools/check-abi.sh  # the plugin ABI version matches the core's public API
# All suites are XCTest; without Swift Testing the closing summary counts the tests that ran.
BORDERLINE_CLI="$PWD/.build/release/borderline" swift test --disable-swift-testing "$@"
