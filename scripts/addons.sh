#!/usr/bin/env bash
# Real clients of the kubelet API, against the test control plane (scripts/cluster.sh) and the
# tskubelet nodes that join it. Run as root.
#
#   scripts/addons.sh build                 builds metrics-server $METRICS_SERVER_VERSION from its Go
#                                           module, once per machine (cached in /var/cache/tskubelet;
#                                           a few minutes on 2 cores; run it alone)
#   scripts/addons.sh metrics-server-up     runs metrics-server on this host and registers it with
#                                           the aggregator (APIService v1beta1.metrics.k8s.io), so
#                                           `kubectl top` works; idempotent (a running, current
#                                           metrics-server is kept). Brings the cluster up first.
#   scripts/addons.sh metrics-server-down   stops it and deletes every object it created
#   scripts/addons.sh status                build, process and APIService state; exit 0 when
#                                           metrics-server runs and its APIService is Available
#
# How metrics-server runs: as a process on this host (not a pod), so it does not depend on the
# kubelet under test to run it, needs no image, and its log is a plain file. It serves HTTPS on
# every address of the host (port 4443) with a serving certificate signed by the cluster CA for
# metrics-server.kube-system.svc. The aggregator finds it through a selector-less Service
# kube-system/metrics-server and an EndpointSlice naming the host's non-loopback IPv4 address
# (kube-apiserver runs with --enable-aggregator-routing: no kube-proxy here); the APIService's
# caBundle is the cluster CA. It talks to the API server and to the kubelets (their
# /metrics/resource at InternalIP:10250, serving certificates not verified: kubelets' are
# self-signed) with a client certificate signed by the cluster CA, user tskubelet:metrics-server,
# bound to the RBAC upstream's manifests give metrics-server.
#
# Files: state in /var/lib/tskubelet-cluster/addons (kubeconfig, certificates), log in
# /var/lib/tskubelet-cluster/logs/metrics-server.log, pid in /var/lib/tskubelet-cluster/pids.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
addons_dir="$root/scripts/addons"
# shellcheck source-path=SCRIPTDIR source=addons/lib.sh
. "$addons_dir/lib.sh"
started_ns=$(date +%s%N)

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' | sed "s/\$METRICS_SERVER_VERSION/$METRICS_SERVER_VERSION/" >&2
  exit "${1:-2}"
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it writes $CACHE_ROOT and $STATE_DIR)"
}

took() {
  local ms=$((($(date +%s%N) - started_ns) / 1000000))
  printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100))
}

kubectl_admin() { "$(component_bin kubectl)" --kubeconfig "$KUBECONFIG_DIR/admin.kubeconfig" "$@"; }

ms_built() { stamp_ok "$METRICS_SERVER_CACHE" metrics-server; }

# --- build ------------------------------------------------------------------------------------------
# cmd_build: runs scripts/addons/build.sh in the foreground (its output to ADDONS_BUILD_LOG) and
# prints a progress line every BUILD_PROGRESS_EVERY s; dies with the log tail when it fails.
cmd_build() {
  need_root
  if ms_built; then
    say "metrics-server $METRICS_SERVER_VERSION already built ($METRICS_SERVER_BIN)"
    return 0
  fi
  command -v go >/dev/null || die "go not found (needed once, to build metrics-server)"
  mkdir -p "$CACHE_ROOT"
  say "building metrics-server $METRICS_SERVER_VERSION from the Go module registry into $METRICS_SERVER_CACHE"
  say "once per machine: a few minutes on 2 cores (log: $ADDONS_BUILD_LOG)"
  printf '\n=== %s scripts/addons.sh started a build\n' "$(date -Is)" >>"$ADDONS_BUILD_LOG"
  local since pid last=0 n
  since=$(date +%s)
  # nice: the build takes both cores; let interactive work go first.
  nice -n 10 bash "$addons_dir/build.sh" >>"$ADDONS_BUILD_LOG" 2>&1 </dev/null &
  pid=$!
  while pid_alive "$pid"; do
    sleep 2
    if (($(date +%s) - last >= BUILD_PROGRESS_EVERY)); then
      last=$(date +%s)
      n=$(awk '/^build: started/ { n = 0; next } NF && !/^(build:|go: |===)/ { n++ } END { print n + 0 }' "$ADDONS_BUILD_LOG")
      say "building ($(elapsed_since "$since")): $n packages compiled"
    fi
  done
  if ! wait "$pid" || ! ms_built; then
    tail -n 30 "$ADDONS_BUILD_LOG" >&2
    die "the metrics-server build failed (full log: $ADDONS_BUILD_LOG)"
  fi
  say "metrics-server $METRICS_SERVER_VERSION built in $(elapsed_since "$since") -> $METRICS_SERVER_BIN"
}

