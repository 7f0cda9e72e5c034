#!/usr/bin/env bash
# Prepares this machine as a tskubelet node (run as root; `npm run setup`). Idempotent: each step
# checks first and only acts when something is missing or differs, so a warm run takes ~1 s.
#   1. installs the Debian packages (containerd, runc, CNI plugins, registry, skopeo, umoci,
#      prometheus for the kubelet API tests, ...)
#   2. writes the containerd config, the local registry's hosts.toml, the CNI conflist and the
#      registry config (only when their content differs)
#   3. starts the local registry (127.0.0.1:5000) and containerd when they are not running
#      (no systemd here: detached with setsid), restarting either only when its config changed
#   4. builds and pushes 127.0.0.1:5000/pause:3.10 and 127.0.0.1:5000/busybox:1.36 when missing
#   5. checks containerd can pull both images
# Paths: see scripts/setup/lib.sh. Stop the daemons with scripts/teardown.sh.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
setup_dir="$root/scripts/setup"
# shellcheck source-path=SCRIPTDIR source=setup/lib.sh
. "$setup_dir/lib.sh"

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts containerd); try: sudo npm run setup"

started_at=$(date +%s%N)
done_list=()
did() { done_list+=("$1"); say "$1"; }

mkdir -p "$TSK_STATE_DIR"
exec 9>"$TSK_STATE_DIR/setup.lock"
flock -w 300 9 || die "another setup.sh still holds $TSK_STATE_DIR/setup.lock after 300s"

