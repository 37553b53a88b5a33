#!/usr/bin/env bash
# bench/tweets.sh: the tweets appliance (examples/tweets, the Mirage paper's
# dynamic web appliance) under a session load: each session is 1 POST of a
# tweet and 9 GETs of that user's last 100 tweets (JSON, about 8 KB once the
# store is warm), over 100 users. Targets:
#   - tap: tweets-tap on uni's stack over TAP (the clients in the namespace's Linux side);
#   - socket: tweets-socket on host sockets over loopback;
#   - nginx: nginx + a FastCGI program on SQLite (bench/tweets_fcgi.cpp), the Linux baseline.
# The store is warmed first (100 tweets per user), so every GET returns 100
# tweets. Each keeps its tweets on a disk image under RESULTS (uni: the B-tree,
# O_DIRECT; nginx: SQLite's file); a POST is answered once its tweet is durable.
# Two parts:
#   - closed loop: wrk (one thread, a Lua script) with 1, 10 and 100 connections:
#     requests/s, latency, server CPU per request;
#   - Figure 12 (tap and nginx): open loop, bench_tweets_load starts sessions at a
#     fixed rate (each on its own keep-alive connection), stepping the rate up
#     until the replies stop rising; reply rate against session rate, drawn by
#     gnuplot into RESULTS/tweets-figure12.png. The knee is the highest session
#     rate still answered in full (replies >= 95% of 10 per session).
# The server under test runs on core 1 (taskset; nginx, its worker and the
# FastCGI program all there), the load generator on core 0, both at nice -19.
# Writes RESULTS/tweets.md. Usage: bench/tweets.sh [--quick] [--duration S] [--step S] [--out DIR] [--build DIR]
# Needs root (namespace, TAP); exits 77 without it. Every step is bounded in time.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results build=build/release quick=0 duration="" step=""
read_flags "[--quick] [--duration S] [--step S] [--out DIR] [--build DIR]" "quick" "duration step out build" "$@"
[ -n "$duration" ] || duration=$((quick ? 3 : 5))
[ -n "$step" ] || step=$((quick ? 2 : 3))  # seconds at each session rate
need_root tweets
need_tools tweets wrk nginx taskset gnuplot
out=$(results_dir "$out")
conn_counts=(1 10 100)
session_rates=(25 50 100 150 200 300 400 500 600 800 1000 1200 1500 2000 2500 3000 4000 5000)
server_core=1 load_core=0

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
cd "$root"
build_targets "$build" release tweets-socket tweets-tap bench_tweets_fcgi bench_tweets_load
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
# At nice -19: on a shared machine each contended core is split per task, so a
# one-process server (uni) would get a smaller share than nginx + FastCGI's two.
on_server=(ip netns exec "$NS" nice -n -19 taskset -c $server_core)  # (arrays, not functions: `&` must give the server's pid)
on_client=(ip netns exec "$NS" nice -n -19 taskset -c $load_core)

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
: >"$work/sweep.txt"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
user root;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  # A connection to the FastCGI program per request: it serves one connection at
  # a time (libfcgi's accept loop), so requests nginx spread over kept-alive
  # upstream connections would wait behind an idle one.
  upstream tweets { server unix:$work/fcgi.sock; }
  server {
    listen 127.0.0.1:8081 backlog=4096;
    location / {
      fastcgi_pass tweets;
      include /etc/nginx/fastcgi_params;
    }
  }
}
EOF