# --- the host's address -------------------------------------------------------------------------------
# host_ip: this host's non-loopback IPv4 address, chosen as tskubelet chooses a node's address
# (src/node/address.ts): the first global address of the default route's interface, else the first
# global address of an interface that is not a pod network's. TSK_ADDONS_HOST_IP overrides it.
host_ip() {
  if [ -n "${TSK_ADDONS_HOST_IP:-}" ]; then echo "$TSK_ADDONS_HOST_IP"; return 0; fi
  local dev ip
  dev=$(ip -4 route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')
  if [ -n "$dev" ]; then
    ip=$(ip -4 -o addr show dev "$dev" scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
  fi
  if [ -z "${ip:-}" ]; then
    ip=$(ip -4 -o addr show scope global 2>/dev/null |
      awk '$2 !~ /^(cni|veth|flannel|cali|docker|kube-bridge)/ { sub(/\/.*/, "", $4); print $4; exit }')
  fi
  [ -n "${ip:-}" ] || die "this host has no non-loopback IPv4 address (set TSK_ADDONS_HOST_IP)"
  echo "$ip"
}

# --- credentials ----------------------------------------------------------------------------------------
# cluster_leaf NAME SUBJECT EKU [SAN]: METRICS_SERVER_DIR/NAME.{crt,key} signed by the cluster CA;
# kept while still valid for a day, signed by the current CA and asked the same (NAME.spec).
cluster_leaf() {
  local name=$1 subject=$2 eku=$3 san=${4:-} dir=$METRICS_SERVER_DIR spec work
  spec="subject=$subject eku=$eku san=$san"
  if [ -s "$dir/$name.key" ] && [ -s "$dir/$name.crt" ] && [ "$(cat "$dir/$name.spec" 2>/dev/null)" = "$spec" ] &&
    openssl verify -attime $(($(date +%s) + 86400)) -CAfile "$PKI_DIR/ca.crt" "$dir/$name.crt" >/dev/null 2>&1; then
    return 0
  fi
  work=$(mktemp -d)
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    echo "extendedKeyUsage = $eku"
    echo "authorityKeyIdentifier = keyid"
    if [ -n "$san" ]; then echo "subjectAltName = $san"; fi
  } >"$work/ext"
  if ! (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/key" &&
    openssl req -new -key "$work/key" -subj "$subject" -out "$work/csr" &&
    openssl x509 -req -in "$work/csr" -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" \
      -set_serial "0x$(openssl rand -hex 16)" -days 365 -sha256 -extfile "$work/ext" -out "$work/crt") 2>"$work/err"; then
    cat "$work/err" >&2
    rm -rf "$work"
    die "creating $dir/$name.crt failed"
  fi
  mv "$work/key" "$dir/$name.key"
  mv "$work/crt" "$dir/$name.crt"
  echo "$spec" >"$dir/$name.spec"
  rm -rf "$work"
  say "wrote $dir/$name.crt ($subject)"
}

# ensure_credentials: metrics-server's client certificate and kubeconfig, and its serving
# certificate (for the name the aggregator checks: <service>.<namespace>.svc).
ensure_credentials() {
  [ -s "$PKI_DIR/ca.key" ] || die "no cluster CA in $PKI_DIR: run npm run cluster:up"
  mkdir -p "$METRICS_SERVER_DIR"
  chmod 0700 "$ADDONS_DIR" "$METRICS_SERVER_DIR"
  cluster_leaf client "/CN=$METRICS_SERVER_USER" clientAuth
  cluster_leaf serving "/CN=metrics-server.kube-system.svc" serverAuth \
    "DNS:metrics-server.kube-system.svc,DNS:metrics-server.kube-system.svc.cluster.local,DNS:localhost,IP:127.0.0.1"
  local kc=$METRICS_SERVER_DIR/kubeconfig
  cat >"$kc.new" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tskubelet
  cluster:
    server: $APISERVER_URL
    certificate-authority: $PKI_DIR/ca.crt
users:
- name: metrics-server
  user:
    client-certificate: $METRICS_SERVER_DIR/client.crt
    client-key: $METRICS_SERVER_DIR/client.key
contexts:
- name: metrics-server
  context: {cluster: tskubelet, user: metrics-server}
current-context: metrics-server
EOF
  chmod 0600 "$kc.new"
  mv "$kc.new" "$kc"
}

# --- API objects ------------------------------------------------------------------------------------------

# apply_objects HOST_IP: RBAC, the Service and its EndpointSlice, the APIService (server-side
# apply: idempotent).
apply_objects() {
  local ip=$1
  kubectl_admin apply --server-side --force-conflicts --field-manager=tskubelet-addons -f - >/dev/null <<EOF || die "applying the metrics-server objects failed"
# What metrics-server reads: nodes and pods from the API server, nodes/metrics from the kubelets.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: $METRICS_SERVER_USER
  labels: {app.kubernetes.io/managed-by: tskubelet-addons}
rules:
- {apiGroups: [""], resources: [nodes/metrics], verbs: [get]}
- {apiGroups: [""], resources: [pods, nodes], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: $METRICS_SERVER_USER
  labels: {app.kubernetes.io/managed-by: tskubelet-addons}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: $METRICS_SERVER_USER}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: $METRICS_SERVER_USER}
---
# As an aggregated API server it delegates authentication (TokenReview) and authorization
# (SubjectAccessReview) to the API server ...
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: $METRICS_SERVER_USER:system:auth-delegator
  labels: {app.kubernetes.io/managed-by: tskubelet-addons}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: $METRICS_SERVER_USER}
---
# ... and reads the front-proxy CA from kube-system/extension-apiserver-authentication.
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: $METRICS_SERVER_USER:auth-reader
  namespace: kube-system
  labels: {app.kubernetes.io/managed-by: tskubelet-addons}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: $METRICS_SERVER_USER}
