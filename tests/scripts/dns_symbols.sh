#!/usr/bin/env bash
# The DNS appliance built UDP-only holds no TCP code: no symbol of uni's TCP
# (uni::tcp::), of the stack's TCP entry points, or of DNS over TCP. The full
# appliance (UDP and TCP) is the control: the same check must find TCP there.
#   dns_symbols.sh PATH_TO_dns-udp-tap PATH_TO_dns-tap
set -euo pipefail
udp_only=$1 full=$2
pattern='uni::tcp::|tcp_listen|tcp_connect|serve_tcp'
found=$(nm -C "$udp_only" | grep -E "$pattern" || true)
if [[ -n "$found" ]]; then
  echo "FAIL: the UDP-only DNS image has TCP code:"; echo "$found" | head -20; exit 1
fi
control=$(nm -C "$full" | grep -cE "$pattern" || true)
[[ "$control" -gt 0 ]] || { echo "FAIL: no TCP symbols even in dns-tap: the check is blind"; exit 1; }
echo "PASS: dns-udp-tap has no TCP symbols; dns-tap has $control"
echo "sizes: $(stat -c %s "$udp_only") bytes dns-udp-tap, $(stat -c %s "$full") bytes dns-tap (unstripped)"
