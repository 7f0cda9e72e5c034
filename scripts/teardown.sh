#!/usr/bin/env bash
# Stops the daemons scripts/setup.sh starts: the local registry (127.0.0.1:5000) and containerd.
# Leaves packages, configs, images and registry data in place, so the next setup is a warm start.
# Containers keep running in their containerd shims (that is containerd's design); remove pods
# through CRI before calling this when a clean node is wanted.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=setup/lib.sh
. "$root/scripts/setup/lib.sh"
say() { printf 'teardown: %s\n' "$*" >&2; }
die() { printf 'teardown: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
mkdir -p "$TSK_STATE_DIR"
exec 9>"$TSK_STATE_DIR/setup.lock"
flock -w 300 9 || die "setup.sh still holds $TSK_STATE_DIR/setup.lock after 300s"

pid=$(registry_pid)
if [ -n "$pid" ]; then stop_pid registry "$pid"; say "stopped the registry (pid $pid)"; else say "registry not running"; fi
rm -f "$REGISTRY_PIDFILE"
pid=$(containerd_pid)
if [ -n "$pid" ]; then stop_pid containerd "$pid"; say "stopped containerd (pid $pid)"; else say "containerd not running"; fi
rm -f "$CONTAINERD_PIDFILE"
