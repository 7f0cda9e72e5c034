#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for tskubelet's tests, built from the official
# sources in the Go module registry (scripts/cluster/build.sh). Run as root.
#
#   scripts/cluster.sh up      build once per machine (cached in /var/cache/tskubelet), create the
#                              PKI, start etcd, kube-apiserver (https://127.0.0.1:6443),
#                              kube-controller-manager and kube-scheduler, apply the node-bootstrap
#                              objects and write .cluster/ in this clone. Idempotent: when all runs
#                              (started from any clone) it only refreshes .cluster/ and prints. A
#                              running component whose flags this script changed is restarted
#                              (after the API server, the controller-manager and scheduler too).
#   scripts/cluster.sh down    stops the four (TERM, then KILL); keeps the build cache and state
#   scripts/cluster.sh status  what runs, where, and its memory; exit 0 when all four run, else 3
#   scripts/cluster.sh reset   down, then deletes the cluster state (PKI, etcd data, logs)
#   scripts/cluster.sh build   only builds the binaries (what `up` does first)
#   scripts/cluster.sh check   smoke test of a running cluster, TLS bootstrap of a fake node
#                              included (scripts/cluster/smoke-test.sh)
#
# Cluster state is per machine in /var/lib/tskubelet-cluster (shared by every clone: CI clones
# fresh each run). Per clone, .cluster/ holds admin.kubeconfig, bootstrap.kubeconfig, ca.crt,
# bin/ (links to the cached binaries) and links to the state's logs/ and pki/.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
cluster_dir="$root/scripts/cluster"
# shellcheck source-path=SCRIPTDIR source=cluster/lib.sh
. "$cluster_dir/lib.sh"
repo_dir="$root/.cluster"
started_ns=$(date +%s%N)

# usage [EXIT_CODE]: prints the header comment above.
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it writes $CACHE_ROOT and $STATE_DIR); try: sudo npm run cluster:up"
}

# elapsed_ms START_NS: time since START_NS (from date +%s%N), as "1.2s".
elapsed_ms() {
  local ms=$((($(date +%s%N) - $1) / 1000000))
  printf '%d.%01ds' $((ms / 1000)) $((ms % 1000 / 100))
}
took() { elapsed_ms "$started_ns"; }

# --- build -------------------------------------------------------------------------------------------
# builder_pid: pid of a running scripts/cluster/build.sh (ours, from the pid file), else empty.
builder_pid() {
  local pid
  pid=$(cat "$BUILD_PIDFILE" 2>/dev/null || true)
  pid_alive "$pid" || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'cluster/build\.sh'; then echo "$pid"; fi
}

# ensure_built: returns when both caches hold a finished build. Starts scripts/cluster/build.sh
# detached (it survives this shell; a later `up` attaches to it) and polls it, printing progress
# every BUILD_PROGRESS_EVERY s. Dies with the log tail when the build fails.
ensure_built() {
  builds_done && return 0
  mkdir -p "$CACHE_ROOT"
  local pid since last_report=0 compiled step
  pid=$(builder_pid)
  if [ -n "$pid" ]; then
    since=$(stat -c %Y "$BUILD_PIDFILE")
    say "a build is already running (pid $pid, for $(elapsed_since "$since")); waiting for it (log: $BUILD_LOG)"
  else
    say "building Kubernetes $K8S_VERSION and etcd $ETCD_VERSION from the Go module registry into $CACHE_ROOT"
    say "once per machine: about 8 min on 2 cores (more when the Go module cache is cold or slow)."
    say "the build continues if this shell ends; a later up waits for it (log: $BUILD_LOG)"
    printf '\n=== %s scripts/cluster.sh started a build\n' "$(date -Is)" >>"$BUILD_LOG"
    # nice: the build takes both cores for a long time; let interactive work go first.
    setsid nohup nice -n 10 bash "$cluster_dir/build.sh" >>"$BUILD_LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$BUILD_PIDFILE"
    since=$(date +%s)
  fi
  while pid_alive "$pid"; do
    sleep 2
    if (($(date +%s) - last_report >= BUILD_PROGRESS_EVERY)); then
      last_report=$(date +%s)
      # Lines after the last "build: started" that are not our own or go's download notes are
      # package paths `go build -v` compiled.
      compiled=$(awk '/^build: started/ { n = 0; next } NF && !/^(build:|go: |===)/ { n++ } END { print n + 0 }' "$BUILD_LOG")
      step=$(grep '^build: ' "$BUILD_LOG" | tail -n 1 | cut -c8-)
      say "building ($(elapsed_since "$since")): $compiled packages compiled; $step"
    fi
  done
  if ! builds_done; then
    tail -n 30 "$BUILD_LOG" >&2
    die "the build failed (full log: $BUILD_LOG); fix the cause and run again"
  fi
  say "build finished after $(elapsed_since "$since")"
}

