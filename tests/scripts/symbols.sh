#!/usr/bin/env bash
# What the configuration leaves out is not in the image: an appliance built without
# a protocol holds no symbol of it (grep -E PATTERN, case-insensitive, over nm -C).
# An image built with it is the control: the same check must find CONTROL there
# (PATTERN if not given), or the test proves nothing.
#   symbols.sh WITHOUT WITH PATTERN [CONTROL]
# e.g. the ICMP-only ping-tap against udp-echo-tap ('udp|tcp|dhcp', control 'udp');
# the UDP-only dns-udp-tap against dns-tap ('uni::tcp::|tcp_listen|tcp_connect|serve_tcp').
set -euo pipefail
without=$1 with=$2 pattern=$3 control_pattern=${4:-$3}
found=$(nm -C "$without" | grep -iE "$pattern" || true)
if [[ -n "$found" ]]; then
  echo "FAIL: $(basename "$without") has code it should not ($pattern):"; head -20 <<<"$found"; exit 1
fi
control=$(nm -C "$with" | grep -ciE "$control_pattern" || true)
[[ "$control" -gt 0 ]] || { echo "FAIL: no symbols match '$control_pattern' even in $(basename "$with"): the check is blind"; exit 1; }
echo "PASS: $(basename "$without") has no symbols matching '$pattern' ($(nm "$without" | wc -l) symbols); $(basename "$with") has $control matching '$control_pattern'"
echo "sizes: $(stat -c %s "$without") bytes $(basename "$without"), $(stat -c %s "$with") bytes $(basename "$with") (unstripped)"
