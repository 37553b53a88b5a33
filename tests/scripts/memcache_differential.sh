#!/usr/bin/env bash
# The memcache appliance over host sockets against memcached (Debian's, one
# thread): the same scripted sessions (memcache_sessions.py: every command,
# noreply, values at the limit and one past it, long keys, bad commands, CAS
# conflicts, expiry with a clock that moves, pipelining, a command split at
# every byte; the meta commands; requests over UDP with memcached's frame) get
# answers equal byte for byte, apart from version and stats. Then the UDP
# bound: a value past it gets one datagram with an error, not 72.
# Skips (77) without memcached.
#   memcache_differential.sh PATH_TO_memcache-socket
set -euo pipefail
app=$1
here=$(dirname "$0")
command -v memcached >/dev/null || { echo "SKIP: no memcached (scripts/setup.sh installs it)"; exit 77; }
# Below the ephemeral range, so no client's port holds them.
port=$((20000 + RANDOM % 10000))
ref_port=$((port + 1))
udp_port=$((port + 2))
ref_udp_port=$((port + 3))
dir=$(mktemp -d)
pids=()
trap 'rc=$?; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; ((rc)) && cat "$dir/log"; rm -rf "$dir"' EXIT
"$app" --port "$port" --udp "$udp_port" 2>"$dir/log" &
pids+=($!)
memcached -t 1 -U "$ref_udp_port" -l 127.0.0.1 -p "$ref_port" -u "$(id -un)" 2>"$dir/ref.log" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$dir/log" && break; sleep 0.1; done
grep -q "listening on tcp 127.0.0.1:$port" "$dir/log" || { echo "FAIL: the appliance did not start"; exit 1; }
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$ref_port") 2>/dev/null && break; sleep 0.1; done

timeout 50 python3 "$here/memcache_sessions.py" "$ref_port" "$ref_udp_port" >"$dir/memcached.txt" &
ref=$!
timeout 50 python3 "$here/memcache_sessions.py" "$port" "$udp_port" >"$dir/uni.txt"
wait "$ref"
if ! cmp -s "$dir/memcached.txt" "$dir/uni.txt"; then
  echo "FAIL: answers differ (< memcached, > uni)"
  diff <(cat -A "$dir/memcached.txt") <(cat -A "$dir/uni.txt") | cut -c1-160 | head -40
  exit 1
fi
# The UDP bound: a 100000-byte value asked over UDP.
timeout 10 python3 - "$port" "$udp_port" <<'EOF' || { echo "FAIL: the UDP bound"; exit 1; }
import socket, struct, sys
t = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
t.sendall(b"set huge 0 0 100000\r\n" + b"h" * 100000 + b"\r\n")
assert t.recv(100) == b"STORED\r\n"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(0.5)
u.sendto(struct.pack(">HHHH", 9, 0, 1, 0) + b"get huge\r\n", ("127.0.0.1", int(sys.argv[2])))
got = []
try:
    while True:
        got.append(u.recv(65536))
except socket.timeout:
    pass
assert got == [struct.pack(">HHHH", 9, 0, 1, 0) + b"SERVER_ERROR out of memory writing get response\r\n"], got[:2]
t.sendall(b"stats\r\n")
stats = b""
while not stats.endswith(b"END\r\n"):
    stats += t.recv(65536)
assert b"STAT udp_too_large 1\r\n" in stats and b"STAT udp_dropped 2\r\n" in stats, stats
EOF
echo "PASS: $(grep -c '^== ' "$dir/uni.txt") sessions, $(stat -c %s "$dir/uni.txt") bytes of answers equal to memcached's"