# --- repo-side files -----------------------------------------------------------------------------------
# link_repo: (re)writes .cluster/ in this clone: kubeconfigs, CA, bin links, state links.
link_repo() {
  local b
  mkdir -p "$repo_dir/bin"
  for b in "${K8S_BINARIES[@]}" "${ETCD_BINARIES[@]}"; do
    ln -sfn "$(component_bin "$b")" "$repo_dir/bin/$b"
  done
  install_file "$KUBECONFIG_DIR/admin.kubeconfig" "$repo_dir/admin.kubeconfig" 0600 || true
  install_file "$KUBECONFIG_DIR/bootstrap.kubeconfig" "$repo_dir/bootstrap.kubeconfig" 0600 || true
  install_file "$PKI_DIR/ca.crt" "$repo_dir/ca.crt" 0644 || true
  ln -sfn "$LOG_DIR" "$repo_dir/logs"
  ln -sfn "$PKI_DIR" "$repo_dir/pki"
}

# --- components --------------------------------------------------------------------------------------
component_args() {
  case $1 in
    etcd)
      # Plain HTTP on loopback: only processes on this machine can reach it.
      printf '%s\n' --name=tskubelet --data-dir="$ETCD_DATA" \
        --listen-client-urls="$ETCD_CLIENT_URL" --advertise-client-urls="$ETCD_CLIENT_URL" \
        --listen-peer-urls="$ETCD_PEER_URL" --initial-advertise-peer-urls="$ETCD_PEER_URL" \
        --initial-cluster="tskubelet=$ETCD_PEER_URL" --initial-cluster-state=new
      ;;
    kube-apiserver)
      # --endpoint-reconciler-type=none: the `kubernetes` Service gets no Endpoints, because
      # Endpoints may not hold a loopback address and this API server listens only on loopback.
      # --enable-aggregator-routing: the aggregator calls an APIService's backend (metrics-server,
      # scripts/addons.sh) at an address of its Service's EndpointSlices, not at the ClusterIP:
      # there is no kube-proxy here to route ClusterIPs.
      printf '%s\n' --etcd-servers="$ETCD_CLIENT_URL" \
        --bind-address="$APISERVER_HOST" --secure-port="$APISERVER_PORT" \
        --advertise-address="$APISERVER_HOST" --endpoint-reconciler-type=none \
        --enable-aggregator-routing=true \
        --tls-cert-file="$PKI_DIR/apiserver.crt" --tls-private-key-file="$PKI_DIR/apiserver.key" \
        --client-ca-file="$PKI_DIR/ca.crt" \
        --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
        --enable-bootstrap-token-auth=true \
        --service-account-issuer="$SA_ISSUER" --service-account-key-file="$PKI_DIR/sa.pub" \
        --service-account-signing-key-file="$PKI_DIR/sa.key" \
        --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
        --kubelet-client-certificate="$PKI_DIR/apiserver-kubelet-client.crt" \
        --kubelet-client-key="$PKI_DIR/apiserver-kubelet-client.key" \
        --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname \
        --requestheader-client-ca-file="$PKI_DIR/front-proxy-ca.crt" \
        --requestheader-allowed-names=front-proxy-client --requestheader-username-headers=X-Remote-User \
        --requestheader-group-headers=X-Remote-Group --requestheader-extra-headers-prefix=X-Remote-Extra- \
        --proxy-client-cert-file="$PKI_DIR/front-proxy-client.crt" \
        --proxy-client-key-file="$PKI_DIR/front-proxy-client.key"
      ;;
    kube-controller-manager)
      local kc="$KUBECONFIG_DIR/controller-manager.kubeconfig"
      printf '%s\n' --kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
        --bind-address=127.0.0.1 --secure-port="$CONTROLLER_MANAGER_PORT" \
        --client-ca-file="$PKI_DIR/ca.crt" --root-ca-file="$PKI_DIR/ca.crt" \
        --cluster-signing-cert-file="$PKI_DIR/ca.crt" --cluster-signing-key-file="$PKI_DIR/ca.key" \
        --controllers='*,bootstrapsigner,tokencleaner' \
        --service-account-private-key-file="$PKI_DIR/sa.key" --use-service-account-credentials=true \
        --service-cluster-ip-range="$SERVICE_CIDR" --leader-elect=false
      ;;
    kube-scheduler)
      local kc="$KUBECONFIG_DIR/scheduler.kubeconfig"
      printf '%s\n' --kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
        --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false
      ;;
  esac
}