for target in tap socket nginx; do
  # Written out, not sparse: a disk has no holes, and writes into a file's holes
  # make each flush (fdatasync) commit the file system's journal too.
  rm -f "$disk" && dd if=/dev/zero of="$disk" bs=1M count=64 conv=fsync status=none
  case $target in
  tap)
    "${on_server[@]}" "$build/examples/tweets-tap" --tap tap0 --ipv4 "$UNI_IP/24" --disk "$disk" --log warn >"$work/app.log" 2>&1 &
    pids=$! url="http://$UNI_IP:80" ;;
  socket)
    "${on_server[@]}" "$build/examples/tweets-socket" --port 8080 --disk "$disk" --log warn >"$work/app.log" 2>&1 &
    pids=$! url="http://127.0.0.1:8080" ;;
  nginx)
    rm -f "$disk" "$disk"-wal "$disk"-shm "$work/fcgi.sock"
    "${on_server[@]}" "$build/bench/bench_tweets_fcgi" "$work/fcgi.sock" "$disk" >"$work/app.log" 2>&1 &
    pids=$!
    for _ in $(seq 50); do [ -S "$work/fcgi.sock" ] && break; sleep 0.1; done
    "${on_server[@]}" nginx -c "$work/nginx.conf" -e "$work/nginx-error.log" >>"$work/app.log" 2>&1 &
    pids="$pids $!" url="http://127.0.0.1:8081" ;;
  esac
  for _ in $(seq 100); do ip netns exec "$NS" timeout 2 curl -s -o /dev/null "$url/users/x/tweets" && break; sleep 0.1; done
  [ $target = nginx ] && pids="$pids $(pgrep -P "${pids##* }" | tr '\n' ' ')"  # and nginx's worker
  # Warm: at least 100 tweets for each of the 100 users (each POST is a synced
  # commit: 10000 of them take a while), so every target's GETs carry 100 tweets.
  for _ in $(seq 60); do
    "${on_client[@]}" timeout 60 wrk -t1 -c10 -d2s -s "$work/warm.lua" "$url" >/dev/null
    kept=$(for u in u0 u99; do { ip netns exec "$NS" curl -s -m 10 "$url/users/$u/tweets" || true; } |
      awk -F'"id"' '{ n += NF - 1 } END { print n + 0 }'; done | sort -n | head -1)
    [ "$kept" -ge 100 ] && break
  done
  [ "$kept" -ge 100 ] || { echo "bench/tweets.sh: $target: could not warm the store (u0/u99 hold $kept tweets)"; exit 1; }
  for c in "${conn_counts[@]}"; do
    t0=$(ticks $pids)
    w0=$(date +%s.%N)
    raw=$("${on_client[@]}" timeout $((duration + 30)) wrk -t1 -c"$c" -d"${duration}s" --timeout 10s --latency -s "$work/session.lua" "$url")
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
  # Figure 12: the session rate steps up until two steps in a row add under 3%
  # to the best reply rate (or half the sessions fail).
  if [ $target != socket ]; then
    host=${url#http://} best=0 flat=0
    for rate in "${session_rates[@]}"; do
      t0=$(ticks $pids)
      line=$("${on_client[@]}" timeout $((step + 30)) "$build/bench/bench_tweets_load" "${host%:*}" "${host##*:}" --rate "$rate" --seconds "$step")
      t1=$(ticks $pids)
      read -r _ _ started completed failed unstarted replies per_s p50 p99 <<<"$line"
      echo "$target $rate $per_s $started $completed $failed $unstarted $p50 $p99 $(((t1 - t0) * 1000000 / hz))" >>"$work/sweep.txt"
      printf '  %-6s %5s sessions/s: %8.0f replies/s  (sessions %s started, %s done, %s failed, %s not started)  p50 %s ms  p99 %s ms\n' \
        "$target" "$rate" "$per_s" "$started" "$completed" "$failed" "$unstarted" "$p50" "$p99"
      if awk -v r="$per_s" -v b="$best" 'BEGIN { exit !(r > b * 1.03) }'; then best=$per_s flat=0; else flat=$((flat + 1)); fi
      [ $flat -ge 2 ] || [ $((failed * 2)) -gt "$started" ] && break
      sleep 1  # the last step's backlog drains
    done
  fi
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
  echo "Server on core $server_core, load generator on core $load_core (taskset), both at nice -19. Machine load (uptime) at the start: $load_start, at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
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
  echo
  echo "## Figure 12: reply rate against session rate (open loop, ${step} s a rate)"
  echo
  echo "Sessions start at a fixed rate (bench_tweets_load), each on its own keep-alive connection: 1 POST, 9 GETs."
  echo "replies/s counts replies completed in the window; a session fails on a reset, a non-2xx reply or a reply"
  echo "slower than 2 s. Server CPU per reply: the server's CPU time (ticks) over the replies."
  echo
  echo "| target | sessions/s | replies/s | started | done | failed | not started | p50 ms | p99 ms | server CPU us/reply |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -v s="$step" '{ printf "| %s | %d | %.0f | %d | %d | %d | %d | %.2f | %.2f | %.0f |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, ($3 > 0 ? $10 / ($3 * s) : 0) }' "$work/sweep.txt"
  echo
  awk '{ if ($3 >= 0.95 * 10 * $2 && $2 > knee[$1]) knee[$1] = $2; if ($3 > peak[$1]) { peak[$1] = $3; at[$1] = $2 } }
       END { for (t in peak) printf "%s: knee %d sessions/s (answered in full), peak %.0f replies/s at %d sessions/s\n", t, knee[t], peak[t], at[t]
             if (knee["nginx"] > 0) printf "knee ratio uni on TAP / nginx + FastCGI: %.1f; peak reply rate ratio: %.1f\n", knee["tap"] / knee["nginx"], peak["tap"] / peak["nginx"] }' "$work/sweep.txt" | sort
} >"$out/tweets.md"
awk '$1 == "tap"' "$work/sweep.txt" >"$work/tap.dat"
awk '$1 == "nginx"' "$work/sweep.txt" >"$work/nginx.dat"
timeout 60 gnuplot <<EOF
set terminal pngcairo size 900,560 font ",11"
set output '$out/tweets-figure12.png'
set title "tweets: 1 POST + 9 GETs of the last 100 tweets per session (server on one core)"
set xlabel 'sessions/s (offered)'
set ylabel 'replies/s'
set grid
set key top left
plot '$work/tap.dat' using 2:3 with linespoints lw 2 pt 7 title 'uni on TAP (B-tree)', \
     '$work/nginx.dat' using 2:3 with linespoints lw 2 pt 5 title 'nginx + FastCGI + SQLite (Linux)', \
     '$work/tap.dat' using 2:(\$2 * 10) with lines dt 2 lc rgb 'gray' title '10 replies per session'
EOF
echo "bench/tweets.sh: wrote $out/tweets.md"
cat "$out/tweets.md"
