#!/usr/bin/env bash
# The udp-echo appliance leases its address from dnsmasq (DHCP, RFC 2131) running
# as the Linux peer, then is judged on that address: it must come from dnsmasq's
# range, answer ping and echo UDP. dnsmasq's shortest lease is two minutes, but it
# sends the T1 and T2 we configure (options 58 and 59: 2 s and 5 s), so renewal
# and rebinding happen in seconds:
#   * at T1 the appliance renews by unicast to dnsmasq, which ACKs it;
#   * then an nftables rule drops unicast DHCP to dnsmasq: the next renewal is lost,
#     and at T2 the appliance rebinds by broadcast, which dnsmasq ACKs.
# The expiry of a lease and DHCPNAK are tested on the simulated link
# (tests/unit/stack_dhcp_test.cpp), where minutes pass in no time.
#   stack_dhcp.sh PATH_TO_udp-echo-tap
set -euo pipefail
source "$(dirname "$0")/netns.sh"
command -v dnsmasq >/dev/null || skip "dnsmasq is not installed (package dnsmasq-base)"
command -v nft >/dev/null || skip "nft is not installed (package nftables)"
netns_setup 83
WORK=$(mktemp -d)
DNSMASQ_PID=""
cleanup() {
  if [[ -n "$DNSMASQ_PID" ]]; then kill "$DNSMASQ_PID" 2>/dev/null || true; wait "$DNSMASQ_PID" 2>/dev/null || true; fi
  netns_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT

# DHCP only (--port=0: no DNS), on tap0, logging every exchange to a file.
in_ns dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --user=root \
  --interface=tap0 --bind-interfaces --no-ping --log-dhcp --log-facility="$WORK/dnsmasq.log" \
  --dhcp-leasefile="$WORK/leases" --pid-file="$WORK/dnsmasq.pid" \
  --dhcp-range=10.83.0.50,10.83.0.99,255.255.255.0,2m \
  --dhcp-option=option:router,"$PEER_IP" --dhcp-option=option:dns-server,"$PEER_IP" \
  --dhcp-option=option:T1,2 --dhcp-option=option:T2,5 &
DNSMASQ_PID=$!  # ip execs dnsmasq: the same process
for _ in $(seq 100); do
  grep -q "DHCP, IP range" "$WORK/dnsmasq.log" 2>/dev/null && break
  sleep 0.05
done
grep -q "DHCP, IP range" "$WORK/dnsmasq.log" 2>/dev/null || { cat "$WORK/dnsmasq.log" 2>/dev/null; fail "dnsmasq did not start"; }

acks() { grep -c "DHCPACK(tap0)" "$WORK/dnsmasq.log" || true; }
dropped() { in_ns nft list chain ip uni_dhcp input | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'; }
wait_for() {  # wait_for SECONDS WHAT CONDITION: until the bash CONDITION holds
  local seconds=$1 what=$2 condition=$3
  for _ in $(seq $((seconds * 10))); do
    eval "$condition" && return 0
    sleep 0.1
  done
  fail "no $what within $seconds s"
}

start_app "$1" --tap tap0 --dhcp --port 7 ${UNI_TEST_PCAP:+--pcap "$UNI_TEST_PCAP"}
addr=$(sed -n 's/^.*udp-echo: \([0-9.]*\)\/24 on tap0 .*$/\1/p' "$APP_LOG")
[[ -n "$addr" ]] || { cat "$APP_LOG"; fail "no leased address in the appliance's log"; }
last=${addr##*.}
[[ $addr == 10.83.0.* && $last -ge 50 && $last -le 99 ]] || fail "leased $addr, outside dnsmasq's range"
grep -q " $addr " "$WORK/leases" || fail "dnsmasq's lease file does not hold $addr"
grep -q "dhcp: leased $addr/24 for 120 s from $PEER_IP, gateway $PEER_IP" "$APP_LOG" ||
  fail "the appliance did not report the lease (time, server, gateway)"
echo "ok: leased $addr from dnsmasq"

in_ns ping -c 3 -i 0.2 -W 2 "$addr" >/dev/null || fail "no answer to ping at the leased address"
echo "ok: ping $addr"
msg="echo through a leased address"
got=$(printf "%s" "$msg" | in_ns timeout 5 socat -t 1 - "UDP:$addr:7" || echo "socat failed: $?")
[[ "$got" == "$msg" ]] || fail "UDP echo returned '$got'"
echo "ok: UDP echo at $addr"

wait_for 6 "renewal at T1 (2 s)" '[[ $(acks) -ge 2 ]]'
echo "ok: renewed at T1 (unicast DHCPREQUEST, DHCPACK)"

in_ns nft -f - <<EOF
table ip uni_dhcp {
  chain input {
    type filter hook input priority 0;
    ip daddr $PEER_IP udp dport 67 counter drop
  }
}
EOF
wait_for 6 "unicast renewal dropped by nftables" '[[ $(dropped) -ge 1 ]]'
before=$(acks)
wait_for 8 "DHCPACK to a rebinding broadcast (T2, 5 s)" '[[ $(acks) -gt $before ]]'
echo "ok: rebound at T2 by broadcast after $(dropped) unicast renewal(s) went unanswered"
in_ns ping -c 1 -W 2 "$addr" >/dev/null || fail "no answer to ping after rebinding"

stop_app
total=$(acks)
grep -Eq "dhcp: .* leases $total renewals $((total - 1)) naks 0 lost 0" "$APP_LOG" ||
  fail "the appliance's DHCP counters do not match dnsmasq's $total DHCPACKs"
[[ $(grep -c "dhcp: leased" "$APP_LOG") -eq 1 ]] || fail "the renewals reconfigured the stack"
echo "PASS: DHCP from dnsmasq: lease, ping, UDP echo, renewal and rebinding"