---
# Users with the view, edit or admin role may read the metrics (kubectl top).
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: tskubelet:aggregated-metrics-reader
  labels:
    app.kubernetes.io/managed-by: tskubelet-addons
    rbac.authorization.k8s.io/aggregate-to-view: "true"
    rbac.authorization.k8s.io/aggregate-to-edit: "true"
    rbac.authorization.k8s.io/aggregate-to-admin: "true"
rules:
- {apiGroups: [metrics.k8s.io], resources: [pods, nodes], verbs: [get, list, watch]}
---
# A Service without a selector: its only endpoint is the EndpointSlice below, this host.
apiVersion: v1
kind: Service
metadata:
  name: metrics-server
  namespace: kube-system
  labels: {app.kubernetes.io/managed-by: tskubelet-addons}
spec:
  type: ClusterIP
  ports:
  - {name: https, port: 443, protocol: TCP, targetPort: $METRICS_SERVER_PORT}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: metrics-server-host
  namespace: kube-system
  labels:
    app.kubernetes.io/managed-by: tskubelet-addons
    kubernetes.io/service-name: metrics-server
    endpointslice.kubernetes.io/managed-by: tskubelet-addons
addressType: IPv4
ports:
- {name: https, port: $METRICS_SERVER_PORT, protocol: TCP}
endpoints:
- addresses: ["$ip"]
  conditions: {ready: true}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta1.metrics.k8s.io
  labels: {app.kubernetes.io/managed-by: tskubelet-addons}
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  service: {name: metrics-server, namespace: kube-system, port: 443}
  caBundle: $(base64 -w0 "$PKI_DIR/ca.crt")
EOF
}

