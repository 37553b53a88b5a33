#!/usr/bin/env bash
# The udp-echo appliance over host sockets, judged by socat: every datagram comes
# back unchanged, and SIGTERM stops it cleanly with its counters.
#   udp_echo_socket.sh PATH_TO_udp-echo-socket
set -euo pipefail
app=$1
port=$((20000 + RANDOM % 12000))
log=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
"$app" --port "$port" 2>"$log" &
pid=$!
for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
grep -q "listening on udp 127.0.0.1:$port" "$log"
for i in 1 2 3 4 5; do
  msg="datagram $i $(head -c 600 /dev/urandom | base64 -w0)"
  got=$(printf '%s' "$msg" | timeout 5 socat -t 0.3 - "UDP:127.0.0.1:$port")
  [[ "$got" == "$msg" ]] || { echo "FAIL: datagram $i came back as '${got:0:40}...'"; exit 1; }
done
kill -TERM "$pid"
wait "$pid"
grep -q "5 datagrams" "$log" || { cat "$log"; exit 1; }
echo "udp-echo over host sockets: 5/5 datagrams echoed"
