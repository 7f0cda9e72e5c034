#!/usr/bin/env bash
# npm test: prepares the node (idempotent), then type-checks, lints and runs every test:
# unit tests beside the code (src/**/*.test.ts) and integration tests against the real
# containerd and the real control plane (test/**/*.test.ts), all with Node's built-in test runner.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"
node=(bash scripts/node.sh)
bash scripts/setup.sh
bash scripts/cri-generate.sh
# The real control plane for the cluster tests (built once per machine, ~8 min on 2 cores).
bash scripts/cluster.sh up
# metrics-server, built from its Go module once per machine, for the kubelet API client tests.
bash scripts/addons.sh build
echo "== typecheck (tsc --noEmit, strict)"
"${node[@]}" node_modules/typescript/bin/tsc --noEmit -p .
echo "== lint (eslint, no-floating-promises)"
"${node[@]}" node_modules/eslint/bin/eslint.js --max-warnings=0 .
echo "== tests (unit + integration against containerd)"
exec "${node[@]}" --test --test-concurrency=1 --test-timeout=600000 'src/**/*.test.ts' 'bench/**/*.test.ts' 'test/**/*.test.ts'
