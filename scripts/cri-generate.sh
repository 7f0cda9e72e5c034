#!/usr/bin/env bash
# Fetches the CRI definition (api.proto) from the k8s.io/cri-api Go module at a pinned version
# through the Go toolchain, and generates TypeScript types for it with proto-loader-gen-types.
# Output goes to build/cri (git-ignored). Idempotent: does nothing when the output is current.
set -euo pipefail
CRI_API_VERSION="v0.34.2"
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
out="$root/build/cri"
stamp="$out/.version"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$CRI_API_VERSION" ] && [ -f "$out/api.proto" ]; then
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "cri-generate: the Go toolchain is needed to fetch k8s.io/cri-api (apt-get install golang-go)" >&2; exit 1; }
dir="$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "k8s.io/cri-api@$CRI_API_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -n "$dir" ] && [ -f "$dir/pkg/apis/runtime/v1/api.proto" ] || { echo "cri-generate: could not fetch k8s.io/cri-api@$CRI_API_VERSION" >&2; exit 1; }
rm -rf "$out"; mkdir -p "$out"
cp "$dir/pkg/apis/runtime/v1/api.proto" "$out/api.proto"
chmod u+w "$out/api.proto"
bash "$root/scripts/node.sh" "$root/node_modules/@grpc/proto-loader/build/bin/proto-loader-gen-types.js" \
  --keepCase --longs=Number --enums=String --defaults --oneofs --grpcLib=@grpc/grpc-js \
  --outDir="$out/types" "$out/api.proto" >/dev/null
# The generator writes extension-less relative imports; ESM resolution wants the extension.
find "$out/types" -name '*.ts' -exec sed -i -E "s#from '(\.[^']*)';#from '\1.ts';#" {} +
echo "$CRI_API_VERSION" > "$stamp"
echo "cri-generate: CRI definition k8s.io/cri-api@$CRI_API_VERSION in $out"
