#!/usr/bin/env bash
# tests/xen/cfg_vifs.sh CFG N: the xl configuration written beside an image lists
# N vifs, one per network interface its appliance declares (cmake/uniXenCfg.cmake).
set -u
cfg=$1 want=$2
line=$(grep '^vif = ' "$cfg") || { echo "FAIL: no vif line in $cfg"; cat "$cfg"; exit 1; }
got=$(grep -o "'bridge=[^']*'" <<<"$line" | wc -l)
((got == want)) || { echo "FAIL: $cfg lists $got vifs, not $want: $line"; exit 1; }
echo "PASS: $(basename "$cfg"): $line"