tmp=$(mktemp -d)
cleanup() {
  rm -rf "$tmp"
  if [ -n "${policy_rc_d_ours:-}" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

# --- 1. packages -------------------------------------------------------------------------------
# iptables: bridge ipMasq and portmap program NAT rules. kmod: modprobe. procps: sysctl.
# util-linux: flock, setsid. gcc/libc6-dev: static pause. curl: registry probes.
# prometheus: a real client of the kubelet API for the tests (test/metrics-clients.test.ts runs
# it with a config of its own; the package's service is never started: see policy-rc.d below).
packages=(containerd runc containernetworking-plugins docker-registry skopeo umoci busybox-static
  gcc libc6-dev iproute2 iptables kmod procps util-linux curl openssl prometheus)
# The Go toolchain fetches the CRI definition (k8s.io/cri-api); use the machine's when it has one.
command -v go >/dev/null 2>&1 || packages+=(golang-go)
mapfile -t installed < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>/dev/null | awk '$1 == "ii" { print $2 }')
missing=()
for p in "${packages[@]}"; do
  case " ${installed[*]} " in *" $p "*) ;; *) missing+=("$p") ;; esac
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (apt-get)"
  # Keep package scripts from starting services (Debian's docker-registry would take :5000,
  # prometheus :9090).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    policy_rc_d_ours=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq >"$tmp/apt.log" 2>&1 ||
    { cat "$tmp/apt.log" >&2; die "apt-get update failed"; }
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >"$tmp/apt.log" 2>&1 ||
    { tail -n 40 "$tmp/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
  if [ -n "${policy_rc_d_ours:-}" ]; then rm -f /usr/sbin/policy-rc.d; policy_rc_d_ours=; fi
  did "installed ${missing[*]}"
fi
for bin in containerd ctr runc docker-registry skopeo umoci gcc ss curl prometheus; do
  command -v "$bin" >/dev/null || die "$bin not found after installing packages"
done
for plugin in bridge host-local portmap loopback; do
  [ -x "$CNI_BIN_DIR/$plugin" ] || die "CNI plugin $CNI_BIN_DIR/$plugin missing (package containernetworking-plugins)"
done

# --- kernel bits the CNI bridge wants (best effort: this sandbox may refuse them) -------------------
if [ "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)" != 1 ]; then
  if sysctl -qw net.ipv4.ip_forward=1 2>/dev/null; then did "enabled net.ipv4.ip_forward"
  else say "warning: could not set net.ipv4.ip_forward=1 (the bridge plugin will try too)"; fi
fi
if [ ! -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
  if modprobe br_netfilter >/dev/null 2>&1; then did "loaded br_netfilter"; fi
fi
if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] && [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" != 1 ]; then
  if sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null; then did "enabled net.bridge.bridge-nf-call-iptables"; fi
fi

# --- 2. config files -----------------------------------------------------------------------------
"$setup_dir/containerd-config.sh" "$PAUSE_IMAGE" "$CERTS_DIR" "$CNI_BIN_DIR" >"$tmp/config.toml" ||
  die "could not render the containerd config (scripts/setup/containerd-config.sh)"
containerd_config_changed=
if install_file "$tmp/config.toml" "$CONTAINERD_CONFIG"; then containerd_config_changed=1; did "wrote $CONTAINERD_CONFIG"; fi
# hosts.toml is read at each pull: no restart needed when it changes.
if install_file "$setup_dir/hosts.toml" "$CERTS_DIR/$REGISTRY_HOST/hosts.toml"; then did "wrote $CERTS_DIR/$REGISTRY_HOST/hosts.toml"; fi
# The CRI plugin watches /etc/cni/net.d and reloads: no restart needed either.
if install_file "$setup_dir/10-tskubelet.conflist" "$CNI_CONF"; then did "wrote $CNI_CONF"; fi
first_cni=$(find "$(dirname "$CNI_CONF")" -maxdepth 1 -type f \( -name '*.conflist' -o -name '*.conf' -o -name '*.json' \) | sort | head -n 1)
[ "$first_cni" = "$CNI_CONF" ] || say "warning: $first_cni sorts before $CNI_CONF; containerd will use it for pod networking"
registry_config_changed=
if install_file "$setup_dir/registry.yml" "$REGISTRY_CONFIG"; then registry_config_changed=1; did "wrote $REGISTRY_CONFIG"; fi
mkdir -p "$REGISTRY_DATA"

# --- 3. daemons -----------------------------------------------------------------------------------
# start_detached PIDFILE LOG CMD...: runs CMD in its own session (survives this shell), appends
# its output to LOG and records its pid. Returns at once.
start_detached() {
  local pidfile=$1 log=$2
  shift 2
  printf '\n=== %s started by tskubelet setup: %s\n' "$(date -Is)" "$*" >>"$log"
  setsid nohup "$@" >>"$log" 2>&1 </dev/null 9>&- &
  echo $! >"$pidfile"
}

# wait_ready NAME TIMEOUT_S PIDFILE LOG PROBE: polls PROBE every 0.1 s; dies with the log tail when
# the daemon exits or TIMEOUT_S passes.
wait_ready() {
  local name=$1 timeout_s=$2 pidfile=$3 log=$4 probe=$5 i
  for ((i = 0; i < timeout_s * 10; i++)); do
    if "$probe"; then return 0; fi
    if ! pid_alive "$(cat "$pidfile" 2>/dev/null)"; then
      tail -n 20 "$log" >&2
      die "$name exited during start-up (log: $log)"
    fi
    sleep 0.1
  done
  tail -n 20 "$log" >&2
  die "$name did not answer within ${timeout_s}s (log: $log)"
}

pid=$(registry_pid)
if [ -n "$pid" ] && [ -n "$registry_config_changed" ]; then
  stop_pid registry "$pid"; pid=
  did "stopped the registry (config changed)"
fi
registry_started=
if [ -z "$pid" ]; then
  start_detached "$REGISTRY_PIDFILE" "$REGISTRY_LOG" docker-registry serve "$REGISTRY_CONFIG"
  registry_started=1
fi

pid=$(containerd_pid)
if [ -n "$pid" ] && [ -n "$containerd_config_changed" ]; then
  stop_pid containerd "$pid"; pid=
  did "stopped containerd (config changed)"
fi
containerd_started=
if [ -z "$pid" ]; then
  start_detached "$CONTAINERD_PIDFILE" "$CONTAINERD_LOG" containerd --config "$CONTAINERD_CONFIG"
  containerd_started=1
fi

if [ -n "$registry_started" ]; then
  wait_ready registry "$REGISTRY_READY_TIMEOUT" "$REGISTRY_PIDFILE" "$REGISTRY_LOG" registry_answers
  did "started the registry on $REGISTRY_HOST (pid $(cat "$REGISTRY_PIDFILE"))"
elif ! registry_answers; then
  die "a process listens on $REGISTRY_HOST but http://$REGISTRY_HOST/v2/ does not answer (stop it or run scripts/teardown.sh)"
fi
if [ -n "$containerd_started" ]; then
  wait_ready containerd "$CONTAINERD_READY_TIMEOUT" "$CONTAINERD_PIDFILE" "$CONTAINERD_LOG" containerd_answers
  did "started containerd (pid $(cat "$CONTAINERD_PIDFILE"))"
elif ! containerd_answers; then
  die "containerd is running but $CONTAINERD_SOCK does not answer (log: $CONTAINERD_LOG)"
fi
ctr --address "$CONTAINERD_SOCK" plugins ls 2>/dev/null | awk '$2 == "cri" { found = 1; ok = ($NF == "ok") } END { exit !(found && ok) }' ||
  die "containerd's CRI plugin is not ok (see 'ctr plugins ls' and $CONTAINERD_LOG)"

# --- 4. images -------------------------------------------------------------------------------------
# in_registry REF: true when the registry has a manifest for REF (host/name:tag).
in_registry() {
  local ref=$1 name tag
  name=${ref#"$REGISTRY_HOST"/}; tag=${name##*:}; name=${name%:*}
  curl -fsS -o /dev/null --max-time 5 -I \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json' \
    "http://$REGISTRY_HOST/v2/$name/manifests/$tag" 2>/dev/null
}
for spec in "pause $PAUSE_IMAGE" "busybox $BUSYBOX_IMAGE"; do
  read -r kind ref <<<"$spec"
  if ! in_registry "$ref"; then
    "$setup_dir/images.sh" "$kind" "$ref" >"$tmp/image.log" 2>&1 ||
      { cat "$tmp/image.log" >&2; die "building $ref failed"; }
    in_registry "$ref" || die "pushed $ref but the registry does not list it"
    did "built and pushed $ref"
  fi
done

# --- 5. containerd can pull both (through the same hosts.toml the CRI plugin uses) ----------------
for ref in "$PAUSE_IMAGE" "$BUSYBOX_IMAGE"; do
  timeout 60 ctr --address "$CONTAINERD_SOCK" -n k8s.io images pull --hosts-dir "$CERTS_DIR" "$ref" >"$tmp/pull.log" 2>&1 ||
    { tail -n 20 "$tmp/pull.log" >&2; die "containerd could not pull $ref"; }
done

elapsed=$(( ($(date +%s%N) - started_at) / 1000000 ))
if [ "${#done_list[@]}" -eq 0 ]; then
  printf 'setup: node ready, everything already in place (%d.%03ds): containerd, registry %s, %s, %s\n' \
    $((elapsed / 1000)) $((elapsed % 1000)) "$REGISTRY_HOST" "$PAUSE_IMAGE" "$BUSYBOX_IMAGE"
else
  summary=$(IFS=';'; echo "${done_list[*]}")
  printf 'setup: node ready (%d.%03ds); did: %s\n' $((elapsed / 1000)) $((elapsed % 1000)) "${summary//;/; }"
fi
