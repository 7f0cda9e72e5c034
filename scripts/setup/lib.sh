# shellcheck shell=bash disable=SC2034  # constants are used by the scripts that source this file
# Shared helpers for scripts/setup.sh and scripts/teardown.sh (sourced, not run).
# Paths are fixed here so setup, teardown and the report agree on them.

TSK_STATE_DIR=/run/tskubelet                      # pid files and the setup lock (tmpfs: gone on reboot)
CONTAINERD_CONFIG=/etc/containerd/config.toml
CONTAINERD_SOCK=/run/containerd/containerd.sock
CONTAINERD_LOG=/var/log/containerd.log
CONTAINERD_PIDFILE=$TSK_STATE_DIR/containerd.pid
CERTS_DIR=/etc/containerd/certs.d
REGISTRY_HOST=127.0.0.1:5000
REGISTRY_CONFIG=/etc/tskubelet/registry.yml
REGISTRY_DATA=/var/lib/tskubelet-registry
REGISTRY_LOG=/var/log/tskubelet-registry.log
REGISTRY_PIDFILE=$TSK_STATE_DIR/registry.pid
CNI_CONF=/etc/cni/net.d/10-tskubelet.conflist
CNI_BIN_DIR=/usr/lib/cni
IMAGE_WORK_DIR=/var/lib/tskubelet-images
PAUSE_IMAGE=$REGISTRY_HOST/pause:3.10
BUSYBOX_IMAGE=$REGISTRY_HOST/busybox:1.36

# Readiness timeouts (seconds): containerd loads its plugins and snapshotters, the registry
# only opens a port; both are up in well under a second on an idle machine.
CONTAINERD_READY_TIMEOUT=30
REGISTRY_READY_TIMEOUT=15
# How long a TERM may take before a daemon gets KILL (seconds).
STOP_TIMEOUT=15

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

# install_file SRC DEST [MODE]: copies SRC to DEST (atomically, creating the folder) only when
# the content differs. Returns 0 when DEST was written, 1 when it was already identical.
install_file() {
  local src=$1 dest=$2 mode=${3:-0644}
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then return 1; fi
  mkdir -p "$(dirname "$dest")"
  cp "$src" "$dest.tsk-new"
  chmod "$mode" "$dest.tsk-new"
  mv -f "$dest.tsk-new" "$dest"
  return 0
}

# pid_alive PID: true when PID is a running (not zombie) process.
pid_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

# socket_owner_pid PATH: pid of the process listening on the unix socket PATH (empty if none).
socket_owner_pid() {
  ss -xlpnH 2>/dev/null | awk -v s="$1" '$5 == s { if (match($0, /pid=[0-9]+/)) { print substr($0, RSTART + 4, RLENGTH - 4); exit } }'
}

# tcp_owner_pid ADDR:PORT: pid of the process listening on that TCP address (empty if none).
tcp_owner_pid() {
  ss -ltnpH 2>/dev/null | awk -v a="$1" '$4 == a { if (match($0, /pid=[0-9]+/)) { print substr($0, RSTART + 4, RLENGTH - 4); exit } }'
}

# containerd_pid / registry_pid: pid of the running daemon, from its listener (authoritative)
# or else from our pid file; empty when it is not running.
containerd_pid() {
  local pid
  pid=$(socket_owner_pid "$CONTAINERD_SOCK")
  if [ -z "$pid" ] && [ -f "$CONTAINERD_PIDFILE" ]; then pid=$(cat "$CONTAINERD_PIDFILE"); fi
  if pid_alive "$pid"; then echo "$pid"; fi
}
registry_pid() {
  local pid
  pid=$(tcp_owner_pid "$REGISTRY_HOST")
  if [ -z "$pid" ] && [ -f "$REGISTRY_PIDFILE" ]; then pid=$(cat "$REGISTRY_PIDFILE"); fi
  if pid_alive "$pid"; then echo "$pid"; fi
}

# stop_pid NAME PID: TERM, wait up to STOP_TIMEOUT s, then KILL. Blocks until PID is gone.
stop_pid() {
  local name=$1 pid=$2 i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  say "$name (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  die "could not stop $name (pid $pid)"
}

containerd_answers() { [ -S "$CONTAINERD_SOCK" ] && timeout 5 ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; }
registry_answers() { curl -fsS -o /dev/null --max-time 2 "http://$REGISTRY_HOST/v2/" 2>/dev/null; }
