#!/usr/bin/env bash
# The tcp-echo appliance over host sockets, judged by socat: 1 KB, 1 MB and
# 20 MB come back byte for byte (sha256), eight clients at once do too, and
# SIGTERM stops it cleanly with its counters. Every client is bounded in time.
#   tcp_echo_socket.sh PATH_TO_tcp-echo-socket
set -euo pipefail
app=$1
port=$((20000 + RANDOM % 12000))
dir=$(mktemp -d)
pid=
# On failure the appliance's log tells why (a sanitizer report, an error).
trap 'rc=$?; [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; ((rc)) && cat "$dir/log"; rm -rf "$dir"' EXIT
"$app" --port "$port" 2>"$dir/log" &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/log" && break; sleep 0.1; done
grep -q "listening on tcp 127.0.0.1:$port" "$dir/log" || { cat "$dir/log"; exit 1; }

# Sends file $1 through the echo and checks what comes back. socat half-closes
# after its input and exits at the server's FIN (-t only bounds the wait).
echo_file() {
  local in=$1 out=$1.echo
  timeout 60 socat -t 30 -T 30 - "TCP:127.0.0.1:$port" <"$in" >"$out"
  local want got
  want=$(sha256sum <"$in" | cut -d' ' -f1)
  got=$(sha256sum <"$out" | cut -d' ' -f1)
  [[ "$want" == "$got" ]] || { echo "FAIL: $(basename "$in"): $(stat -c %s "$out") of $(stat -c %s "$in") bytes, sha256 differs"; return 1; }
}

total=0
for size in 1024 1048576 20971520; do
  head -c "$size" /dev/urandom >"$dir/one-$size"
  start=$(date +%s.%N)
  echo_file "$dir/one-$size"
  end=$(date +%s.%N)
  total=$((total + size))
  awk -v s="$size" -v a="$start" -v b="$end" \
    'BEGIN { t = b - a; printf "  %9d bytes echoed in %.3f s (%.0f MB/s)\n", s, t, s / (t > 0 ? t : 1e-6) / 1e6 }'
done

clients=8
pids=()
for i in $(seq "$clients"); do
  head -c $((1048576 + i * 4099)) /dev/urandom >"$dir/many-$i"
  total=$((total + 1048576 + i * 4099))
  echo_file "$dir/many-$i" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
echo "  $clients concurrent clients: all echoed"

kill -TERM "$pid"
wait "$pid"
pid=
want="$((3 + clients)) connections, $total bytes echoed, 0 failed"
grep -q "$want" "$dir/log" || { echo "FAIL: expected '$want' in:"; cat "$dir/log"; exit 1; }
echo "tcp-echo over host sockets: 1 KB, 1 MB, 20 MB and $clients concurrent clients echoed byte for byte"
