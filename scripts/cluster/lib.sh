# shellcheck shell=bash disable=SC2034  # constants are used by the scripts that source this file
# Shared constants and helpers for scripts/cluster.sh and scripts/cluster/*.sh (sourced, not run).
# Reuses pid_alive, tcp_owner_pid and stop_pid from scripts/setup/lib.sh.
cluster_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../setup/lib.sh
. "$cluster_lib_dir/../setup/lib.sh"
say() { printf 'cluster: %s\n' "$*" >&2; }
die() { printf 'cluster: ERROR: %s\n' "$*" >&2; exit 1; }

# Versions. Kubernetes matches the CRI API module tskubelet generates from (k8s.io/cri-api v0.34.2);
# its staging modules are served at v0.<minor>.<patch>. etcd: the newest 3.6 patch the Go module
# proxy serves (Kubernetes 1.34 is tested against etcd 3.6).
K8S_VERSION=v1.34.2
K8S_STAGING_VERSION=v0.${K8S_VERSION#v1.}
ETCD_VERSION=v3.6.16

# Build cache: outside the repo so fresh clones on this machine reuse it. One folder per version.
CACHE_ROOT=${TSK_CLUSTER_CACHE:-/var/cache/tskubelet}
K8S_CACHE=$CACHE_ROOT/k8s-$K8S_VERSION
ETCD_CACHE=$CACHE_ROOT/etcd-$ETCD_VERSION
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
ETCD_BINARIES=(etcd etcdctl)
BUILD_LOG=$CACHE_ROOT/build.log
BUILD_PIDFILE=$CACHE_ROOT/build.pid
BUILD_LOCK=$CACHE_ROOT/build.lock
STAMP_NAME=built.stamp  # written last, after bin/ is complete: its presence means "done"

# Cluster state: one per machine, shared by every clone (CI clones fresh each run).
STATE_DIR=${TSK_CLUSTER_STATE:-/var/lib/tskubelet-cluster}
PKI_DIR=$STATE_DIR/pki
ETCD_DATA=$STATE_DIR/etcd
LOG_DIR=$STATE_DIR/logs
PID_DIR=$STATE_DIR/pids
KUBECONFIG_DIR=$STATE_DIR/kubeconfig
STATE_LOCK=$STATE_DIR/cluster.lock

# Endpoints, all on loopback. etcd speaks plain HTTP: only local processes can reach it.
ETCD_CLIENT_URL=http://127.0.0.1:2379
ETCD_PEER_URL=http://127.0.0.1:2380
APISERVER_HOST=127.0.0.1
APISERVER_PORT=6443
APISERVER_URL=https://$APISERVER_HOST:$APISERVER_PORT
CONTROLLER_MANAGER_PORT=10257
SCHEDULER_PORT=10259
SERVICE_CIDR=10.96.0.0/12
SERVICE_IP=10.96.0.1            # first address of SERVICE_CIDR: the `kubernetes` Service
SA_ISSUER=https://kubernetes.default.svc.cluster.local

# Groups a node joins with (see bootstrap in cluster.sh); the token's extra group names us.
BOOTSTRAP_EXTRA_GROUP=system:bootstrappers:tskubelet

# Timeouts (seconds). A cold kube-apiserver installs its bootstrap RBAC and priority classes
# before /readyz passes: ~10-20 s on 2 cores; etcd and the others answer within a few seconds.
ETCD_READY_TIMEOUT=30
APISERVER_READY_TIMEOUT=120
COMPONENT_READY_TIMEOUT=60
# How long the controller-manager may take to create the `default` ServiceAccount.
DEFAULT_SA_TIMEOUT=60
# Build progress lines every this many seconds (CI systems kill jobs silent for ~10 min).
BUILD_PROGRESS_EVERY=30

# Components in start order (stop in reverse); see component_bin, component_listen, component_args.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

# component_bin NAME: absolute path of the cached binary for NAME.
component_bin() {
  case $1 in
    etcd | etcdctl) echo "$ETCD_CACHE/bin/$1" ;;
    *) echo "$K8S_CACHE/bin/$1" ;;
  esac
}

# component_listen NAME: the loopback address:port NAME listens on (its identity for `ss`).
component_listen() {
  case $1 in
    etcd) echo "127.0.0.1:2379" ;;
    kube-apiserver) echo "$APISERVER_HOST:$APISERVER_PORT" ;;
    kube-controller-manager) echo "127.0.0.1:$CONTROLLER_MANAGER_PORT" ;;
    kube-scheduler) echo "127.0.0.1:$SCHEDULER_PORT" ;;
    *) die "unknown component $1" ;;
  esac
}

# exe_of PID: the resolved executable path of PID (empty when unreadable).
exe_of() { readlink "/proc/$1/exe" 2>/dev/null || true; }

# component_pid NAME: pid of the running NAME, found by its listener (authoritative) or else by
# its pid file, and only when that process runs a binary called NAME. Empty when not running.
component_pid() {
  local name=$1 pid exe
  pid=$(tcp_owner_pid "$(component_listen "$name")")
  if [ -z "$pid" ] && [ -f "$PID_DIR/$name.pid" ]; then pid=$(cat "$PID_DIR/$name.pid"); fi
  pid_alive "$pid" || return 0
  exe=$(exe_of "$pid")
  exe=${exe% (deleted)}
  if [ "$(basename "$exe")" = "$name" ]; then echo "$pid"; fi
}

# rss_mib PID: resident memory of PID in MiB (integer).
rss_mib() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true; }

# stamp_ok CACHE BINARIES...: true when CACHE holds a finished build (stamp + every binary).
stamp_ok() {
  local cache=$1 b
  shift
  [ -f "$cache/$STAMP_NAME" ] || return 1
  for b in "$@"; do [ -x "$cache/bin/$b" ] || return 1; done
}

builds_done() {
  stamp_ok "$K8S_CACHE" "${K8S_BINARIES[@]}" && stamp_ok "$ETCD_CACHE" "${ETCD_BINARIES[@]}"
}

# elapsed_since START_S: "MmSSs" since epoch second START_S.
elapsed_since() {
  local s=$(($(date +%s) - $1))
  printf '%dm%02ds' $((s / 60)) $((s % 60))
}

# spawn_daemon LOG CMD...: starts CMD in a session of its own (it survives the caller), stdin from
# /dev/null, output appended to LOG, and EVERY other inherited descriptor closed: a daemon must not
# keep a caller's lock open for its whole life (`flock /tmp/tskubelet-integration.lock bash
# scripts/cluster.sh up`, or a test run under that lock starting the cluster, would otherwise leave
# the lock held by kube-apiserver). Returns at once; $! is the daemon's pid.
spawn_daemon() {
  local log=$1
  shift
  (
    for fd in "/proc/$BASHPID/fd"/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec setsid nohup "$@" >>"$log" 2>&1 </dev/null
  ) &
}
