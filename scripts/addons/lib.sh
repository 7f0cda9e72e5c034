# shellcheck shell=bash disable=SC2034  # constants are used by the scripts that source this file
# Shared constants and helpers for scripts/addons.sh and scripts/addons/*.sh (sourced, not run):
# the real clients of the kubelet API that the tests run against tskubelet (metrics-server,
# Prometheus). Reuses the cluster's constants and helpers (scripts/cluster/lib.sh).
addons_lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../cluster/lib.sh
. "$addons_lib_dir/../cluster/lib.sh"
say() { printf 'addons: %s\n' "$*" >&2; }
die() { printf 'addons: ERROR: %s\n' "$*" >&2; exit 1; }

# metrics-server, built from its Go module (sigs.k8s.io/metrics-server) once per machine, cached
# beside the control plane's binaries, one folder per version.
METRICS_SERVER_VERSION=v0.8.0
METRICS_SERVER_MODULE=sigs.k8s.io/metrics-server
METRICS_SERVER_CACHE=$CACHE_ROOT/metrics-server-$METRICS_SERVER_VERSION
METRICS_SERVER_BIN=$METRICS_SERVER_CACHE/bin/metrics-server
ADDONS_BUILD_LOG=$CACHE_ROOT/addons-build.log
ADDONS_BUILD_LOCK=$CACHE_ROOT/addons-build.lock

# metrics-server runs as a process on this host (see scripts/addons.sh). Its state lives in the
# cluster's state folder, so `scripts/cluster.sh reset` (a new CA) takes it along.
ADDONS_DIR=$STATE_DIR/addons
METRICS_SERVER_DIR=$ADDONS_DIR/metrics-server
METRICS_SERVER_PIDFILE=$PID_DIR/metrics-server.pid
METRICS_SERVER_ARGSFILE=$PID_DIR/metrics-server.args
METRICS_SERVER_LOG=$LOG_DIR/metrics-server.log
# Its HTTPS port on every address of the host: the aggregator reaches it at the host's
# non-loopback address (an Endpoints address may not be a loopback one). 4443 as upstream's
# manifests use inside the pod; free on these machines.
METRICS_SERVER_PORT=${TSK_METRICS_SERVER_PORT:-4443}
# Its client identity (a certificate signed by the cluster CA): user name and the RBAC bound to it.
METRICS_SERVER_USER=tskubelet:metrics-server
# How often it scrapes every node's /metrics/resource, and how long it waits for one (upstream's
# defaults are 60 s and 10 s; 15 s is its minimum and gives `kubectl top` numbers sooner).
METRICS_SERVER_RESOLUTION=15s
METRICS_SERVER_KUBELET_TIMEOUT=10s
# How long it may take to serve /readyz and be Available through the aggregator, seconds.
METRICS_SERVER_READY_TIMEOUT=60
APISERVICE_TIMEOUT=60
