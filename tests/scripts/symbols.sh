#!/usr/bin/env bash
# What the configuration leaves out is not in the image: the ICMP-only ping
# appliance must contain no UDP, TCP or DHCP code. The udp-echo appliance is the
# control: the same check must find UDP there, or the test proves nothing.
#   symbols.sh PATH_TO_ping-tap PATH_TO_udp-echo-tap
set -euo pipefail
ping_app=$1 udp_app=$2
pattern='udp|tcp|dhcp'
found=$(nm -C "$ping_app" | grep -iE "$pattern" || true)
if [[ -n "$found" ]]; then
  echo "FAIL: the ICMP-only image has protocol code it should not:"; echo "$found" | head -20; exit 1
fi
control=$(nm -C "$udp_app" | grep -ciE 'udp' || true)
[[ "$control" -gt 0 ]] || { echo "FAIL: no UDP symbols found even in udp-echo: the check is blind"; exit 1; }
echo "PASS: ping-tap has no UDP/TCP/DHCP symbols ($(nm "$ping_app" | wc -l) symbols); udp-echo-tap has $control UDP symbols"
echo "sizes: $(stat -c %s "$ping_app") bytes ping-tap, $(stat -c %s "$udp_app") bytes udp-echo-tap (unstripped)"
