#!/usr/bin/env bash
# Prints tskubelet's containerd config on stdout: `containerd config default` with exactly these
# changes (see /work/shared/notes/runtime-on-these-machines.md for why):
#   CRI restrict_oom_score_adj = true        negative oom_score_adj is refused on these machines
#   CRI sandbox_image = $1                   the pause image in the local registry
#   CRI cni bin_dir = /usr/lib/cni           where Debian installs the CNI plugins
#   CRI registry config_path = $2            hosts.toml per registry (plain HTTP for the local one)
#   runc options SystemdCgroup = false       cgroupfs driver: no systemd here
# Fails (exit 1) when the default config no longer has one of these keys in the expected section.
set -euo pipefail
sandbox_image=${1:?sandbox image}
config_path=${2:?registry config path}
cni_bin_dir=${3:-/usr/lib/cni}

containerd config default | awk -v sandbox="$sandbox_image" -v certs="$config_path" -v cnibin="$cni_bin_dir" '
  function set(value,   indent) {
    match($0, /^[ \t]*/); indent = substr($0, 1, RLENGTH)
    sub(/=.*/, "", $0); key = $0; sub(/^[ \t]*/, "", key); sub(/[ \t]*$/, "", key)
    $0 = indent key " = " value
    done[section "/" key]++
  }
  /^[ \t]*\[.*\][ \t]*$/ { section = $0; gsub(/^[ \t]*\[|\][ \t]*$/, "", section) }
  section == "plugins.\"io.containerd.grpc.v1.cri\"" && /^[ \t]*restrict_oom_score_adj[ \t]*=/ { set("true") }
  section == "plugins.\"io.containerd.grpc.v1.cri\"" && /^[ \t]*sandbox_image[ \t]*=/ { set("\"" sandbox "\"") }
  section == "plugins.\"io.containerd.grpc.v1.cri\".cni" && /^[ \t]*bin_dir[ \t]*=/ { set("\"" cnibin "\"") }
  section == "plugins.\"io.containerd.grpc.v1.cri\".registry" && /^[ \t]*config_path[ \t]*=/ { set("\"" certs "\"") }
  section == "plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options" && /^[ \t]*SystemdCgroup[ \t]*=/ { set("false") }
  { print }
  END {
    n = split("plugins.\"io.containerd.grpc.v1.cri\"/restrict_oom_score_adj plugins.\"io.containerd.grpc.v1.cri\"/sandbox_image plugins.\"io.containerd.grpc.v1.cri\".cni/bin_dir plugins.\"io.containerd.grpc.v1.cri\".registry/config_path plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options/SystemdCgroup", want, " ")
    for (i = 1; i <= n; i++) if (done[want[i]] != 1) {
      printf "containerd-config.sh: expected exactly one %s in `containerd config default`, found %d\n", want[i], done[want[i]] > "/dev/stderr"
      bad = 1
    }
    exit bad
  }'
