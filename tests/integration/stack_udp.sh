#!/usr/bin/env bash
# The udp-echo appliance on uni's stack judged by Linux with socat: datagrams of
# every size come back byte for byte (4000 and 8000 bytes are fragmented both
# ways), and a closed port answers ICMP port unreachable.
#   stack_udp.sh PATH_TO_udp-echo-tap
set -euo pipefail
source "$(dirname "$0")/netns.sh"
netns_setup 82
start_app "$1" --tap tap0 --ipv4 "$APP_IP/24" --port 7 ${UNI_TEST_PCAP:+--pcap "$UNI_TEST_PCAP"}

for size in 1 100 1472 1473 4000 8000; do
  msg=$(head -c "$size" /dev/urandom | base64 -w0)  # 4/3 of size; cut below, not by a pipe
  msg=${msg:0:$size}                                  # (head -c would kill base64 with SIGPIPE)
  got=$(printf "%s" "$msg" | in_ns timeout 5 socat -t 1 - "UDP:$APP_IP:7" || echo "socat failed: $?")
  [[ "$got" == "$msg" ]] || fail "a $size-byte datagram came back as ${#got} bytes"
  echo "ok: $size bytes echoed"
done
err=$(printf 'x' | in_ns timeout 5 socat -t 0.5 - "UDP:$APP_IP:9" 2>&1 >/dev/null || true)
echo "$err" | grep -qi "refused" || fail "no ICMP port unreachable from a closed port (socat said: $err)"
echo "ok: closed port refused"
stop_app
grep -q "6 datagrams" "$APP_LOG" || fail "the appliance did not count 6 datagrams"
echo "PASS: UDP echo over uni's stack"
