#!/usr/bin/env bash
# Records the traffic of the integration tests as pcap files, for the fuzz seed
# corpora (make_corpus.py turns them into corpus/<target>/ files). Needs root: it
# runs the appliances in a network namespace against Linux, as tests/integration/
# does, with the MAC and address the fuzz harness uses (fuzz_support.hpp), so
# captured frames replay into the harness's stack unchanged.
#   capture.sh OUT_DIR PATH_TO_ping-tap PATH_TO_udp-echo-tap [PATH_TO_udp-echo-tap WITH DHCP]
# Writes OUT_DIR/ping.pcap, OUT_DIR/udp.pcap and, given the DHCP build, OUT_DIR/dhcp.pcap.
set -euo pipefail
source "$(dirname "$0")/../integration/netns.sh"
out=$(realpath "$1")
ping_app=$2 udp_app=$3 dhcp_app=${4:-}
mac=02:75:6e:69:00:02
mkdir -p "$out"

netns_setup 0  # PEER_IP 10.0.0.1, APP_IP 10.0.0.2, as in fuzz_support.hpp
in_ns ip link set tap0 address 02:75:6e:69:00:01

# ping-tap: ARP, echo requests plain, with IP options (record route, timestamps),
# at the MTU, fragmented, to the broadcast address, and arping.
start_app "$ping_app" --tap tap0 --ipv4 "$APP_IP/24" --gateway "$PEER_IP" --mac "$mac" --pcap "$out/ping.pcap"
in_ns ping -c 3 -i 0.2 -W 1 "$APP_IP" >/dev/null
in_ns ping -c 1 -W 1 -p 00 -s 0 "$APP_IP" >/dev/null || true
in_ns ping -c 2 -i 0.2 -W 1 -R "$APP_IP" >/dev/null || true
in_ns ping -c 2 -i 0.2 -W 1 -T tsonly "$APP_IP" >/dev/null || true
in_ns ping -c 2 -i 0.2 -W 1 -s 1472 "$APP_IP" >/dev/null
in_ns ping -c 2 -i 0.2 -W 1 -s 4000 "$APP_IP" >/dev/null
in_ns ping -c 1 -W 1 -s 9000 "$APP_IP" >/dev/null || true
in_ns ping -c 1 -W 1 -b 10.0.0.255 >/dev/null 2>&1 || true
in_ns arping -c 2 -w 3 -I tap0 "$APP_IP" >/dev/null || true
stop_app >/dev/null

# udp-echo-tap: datagrams of every size (fragmented both ways from 1473 bytes of
# data), and one to a closed port (ICMP port unreachable).
start_app "$udp_app" --tap tap0 --ipv4 "$APP_IP/24" --mac "$mac" --port 7 --pcap "$out/udp.pcap"
for size in 0 1 100 1472 1473 4000; do
  head -c "$size" /dev/urandom | in_ns timeout 5 socat -t 0.5 - "UDP:$APP_IP:7" >/dev/null || true
done
printf 'x' | in_ns timeout 5 socat -t 0.5 - "UDP:$APP_IP:9" >/dev/null 2>&1 || true
stop_app >/dev/null

# The DHCP exchange with dnsmasq (DISCOVER, OFFER, REQUEST, ACK, and a renewal).
if [[ -n "$dhcp_app" ]] && command -v dnsmasq >/dev/null; then
  work=$(mktemp -d)
  in_ns dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --user=root --interface=tap0 \
    --bind-interfaces --no-ping --dhcp-leasefile="$work/leases" --dhcp-range=10.0.0.50,10.0.0.99,255.255.255.0,2m \
    --dhcp-option=option:router,"$PEER_IP" --dhcp-option=option:dns-server,"$PEER_IP" \
    --dhcp-option=option:T1,2 --dhcp-option=option:T2,5 &
  dnsmasq_pid=$!
  sleep 0.5
  start_app "$dhcp_app" --tap tap0 --dhcp --mac "$mac" --port 7 --pcap "$out/dhcp.pcap"
  sleep 4  # the lease and one renewal at T1
  stop_app >/dev/null
  kill "$dnsmasq_pid"; wait "$dnsmasq_pid" 2>/dev/null || true
  rm -rf "$work"
fi
ls -l "$out"
