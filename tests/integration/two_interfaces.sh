#!/usr/bin/env bash
# An appliance with two network interfaces (tests/integration/two_interfaces.cpp)
# on two TAP devices of one namespace, each in its own subnet:
#
#   [ appliance ] --tap0-- 10.<n>.0.1/24 [ Linux ] 10.<n+1>.0.1/24 --tap1-- [ appliance ]
#
# It must answer ping and echo UDP on both addresses, the second --tap's flags
# describing the second interface. Then: a missing second --tap is refused, and a
# --tap naming no interface is created with a warning saying what to bring up.
#   two_interfaces.sh PATH_TO_two-interfaces-tap
set -euo pipefail
source "$(dirname "$0")/netns.sh"
app=$1
netns_setup 84
second_peer=10.85.0.1 second_app=10.85.0.2
in_ns ip tuntap add dev tap1 mode tap
in_ns ip addr add "$second_peer/24" dev tap1
in_ns ip link set tap1 up
start_app "$app" --tap tap0 --ipv4 "$APP_IP/24" --tap tap1 --ipv4 "$second_app/24" --port 7
for _ in $(seq 50); do grep -q " on tap1 " "$APP_LOG" && break; sleep 0.05; done
grep -q "$second_app/24 on tap1 .*gateway none" "$APP_LOG" || fail "the second interface is not $second_app on tap1: $(cat "$APP_LOG")"
for addr in "$APP_IP" "$second_app"; do
  in_ns ping -c 2 -i 0.2 -W 2 "$addr" >/dev/null || fail "no answer to ping at $addr"
  got=$(printf 'hello %s' "$addr" | in_ns timeout 5 socat -t 1 - "UDP:$addr:7" || true)
  [[ $got == "hello $addr" ]] || fail "no UDP echo from $addr (got '$got')"
  echo "ok: $addr answers ping and echoes UDP"
done
stop_app
grep -q "interface 2: tap1" "$APP_LOG" || fail "no counters for the second interface"
status=0
out=$(in_ns timeout 10 "$app" --tap tap0 --ipv4 "$APP_IP/24" 2>&1) || status=$?
((status == 2)) && grep -q "has 2 network interfaces" <<<"$out" || fail "one --tap for two interfaces: status $status: $out"
echo "ok: one --tap for two interfaces is refused: $out"
# A --tap that names no interface: created, and the appliance says what to bring up.
status=0
out=$(in_ns timeout 2 "$app" --tap tap0 --ipv4 "$APP_IP/24" --tap unifresh0 --ipv4 "$second_app/24" 2>&1) || status=$?
grep -q "there was no interface unifresh0: created it, down and without an address" <<<"$out" &&
  grep -q "ip link set unifresh0 up" <<<"$out" || fail "no word about the TAP device it created (status $status): $out"
echo "ok: a new TAP device is reported with what to bring up"
echo "PASS: an appliance with two network interfaces answers on both"
