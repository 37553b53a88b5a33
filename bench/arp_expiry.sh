#!/usr/bin/env bash
# bench/arp_expiry.sh: does a busy appliance lose packets when its neighbour
# entries expire? (issue 20's "ARP under load"). www on TAP serves wrk (100
# connections) while a flood ping runs beside it, for longer than ARP's
# reachable time (60 s), so the entry for the client expires under load at least
# once on each side. At the end the appliance's counters say how many datagrams
# ARP dropped at its full pending queue and how many entries it confirmed in use
# (requests sent to the neighbour's own address instead of forgetting it);
# ping says how many echoes were lost, wrk its worst latency.
#
#   namespace C: tap0 10.95.0.1 (wrk, ping) ---- TAP ---- uni www-tap 10.95.0.2
#
# Usage: bench/arp_expiry.sh [--duration S] [--build DIR] [--binary PATH]
#   --duration: seconds of load (default 150); --build: release build directory
#   (default build/release); --binary: another www-tap to run (an older build).
# Needs root; exits 77 without it. Bounded by `timeout`; cleans up on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
duration=150 build=build/release binary=""
read_flags "[--duration S] [--build DIR] [--binary PATH]" "" "duration build binary" "$@"
need_root arp_expiry
need_tools arp_expiry wrk ping curl
cd "$root"
if [ -z "$binary" ]; then
  build_targets "$build" release www-tap
  binary=$(cd "$build" && pwd)/examples/www-tap
fi

NS_C="uni-arpx-$$" TAP_PEER=10.95.0.1 UNI_IP=10.95.0.2
work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$NS_C" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
new_namespace "$NS_C"
add_tap "$NS_C" tap0 "$TAP_PEER"

ip netns exec "$NS_C" "$binary" --tap tap0 --ipv4 "$UNI_IP/24" >"$work/www.log" 2>&1 &
SERVER_PID=$!
pids+=("$SERVER_PID")
for _ in $(seq 100); do
  ip netns exec "$NS_C" timeout 2 curl -s -o /dev/null "http://$UNI_IP/index.html" && break
  sleep 0.1
done

echo "bench/arp_expiry.sh: wrk -c100 and ping -f against www-tap for $duration s ($(uptime | sed 's/.*load/load/'))"
ip netns exec "$NS_C" timeout $((duration + 20)) ping -f -q -w "$duration" "$UNI_IP" >"$work/ping.txt" 2>&1 &
ping_pid=$!
pids+=("$ping_pid")
ip netns exec "$NS_C" timeout $((duration + 30)) wrk -t1 -c100 -d"${duration}s" --latency "http://$UNI_IP/index.html" >"$work/wrk.txt"
wait "$ping_pid" || true
stop

requests=$(awk '/requests in/ { print $1 }' "$work/wrk.txt")
worst=$(awk '$1 == "Latency" { print $4; exit }' "$work/wrk.txt")
echos=$(awk '/packets transmitted/ { print $1 " sent, " $1 - $4 " lost" }' "$work/ping.txt")
arp=$(grep -m1 'arp: ' "$work/www.log" | sed 's/.*arp: //')
echo "  wrk: $requests requests, worst latency $worst"
echo "  ping -f: $echos"
echo "  www-tap arp: $arp"
grep -q "pending queue full" <<<"$arp" && echo "  ARP dropped packets at its full pending queue" || echo "  ARP dropped no packet at its pending queue"
