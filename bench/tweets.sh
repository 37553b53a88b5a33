#!/usr/bin/env bash
# bench/tweets.sh: the tweets appliance (examples/tweets, the Mirage paper's
# dynamic web appliance) under a session load: each session is 1 POST of a
# tweet and 9 GETs of that user's last 100 tweets (JSON, about 8 KB once the
# store is warm), over 100 users, driven by wrk (one thread, a Lua script) with
# 1, 10 and 100 connections as the rising load. Both targets:
#   - tweets-tap on uni's stack over TAP (wrk in the namespace's Linux side);
#   - tweets-socket on host sockets over loopback.
# The store is warmed first (100 tweets per user), so every GET returns 100
# tweets. The appliance keeps its tweets in the B-tree on a disk image under
# RESULTS (O_DIRECT; each POST is one synced commit). Reported: requests/s, sessions/s, average and 99th-percentile latency,
# server CPU use. (No baseline is run: the paper's was nginx + FastCGI, which
# needs an application of its own.)
# Writes RESULTS/tweets.md. Usage: bench/tweets.sh [--quick] [--duration S] [--out DIR] [--build DIR]
# Needs root (namespace, TAP); exits 77 without it. Every step is bounded in time.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results build=build/release quick=0 duration=""
read_flags "[--quick] [--duration S] [--out DIR] [--build DIR]" "quick" "duration out build" "$@"
[ -n "$duration" ] || duration=$((quick ? 3 : 5))
need_root tweets
need_tools tweets wrk nginx
out=$(results_dir "$out")
conn_counts=(1 10 100)

cd "$root"
build_targets "$build" release tweets-socket tweets-tap bench_tweets_fcgi
build=$(cd "$build" && pwd)

NS="uni-bt-$$"
PEER=10.97.0.1 UNI_IP=10.97.0.2
work=$(mktemp -d)
disk=$out/tweets-disk.img  # a real file system (O_DIRECT), fresh for each target (nginx: the SQLite file)
pids=
cleanup() {
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work" "$disk" "$disk"-wal "$disk"-shm
}
trap cleanup EXIT
ip netns add "$NS"
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev tap0 mode tap
ip -n "$NS" addr add "$PEER/24" dev tap0
ip -n "$NS" link set tap0 up

cat >"$work/session.lua" <<'EOF'
-- 1 POST and 9 GETs per session, sessions spread over 100 users.
local n = 0
request = function()
  n = n + 1
  local session = math.floor((n - 1) / 10)
  local path = "/users/u" .. (session % 100) .. "/tweets"
  if (n - 1) % 10 == 0 then
    return wrk.format("POST", path, { ["Content-Type"] = "text/plain" },
      "tweet " .. n .. ": a benchmark tweet of roughly seventy bytes, give or take")
  end
  return wrk.format("GET", path)
end
EOF
cat >"$work/warm.lua" <<'EOF'
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/users/u" .. (n % 100) .. "/tweets", nil,
    "tweet " .. n .. ": a benchmark tweet of roughly seventy bytes, give or take")
end
EOF

# ticks PID...: user + system clock ticks of the processes, summed.
ticks() { local p t=0; for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo $t; }
hz=$(getconf CLK_TCK)
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

: >"$work/runs.txt"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
user root;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  upstream tweets { server unix:$work/fcgi.sock; keepalive 8; }
  server {
    listen 127.0.0.1:8081;
    location / {
      fastcgi_pass tweets;
      fastcgi_keep_conn on;
      include /etc/nginx/fastcgi_params;
    }
  }
}
EOF