# component_ready NAME: one health probe of NAME.
component_ready() {
  case $1 in
    etcd) curl -fsS --max-time 2 "$ETCD_CLIENT_URL/health" 2>/dev/null | grep -q '"health":"true"' ;;
    kube-apiserver)
      [ "$(curl -fsS --max-time 2 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" \
        "$APISERVER_URL/readyz" 2>/dev/null)" = ok ]
      ;;
    # Their serving certificates are self-signed in memory; /healthz is open to anyone.
    *) [ "$(curl -fsSk --max-time 2 "https://$(component_listen "$1")/healthz" 2>/dev/null)" = ok ] ;;
  esac
}

# check_ours NAME PID: dies when the running NAME is not this version's binary.
check_ours() {
  local exe
  exe=$(exe_of "$2")
  exe=${exe% (deleted)}
  [ "$exe" = "$(component_bin "$1")" ] ||
    die "$1 (pid $2) runs $exe, not $(component_bin "$1"); stop it first: bash scripts/cluster.sh down"
}

# start_component NAME: starts NAME detached (setsid nohup, log in LOG_DIR, pid in PID_DIR) and
# waits until its health probe passes; dies with the log tail on exit or timeout.
start_component() {
  local name=$1 bin log pid owner timeout i
  bin=$(component_bin "$name")
  log="$LOG_DIR/$name.log"
  owner=$(tcp_owner_pid "$(component_listen "$name")")
  [ -z "$owner" ] || die "$(component_listen "$name") is taken by pid $owner ($(exe_of "$owner")); $name cannot start"
  local args=() t0
  t0=$(date +%s%N)
  mapfile -t args < <(component_args "$name")
  printf '\n=== %s started by tskubelet scripts/cluster.sh: %s %s\n' "$(date -Is)" "$bin" "${args[*]}" >>"$log"
  # spawn_daemon closes every inherited descriptor: the state lock (7), a caller's flock, ...
  spawn_daemon "$log" "$bin" "${args[@]}"
  pid=$!
  echo "$pid" >"$PID_DIR/$name.pid"
  printf '%s\n' "${args[@]}" >"$PID_DIR/$name.args"
  case $name in
    etcd) timeout=$ETCD_READY_TIMEOUT ;;
    kube-apiserver) timeout=$APISERVER_READY_TIMEOUT ;;
    *) timeout=$COMPONENT_READY_TIMEOUT ;;
  esac
  for ((i = 0; i < timeout * 5; i++)); do
    if component_ready "$name"; then
      say "started $name (pid $pid) in $(elapsed_ms "$t0")"
      return 0
    fi
    if ! pid_alive "$pid"; then
      tail -n 25 "$log" >&2
      die "$name exited during start-up (log: $log)"
    fi
    sleep 0.2
  done
  tail -n 25 "$log" >&2
  die "$name did not become healthy within ${timeout}s (pid $pid still runs; log: $log)"
}

# args_match NAME: true when the running NAME was started with the flags this script gives it now.
args_match() { [ "$(component_args "$1")" = "$(cat "$PID_DIR/$1.args" 2>/dev/null)" ]; }

# all_current: true when every component runs, is this version's binary and has today's flags.
all_current() {
  local c pid
  for c in "${COMPONENTS[@]}"; do
    pid=$(component_pid "$c")
    [ -n "$pid" ] && [ "$(exe_of "$pid")" = "$(component_bin "$c")" ] && args_match "$c" || return 1
  done
}

# running_count: how many of COMPONENTS run (ours, checked).
running_count() {
  local n=0 c pid
  for c in "${COMPONENTS[@]}"; do
    pid=$(component_pid "$c")
    if [ -n "$pid" ]; then n=$((n + 1)); fi
  done
  echo "$n"
}

kubectl_admin() { "$(component_bin kubectl)" --kubeconfig "$KUBECONFIG_DIR/admin.kubeconfig" "$@"; }

b64s() { printf '%s' "$1" | base64 -w0; }

