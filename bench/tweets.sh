#!/usr/bin/env bash
# bench/tweets.sh: the tweets appliance (examples/tweets, the Mirage paper's
# dynamic web appliance) under a session load: each session is 1 POST of a
# tweet and 9 GETs of that user's last 100 tweets (JSON, about 8 KB once the
# store is warm), over 100 users. Targets:
#   - tap: tweets-tap on uni's stack over TAP (the clients in the namespace's Linux side);
#   - socket: tweets-socket on host sockets over loopback;
#   - uwsgi: nginx + uWSGI running a Python WSGI application on SQLite
#     (bench/tweets_wsgi.py), the Linux baseline the paper's Figure 12 names;
#   - fcgi: nginx + a C++ FastCGI program on SQLite (bench/tweets_fcgi.cpp), a
#     second, stronger Linux baseline.
# The store is warmed first (100 tweets per user), so every GET returns 100
# tweets. Each keeps its tweets on a disk image under RESULTS (uni: the B-tree,
# O_DIRECT; the baselines: SQLite's file, WAL, a synced commit per POST); a POST
# is answered once its tweet is durable.
# Two parts:
#   - closed loop: wrk (one thread, a Lua script) with 1, 10 and 100 connections:
#     requests/s, latency, server CPU per request;
#   - Figure 12 (all but socket): open loop, bench_tweets_load starts sessions at a
#     fixed rate (each on its own keep-alive connection), stepping the rate up
#     until the replies stop rising; reply rate against session rate, drawn by
#     gnuplot into RESULTS/tweets-figure12.png. The knee is the highest session
#     rate still answered in full (replies >= 95% of 10 per session).
# The server under test runs on core 1 (taskset; nginx, its worker and the
# application all there), the load generator on core 0. Both at nice -19, each
# in a session of its own whose autogroup is at nice -19 too: with autogroups
# (Debian's default) the kernel shares a core between sessions first and
# honours nice only within one, so on a machine busy with other sessions' work
# a server at nice -19 alone still waited half of each step to run.
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
need_tools tweets wrk nginx uwsgi taskset setsid gnuplot
[ -f /usr/lib/uwsgi/plugins/python3_plugin.so ] || { echo "bench/tweets.sh: uWSGI's python3 plugin is missing (./scripts/setup.sh installs it)" >&2; exit 1; }
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
disk=$out/tweets-disk.img  # a real file system (O_DIRECT), fresh for each target (the baselines: the SQLite file)
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
# one-process server (uni) would get a smaller share than nginx + its
# application's two. And in a session of its own (setsid) whose autogroup is at
# nice -19, or the task's nice counts only against its own session's tasks.
own_group=(setsid bash -c 'echo -19 >/proc/self/autogroup && exec "$@"' own_group)
on_server=("${own_group[@]}" ip netns exec "$NS" nice -n -19 taskset -c $server_core)  # (arrays, not functions: `&` must give the server's pid)
on_client=("${own_group[@]}" ip netns exec "$NS" nice -n -19 taskset -c $load_core)

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
# nginx_conf NAME UPSTREAM: nginx's configuration in front of an application
# listening on a Unix socket, one connection per request (neither application
# keeps one open: libfcgi's accept loop serves one connection at a time, so
# requests nginx spread over kept-alive upstream connections would wait behind
# an idle one, and uWSGI's protocol has no keep-alive).
nginx_conf() {
  cat >"$work/nginx-$1.conf" <<EOF
worker_processes 1;
daemon off;
user root;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:8081 backlog=4096;
    location / {
      $2
    }
  }
}
EOF
}
nginx_conf fcgi "fastcgi_pass unix:$work/app.sock; include /etc/nginx/fastcgi_params;"
nginx_conf uwsgi "uwsgi_pass unix:$work/app.sock; include /etc/nginx/uwsgi_params;"