for target in tap socket nginx; do
  rm -f "$disk" && truncate -s 64M "$disk"
  case $target in
  tap)
    ip netns exec "$NS" "$build/examples/tweets-tap" --tap tap0 --ipv4 "$UNI_IP/24" --disk "$disk" --log warn >"$work/app.log" 2>&1 &
    pids=$! url="http://$UNI_IP:80" ;;
  socket)
    ip netns exec "$NS" "$build/examples/tweets-socket" --port 8080 --disk "$disk" --log warn >"$work/app.log" 2>&1 &
    pids=$! url="http://127.0.0.1:8080" ;;
  nginx)
    rm -f "$disk" "$disk"-wal "$disk"-shm "$work/fcgi.sock"
    ip netns exec "$NS" "$build/bench/bench_tweets_fcgi" "$work/fcgi.sock" "$disk" >"$work/app.log" 2>&1 &
    pids=$!
    for _ in $(seq 50); do [ -S "$work/fcgi.sock" ] && break; sleep 0.1; done
    ip netns exec "$NS" nginx -c "$work/nginx.conf" -e "$work/nginx-error.log" >>"$work/app.log" 2>&1 &
    pids="$pids $!" url="http://127.0.0.1:8081" ;;
  esac
  for _ in $(seq 100); do ip netns exec "$NS" timeout 2 curl -s -o /dev/null "$url/users/x/tweets" && break; sleep 0.1; done
  [ $target = nginx ] && pids="$pids $(pgrep -P "${pids##* }" | tr '\n' ' ')"  # and nginx's worker
  # Warm: at least 100 tweets for each of the 100 users (each POST is a synced
  # commit: 10000 of them take a while), so every target's GETs carry 100 tweets.
  for _ in $(seq 60); do
    ip netns exec "$NS" timeout 60 wrk -t1 -c10 -d2s -s "$work/warm.lua" "$url" >/dev/null
    kept=$(for u in u0 u99; do { ip netns exec "$NS" curl -s -m 10 "$url/users/$u/tweets" || true; } |
      awk -F'"id"' '{ n += NF - 1 } END { print n + 0 }'; done | sort -n | head -1)
    [ "$kept" -ge 100 ] && break
  done
  [ "$kept" -ge 100 ] || { echo "bench/tweets.sh: $target: could not warm the store (u0/u99 hold $kept tweets)"; exit 1; }
  for c in "${conn_counts[@]}"; do
    t0=$(ticks $pids)
    w0=$(date +%s.%N)
    raw=$(ip netns exec "$NS" timeout $((duration + 30)) wrk -t1 -c"$c" -d"${duration}s" --timeout 10s --latency -s "$work/session.lua" "$url")
    w1=$(date +%s.%N)
    t1=$(ticks $pids)
    if grep -q "Non-2xx\|Socket errors" <<<"$raw"; then echo "bench/tweets.sh: errors ($target, c=$c):"; echo "$raw"; exit 1; fi
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$raw")
    kb=$(awk '/^Transfer\/sec:/ { v = $2 + 0; if ($2 ~ /MB/) v *= 1024; if ($2 ~ /GB/) v *= 1048576; print v }' <<<"$raw")
    avg=$(to_ms "$(awk '$1 == "Latency" { print $2; exit }' <<<"$raw")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$raw")")
    cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$w0" -v e="$w1" 'BEGIN { printf "%.2f", (b - a) / hz / (e - s) }')
    echo "$target $c $rps $avg $p99 $cpu $kb" >>"$work/runs.txt"
    printf '  %-6s c=%-3s %9.0f req/s (%7.0f sessions/s)  avg %7.3f ms  p99 %7.3f ms  cpu %.2f\n' \
      "$target" "$c" "$rps" "$(awk -v r="$rps" 'BEGIN { print r / 10 }')" "$avg" "$p99" "$cpu"
  done
  kill -TERM $pids
  for p in $pids; do timeout 10 tail --pid="$p" -f /dev/null || true; done
  pids=
done

{
  echo "# The tweets appliance under a session load"
  echo
  echo "$(date -u +%Y-%m-%d) on $(nproc) cores; wrk 1 thread, ${duration} s per load level; a session = 1 POST + 9 GETs"
  echo "of one of 100 users' last 100 tweets (JSON). cpu = server CPU time / wall time (wrk shares the cores;"
  echo "nginx's is its master, its worker and the FastCGI application's). Targets: tap = uni's stack on TAP,"
  echo "socket = the same appliance on host sockets, nginx = nginx + FastCGI + SQLite (the Linux baseline)."
  echo "Machine load (uptime) at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| target | conns | req/s | sessions/s | KB/s | avg ms | p99 ms | cpu | CPU us/req |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk '{ printf "| %s | %d | %.0f | %.0f | %.0f | %.3f | %.3f | %.2f | %.1f |\n", $1, $2, $3, $3 / 10, $7, $4, $5, $6, ($3 > 0 ? $6 / $3 * 1e6 : 0) }' "$work/runs.txt"
  echo
  echo "uni on TAP against nginx + FastCGI, at each load: reply rate ratio, CPU per request ratio (baseline / uni)."
  echo
  echo "| conns | req/s ratio | CPU per request ratio |"
  echo "| ---: | ---: | ---: |"
  awk '{ rps[$1 " " $2] = $3; cpu[$1 " " $2] = ($3 > 0 ? $6 / $3 : 0) }
       END { for (c = 1; c <= 1000; c *= 10) if (("tap " c) in rps && ("nginx " c) in rps)
               printf "| %d | %.2f | %.2f |\n", c, rps["tap " c] / rps["nginx " c], (cpu["tap " c] > 0 ? cpu["nginx " c] / cpu["tap " c] : 0) }' "$work/runs.txt"
} >"$out/tweets.md"
echo "bench/tweets.sh: wrote $out/tweets.md"
cat "$out/tweets.md"