# delete_objects: the APIService first (an APIService without a backend breaks discovery, and with
# it `kubectl` and namespace deletion), then the rest; each only if it exists.
delete_objects() {
  kubectl_admin delete apiservice v1beta1.metrics.k8s.io --ignore-not-found --wait=false >/dev/null
  kubectl_admin delete -n kube-system service/metrics-server endpointslice/metrics-server-host \
    rolebinding/"$METRICS_SERVER_USER:auth-reader" --ignore-not-found --wait=false >/dev/null
  kubectl_admin delete clusterrole/"$METRICS_SERVER_USER" clusterrole/tskubelet:aggregated-metrics-reader \
    clusterrolebinding/"$METRICS_SERVER_USER" clusterrolebinding/"$METRICS_SERVER_USER:system:auth-delegator" \
    --ignore-not-found --wait=false >/dev/null
}

# --- the process --------------------------------------------------------------------------------------------
ms_args() {
  local kc=$METRICS_SERVER_DIR/kubeconfig
  printf '%s\n' --kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
    --secure-port="$METRICS_SERVER_PORT" \
    --tls-cert-file="$METRICS_SERVER_DIR/serving.crt" --tls-private-key-file="$METRICS_SERVER_DIR/serving.key" \
    --kubelet-insecure-tls --kubelet-preferred-address-types=InternalIP --kubelet-use-node-status-port \
    --kubelet-request-timeout="$METRICS_SERVER_KUBELET_TIMEOUT" --metric-resolution="$METRICS_SERVER_RESOLUTION"
}

# ms_pid: pid of the running metrics-server (the owner of its port running our binary, or the one
# in the pid file); empty when none.
ms_pid() {
  local pid exe
  pid=$(tcp_owner_pid "*:$METRICS_SERVER_PORT")
  if [ -z "$pid" ]; then pid=$(tcp_owner_pid "0.0.0.0:$METRICS_SERVER_PORT"); fi
  if [ -z "$pid" ]; then pid=$(cat "$METRICS_SERVER_PIDFILE" 2>/dev/null || true); fi
  pid_alive "$pid" || return 0
  exe=$(exe_of "$pid")
  if [ "$(basename "${exe% (deleted)}")" = metrics-server ]; then echo "$pid"; fi
}