# apply_bootstrap: the objects nodes need to join by TLS bootstrap, as kubeadm creates them.
apply_bootstrap() {
  local token id secret
  token=$(cat "$PKI_DIR/bootstrap-token")
  id=${token%%.*}
  secret=${token#*.}
  kubectl_admin apply --server-side --force-conflicts --field-manager=tskubelet-cluster -f - >/dev/null <<EOF || die "applying the bootstrap objects failed"
# Bootstrap token: authenticates as system:bootstrap:$id in groups system:bootstrappers and
# $BOOTSTRAP_EXTRA_GROUP; the bootstrapsigner signs kube-public/cluster-info with it.
apiVersion: v1
kind: Secret
metadata:
  name: bootstrap-token-$id
  namespace: kube-system
type: bootstrap.kubernetes.io/token
data:
  description: $(b64s "tskubelet test cluster (scripts/cluster.sh)")
  token-id: $(b64s "$id")
  token-secret: $(b64s "$secret")
  usage-bootstrap-authentication: $(b64s true)
  usage-bootstrap-signing: $(b64s true)
  auth-extra-groups: $(b64s "$BOOTSTRAP_EXTRA_GROUP")
---
# Bootstrapping nodes may create CertificateSigningRequests ...
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tskubelet:kubelet-bootstrap
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node-bootstrapper}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:bootstrappers}
---
# ... which the csrapproving controller approves for them (first client certificate) ...
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tskubelet:node-autoapprove-bootstrap
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:bootstrappers}
---
# ... and for nodes renewing their own client certificate.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tskubelet:node-autoapprove-certificate-rotation
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:nodes}
---
# The API server calls kubelets (logs, exec, port-forward, metrics) as this user.
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: tskubelet:apiserver-kubelet-api-admin
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:kubelet-api-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: kube-apiserver-kubelet-client}
---
# Discovery for joining nodes, readable anonymously and signed by the bootstrap token (kubeadm).
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-info
  namespace: kube-public
data:
  kubeconfig: |
    apiVersion: v1
    kind: Config
    clusters:
    - name: ""
      cluster:
        server: $APISERVER_URL
        certificate-authority-data: $(base64 -w0 "$PKI_DIR/ca.crt")
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: tskubelet:bootstrap-signer-clusterinfo
  namespace: kube-public
rules:
- {apiGroups: [""], resources: [configmaps], resourceNames: [cluster-info], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: tskubelet:bootstrap-signer-clusterinfo
  namespace: kube-public
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: tskubelet:bootstrap-signer-clusterinfo}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: system:anonymous}
EOF
}

# wait_default_sa: pods cannot be created in `default` before the controller-manager made its SA.
wait_default_sa() {
  local i
  for ((i = 0; i < DEFAULT_SA_TIMEOUT * 2; i++)); do
    if kubectl_admin get serviceaccount default -n default -o name >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  tail -n 25 "$LOG_DIR/kube-controller-manager.log" >&2
  die "the controller-manager did not create ServiceAccount default/default within ${DEFAULT_SA_TIMEOUT}s"
}

# --- reports ------------------------------------------------------------------------------------------
print_where() {
  local c pid
  for c in "${COMPONENTS[@]}"; do
    pid=$(component_pid "$c")
    if [ -n "$pid" ]; then
      printf '  %-24s running  pid %-7s %5s MiB  %-22s log %s\n' "$c" "$pid" "$(rss_mib "$pid")" \
        "$(component_listen "$c")" "$LOG_DIR/$c.log"
    else
      printf '  %-24s stopped                            %-22s log %s\n' "$c" "$(component_listen "$c")" "$LOG_DIR/$c.log"
    fi
  done
  printf '  %-24s %s\n' "API server" "$APISERVER_URL" \
    "admin kubeconfig" "$repo_dir/admin.kubeconfig" \
    "bootstrap kubeconfig" "$repo_dir/bootstrap.kubeconfig (token groups system:bootstrappers, $BOOTSTRAP_EXTRA_GROUP)" \
    "kubectl" "$repo_dir/bin/kubectl" \
    "state" "$STATE_DIR (pki, etcd, logs, pids)" \
    "binaries" "$K8S_CACHE/bin, $ETCD_CACHE/bin"
}

