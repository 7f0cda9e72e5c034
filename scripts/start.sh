#!/usr/bin/env bash
# npm start: prepares the node, then runs tskubelet in standalone mode on the example static
# pods (examples/static-pods), printing each pod's state as it changes. Ctrl-C stops tskubelet;
# the pods keep running, as with the upstream kubelet (start again to adopt them, or
# remove a manifest to stop its pod).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
bash scripts/cri-generate.sh
echo "tskubelet: standalone on examples/static-pods; /pods at http://127.0.0.1:10255/pods, /healthz at http://127.0.0.1:10248/healthz"
set +e
bin/tskubelet --config examples/kubelet-config.yaml 2>&1 | bash scripts/node.sh scripts/pretty-log.ts
exit "${PIPESTATUS[0]}"
