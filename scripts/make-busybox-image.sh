#!/usr/bin/env bash
# Build a tiny OCI image archive from Debian's busybox-static, for clusters without a registry.
#
#   scripts/make-busybox-image.sh OUT.tar [TAG]      (TAG defaults to "local")
#   flotilla image import OUT.tar                     → docker.io/library/busybox:TAG on this node
#
# The image holds /bin/busybox with every applet linked by `busybox --install -s` (sh, httpd, wget,
# nslookup, sleep, ...), /etc/passwd and /etc/group with root and nobody, PATH=/bin, Cmd ["sh"].
# Installs busybox-static, umoci and skopeo with apt when they are missing (needs root then).
set -euo pipefail

usage() { echo "usage: $0 OUT.tar [TAG]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
out=$1
tag=${2:-local}
case "$tag" in
  *[!A-Za-z0-9_.-]* | [.-]* | "") echo "error: tag \"$tag\" must match [A-Za-z0-9_][A-Za-z0-9_.-]*" >&2; exit 2 ;;
esac

missing=()
dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
command -v umoci >/dev/null 2>&1 || missing+=(umoci)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing ${missing[*]}: run as root or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing ${missing[*]} ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/make-busybox-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
layout=$work/layout
bundle=$work/bundle
rootless=()
[ "$(id -u)" -eq 0 ] || rootless=(--rootless)

umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack "${rootless[@]}" --image "$layout:$tag" "$bundle"
rootfs=$bundle/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root" "$rootfs/var/www"
chmod 1777 "$rootfs/tmp"
install -m 0755 /bin/busybox "$rootfs/bin/busybox"
# what `busybox --install -s` makes, but pointing at /bin/busybox inside the image (on the host the
# binary may live at /usr/bin/busybox, which --install would write into the links)
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf /bin/busybox "$rootfs/bin/$applet"
done
cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
umoci repack --image "$layout:$tag" "$bundle"
umoci config --image "$layout:$tag" --config.cmd sh --config.env PATH=/bin \
  --author flotilla --history.comment "busybox-static $(dpkg-query -W -f '${Version}' busybox-static)"
umoci gc --layout "$layout"

rm -f "$out"
skopeo copy --quiet "oci:$layout:$tag" "oci-archive:$out:busybox:$tag"
echo "wrote $out: busybox:$tag ($(du -h "$out" | cut -f1))"
echo "next: flotilla image import $out   # then use image: busybox:$tag (imagePullPolicy: IfNotPresent)"
