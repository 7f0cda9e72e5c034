#!/usr/bin/env bash
# Builds one of tskubelet's local images and pushes it to the local registry.
#   images.sh pause   REF    static pause (from pause.c), entrypoint /pause
#   images.sh busybox REF    /bin/busybox of busybox-static with every applet linked, cmd sh
# Needs gcc (pause), umoci, skopeo and a registry at REF's host answering plain HTTP.
# Works in a temp folder under $IMAGE_WORK_DIR (/var/lib/tskubelet-images) and removes it on exit.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kind=${1:?usage: images.sh pause|busybox REF}
ref=${2:?usage: images.sh pause|busybox REF}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

mkdir -p "$IMAGE_WORK_DIR"
work=$(mktemp -d "$IMAGE_WORK_DIR/build.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
layout="$work/layout"
bundle="$work/bundle"
tag=build

umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --image "$layout:$tag" "$bundle" >/dev/null
rootfs="$bundle/rootfs"

case "$kind" in
  pause)
    gcc -static -O2 -s -Wall -Wextra -o "$rootfs/pause" "$here/pause.c"
    chmod 0755 "$rootfs/pause"
    config=(--config.entrypoint /pause --config.user 65535:65535)
    ;;
  busybox)
    [ -x /bin/busybox ] || { echo "images.sh: /bin/busybox missing (install busybox-static)" >&2; exit 1; }
    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,var/tmp,home,proc,sys,dev}
    chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
    chmod 0700 "$rootfs/root"
    cp /bin/busybox "$rootfs/bin/busybox"
    chmod 0755 "$rootfs/bin/busybox"
    # --list-full prints each applet with its usual folder (bin/sh, usr/bin/awk, sbin/ifconfig, ...).
    /bin/busybox --list-full | while read -r applet; do
      [ "$applet" = bin/busybox ] && continue
      mkdir -p "$rootfs/$(dirname "$applet")"
      ln -sf /bin/busybox "$rootfs/$applet"
    done
    cp "$here/busybox-etc/passwd" "$rootfs/etc/passwd"
    cp "$here/busybox-etc/group" "$rootfs/etc/group"
    chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"
    config=(--config.cmd sh --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin)
    ;;
  *) echo "images.sh: unknown image kind '$kind'" >&2; exit 2 ;;
esac

umoci repack --image "$layout:$tag" "$bundle"
umoci config --image "$layout:$tag" --os linux --architecture amd64 --author tskubelet "${config[@]}"
umoci gc --layout "$layout"
skopeo --policy "$here/policy.json" copy --quiet --dest-tls-verify=false "oci:$layout:$tag" "docker://$ref"
