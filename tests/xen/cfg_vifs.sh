#!/usr/bin/env bash
# tests/xen/cfg_vifs.sh CFG VIFS DISKS: the xl configuration written beside an
# image lists a vif per network interface its appliance declares, and a disk per
# block device (cmake/uniXenCfg.cmake); none for an appliance of vchans alone.
set -u
cfg=$1 want=$2 want_disks=${3:-0}
line=$(grep '^vif = ' "$cfg") || ((want == 0)) || { echo "FAIL: no vif line in $cfg"; cat "$cfg"; exit 1; }
got=$(grep -o "'bridge=[^']*'" <<<"$line" | wc -l)
((got == want)) || { echo "FAIL: $cfg lists $got vifs, not $want: $line"; exit 1; }
disk_line=$(grep '^disk = ' "$cfg")
got_disks=$(grep -o "'format=raw, vdev=xvd[a-p], access=rw, target=[^']*'" <<<"$disk_line" | wc -l)
((got_disks == want_disks)) || { echo "FAIL: $cfg lists $got_disks disks, not $want_disks: $disk_line"; exit 1; }
echo "PASS: $(basename "$cfg"): ${line:-no vif}${disk_line:+; $disk_line}"
