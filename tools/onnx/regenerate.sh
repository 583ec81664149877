#!/usr/bin/env bash
# Regenerates Sources/Core/Sources/BorderlineCore/IO/ONNX/onnx.pb.swift from tools/onnx/onnx.proto.
#
# The generated file is committed: neither CI nor a normal build runs protoc. Run this only when
# onnx.proto changes (it is a copy of onnx/onnx.proto from the `onnx` 1.23.2 pip wheel:
# `cp "$(python3 -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')/onnx.proto" tools/onnx/`).
#
# Needs protoc (Debian: apt-get install protobuf-compiler; 3.21.12 made the committed file) and
# protoc-gen-swift of the same swift-protobuf release the core depends on (1.39.0), built in a
# scratch folder outside the repository:
#
#   git clone --branch 1.39.0 /opt/swift-packages/apple/swift-protobuf.git /tmp/protogen/swift-protobuf
#   (cd /tmp/protogen/swift-protobuf && swift build -c release --product protoc-gen-swift)
#   PROTOC_GEN_SWIFT=/tmp/protogen/swift-protobuf/.build/release/protoc-gen-swift bash tools/onnx/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
plugin="${PROTOC_GEN_SWIFT:-/tmp/protogen/swift-protobuf/.build/release/protoc-gen-swift}"
out=Sources/Core/Sources/BorderlineCore/IO/ONNX
# Visibility=Internal: the ONNX message types are an implementation detail of the importer.
protoc --plugin=protoc-gen-swift="$plugin" --proto_path=tools/onnx \
       --swift_opt=Visibility=Internal --swift_out="$out" tools/onnx/onnx.proto
echo "wrote $out/onnx.pb.swift"
