#!/usr/bin/env bash
# scripts/xen-dom0.sh fetch: unpacks the Debian packages of a Linux dom0 for the
# tier-3 Xen tests (the kernel with netback and bridge, busybox, the Xen
# toolstack: xl, xenstored, xenconsoled) into $UNI_XEN_DOM0 (default
# /var/cache/uni/xen-dom0). Nothing is installed: `apt-get download` + `dpkg -x`.
# Idempotent: a complete folder is left alone. scripts/setup.sh calls it.
set -euo pipefail
dir=${UNI_XEN_DOM0:-/var/cache/uni/xen-dom0}
[[ ${1:-fetch} == fetch ]] || { echo "usage: $0 fetch"; exit 2; }
[[ -f $dir/.complete ]] && { echo "xen-dom0: $dir is ready"; exit 0; }

kernel=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
[[ -n $kernel ]] || { echo "xen-dom0: no linux-image-amd64 in the package lists (apt-get update?)"; exit 1; }
packages=("$kernel" busybox-static xen-utils-4.17 xenstore-utils)
mkdir -p "$dir/debs" "$dir/root"
cd "$dir/debs"
apt-get download "${packages[@]}" >/dev/null
for deb in *.deb; do dpkg -x "$deb" "$dir/root"; done
echo "$kernel" >"$dir/kernel-package"
touch "$dir/.complete"
echo "xen-dom0: unpacked ${packages[*]} into $dir"