ms_healthy() {
  [ "$(curl -fsS --max-time 2 --cacert "$PKI_DIR/ca.crt" "https://127.0.0.1:$METRICS_SERVER_PORT/livez" 2>/dev/null)" = ok ]
}

apiserver_ready() {
  [ "$(curl -fsS --max-time 2 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" \
    "$APISERVER_URL/readyz" 2>/dev/null)" = ok ]
}

apiservice_available() {
  [ "$(kubectl_admin get apiservice v1beta1.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status}' 2>/dev/null)" = True ]
}

start_ms() {
  local args=() i pid owner
  owner=$(tcp_owner_pid "*:$METRICS_SERVER_PORT")
  [ -z "$owner" ] || die "port $METRICS_SERVER_PORT is taken by pid $owner ($(exe_of "$owner")); set TSK_METRICS_SERVER_PORT"
  mapfile -t args < <(ms_args)
  printf '\n=== %s started by tskubelet scripts/addons.sh: %s %s\n' "$(date -Is)" "$METRICS_SERVER_BIN" "${args[*]}" >>"$METRICS_SERVER_LOG"
  # spawn_daemon closes every inherited descriptor: our lock (7), a test's flock, ...
  spawn_daemon "$METRICS_SERVER_LOG" "$METRICS_SERVER_BIN" "${args[@]}"
  pid=$!
  echo "$pid" >"$METRICS_SERVER_PIDFILE"
  printf '%s\n' "${args[@]}" >"$METRICS_SERVER_ARGSFILE"
  for ((i = 0; i < METRICS_SERVER_READY_TIMEOUT * 5; i++)); do
    if ms_healthy; then say "started metrics-server (pid $pid, https://0.0.0.0:$METRICS_SERVER_PORT, log $METRICS_SERVER_LOG)"; return 0; fi
    if ! pid_alive "$pid"; then
      tail -n 25 "$METRICS_SERVER_LOG" >&2
      die "metrics-server exited during start-up (log: $METRICS_SERVER_LOG)"
    fi
    sleep 0.2
  done
  tail -n 25 "$METRICS_SERVER_LOG" >&2
  die "metrics-server did not answer /livez within ${METRICS_SERVER_READY_TIMEOUT}s (log: $METRICS_SERVER_LOG)"
}

lock_addons() {
  mkdir -p "$STATE_DIR" "$LOG_DIR" "$PID_DIR" "$ADDONS_DIR"
  exec 7>"$ADDONS_DIR/addons.lock"
  flock -w 300 7 || die "another scripts/addons.sh still holds $ADDONS_DIR/addons.lock after 300s"
}

cmd_ms_up() {
  need_root
  ms_built || die "metrics-server $METRICS_SERVER_VERSION is not built: run bash scripts/addons.sh build (once per machine, a few minutes)"
  command -v openssl >/dev/null || die "openssl not found (npm run setup installs it)"
  # The control plane, with today's flags (--enable-aggregator-routing): a running, current one
  # is kept (well under a second).
  bash "$root/scripts/cluster.sh" up >/dev/null || die "scripts/cluster.sh up failed"
  lock_addons
  local ip pid
  ip=$(host_ip)
  ensure_credentials
  apply_objects "$ip"
  pid=$(ms_pid)
  if [ -n "$pid" ] && [ "$(ms_args)" != "$(cat "$METRICS_SERVER_ARGSFILE" 2>/dev/null)" ]; then
    say "restarting metrics-server (pid $pid): its flags changed"
    stop_pid metrics-server "$pid"
    pid=
  fi
  if [ -z "$pid" ]; then start_ms; fi
  local i
  for ((i = 0; i < APISERVICE_TIMEOUT * 2; i++)); do
    if apiservice_available; then
      printf 'addons: metrics-server up (%s): pid %s, https://%s:%s behind APIService v1beta1.metrics.k8s.io (Available); log %s\n' \
        "$(took)" "$(ms_pid)" "$ip" "$METRICS_SERVER_PORT" "$METRICS_SERVER_LOG"
      return 0
    fi
    sleep 0.5
  done
  kubectl_admin get apiservice v1beta1.metrics.k8s.io -o jsonpath='{.status.conditions}' >&2 || true
  echo >&2
  tail -n 15 "$METRICS_SERVER_LOG" >&2
  die "APIService v1beta1.metrics.k8s.io is not Available after ${APISERVICE_TIMEOUT}s (the aggregator cannot reach https://$ip:$METRICS_SERVER_PORT?)"
}

cmd_ms_down() {
  need_root
  lock_addons
  local pid
  if apiserver_ready; then
    delete_objects
  else
    say "the API server does not answer: the metrics-server objects (if any) are left in place"
  fi
  pid=$(ms_pid)
  if [ -n "$pid" ]; then
    stop_pid metrics-server "$pid"
    say "stopped metrics-server (pid $pid)"
  fi
  rm -f "$METRICS_SERVER_PIDFILE" "$METRICS_SERVER_ARGSFILE"
  say "metrics-server down ($(took)); credentials kept in $METRICS_SERVER_DIR"
}

cmd_status() {
  local pid ok=0
  if ms_built; then echo "metrics-server $METRICS_SERVER_VERSION: built ($METRICS_SERVER_BIN)"
  else echo "metrics-server $METRICS_SERVER_VERSION: not built (bash scripts/addons.sh build)"; ok=3; fi
  pid=$(ms_pid)
  if [ -n "$pid" ]; then
    echo "  process   running  pid $pid  $(rss_mib "$pid") MiB  port $METRICS_SERVER_PORT  log $METRICS_SERVER_LOG"
  else
    echo "  process   stopped  log $METRICS_SERVER_LOG"; ok=3
  fi
  if apiserver_ready && apiservice_available; then echo "  APIService v1beta1.metrics.k8s.io Available"
  else echo "  APIService v1beta1.metrics.k8s.io not Available (or absent)"; ok=3; fi
  if command -v prometheus >/dev/null; then echo "prometheus: $(prometheus --version 2>&1 | head -n 1)"
  else echo "prometheus: not installed (npm run setup installs Debian's package)"; fi
  return "$ok"
}

case ${1:-} in
  build) cmd_build ;;
  metrics-server-up) cmd_ms_up ;;
  metrics-server-down) cmd_ms_down ;;
  status) cmd_status ;;
  -h | --help | help) usage 0 ;;
  *) usage ;;
esac