# --- commands -----------------------------------------------------------------------------------------
cmd_up() {
  need_root
  command -v curl >/dev/null || die "curl not found (npm run setup installs it)"
  # Fast path: everything runs (maybe started from another clone) and answers.
  if builds_done && all_current && component_ready kube-apiserver; then
    link_repo
    printf 'cluster: already up (%s): Kubernetes %s, etcd %s\n' "$(took)" "$K8S_VERSION" "$ETCD_VERSION"
    print_where
    return 0
  fi

  ensure_built
  mkdir -p "$STATE_DIR" "$LOG_DIR" "$PID_DIR"
  exec 7>"$STATE_LOCK"
  flock -w 300 7 || die "another scripts/cluster.sh still holds $STATE_LOCK after 300s"

  local c pid changed
  changed=$(bash "$cluster_dir/pki.sh" 2>&1) || { printf '%s\n' "$changed" >&2; die "creating the PKI failed"; }
  if [ -n "$changed" ]; then printf '%s\n' "$changed" >&2; fi
  if [ -n "$changed" ] && [ "$(running_count)" -gt 0 ]; then
    say "certificates changed: restarting the running components"
    cmd_down_locked
  fi
  mkdir -p "$ETCD_DATA"
  chmod 0700 "$ETCD_DATA"
  local api_restarted=
  for c in "${COMPONENTS[@]}"; do
    pid=$(component_pid "$c")
    if [ -n "$pid" ]; then check_ours "$c" "$pid"; fi
    if [ -n "$pid" ] && ! args_match "$c"; then
      say "restarting $c (pid $pid): the flags scripts/cluster.sh gives it changed"
      stop_pid "$c" "$pid"
      pid=
      if [ "$c" = kube-apiserver ]; then api_restarted=1; fi
    elif [ -n "$pid" ] && [ -n "$api_restarted" ]; then
      # After an API-server restart their informers would wait out a watch back-off (up to a
      # minute: no CSR approved, no pod scheduled meanwhile); a restart takes a second or two.
      say "restarting $c (pid $pid) after the API server's restart"
      stop_pid "$c" "$pid"
      pid=
    fi
    if [ -n "$pid" ]; then
      component_ready "$c" || say "warning: $c (pid $pid) runs but is not healthy yet (log: $LOG_DIR/$c.log)"
    else
      start_component "$c"
    fi
  done
  apply_bootstrap
  wait_default_sa
  link_repo
  printf 'cluster: up (%s): Kubernetes %s, etcd %s\n' "$(took)" "$K8S_VERSION" "$ETCD_VERSION"
  print_where
}

# cmd_down_locked: stops the components in reverse start order (caller holds the state lock).
cmd_down_locked() {
  local i c pid
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[i]}
    pid=$(component_pid "$c")
    if [ -n "$pid" ]; then
      stop_pid "$c" "$pid"
      say "stopped $c (pid $pid)"
    fi
    rm -f "$PID_DIR/$c.pid" "$PID_DIR/$c.args"
  done
}

cmd_down() {
  need_root
  if [ ! -d "$STATE_DIR" ]; then say "no cluster state in $STATE_DIR: nothing runs"; return 0; fi
  exec 7>"$STATE_LOCK"
  flock -w 300 7 || die "another scripts/cluster.sh still holds $STATE_LOCK after 300s"
  if [ "$(running_count)" -eq 0 ]; then say "not running"; fi
  cmd_down_locked
  say "down ($(took)); build cache kept in $CACHE_ROOT, state kept in $STATE_DIR"
}

cmd_reset() {
  if [ -d "$STATE_DIR" ]; then
    exec 7>"$STATE_LOCK"
    flock -w 300 7 || die "another scripts/cluster.sh still holds $STATE_LOCK after 300s"
    cmd_down_locked
  fi
  rm -rf "${STATE_DIR:?}"
  rm -f "$repo_dir/admin.kubeconfig" "$repo_dir/bootstrap.kubeconfig" "$repo_dir/ca.crt"
  say "deleted $STATE_DIR (PKI, etcd data, logs); the next up creates a new cluster"
}

cmd_status() {
  local n build pid
  n=$(running_count)
  if builds_done; then build="built"
  elif pid=$(builder_pid) && [ -n "$pid" ]; then build="building (pid $pid, log $BUILD_LOG)"
  else build="not built (npm run cluster:up builds it)"; fi
  if [ "$n" -eq "${#COMPONENTS[@]}" ]; then
    if component_ready kube-apiserver; then echo "cluster: up ($n/${#COMPONENTS[@]} running, API ready)"
    else echo "cluster: $n/${#COMPONENTS[@]} running, API server NOT ready"; fi
  else
    echo "cluster: $n/${#COMPONENTS[@]} running"
  fi
  printf '  %-24s %s\n' "Kubernetes $K8S_VERSION" "$build"
  print_where
  [ "$n" -eq "${#COMPONENTS[@]}" ] || exit 3
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  reset) need_root; cmd_reset ;;
  build) need_root; ensure_built; say "binaries in $K8S_CACHE/bin and $ETCD_CACHE/bin" ;;
  check) exec bash "$cluster_dir/smoke-test.sh" ;;
  -h | --help | help) usage 0 ;;
  *) usage ;;
esac
