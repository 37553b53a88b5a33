#!/usr/bin/env bash
# bench/xen_boot.sh BUILD_DIR [RUNS]: the paper's boot comparison (Figures 5, 6) in
# the tier-3 harness: time from `xl create` to the first answered ping, for the
# uni ping appliance (PVH domU, 32 MiB) and a Debian Linux domU (PV, 160 MiB,
# netfront from its modules, busybox initramfs), both under Xen 4.17 in QEMU TCG
# on this machine -- emulation inflates both; the ratio is the figure to read.
# Also prints each image's size and the guest's own count of cycles to "network up".
set -u
build=${1:?usage: $0 BUILD_DIR [RUNS]} runs=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
image=$(realpath -m "$build")/examples/ping-xen  # (absolute: the runs happen in a scratch folder)
[[ -f $image ]] || { echo "no $image: cmake --preset xen && cmake --build build/xen"; exit 1; }
work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
cd "$work"
echo "image: ping-xen $(stat -c %s "$image") bytes stripped; Linux kernel $(stat -c %s /var/cache/uni/xen-dom0/root/boot/vmlinuz-* | head -1) bytes + modules"
for who in ping linux; do
  for ((i = 1; i <= runs; i++)); do
    if [[ $who == ping ]]; then arg=$image; else arg=linux; fi
    UNI_XEN_DOMU_SECONDS=90 bash "$here/tests/xen/dom0.sh" "$arg" "$who" ping 10.0.0.2 >/dev/null 2>&1
    t=$(tr -d '\r' <"$who-dom0.log" | sed -n 's/^dom0: 10.0.0.2 answered ping \([0-9.]*\) s after xl create/\1/p')
    up=$(tr -d '\r' <"$who-dom0.log" | sed -n 's/.*network up [0-9]* cycles (\([0-9]*\) us).*/\1/p')
    echo "$who run $i: first ping answered ${t:-never} s after xl create${up:+; guest says network up ${up} us after its first instruction}"
  done
done
