#!/usr/bin/env bash
# The ping appliance judged by Linux: ping (plain, with 4000-byte payloads that
# are fragmented both ways, and a bounded flood) and arping.
#   stack_ping.sh PATH_TO_ping-tap
set -euo pipefail
source "$(dirname "$0")/netns.sh"
netns_setup 81
start_app "$1" --tap tap0 --ipv4 "$APP_IP/24" --gateway "$PEER_IP"

in_ns timeout 10 ping -c 5 -i 0.2 -W 2 "$APP_IP" | tail -2
in_ns timeout 10 ping -c 5 -i 0.2 -W 2 "$APP_IP" | grep -q " 0% packet loss" || fail "ping lost packets"
out=$(in_ns timeout 10 ping -c 3 -i 0.2 -W 2 -s 4000 "$APP_IP")
echo "$out" | grep -q "4008 bytes from $APP_IP" || fail "no reply to a fragmented ping: $out"
echo "$out" | grep -q " 0% packet loss" || fail "fragmented ping lost packets"
in_ns timeout 10 arping -c 3 -w 5 -I tap0 "$APP_IP" | tee /dev/stderr | grep -q "Received 3 response" \
  || fail "arping did not get 3 answers"
flood=$(in_ns timeout 30 ping -f -c 2000 "$APP_IP")
echo "$flood" | tail -2
echo "$flood" | grep -q "2000 received" || fail "flood ping lost packets"
stop_app
grep -q "ipv4: rx" "$APP_LOG" || fail "no counters printed"
grep -q "exhausted 0" "$APP_LOG" || fail "the page pool ran dry"
echo "PASS: ping, fragmented ping, arping and a 2000-packet flood answered"