for target in tap socket uwsgi fcgi; do
  # Written out, not sparse: a disk has no holes, and writes into a file's holes
  # make each flush (fdatasync) commit the file system's journal too.
  rm -f "$disk" && dd if=/dev/zero of="$disk" bs=1M count=64 conv=fsync status=none
  case $target in
  tap)
    "${on_server[@]}" "$build/examples/tweets-tap" --tap tap0 --ipv4 "$UNI_IP/24" --disk "$disk" --log info >"$work/app.log" 2>&1 &
    pids=$! url="http://$UNI_IP:80" ;;
  socket)
    "${on_server[@]}" "$build/examples/tweets-socket" --port 8080 --disk "$disk" --log info >"$work/app.log" 2>&1 &
    pids=$! url="http://127.0.0.1:8080" ;;
  uwsgi | fcgi)
    rm -f "$disk" "$disk"-wal "$disk"-shm "$work/app.sock"
    if [ $target = fcgi ]; then
      "${on_server[@]}" "$build/bench/bench_tweets_fcgi" "$work/app.sock" "$disk" >"$work/app.log" 2>&1 &
    else  # one worker process, as the FastCGI program and uni serve from one thread
      "${on_server[@]}" uwsgi --plugin python3 --wsgi-file "$root/bench/tweets_wsgi.py" --env TWEETS_DB="$disk" \
        --socket "$work/app.sock" --processes 1 --listen 4096 --disable-logging --die-on-term >"$work/app.log" 2>&1 &
    fi
    pids=$!
    for _ in $(seq 50); do [ -S "$work/app.sock" ] && break; sleep 0.1; done
    "${on_server[@]}" nginx -c "$work/nginx-$target.conf" -e "$work/nginx-error.log" >>"$work/app.log" 2>&1 &
    pids="$pids $!" url="http://127.0.0.1:8081" ;;
  esac
  for _ in $(seq 100); do ip netns exec "$NS" timeout 2 curl -s -o /dev/null "$url/users/x/tweets" && break; sleep 0.1; done
  case $target in uwsgi | fcgi) pids="$pids $(pgrep -P "${pids##* }" | tr '\n' ' ')" ;; esac  # and nginx's worker
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
      read -r _ _ started completed failed unstarted replies per_s p50 p99 connect99 post50 post99 get50 get99 load_cpu <<<"$line"
      echo "$target $rate $per_s $started $completed $failed $unstarted $p50 $p99 $(((t1 - t0) * 1000000 / hz)) $connect99 $post50 $post99 $get50 $get99 $load_cpu" >>"$work/sweep.txt"
      printf '  %-6s %5s sessions/s: %8.0f replies/s  (sessions %s started, %s done, %s failed, %s not started)  p50 %s ms  p99 %s ms  POST p50 %s ms  generator cpu %s s\n' \
        "$target" "$rate" "$per_s" "$started" "$completed" "$failed" "$unstarted" "$p50" "$p99" "$post50" "$load_cpu"
      if awk -v r="$per_s" -v b="$best" 'BEGIN { exit !(r > b * 1.03) }'; then best=$per_s flat=0; else flat=$((flat + 1)); fi
      [ $flat -ge 2 ] || [ $((failed * 2)) -gt "$started" ] && break
      sleep 1  # the last step's backlog drains
    done
  fi
  kill -TERM $pids
  for p in $pids; do timeout 10 tail --pid="$p" -f /dev/null || true; done
  # uni's own figures over the whole run (printed as it stops): connections
  # refused or evicted at the HTTP server's bound, the B-tree's commits and cache.
  if [ $target = tap ]; then
    { grep -E "refused|B-tree|disk 0" "$work/app.log" || true; } | sed 's/^[^]]*\] //' >"$work/uni-counters.txt"
  fi
  pids=
done

{
  echo "# The tweets appliance under a session load"
  echo
  echo "$(date -u +%Y-%m-%d) on $(nproc) cores; wrk 1 thread, ${duration} s per load level; a session = 1 POST + 9 GETs"
  echo "of one of 100 users' last 100 tweets (JSON). cpu = server CPU time / wall time (wrk shares the cores;"
  echo "nginx's is its master's, its worker's and the application's). Targets: tap = uni's stack on TAP,"
  echo "socket = the same appliance on host sockets, uwsgi = nginx + uWSGI + a Python WSGI application on SQLite"
  echo "(the Linux baseline the paper's Figure 12 names), fcgi = nginx + a C++ FastCGI program on SQLite (a"
  echo "stronger one). Every POST is durable before its reply (uni: a B-tree commit, O_DIRECT; SQLite: WAL,"
  echo "synchronous=FULL). Server on core $server_core, load generator on core $load_core (taskset), both at nice -19 in"
  echo "sessions of their own at autogroup nice -19. Machine load (uptime) at the start: $load_start, at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| target | conns | req/s | sessions/s | KB/s | avg ms | p99 ms | cpu | CPU us/req |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk '{ printf "| %s | %d | %.0f | %.0f | %.0f | %.3f | %.3f | %.2f | %.1f |\n", $1, $2, $3, $3 / 10, $7, $4, $5, $6, ($3 > 0 ? $6 / $3 * 1e6 : 0) }' "$work/runs.txt"
  echo
  echo "uni on TAP against each baseline, at each load: reply rate ratio (uni / baseline), CPU per request ratio (baseline / uni)."
  echo
  echo "| conns | req/s vs uwsgi | CPU/req vs uwsgi | req/s vs fcgi | CPU/req vs fcgi |"
  echo "| ---: | ---: | ---: | ---: | ---: |"
  awk 'function ratios(b, c) {
         if (!((b " " c) in rps) || rps[b " " c] == 0 || cpu["tap " c] == 0) return "- | -"
         return sprintf("%.2f | %.2f", rps["tap " c] / rps[b " " c], cpu[b " " c] / cpu["tap " c])
       }
       { rps[$1 " " $2] = $3; cpu[$1 " " $2] = ($3 > 0 ? $6 / $3 : 0) }
       END { for (c = 1; c <= 1000; c *= 10) if (("tap " c) in rps) printf "| %d | %s | %s |\n", c, ratios("uwsgi", c), ratios("fcgi", c) }' "$work/runs.txt"
  echo
  echo "## Figure 12: reply rate against session rate (open loop, ${step} s a rate)"
  echo
  echo "Sessions start at a fixed rate (bench_tweets_load), each on its own keep-alive connection: 1 POST, 9 GETs."
  echo "replies/s counts replies completed in the window; a session fails on a reset, a non-2xx reply or a reply"
  echo "slower than 2 s. Latencies in ms: p50/p99 of every reply, p99 of the handshake, POST (which waits for its"
  echo "commit) and GET p50/p99. Server CPU per reply: the server's CPU time (ticks) over the replies; generator"
  echo "cpu: its own CPU seconds in the ${step} s (near ${step}: the generator, not the server, was the limit)."
  echo
  echo "| target | sessions/s | replies/s | started | done | failed | not started | p50 | p99 | connect p99 | POST p50 | POST p99 | GET p50 | GET p99 | server CPU us/reply | generator cpu s |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -v s="$step" '{ printf "| %s | %d | %.0f | %d | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f |\n",
                        $1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $12, $13, $14, $15, ($3 > 0 ? $10 / ($3 * s) : 0), $16 }' "$work/sweep.txt"
  echo
  echo "uni on TAP's own counters over the run (warming and closed loop included):"
  echo
  echo '```'
  cat "$work/uni-counters.txt" 2>/dev/null || true
  echo '```'
  echo
  echo "The knee is the highest session rate answered in full (replies >= 95% of 10 per session); \"at least\" when"
  echo "the sweep ended with the last rate still answered in full. The goal (the paper's 4x) is judged against uwsgi."
  echo
  awk '
       { if ($3 >= 0.95 * 10 * $2 && $2 > knee[$1]) knee[$1] = $2
         if ($3 > peak[$1]) { peak[$1] = $3; at[$1] = $2; cpu[$1] = $10 / ($3 * s) }
         last[$1] = $2; full[$1] = ($3 >= 0.95 * 10 * $2) }
       END { name["tap"] = "uni on TAP"; name["uwsgi"] = "nginx + uWSGI + Python"; name["fcgi"] = "nginx + C++ FastCGI"
             for (t in peak) printf "- %s: knee %s%d sessions/s, peak %.0f replies/s at %d sessions/s (server CPU %.0f us/reply there)\n",
                                    name[t], (full[t] && knee[t] == last[t] ? "at least " : ""), knee[t], peak[t], at[t], cpu[t]
             for (b in name) if (b != "tap" && knee[b] > 0 && ("tap" in knee))
               printf "- knee ratio uni on TAP / %s: %s%.1f; peak reply rate ratio %.1f\n", name[b],
                      (full["tap"] && knee["tap"] == last["tap"] ? "at least " : ""), knee["tap"] / knee[b], peak["tap"] / peak[b] }' s="$step" "$work/sweep.txt" | sort
} >"$out/tweets.md"
for t in tap uwsgi fcgi; do awk -v t=$t '$1 == t' "$work/sweep.txt" >"$work/$t.dat"; done
timeout 60 gnuplot <<EOF
set terminal pngcairo size 900,560 font ",11"
set output '$out/tweets-figure12.png'
set title "tweets: 1 POST + 9 GETs of the last 100 tweets per session (server on one core)"
set xlabel 'sessions/s (offered)'
set ylabel 'replies/s'
set grid
set key top left
plot '$work/tap.dat' using 2:3 with linespoints lw 2 pt 7 title 'uni on TAP (B-tree)', \
     '$work/fcgi.dat' using 2:3 with linespoints lw 2 pt 5 title 'nginx + C++ FastCGI + SQLite (Linux)', \
     '$work/uwsgi.dat' using 2:3 with linespoints lw 2 pt 9 title 'nginx + uWSGI + Python + SQLite (Linux)', \
     '$work/tap.dat' using 2:(\$2 * 10) with lines dt 2 lc rgb 'gray' title '10 replies per session'
EOF
echo "bench/tweets.sh: wrote $out/tweets.md"
cat "$out/tweets.md"
